#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts a local OCI registry on 127.0.0.1:${PORT:-5000} holding busybox:1 (a
# one-layer image built from Debian's busybox-static with umoci and pushed with
# skopeo), for trying `veil run` by hand:
#
#   scripts/local-registry.sh &        # wait for "ready"
#   VEIL_INSECURE_REGISTRIES=127.0.0.1:5000 build/src/cmd/veil run 127.0.0.1:5000/busybox:1 -- echo hello
#
# Runs until interrupted, then removes everything it created.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/integration/runtime/lib.sh
. "$here/tests/integration/runtime/lib.sh"
port=${PORT:-5000}
for tool in docker-registry umoci skopeo busybox curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/deps.sh" >&2; exit 1; }
done
if curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
  echo "local-registry: something already answers on 127.0.0.1:$port" >&2
  exit 1
fi
RT_TMP=$(mktemp -d /tmp/veil-registry.XXXXXX)
trap rt_cleanup EXIT
trap 'exit 0' INT TERM
RT_PORT=$port
RT_REG="127.0.0.1:$port"
mkdir -p "$RT_TMP/registry"
cat >"$RT_TMP/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RT_TMP/registry
http:
  addr: $RT_REG
YML
docker-registry serve "$RT_TMP/registry.yml" >"$RT_TMP/registry.log" 2>&1 &
RT_REG_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://$RT_REG/v2/" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -fs "http://$RT_REG/v2/" >/dev/null || { cat "$RT_TMP/registry.log" >&2; exit 1; }
rt_image_busybox >/dev/null
echo "local-registry: ready at $RT_REG with busybox:1 (Ctrl-C to stop)"
wait "$RT_REG_PID"
