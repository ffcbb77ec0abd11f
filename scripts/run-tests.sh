#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs ctest in a build directory and ends with one summary line:
#   "tests: N passed, N failed, N skipped" (plus the names of the failures and
#   of the skipped tests, which print their reason: cgroup v2 where the host
#   binds memory to v1).
# Extra arguments go to ctest (e.g. -L fast).
set -uo pipefail
build=${1:?usage: run-tests.sh BUILD_DIR [ctest args]}
shift
log="$build/ctest.log"
ctest --test-dir "$build" --output-on-failure -j "${VEIL_TEST_JOBS:-2}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$log")
skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log")
failed=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Timeout|Exception|Not Run)' "$log" |
  grep -vc '\*\*\*Skipped')
echo
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Timeout|Exception|Not Run)' "$log" |
    grep -v '\*\*\*Skipped' | sed 's/^/  /'
fi
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests (each prints why; see the log):"
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log" | sed 's/^/  /'
fi
echo "tests ($build): $passed passed, $failed failed, $skipped skipped"
exit "$rc"
