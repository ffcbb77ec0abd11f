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
# Node 2 reaches anvil through an HTTP gate (rpc_policy_gate.py) that
# refuses only its policy reads while the chain is away, so that it can be
# restarted then (veild reads the registry, and the policy once for its
# keys, at start: the gate lets that one read through, a flaky RPC): once
# node 1's digest moved node 2's replica on, node 2 restarts and must hold
# the job again from its store (`resumed after restart`, its first deferral
# time kept), resume no round of it, and plan it only after its own check
# found the policy readable. Before that the deferral was in memory only:
# the restarted node resumed the round at start without any intake check.
# Each node that took the job in has that pass recorded in its store, so a
# later re-announcement or restart never checks (or defers) it again.
source "$(dirname "$0")/../e2e/lib.sh"
e2e_with_containers
e2e_busybox
source "$(dirname "$0")/rpc_relay.sh"
GATE_PID=
gate_stop() {
  [ -n "$GATE_PID" ] || return 0
  kill "$GATE_PID" 2>/dev/null || true
  wait "$GATE_PID" 2>/dev/null || true
  GATE_PID=
}
relays_stop() { relay_stop; gate_stop; }
E2E_PRE_CLEANUP=relays_stop

E2E_CLUSTER_NAME=defer create_cluster 3 --allow-image "$DIGEST"
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
RELAY_PORT=$(e2e_port)
relay_start
GATE_PORT=$(e2e_port)
BLOCK="$WORK/policy.blocked"
SELECTOR=$(node -e 'console.log(require(process.argv[1]).keccak256("getClusterPolicy(uint64)").slice(0, 8))' \
  "$SRC/tools/npm/node_modules/js-sha3")
python3 "$(dirname "$0")/rpc_policy_gate.py" "$GATE_PORT" 127.0.0.1 "$PORT" "$SELECTOR" "$BLOCK" \
  >"$WORK/gate.log" 2>&1 &
GATE_PID=$!
wait_for 30 "the policy gate listening" grep -q listening "$WORK/gate.log"
sed -i "s|^rpc_url: .*|rpc_url: \"http://127.0.0.1:$GATE_PORT\"|" "$WORK/n2/veild.yaml"
sed -i "s|^rpc_url: .*|rpc_url: \"http://127.0.0.1:$RELAY_PORT\"|" "$WORK/n3/veild.yaml"
NODE_ENV=(VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=cpu=2000m,memory=2Gi,disk=20Gi,gpu=0"
  VEIL_INSECURE_REGISTRIES="$RT_REG")
for i in 1 2 3; do start_node "$i" "${NODE_ENV[@]}"; done
wait_mesh 3 90
ok "mesh up; node 3 reaches the chain through the relay, node 2 through the gate"

from2=$(($(wc -l <"$WORK/n2/veild.log") + 1))
from3=$(($(wc -l <"$WORK/n3/veild.log") + 1))
relay_stop
: >"$BLOCK" # node 2: its policy reads refused, its other chain reads relayed
# nodes 2 and 3 read the policy again every 5 s on a worker and use a copy
# up to 10 s old: the job is sent once their copies expired
expired() { # NODE FROM
  grep -q 'msg="policy copy expired: unreadable until a read works"' <<<"$(tail -n "+$2" "$WORK/n$1/veild.log")"
}
wait_for 60 "node 2's policy copy expires" expired 2 "$from2"
wait_for 60 "node 3's policy copy expires" expired 3 "$from3"
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

# ---- node 2 restarted while it holds the job --------------------------------
sql_at() { # NODE SQL [ARGS...]: one row of node NODE's store, "|"-joined
  python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
row = db.execute(sys.argv[2], sys.argv[3:]).fetchone()
print("|".join(str(c) for c in row) if row else "")' "$WORK/n$1/state.db" "$2" "${@:3}"
}
deferral_of() { # NODE: first_ms|attempts|updated_ms of the job's deferral row
  sql_at "$1" "select first_ms, attempts, updated_ms from intake_deferrals where job_id = ?" "$id"
}
moved_on() { # node 2's replica moved on by node 1's digest (what a restart resumed)
  [[ "$(sql_at 2 "select state from replicas where job_id = ? and idx = 0" "$id")" =~ ^(scheduling|awaiting_decryption)$ ]]
}
wait_for 120 "node 1's digest moves node 2's replica on" moved_on
before=$(deferral_of 2)
[ -n "$before" ] || fail "node 2's store holds no deferral of the job"
stop_node 2
echo 1 >"$BLOCK" # its start reads the policy once (its keys); the intake's reads stay refused
from=$(($(wc -l <"$WORK/n2/veild.log") + 1))
since_restart() { tail -n "+$from" "$WORK/n2/veild.log"; }
restart_ms=$(date +%s%3N)
start_node 2 "${NODE_ENV[@]}"
held_again() { grep -q "msg=\"job deferred at intake: resumed after restart\" job=${id:0:16}" <<<"$(since_restart)"; }
wait_for 90 "node 2 holds the job again after its restart" held_again
checked_again() { # its own check ran after the restart, the first deferral kept
  local now
  now=$(deferral_of 2)
  [ -n "$now" ] && [ "${now%%|*}" = "${before%%|*}" ] && [ "${now##*|}" -gt "$restart_ms" ]
}
wait_for 90 "node 2 checks the held job itself after its restart (row before: $before)" checked_again
r=$(grep "msg=\"\?resuming\"\? job=${id:0:16}" <<<"$(since_restart)") &&
  fail "node 2 resumed the held job's round at its restart: $r"
ok "node 2 restarted: the job held again from its store (first deferral ${before%%|*} kept), no round resumed; the gate $(grep -c refused "$WORK/gate.log") policy reads refused"

rm -f "$BLOCK"
relay_start
placed() { replica0_placed 1 "$id"; }
wait_for 300 "the job placed once the relay is back" placed
# the job can be placed (node 3 took it in, node 1 decided) before node 2's
# own next check (its backoff is up to 30 s): that check is waited for
took_in() {
  grep -q "msg=\"job deferred at intake: the policy is readable again\" job=${id:0:16}" "$WORK/n$1/veild.log"
}
for i in 2 3; do
  r=$(refused "$i") && fail "node $i refused the job: $r"
  wait_for 90 "node $i takes the deferred job in" took_in "$i"
  n=$(grep -c "msg=\"job deferred at intake: the policy is unreadable\" job=${id:0:16}" "$WORK/n$i/veild.log")
  [ "$n" = 1 ] || fail "node $i logged the deferral $n times (once per job)"
done
ok "the deferred job is placed; each node logged its wait once and took it in"
# empty when absent (node 2 may never plan it: decided before its own check)
line_of() { { grep -n -m 1 "$1" <<<"$(since_restart)" || true; } | cut -d: -f1; }
in_at=$(line_of "msg=\"job deferred at intake: the policy is readable again\" job=${id:0:16}")
[ -n "$in_at" ] || fail "node 2 never took the job in after its restart"
planned_at=$(line_of "msg=\"round planned\" job=${id:0:16}")
[ -z "$planned_at" ] || [ "$planned_at" -gt "$in_at" ] ||
  fail "node 2 planned the job before its own check (log lines $planned_at < $in_at since the restart)"
[ -z "$(deferral_of 2)" ] || fail "node 2's store still holds the deferral: $(deferral_of 2)"
ok "node 2 planned the job only after its own check found the policy readable"
for i in 2 3; do # the pass is recorded: a later re-announcement or restart skips the check
  [ "$(sql_at "$i" "select intake_ms > 0 from jobs where id = ?" "$id")" = 1 ] ||
    fail "node $i did not record that the job passed its intake check"
done

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
