#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/intake_defer.sh - a job announced while some
# nodes cannot read the chain is deferred there, not refused (issue 18, the
# first cause of the 16:42 long chaos run). Three real veild nodes; nodes 2
# and 3 reach anvil through a relay (rpc_relay.py) that the test stops
# (their policy reads are refused, as in the chaos suite's rpc_down; a
# paused relay would make every read hang for the RPC timeout, blocking
# their loops until SWIM declared them dead) and starts again on the same
# port; node 1 (the decryptor) keeps the chain and submits a short busybox
# job. Nodes 2 and 3
# must hold the job (logged once, the wait in the replica's note), check the
# policy again once the relay resumes, and the job is placed and its
# assignment anchored. Before the fix both refused the job at intake ("the
# policy is unreadable") and it ended failed after its round's attempts.
source "$(dirname "$0")/../e2e/lib.sh"
e2e_with_containers
e2e_busybox
RELAY_PID=
relay_stop() {
  [ -n "$RELAY_PID" ] || return 0
  kill "$RELAY_PID" 2>/dev/null || true
  wait "$RELAY_PID" 2>/dev/null || true
  RELAY_PID=
}
E2E_PRE_CLEANUP=relay_stop
relay_start() {
  : >"$WORK/relay.log"
  python3 "$(dirname "$0")/rpc_relay.py" "$RELAY_PORT" 127.0.0.1 "$PORT" >"$WORK/relay.log" 2>&1 &
  RELAY_PID=$!
  wait_for 30 "the RPC relay listening" grep -q listening "$WORK/relay.log"
}

E2E_CLUSTER_NAME=defer create_cluster 3 --allow-image "$DIGEST"
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
RELAY_PORT=$(e2e_port)
relay_start
for i in 2 3; do
  sed -i "s|^rpc_url: .*|rpc_url: \"http://127.0.0.1:$RELAY_PORT\"|" "$WORK/n$i/veild.yaml"
done
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=cpu=2000m,memory=2Gi,disk=20Gi,gpu=0" \
    VEIL_INSECURE_REGISTRIES="$RT_REG"
done
wait_mesh 3 90
ok "mesh up; nodes 2 and 3 reach the chain through the relay"

relay_stop
cat >"$WORK/short.yaml" <<YAML
name: short
image: $RT_REG/busybox@$DIGEST
command: [/bin/sleep, "1"]
resources: {cpu: 100m, memory: 16Mi}
YAML
id=$(veil_at 1 job run "$WORK/short.yaml" | awk '{print $2}')
[[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "job id: $id"
refused() { grep "msg=\"job refused at intake\" job=${id:0:16}" "$WORK/n$1/veild.log"; }
judged() { # deferred (or, before the fix, refused)
  grep -q "msg=\"job deferred at intake: the policy is unreadable\" job=${id:0:16}" "$WORK/n$1/veild.log" ||
    refused "$1"
}
for i in 2 3; do
  wait_for 90 "node $i defers the job while the chain is away" judged "$i"
  r=$(refused "$i") && fail "node $i refused the job while its RPC was down: $r"
done
# the wait is said in the replica's note (the node's store)
note_of() {
  python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
row = db.execute("select note from replicas where job_id = ? and idx = 0", (sys.argv[2],)).fetchone()
print(row[0] if row and row[0] else "")' "$WORK/n$1/state.db" "$id"
}
waits() { grep -q "waiting at intake: the cluster's policy is unreadable" <<<"$(note_of "$1")"; }
wait_for 30 "node 2's note says why the job waits" waits 2
ok "nodes 2 and 3 hold the job while their RPC is down: $(note_of 2)"

relay_start
placed() {
  local st
  st=$(veil_at 1 job status "$id" -o json | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log((j.replica_states || []).find(r => r.replica === 0)?.state || "");')
  [[ "$st" =~ ^(assigned|running|exited)$ ]]
}
wait_for 300 "the job placed once the relay is back" placed
for i in 2 3; do
  r=$(refused "$i") && fail "node $i refused the job: $r"
  n=$(grep -c "msg=\"job deferred at intake: the policy is unreadable\" job=${id:0:16}" "$WORK/n$i/veild.log")
  [ "$n" = 1 ] || fail "node $i logged the deferral $n times (once per job)"
  grep -q "msg=\"job deferred at intake: the policy is readable again\" job=${id:0:16}" \
    "$WORK/n$i/veild.log" || fail "node $i never took the deferred job in"
done
ok "the deferred job is placed; each node logged its wait once and took it in"

X=$(runner_at 1 "$id" 0) || fail "no node shows it runs the replica"
com_of() { # NODE: the commitment of the job's latest assignment in NODE's view
  veil_at "$1" get assignments -o json | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8")).filter(r => r.job_id === process.argv[1]).pop();
    if (!r || !r.commitment) process.exit(1); console.log(r.commitment);' "$id"
}
anchored() {
  local com
  com=$(com_of "$X") || return 1
  veil_at "$X" get anchors -o json | node -e '
    const a = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(a.some(r => r.commitment === process.argv[1] && /^0x[0-9a-f]{64}$/.test(r.tx_hash || "")) ? 0 : 1);' "$com"
}
wait_for 180 "its runner (node $X) shows the assignment anchored" anchored
ok "its assignment anchored on chain"
echo "PASS rel_intake_defer"
