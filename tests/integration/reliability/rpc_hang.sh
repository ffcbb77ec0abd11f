#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/rpc_hang.sh - a hanging chain RPC must not
# stall veild (issue 18). Three real veild nodes; node 2 reaches anvil
# through rpc_relay.py with a hang flag, which the test makes hang (connections accepted,
# requests read, never answered) for 20 s, longer than SWIM's suspicion
# timeout (4-24 s here). Node 2's chain reads run on workers and its chain
# client's circuit breaker fails the next ones at once, so its loop keeps
# answering SWIM and publishing telemetry: nodes 1 and 3 never log it
# suspect or dead, and see its telemetry epochs advance through the hang.
# Once the relay answers again node 2 follows the chain again: it applies
# the NodeRegistered event of a fourth node registered after the hang.
# Before the fix the registry tick's eth_blockNumber blocked node 2's loop
# for the whole hang (10 s timeout, retried): nodes 1 and 3 logged
# `msg="member" event=suspect peer=<node 2>` and then `event=dead`.
source "$(dirname "$0")/../e2e/lib.sh"
HANG_PID=
hang_stop() {
  [ -n "$HANG_PID" ] || return 0
  kill "$HANG_PID" 2>/dev/null || true
  wait "$HANG_PID" 2>/dev/null || true
  HANG_PID=
}
on_exit() {
  local rc=$?
  set +e # errexit would end the handler at the (exit $rc) below
  hang_stop
  (exit $rc)
  e2e_cleanup
}
trap on_exit EXIT

E2E_CLUSTER_NAME=hang create_cluster 4 # node 4 joins after the hang
for i in 1 2 3; do join_node "$i"; done
HANG_PORT=$(e2e_port)
FLAG="$WORK/hang"
python3 "$(dirname "$0")/rpc_relay.py" "$HANG_PORT" 127.0.0.1 "$PORT" "$FLAG" >"$WORK/hang.log" 2>&1 &
HANG_PID=$!
wait_for 30 "the hanging relay listening" grep -q listening "$WORK/hang.log"
sed -i "s|^rpc_url: .*|rpc_url: \"http://127.0.0.1:$HANG_PORT\"|" "$WORK/n2/veild.yaml"
NODE_ENV=(VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=cpu=2000m,memory=2Gi,disk=20Gi,gpu=0")
for i in 1 2 3; do start_node "$i" "${NODE_ENV[@]}"; done
wait_mesh 3 90
ok "mesh up; node 2 reaches the chain through the relay"

epoch_of_2() { # node I's view of node 2's telemetry epoch ("" when not alive)
  veil_at "$1" get nodes -o json | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8")).find(n => n.peer_id === process.argv[1]);
    console.log(r && r.alive ? r.last_telemetry_epoch : "");' "$PEER_2"
}
from1=$(($(wc -l <"$WORK/n1/veild.log") + 1))
from3=$(($(wc -l <"$WORK/n3/veild.log") + 1))
from2=$(($(wc -l <"$WORK/n2/veild.log") + 1))
since() { tail -n "+$2" "$WORK/n$1/veild.log"; } # I FROM
before=$(epoch_of_2 1)
touch "$FLAG"
hang_start=$SECONDS
# the hang lasts 20 s, past the suspicion timeout (a fixed span of fault,
# not a wait for a condition: what is checked is what never happened in it)
while [ $((SECONDS - hang_start)) -lt 20 ]; do nodes_alive; sleep 1; done
during=$(epoch_of_2 1)
for i in 1 3; do
  eval "f=\$from$i"
  bad=$(grep -E "msg=\"member\" event=(suspect|dead) peer=$PEER_2" <<<"$(since "$i" "$f")" || true)
  [ -z "$bad" ] || fail "node $i suspected node 2 while its RPC hung: $bad"
done
[ -n "$during" ] && [ -n "$before" ] && [ "$during" -ge $((before + 4)) ] \
  || fail "node 2's telemetry did not go on through the hang (epoch $before -> '$during')"
# node 2 really met the hang: a chain read of its timed out (10 s)
timed_out() { grep -q 'msg="rpc not answering: circuit open"' <<<"$(since 2 "$from2")"; }
wait_for 30 "node 2's chain client timed out on the hanging relay" timed_out
rm -f "$FLAG"
ok "RPC hung for $((SECONDS - hang_start)) s: nodes 1 and 3 never suspected node 2; its telemetry epoch $before -> $during"

# Back: node 2 follows the chain again (a fourth node registered now)
join_node 4
"$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
followed() { grep -q 'msg="node registered on chain"' <<<"$(since 2 "$from2")"; }
wait_for 60 "node 2 applies the NodeRegistered event after the hang" followed
ok "node 2 follows the chain again: $(grep -o 'msg="node registered on chain".*' <<<"$(since 2 "$from2")" | head -n 1)"
echo "PASS rel_rpc_hang"
