#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark program built under BUILD/bench and every
# bench/<sub>/run.sh, collecting their JSON lines in BUILD/bench.jsonl.
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
out="$build/bench.jsonl"
: >"$out"
for b in $(find "$build/bench" -type f -executable -name 'bench_*' 2>/dev/null | sort); do
  echo "bench: $(basename "$b")" >&2
  "$b" | tee -a "$out"
done
for s in bench/*/run.sh; do
  [ -x "$s" ] || continue
  echo "bench: $s" >&2
  VEIL_BUILD_DIR="$build" "$s" | tee -a "$out"
done
echo "bench: results in $out" >&2
