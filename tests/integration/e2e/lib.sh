# tests/integration/e2e/lib.sh - helpers of the end-to-end suite (owned by the
# veild integration): a private anvil (via the chain tests' helpers), a
# cluster created with `veil cluster init`, nodes joined with `veil node join`
# and run as real veild processes on 127.0.0.1, all stopped on exit.
source "${VEIL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/tests/integration/chain/lib.sh"
VEILD=${VEILD_BIN:-$SRC/build/src/cmd/veild}
NODE_PIDS=()

e2e_cleanup() {
  set +e
  local p
  for p in "${NODE_PIDS[@]}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${NODE_PIDS[@]}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  # E2E_KEEP=DIR keeps the logs and state for a post-mortem.
  if [ -n "${E2E_KEEP:-}" ]; then rm -rf "$E2E_KEEP"; cp -r "$WORK" "$E2E_KEEP"; fi
  cleanup
}
trap e2e_cleanup EXIT

# create_cluster: anvil + `veil cluster init` with anvil keys 1..N as operators.
create_cluster() {
  local n=$1 ops=() i
  start_anvil
  export VEIL_KEYSTORE_PASSWORD=pw
  for i in $(seq 1 "$n"); do ops+=(--operator "$(addr_for "$i")@org$i"); done
  "$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" \
    --name e2e --decryptor "$(addr_for 1)" "${ops[@]}" --json >"$WORK/init.json" \
    || fail "cluster init: $(cat "$WORK/init.json")"
}

# e2e_port: a free port below the kernel's ephemeral range (32768+), so an
# outgoing connection cannot take it between this check and veild's bind.
e2e_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % 20000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# join_node I [extra join flags]: node I (anvil key I) joins with free ports.
join_node() {
  local i=$1; shift
  local p2p api
  p2p=$(e2e_port); api=$(e2e_port)
  "$VEIL" node join "$WORK/bundle" -d "$WORK/n$i" --keystore "$(keystore_for "$i")" \
    --listen "/ip4/127.0.0.1/tcp/$p2p" --api-listen "127.0.0.1:$api" \
    --organization "org$i" --announce --json "$@" >"$WORK/join$i.json" \
    || fail "node join $i: $(cat "$WORK/join$i.json")"
  eval "API_$i=127.0.0.1:$api"
  eval "PEER_$i=$(json_get "$(cat "$WORK/join$i.json")" peer_id)"
}

# start_node I [env assignments...]: runs veild for node I in the background.
start_node() {
  local i=$1; shift
  env "$@" "$VEILD" -c "$WORK/n$i/veild.yaml" -l debug >"$WORK/n$i/veild.log" 2>&1 &
  NODE_PIDS[$i]=$!
}

stop_node() {
  local i=$1
  kill "${NODE_PIDS[$i]}" 2>/dev/null || true
  wait "${NODE_PIDS[$i]}" 2>/dev/null || true
  NODE_PIDS[$i]=
}

# veil_at I ARGS...: the veil CLI against node I's API.
veil_at() {
  local i=$1; shift
  VEIL_CONFIG="$WORK/n$i/veild.yaml" "$VEIL" "$@"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local t=$1 what=$2; shift 2
  local deadline=$((SECONDS + t))
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  fail "timed out after ${t}s waiting for: $what"
}
