# SPDX-License-Identifier: Apache-2.0
# tests/integration/chain/lib.sh - shared helpers of the chain script tests:
# tool paths, a private anvil on a free 127.0.0.1 port (stopped on exit with
# the temp dir), keystores for anvil's funded accounts, assertions.
set -euo pipefail
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
BIN_DIR=$SRC/tools/npm/node_modules/.bin
ANVIL=$BIN_DIR/anvil
CAST=$BIN_DIR/cast
FORGE=$BIN_DIR/forge
VEIL=${VEIL_BIN:-$SRC/build/src/cmd/veil}
WORK=$(mktemp -d /tmp/veil-chain-test.XXXXXX)
ANVIL_PID=

cleanup() {
  if [ -n "$ANVIL_PID" ]; then kill "$ANVIL_PID" 2>/dev/null || true; wait "$ANVIL_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

# Anvil's well-known dev keys (mnemonic "test test ... junk").
ANVIL_KEYS=(
  0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
  0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
  0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
  0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
  0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
  0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
)

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# start_anvil [extra anvil args]: sets PORT and RPC. Retries on another
# port if anvil exits (the port was taken between the check and the bind).
start_anvil() {
  for _attempt in 1 2 3; do
    PORT=$(free_port)
    RPC=http://127.0.0.1:$PORT
    "$ANVIL" --host 127.0.0.1 --port "$PORT" --silent "$@" >"$WORK/anvil.log" 2>&1 &
    ANVIL_PID=$!
    # Usually up within 0.1 s; allow 60 s for a loaded CI machine.
    local deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
      if "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1; then return 0; fi
      kill -0 "$ANVIL_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$ANVIL_PID" 2>/dev/null || true
    wait "$ANVIL_PID" 2>/dev/null || true
    ANVIL_PID=
  done
  cat "$WORK/anvil.log" >&2
  fail "anvil did not start"
}

# keystore_for INDEX -> path of a keystore (written by cast) for anvil key INDEX.
keystore_for() {
  local i=$1 dir=$WORK/keystores
  mkdir -p "$dir"
  if [ ! -f "$dir/k$i" ]; then
    "$CAST" wallet import "k$i" -k "$dir" --private-key "${ANVIL_KEYS[$i]}" \
      --unsafe-password pw >/dev/null
  fi
  echo "$dir/k$i"
}

addr_for() { "$CAST" wallet address --private-key "${ANVIL_KEYS[$1]}"; }

# json_get JSON KEY: a top-level field of a one-line JSON object.
json_get() { node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(typeof v==="object"?JSON.stringify(v):v)' "$1" "$2"; }
