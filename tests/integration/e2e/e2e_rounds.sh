#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_rounds.sh - the daemon's round lifecycle with real
# veild processes (issue 18), kept lean: three nodes whose settled rounds are
# dropped from memory after 1 s (jobs.round_retention), so every job's
# earlier replicas are pruned and recreated while later jobs run. Several
# 3-replica jobs submitted at once must all be placed, each on three distinct
# nodes equal to the oracle (before the fix a node that had used its 64
# round slots recycled the previous replica's round and never planned the
# next one), each placed by ONE round on every node (issue 20: a batch round
# of its replica 0 evaluates the k-replica circuit, the decryptor signs the
# three assignments); a job asking more replicas than feasible nodes gets the
# rest unschedulable, as the oracle says. Then the decryptor goes down: the submitter re-announces the
# undecided job a bounded number of times (jobs.reannounce_max = 2, with a
# growing gap), then stops and says so in its log and in `veil job status`.
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
create_cluster 3
CAPS=("" "cpu=2000m,memory=2Gi,disk=20Gi,gpu=0,region=eu-west,zone=1" \
      "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0,region=eu-west,zone=2" \
      "cpu=3000m,memory=4Gi,disk=20Gi,gpu=0,region=us-east,zone=1")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    VEIL_JOBS_ROUND_RETENTION=1s VEIL_JOBS_REANNOUNCE_MAX=2
done
IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
wait_mesh 3
sleep 3
ok "mesh up, telemetry flowing"
grep -q 'roles=member,scheduler,decryptor,anchorer,executor' "$WORK/n1/veild.log" \
  || fail "node 1 does not report the decryptor's roles"
grep -q 'roles=member,scheduler,executor' "$WORK/n2/veild.log" \
  || fail "node 2 does not report a scheduler's roles"
ok "each node's roles decided once at start and logged"

job() { # NAME POLICY CPU MEMORY REPLICAS
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: $5
policy: $2
YAML
}
# placements as the runners show them (node 2, the submitter, sees only that
# each replica is placed: placements_at, views_agree in lib.sh)
assigned() { [ "$(placements_at 2 "$1" | wc -l)" -ge "$2" ]; }
oracle() { "$ORACLE" "$WORK/$1.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}"; }

# one_round ID K: on every node, the job's replica 0 round was planned once
# as a batch of K (a retry may re-plan it), and no later replica had a round
one_round() {
  local i log n
  for i in 1 2 3; do
    log="$WORK/n$i/veild.log"
    n=$(grep -c "msg=\"round planned\" job=${1:0:16} replica=0 attempt=1 .* batch=$2 " "$log") || true
    [ "$n" = 1 ] || { echo "node $i planned the batch of ${1:0:16} $n times" >&2; grep "job=${1:0:16}" "$log" | tail -20 >&2; return 1; }
    if grep -q "msg=\"round planned\" job=${1:0:16} replica=[1-9]" "$log"; then
      echo "node $i planned a round for a later replica of ${1:0:16}" >&2
      grep "job=${1:0:16}" "$log" | tail -20 >&2; return 1
    fi
  done
}

declare -A ID
JOBS=(r1 r2 r3 r4)
for j in "${JOBS[@]}"; do job "$j" spread 100m 16Mi 3; done
job rwide binpack 100m 1536Mi 3 # more replicas than nodes with that much memory
[ "$(grep -c unschedulable <<<"$(oracle rwide)")" -ge 1 ] || fail "rwide: the oracle places every replica: $(oracle rwide)"
JOBS+=(rwide)
for j in "${JOBS[@]}"; do
  ID[$j]=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"
done
for j in "${JOBS[@]}"; do
  wait_for 150 "$j: 3 replicas assigned (node 2, its submitter)" assigned "${ID[$j]}" 3
  wait_for 30 "$j: every node's own view agrees with node 2's" views_agree 2 "${ID[$j]}"
  got=$(placements_at 2 "${ID[$j]}")
  want=$(oracle "$j")
  placed=$(grep -vc unschedulable <<<"$want") || true
  [ "$(sort -u <<<"$got" | grep -vc unschedulable)" = "$placed" ] || fail "$j not on $placed distinct nodes: $got"
  [ "$got" = "$want" ] || fail "$j placed on [$got], oracle says [$want]"
  one_round "${ID[$j]}" 3 || fail "$j was not placed by one round"
done
ok "${#JOBS[@]} jobs x 3 replicas placed by one round each on distinct nodes (= oracle, each node seeing its own; rwide's extra replica unschedulable) with rounds pruned after 1 s"
grep -q 'settled rounds dropped from memory' "$WORK/n2/veild.log" \
  || fail "node 2 never pruned a settled round"
ok "settled rounds were dropped from memory while later jobs were planned"

# Decryptor down: the job waits, re-announced at most twice, then reported.
stop_node 1
job rdown spread 100m 16Mi 1
did=$(veil_at 2 job run "$WORK/rdown.yaml" | awk '{print $2}') || fail "job run rdown"
stopped() { grep -q "msg=\"job re-announcements stopped\" job=${did:0:16} replica=0 reannounced=2" "$WORK/n2/veild.log"; }
wait_for 120 "node 2 stops re-announcing rdown" stopped
n=$(grep -c "msg=\"job re-announced\" job=${did:0:16}" "$WORK/n2/veild.log")
[ "$n" = 2 ] || fail "rdown re-announced $n times, not 2"
veil_at 2 job status "$did" | grep -q 'undecided after 2 re-announcements' \
  || fail "job status does not report the stop: $(veil_at 2 job status "$did")"
ok "an undecided job is re-announced twice (growing gap), then reported in the log and job status"
