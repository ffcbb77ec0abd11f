#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/node/jobs_per_minute.sh [NODES] [SHARD_SIZE] [SECONDS] [GAP_S] - jobs
# placed per minute with jobs arriving continuously (issue 20): NODES real
# veild processes (default 16; VEIL_THREADS=1 each) with the given shard
# size in the cluster's policy (default 4; 0 = unsharded rounds), one
# 1-replica job submitted every GAP_S seconds (default 5) for SECONDS
# (default 120); then the placements
# are awaited (at most 5 more minutes). Prints one JSON line: jobs submitted
# and placed, the window from the first submission to the last decision,
# jobs per minute over it, the veild processes' CPU seconds, and the load
# average (the machine is shared: read the figure next to it).
# BENCH_REPLICAS=K submits K-replica jobs (default 1): a job counts as placed
# once its K assignments are signed; VEIL_SCHED_BATCH_REPLICAS=false makes
# every node place them one round per replica (as before issue 20's batch
# rounds), VEIL_SCHED_NODE_KEYS=false puts the key back in the circuit, so
# both can be measured with one binary: each turns the switch off in the
# cluster's on-chain policy (veil cluster init --no-batch-replicas /
# --no-node-keys; schedFlags, docs/SCHEDULING.md).
set -euo pipefail
exec 3>&1 1>&2 # the JSON line alone on stdout
VEIL_SOURCE_DIR=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${VEIL_BUILD_DIR:-$VEIL_SOURCE_DIR/build}
export VEIL_SOURCE_DIR VEIL_BIN=${VEIL_BIN:-$B/src/cmd/veil} VEILD_BIN=${VEILD_BIN:-$B/src/cmd/veild}
source "$VEIL_SOURCE_DIR/tests/integration/e2e/e2e_shard_lib.sh"
N=${1:-16} SHARD=${2:-4} DUR=${3:-120} GAP=${4:-5} REP=${BENCH_REPLICAS:-1}
POLICY=(--shard-size "$SHARD")
BATCH=${VEIL_SCHED_BATCH_REPLICAS:-true}
[ "$BATCH" = false ] && POLICY+=(--no-batch-replicas)
[ "${VEIL_SCHED_NODE_KEYS:-true}" = false ] && POLICY+=(--no-node-keys)
shard_caps "$N"
shard_cluster "$N" "${POLICY[@]}"
for i in $(seq 1 "$N"); do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s VEIL_THREADS=1 "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"
done
shard_mesh_up "$N"
ms() { date +%s%3N; }
t0=$(ms) k=0
while [ $(($(ms) - t0)) -lt $((DUR * 1000)) ]; do
  shard_job "b$k" binpack 100m 16Mi "$REP"
  veil_at 2 job run "$WORK/b$k.yaml" >/dev/null || fail "job run b$k"
  k=$((k + 1))
  sleep "$GAP"
done
decided() { [ "$(grep -c 'msg="assignment signed"' "$WORK/n1/veild.log")" -ge $((k * REP)) ]; }
end=$((SECONDS + 300))
while ! decided && [ $SECONDS -lt $end ]; do sleep 1; done
last=$(grep 'msg="assignment signed"' "$WORK/n1/veild.log" | tail -n 1 | grep -o 'time=[^ ]*' | cut -d= -f2)
t1=$(date -d "$last" +%s%3N)
placed=$(($(grep -c 'msg="assignment signed".*schedulable=1' "$WORK/n1/veild.log") / REP))
rounds=$(grep -c 'msg="round planned"' "$WORK/n1/veild.log") || true
cpu=0
for p in "${NODE_PIDS[@]}"; do
  [ -n "$p" ] && cpu=$((cpu + $(awk '{print $14 + $15}' "/proc/$p/stat")))
done
load=$(cut -d' ' -f1 /proc/loadavg)
node -e '
  const [n, shard, sub, placed, ms, cpuTicks, hz, load, rep, rounds] =
    process.argv.slice(1).map(Number);
  console.log(JSON.stringify({bench: "jobs_per_minute", nodes: n, shard_size: shard,
    replicas: rep, batch: process.argv[11], rounds_planned: rounds,
    jobs_submitted: sub, jobs_placed: placed, window_s: ms / 1000,
    jobs_per_minute: +(placed * 60000 / ms).toFixed(2),
    veild_cpu_s: +(cpuTicks / hz).toFixed(1), loadavg_1m: load}));' \
  "$N" "$SHARD" "$k" "$placed" "$((t1 - t0))" "$cpu" "$(getconf CLK_TCK)" "$load" "$REP" \
  "$rounds" "$BATCH" >&3
