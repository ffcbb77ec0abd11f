#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything Veil needs to build, test and run its demo, from Debian
# packages and the npm registry only. Idempotent and quiet: packages already
# installed are skipped, and npm runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build toolchain and libraries (see CMakeLists.txt), then the programs the
# tests drive: runc (OCI runtime), the OCI registry and image tools,
# nats-server, iproute2/nftables for network-namespace tests, clang for fuzzing,
# chromium for the dashboard's browser test (driven by playwright-core).
DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev git ca-certificates
  libuv1-dev libsodium-dev libssl-dev libsecp256k1-dev nettle-dev libcurl4-openssl-dev liblwip-dev
  libjansson-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler
  libarchive-dev libzstd-dev libsqlite3-dev libnats-dev libmicrohttpd-dev
  runc docker-registry umoci skopeo busybox-static nats-server
  podman python3 iproute2 nftables procps psmisc curl jq
  tshark iperf3 wireguard-go nebula chromium
  nodejs npm
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    # nodejs/npm may come from elsewhere on a developer machine: accept a working node.
    if { [ "$p" = nodejs ] && command -v node >/dev/null; } || { [ "$p" = npm ] && command -v npm >/dev/null; }; then
      continue
    fi
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# npm tools (anvil, cast, forge, solc, the js-libp2p reference peer), pinned
# in tools/npm/package-lock.json.
npm_dir=tools/npm
stamp="$npm_dir/node_modules/.veil-lock-sha256"
want=$(sha256sum "$npm_dir/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "deps: installing npm tools (tools/npm/package-lock.json)"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
fi
echo "deps: ok"
