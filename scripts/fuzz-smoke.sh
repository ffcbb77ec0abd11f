#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target in a fuzz build for a few seconds on a copy of
# its seed corpus (fuzz/corpus/<target>/), and ends with a summary line.
# Targets run FUZZ_JOBS at a time (default: one per core); each is
# single-threaded, so each still gets a core for its seconds.
set -uo pipefail
build=$(cd "${1:?usage: fuzz-smoke.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-5}
jobs=${FUZZ_JOBS:-$(nproc)}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/veil-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts"
mapfile -t targets < <(find "$build/fuzz" -type f -executable -name 'fuzz_*' | sort)

# One target: its verdict in $work/NAME.rc, its output in $work/NAME.log.
run_target() {
  local t=$1 name corpus rc=0
  name=$(basename "$t")
  corpus="$work/$name"
  mkdir -p "$corpus"
  [ -d "$src/fuzz/corpus/$name" ] && cp -r "$src/fuzz/corpus/$name/." "$corpus/"
  # A fixed seed makes CI runs repeatable: what passed here passes there.
  (cd "$work" && "$t" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$build/fuzz-artifacts/$name-" -print_final_stats=0 \
    "$corpus" >"$work/$name.log" 2>&1) || rc=$?
  echo "$rc" >"$work/$name.rc"
}

running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  run_target "$t" &
  running=$((running + 1))
done
wait

passed=0 failed=0
for t in "${targets[@]}"; do
  name=$(basename "$t")
  if [ "$(cat "$work/$name.rc" 2>/dev/null)" = 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $name ok ($(grep -oE 'Done [0-9]+ runs' "$work/$name.log" | tail -1))"
  else
    failed=$((failed + 1))
    echo "fuzz: $name FAILED"; tail -40 "$work/$name.log"
  fi
done
echo "fuzz: ${#targets[@]} targets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
