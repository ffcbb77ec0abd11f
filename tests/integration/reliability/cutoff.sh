#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/cutoff.sh - a cut-off node's copy of a
# moved replica is stopped (issue 18): three real veild nodes, a local
# registry with busybox, a long job whose replica runs (runc) on node X.
# X's veild is paused (SIGSTOP: cut off, its container lives on) until the
# other two declare it dead and the replica runs on node Y. When X resumes,
# it learns from the members (the catch-up query, where it lists the jobs it
# runs; or the topic, which now records an assignment of a later epoch for
# a decided round) that a later assignment binds the replica to Y, and stops
# its own copy: exactly one running container for the replica on the cluster.
# Before the fix X kept its copy running (its round was decided, so the
# later assignment was dropped as already recorded).
source "$(dirname "$0")/../e2e/lib.sh"
e2e_with_containers
e2e_busybox

E2E_CLUSTER_NAME=cut create_cluster 3 --allow-image "$DIGEST"
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
# 900m fits nodes 2 and 3 only (their free CPU is published as a power-of-two
# class, docs/THREAT_MODEL.md H1): the decryptor (node 1) never runs it
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0"
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    VEIL_INSECURE_REGISTRIES="$RT_REG"
done
wait_mesh 3 90
ok "mesh up"

cat >"$WORK/long.yaml" <<YAML
name: long
image: $RT_REG/busybox@$DIGEST
command: [/bin/sleep, "100000"]
resources: {cpu: 900m, memory: 64Mi}
policy: spread
YAML
id=$(veil_at 2 job run "$WORK/long.yaml" | awk '{print $2}')
[[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "job id: $id"
CT=veil-${id:0:16}-0
running_on() { # NODE: the replica's container (named CT in its state.json) runs under NODE's runc
  local id
  for id in $(runc --root "$WORK/n$1/runc" list -q 2>/dev/null); do
    grep -q "\"name\": *\"$CT\"" "$WORK/n$1/containers/$id/state.json" 2>/dev/null || continue
    [ "$(runc --root "$WORK/n$1/runc" state "$id" 2>/dev/null | node -e '
      console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).status)')" = running ] && return 0
  done
  return 1
}
placed() { runner_at 2 "$id" 0 >/dev/null; }
wait_for 180 "the replica placed" placed
X=$(runner_at 2 "$id" 0)
[ "$X" = 2 ] || [ "$X" = 3 ] || fail "the replica landed on node $X"
Y=$((5 - X))
wait_for 90 "its container running on node $X" running_on "$X"
ok "long runs on node $X"

kill -STOP "${NODE_PIDS[$X]}"
peer_x=$(eval echo "\$PEER_$X"); peer_y=$(eval echo "\$PEER_$Y")
moved_to_y() { # the decryptor and Y record a later assignment binding the replica to Y
  veil_at "$Y" get assignments -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const r = rows.filter(r => r.job_id === process.argv[1] && r.replica === 0).pop();
    process.exit(r && r.node === process.argv[2] ? 0 : 1);' "$id" "$peer_y"
}
wait_for 180 "node $X declared dead, the replica assigned to node $Y" moved_to_y
wait_for 90 "the replica's container running on node $Y" running_on "$Y"
running_on "$X" || fail "node $X's container stopped while its veild was paused"
ok "node $X paused: the replica moved to node $Y; two copies run"

kill -CONT "${NODE_PIDS[$X]}"
stopped_on_x() { ! running_on "$X"; }
wait_for 150 "node $X stops its copy once it learns the replica moved" stopped_on_x
# learned from the catch-up answer, or (chaos s7: a decided round takes an
# assignment of a later epoch) from the topic, whichever came first
moved_msg='(replica moved while this node was cut off|replica moved to another node: stopping its copy)'
grep -Eq "msg=\"$moved_msg\" job=${id:0:16} replica=0" "$WORK/n$X/veild.log" ||
  fail "node $X never said the replica moved while it was cut off"
running_on "$Y" || fail "node $Y's container is not running any more"
one_runner() { [ "$(runner_at 2 "$id" 0)" = "$Y" ]; }
wait_for 60 "every view shows node $Y running the replica" one_runner
state_of() { replica0_state "$1" "$id"; }
is_running() { [ "$(state_of "$1")" = running ]; }
# the submitter (node 2) sees the replica running; where, only its runner
# shows (hook H4: runner_at above reads the runners' own views)
wait_for 90 "the submitter shows the replica running" is_running 2
ok "node $X stopped its copy: one running container (node $Y), the submitter sees it running"
