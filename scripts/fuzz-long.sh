#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz-long.sh BUILD_DIR [SECONDS_PER_TARGET] - the long fuzzing run: every
# libFuzzer target of a fuzz build for SECONDS (default 300) on a corpus KEPT
# between runs in BUILD_DIR/corpus-long/<target>/ (seeded from
# fuzz/corpus/<target>/ and merged into on every run, so each run starts
# where the last one stopped). Crashes go to BUILD_DIR/fuzz-artifacts/.
# Ends with one JSON line per target (executions, coverage, corpus size,
# result) in BUILD_DIR/fuzz-long.jsonl and a summary line.
# FUZZ_JOBS runs that many targets at once (default 1); FUZZ_ONLY=regex
# limits the targets.
set -uo pipefail
build=$(cd "${1:?usage: fuzz-long.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-300}
jobs=${FUZZ_JOBS:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
keep="$build/corpus-long"
logs="$build/fuzz-long-logs"
report="$build/fuzz-long.jsonl"
mkdir -p "$keep" "$logs" "$build/fuzz-artifacts"
: >"$report"
mapfile -t targets < <(find "$build/fuzz" -type f -executable -name 'fuzz_*' | sort |
                       grep -E "${FUZZ_ONLY:-.}")

# One target: seeds into the kept corpus, fuzz, one JSON line.
run_one() {
  local t=$1 name corpus log rc
  name=$(basename "$t")
  corpus="$keep/$name"
  log="$logs/$name.log"
  mkdir -p "$corpus"
  [ -d "$src/fuzz/corpus/$name" ] && cp -rn "$src/fuzz/corpus/$name/." "$corpus/"
  (cd "$logs" && "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
     -artifact_prefix="$build/fuzz-artifacts/$name-" -print_final_stats=1 "$corpus" >"$log" 2>&1)
  rc=$?
  local execs cov ft units
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  units=$(find "$corpus" -type f | wc -l)
  printf '{"target":"%s","seconds":%s,"executions":%s,"coverage_edges":%s,"features":%s,"corpus_files":%s,"result":"%s"}\n' \
    "$name" "$seconds" "${execs:-0}" "${cov:-0}" "${ft:-0}" "$units" "$([ $rc -eq 0 ] && echo ok || echo crash)"
}
export -f run_one
export build seconds keep logs src

printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} >>"$report"
total=$(wc -l <"$report")
crashes=$(grep -c '"result":"crash"' "$report")
execs=$(grep -oE '"executions":[0-9]+' "$report" | cut -d: -f2 | paste -sd+ | bc)
echo "fuzz-long: $total targets x ${seconds}s: ${execs:-0} executions, $crashes crashed (per target: $report, corpus kept in $keep)"
[ "$crashes" -eq 0 ]
