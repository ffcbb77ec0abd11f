#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target in a fuzz build for a few seconds on a copy of
# its seed corpus (fuzz/corpus/<target>/), and ends with a summary line.
set -uo pipefail
build=$(cd "${1:?usage: fuzz-smoke.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/veil-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 failures=()
mkdir -p "$build/fuzz-artifacts"
mapfile -t targets < <(find "$build/fuzz" -type f -executable -name 'fuzz_*' | sort)
for t in "${targets[@]}"; do
  name=$(basename "$t")
  corpus="$work/$name"
  mkdir -p "$corpus"
  [ -d "$src/fuzz/corpus/$name" ] && cp -r "$src/fuzz/corpus/$name/." "$corpus/"
  # A fixed seed makes CI runs repeatable: what passed here passes there.
  if (cd "$work" && "$t" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$build/fuzz-artifacts/$name-" \
        -print_final_stats=0 "$corpus" >"$work/$name.log" 2>&1); then
    passed=$((passed + 1))
    echo "fuzz: $name ok ($(grep -oE 'Done [0-9]+ runs' "$work/$name.log" | tail -1))"
  else
    failed=$((failed + 1)); failures+=("$name")
    echo "fuzz: $name FAILED"; tail -40 "$work/$name.log"
  fi
done
echo "fuzz: ${#targets[@]} targets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
