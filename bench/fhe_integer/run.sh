#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/fhe_integer/run.sh - radix-integer benchmark (FHE-B): runs `veil fhe bench
# --json` and prints its one JSON line: KS+PBS on one thread, key generation, and
# on two threads FheUint16 lt/min/add and argmin over 16 FheUint16 (median ms and
# PBS count of each), plus memory per key and per ciphertext.
# Usage: VEIL_BUILD_DIR=build bench/fhe_integer/run.sh [--reps N]
set -euo pipefail
build="${VEIL_BUILD_DIR:-build}"
exec "$build/src/cmd/veil" fhe bench --json "$@"
