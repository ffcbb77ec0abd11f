#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/pq/run.sh - ML-KEM-768 operations per second, Veil (src/pq, C) and
# @noble/post-quantum 0.7.1 (Node) in the same run, per CPU second of each
# process, one JSON line each, then
# a line with Veil's speed-up. SECONDS per operation from PQ_BENCH_SECONDS
# (default 1).
set -euo pipefail
build=${VEIL_BUILD_DIR:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${PQ_BENCH_SECONDS:-1}
veil=$("$build/bench/pq/pq_mlkem_ops" "$secs")
noble=$(node "$src/bench/pq/noble_ops.mjs" "$src" "$secs")
echo "$veil"
echo "$noble"
node -e '
const [v, n] = process.argv.slice(1).map(JSON.parse);
const r = (k) => Math.round((v[k] / n[k]) * 10) / 10;
console.log(JSON.stringify({bench: "pq_mlkem768_speedup", vs: n.impl,
  keygen_x: r("keygen_per_cpu_s"), encaps_x: r("encaps_per_cpu_s"), decaps_x: r("decaps_per_cpu_s")}));
' "$veil" "$noble"
