#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_run.sh - stage 3 of the end-to-end suite:
# execution. A local OCI registry with a busybox image (built with umoci,
# pushed with skopeo: the runtime tests' helpers), a cluster whose on-chain
# policy allows only that image's digest, three veild nodes. A job is placed
# on ciphertexts, the chosen node pulls and runs it under runc with the
# requested limits and reports running/exited on the cluster topic (seen on
# the submitting node); a job whose image digest the policy does not allow
# is refused at intake by every node (never scheduled) and reported failed
# with the reason.
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
e2e_with_containers
e2e_busybox
ok "registry $RT_REG with busybox@$DIGEST"

E2E_CLUSTER_NAME=run create_cluster 3 --allow-image "$DIGEST"
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    VEIL_INSECURE_REGISTRIES="$RT_REG"
done
wait_mesh 3
sleep 3
ok "mesh up"

# busybox_job NAME COMMAND: writes $WORK/NAME.yaml, a job of the registry's
# busybox image (the policy allows its digest) running COMMAND (a YAML list).
busybox_job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $RT_REG/busybox@$DIGEST
command: $2
resources: {cpu: 500m, memory: 64Mi}
policy: spread
YAML
}
busybox_job hello '[/bin/sh, -c, "echo hello from veil; sleep 1"]'
cat >"$WORK/evil.yaml" <<YAML
name: evil
image: $RT_REG/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
command: [/bin/true]
resources: {cpu: 500m, memory: 64Mi}
policy: spread
YAML
state_of() { replica0_state "$2" "$1"; } # ID NODE -> replica 0's state on NODE
is_state() { [ "$(state_of "$1" "$2")" = "$3" ]; }

id=$(veil_at 2 job run "$WORK/hello.yaml" | awk '{print $2}')
want=$("$ORACLE" "$WORK/hello.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}")
wait_for 120 "hello exited (seen by the submitter)" is_state "$id" 2 exited
# where it runs: from the runner's own view (the submitter's node shows only
# that it is placed: H4, placements_at in lib.sh)
node_of=$(placements_at 2 "$id")
[ "$node_of" = "$want" ] || fail "hello on $node_of, oracle says $want"
for i in 1 2 3; do
  if [ "$(eval echo \$PEER_$i)" = "$want" ]; then RUN_ON=$i; fi
done
grep -q 'msg="container running"' "$WORK/n$RUN_ON/veild.log" || fail "no container on node $RUN_ON"
log=$(veil_at "$RUN_ON" job logs "$id" 2>&1)
[[ "$log" == *"hello from veil"* ]] || fail "veil job logs: $log"
other=$(( RUN_ON == 1 ? 2 : 1 ))
if veil_at "$other" job logs "$id" >/dev/null 2>&1; then fail "job logs on a node not running it"; fi
wait_for 30 "every node's own view of hello agrees with the submitter's" views_agree 2 "$id"
ok "hello ran on node $RUN_ON (= oracle), exited, the submitter saw it; veil job logs shows its output"

id2=$(veil_at 2 job run "$WORK/evil.yaml" | awk '{print $2}')
wait_for 120 "evil refused (failed, seen by the submitter)" is_state "$id2" 2 failed
# the intake gate (hook H3 of docs/THREAT_MODEL.md): every node refuses it
# before any round, so it yields no placement outcome
refused_on() { grep -q "msg=\"job refused at intake\" job=${id2:0:16}" "$WORK/n$1/veild.log"; }
for i in 1 2 3; do wait_for 30 "evil refused at intake on node $i" refused_on "$i"; done
if grep -q "msg=\"job received\" job=${id2:0:16}" "$WORK"/n*/veild.log; then
  fail "evil reached scheduling"
fi
veil_at 2 job status "$id2" | grep -q "not in the cluster's on-chain allow-list" \
  || fail "job status does not say why: $(veil_at 2 job status "$id2")"
ok "an image digest not allowed by the on-chain policy is refused at intake by every node"
# Node death: a long job runs on the oracle's node; that node's veild is
# killed; SWIM declares it dead and the replica is placed again over the
# remaining nodes (the oracle without it) and runs there.
busybox_job long '[/bin/sleep, "600"]'
id3=$(veil_at 2 job run "$WORK/long.yaml" | awk '{print $2}')
wait_for 120 "long running" is_state "$id3" 2 running
wait_for 30 "long's runner shows it" runner_at 2 "$id3" 0
first=$(placements_at 2 "$id3")
victim=0; others=()
for i in 1 2 3; do
  if [ "$(eval echo \$PEER_$i)" = "$first" ]; then victim=$i; else others+=("$i"); fi
done
[ "$victim" != 1 ] || fail "long landed on the decryptor (test setup expects otherwise)"
kill -9 "${NODE_PIDS[$victim]}"; wait "${NODE_PIDS[$victim]}" 2>/dev/null || true; NODE_PIDS[$victim]=
args=()
for i in "${others[@]}"; do args+=("$(eval echo \$PEER_$i)=${CAPS[$i]}"); done
want3=$("$ORACLE" "$WORK/long.yaml" "${args[@]}")
moved() { is_state "$id3" 2 running && [ "$(placements_at 2 "$id3")" = "$want3" ]; }
wait_for 120 "long rescheduled onto $want3 and running" moved
wait_for 30 "every live node's own view of long agrees with the submitter's" views_agree 2 "$id3"
ok "node $victim killed -> long rescheduled and running on the oracle's choice among the rest"

# Restart: the node now running long restarts; its state is intact and the
# replica is not started twice.
for i in "${others[@]}"; do
  if [ "$(eval echo \$PEER_$i)" = "$want3" ]; then host=$i; fi
done
jobs_before=$(veil_at 2 job ls -o json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).length)')
stop_node "$host"
start_node "$host" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$host]}" \
  VEIL_INSECURE_REGISTRIES="$RT_REG"
wait_for 30 "node $host API back" veil_at "$host" get nodes
sleep 6
jobs_after=$(veil_at 2 job ls -o json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).length)')
[ "$jobs_before" = "$jobs_after" ] || fail "jobs $jobs_before -> $jobs_after"
n=$(grep -l "veil-${id3:0:16}-0" "$WORK"/n$host/containers/*/state.json 2>/dev/null | wc -l)
[ "$n" = 1 ] || fail "node $host has $n containers of long"
n=$(runc --root "$WORK/n$host/runc" list 2>/dev/null | grep -c running || true)
[ "$n" = 1 ] || fail "node $host runs $n containers"
is_state "$id3" "$host" running || fail "long on node $host: $(state_of "$id3" "$host")"
ok "node $host restarted: jobs intact, long still running once"
# The restarted node still watches the container: stopping it is reported.
veil_at "$host" job stop "$id3" >/dev/null || fail "job stop"
ended() { local st; st=$(state_of "$id3" 2); [ "$st" = failed ] || [ "$st" = exited ]; }
wait_for 60 "the stop of long reported to the submitter" ended
ok "veil job stop on node $host: the end of long reached the submitter ($(state_of "$id3" 2))"
# A container that ends while its node's veild is down (chaos s9, short68:
# veild killed a second after the start): the restarted node finds the ended
# copy (it lists ended containers too), records its end and reports it;
# before, only live containers were watched again and the replica stayed
# `running` on its node for good.
busybox_job nap '[/bin/sleep, "2"]'
id4=$(veil_at 2 job run "$WORK/nap.yaml" | awk '{print $2}')
wait_for 120 "nap running" is_state "$id4" 2 running
r=$(runner_at 2 "$id4" 0) || fail "nap: no runner found"
kill -9 "${NODE_PIDS[$r]}"; wait "${NODE_PIDS[$r]}" 2>/dev/null || true; NODE_PIDS[$r]=
sleep 4 # nap's container exits under its supervisor meanwhile
start_node "$r" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$r]}" \
  VEIL_INSECURE_REGISTRIES="$RT_REG"
wait_for 30 "node $r API back" veil_at "$r" get nodes
seen_down() { grep -q "msg=\"container ended while this node was down: its end is reported\" container=veil-${id4:0:16}-0" "$WORK/n$r/veild.log"; }
wait_for 60 "nap's end reached the submitter" is_state "$id4" 2 exited
wait_for 30 "node $r found nap's copy ended while it was down" seen_down
if grep -q "msg=\"rescheduling\" job=${id4:0:16}" "$WORK"/n*/veild.log; then
  echo "note: nap was also rescheduled (node $r declared dead while it was down)"
fi
ok "node $r killed while nap ran: restarted, it reported nap's end ($(state_of "$id4" 2))"
# A start that fails on its node is tried again, not failed for good (chaos
# s10: long18's start on the full-disk node failed in the two seconds its
# disk was full, and the long replica ended `failed` on every node). Every
# node's containers dir is made a plain file for a while (the start's mkdir
# fails with ENOTDIR, on any file system); once one node logs the retry, the
# dirs come back and the next try runs the job to its end.
hide_containers() {
  local i
  for i in 1 2 3; do
    mkdir -p "$WORK/n$i/containers"
    mv "$WORK/n$i/containers" "$WORK/n$i/containers.held" && : >"$WORK/n$i/containers"
  done
}
restore_containers() {
  local i
  for i in 1 2 3; do
    if [ -d "$WORK/n$i/containers.held" ]; then
      rm -f "$WORK/n$i/containers"
      mv "$WORK/n$i/containers.held" "$WORK/n$i/containers"
    fi
  done
}
E2E_PRE_CLEANUP=restore_containers
busybox_job again '[/bin/sleep, "1"]'
hide_containers
id5=$(veil_at 2 job run "$WORK/again.yaml" | awk '{print $2}')
retried() { grep -q "msg=\"container failed to start: tried again\" job=${id5:0:16} replica=0 try=1 of=5" "$WORK"/n*/veild.log; }
wait_for 120 "again's first start failed and is tried again" retried
restore_containers
wait_for 90 "again ran on a later try: its end reached the submitter" is_state "$id5" 2 exited
if grep -q "msg=\"container failed to start\" job=${id5:0:16}" "$WORK"/n*/veild.log; then
  fail "again was failed for good"
fi
ok "a start that failed (its node's containers dir unusable) was tried again and ran ($(state_of "$id5" 2))"
echo "PASS e2e_run"
