#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs ctest in a build directory and ends with one summary line:
#   "tests: N passed, N failed, N skipped" (plus the names of the failures and
#   of the skipped tests, which print their reason: cgroup v2 where the host
#   binds memory to v1).
# Extra arguments go to ctest (e.g. -L fast).
#
# One rerun for service tests: when only tests that start real services
# (label `slow`: clusters of daemons, namespaces, anvil, nats-server) failed,
# they run once more, alone-ish, and the summary names each one that passed
# the second time as FLAKY, with its first failure's output kept above in
# the log. A test that breaks fails twice and fails the run. A fast unit test
# is never rerun: one failure fails the run. VEIL_TEST_RERUN=0 turns the
# rerun off.
set -uo pipefail
build=${1:?usage: run-tests.sh BUILD_DIR [ctest args]}
shift
log="$build/ctest.log"
fail_re='^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Timeout|Exception|Not Run)'

failed_lines() { grep -E "$fail_re" "$1" | grep -v '\*\*\*Skipped'; }
test_names() { sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*/\1/'; }

ctest --test-dir "$build" --output-on-failure -j "${VEIL_TEST_JOBS:-2}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$log")
skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log")
failed=$(failed_lines "$log" | grep -c .)
first_failures=$(failed_lines "$log")

flaky=""
if [ "$rc" -ne 0 ] && [ "$failed" -gt 0 ] && [ "${VEIL_TEST_RERUN:-1}" != 0 ]; then
  fast=$(ctest --test-dir "$build" -N -L fast | sed -nE 's/^ *Test +#[0-9]+: (.*)$/\1/p')
  fast_failed=$(test_names <<<"$first_failures" | grep -Fxf <(printf '%s\n' "$fast") || true)
  if [ -z "$fast_failed" ]; then
    echo
    echo "rerunning the $failed failed service test(s) once:"
    rerun_log="$build/ctest-rerun.log"
    ctest --test-dir "$build" --output-on-failure --rerun-failed -j "${VEIL_TEST_JOBS:-2}" "$@" 2>&1 |
      tee "$rerun_log"
    rc=${PIPESTATUS[0]}
    still=$(failed_lines "$rerun_log" | test_names)
    flaky=$(test_names <<<"$first_failures" | grep -Fxvf <(printf '%s\n' "$still") || true)
    failed=$(grep -c . <<<"$still")
    passed=$((passed + $(grep -c . <<<"$flaky")))
  else
    echo "a fast test failed ($(tr '\n' ' ' <<<"$fast_failed")): no rerun"
  fi
fi

echo
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  if [ -n "${rerun_log:-}" ]; then failed_lines "$rerun_log"; else echo "$first_failures"; fi | sed 's/^/  /'
fi
if [ -n "$flaky" ]; then
  echo "FLAKY (failed, then passed on the rerun; the first failure's output is above):"
  sed 's/^/  /' <<<"$flaky"
fi
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests (each prints why; see the log):"
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log" | sed 's/^/  /'
fi
echo "tests ($build): $passed passed, $failed failed, $skipped skipped${flaky:+, $(grep -c . <<<"$flaky") flaky}"
exit "$rc"
