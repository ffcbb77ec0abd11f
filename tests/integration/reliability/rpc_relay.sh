# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/rpc_relay.sh - the TCP relay to anvil that
# the reliability tests stop and start to take a node's chain RPC away
# (rpc_relay.py: a stopped relay refuses connections). Sourced after
# ../e2e/lib.sh; the caller sets RELAY_PORT (e2e_port) before relay_start and
# calls relay_stop from its E2E_PRE_CLEANUP.
RELAY_PID=
relay_stop() {
  [ -n "$RELAY_PID" ] || return 0
  kill "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
  RELAY_PID=
}
relay_start() {
  : >"$WORK/relay.log"
  python3 "$(dirname "${BASH_SOURCE[0]}")/rpc_relay.py" "$RELAY_PORT" 127.0.0.1 "$PORT" \
    >"$WORK/relay.log" 2>&1 &
  RELAY_PID=$!
  wait_for 30 "the RPC relay listening" grep -q listening "$WORK/relay.log"
}
