#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/p2p_swim/run.sh - SWIM with 20 real member processes on loopback
# (owned by the SWIM part of p2p): steady-state message load, time until
# every member declared a SIGKILLed member dead, rejoin time, and 30 s of
# 10% packet loss. Runs tests/integration/p2p_swim/swim_cluster.sh (needs
# root for the network namespace) and prints its JSON line.
set -euo pipefail
build=${VEIL_BUILD_DIR:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp /tmp/veil-swim-bench.XXXXXX)
trap 'rm -f "$out"' EXIT
bash "$src/tests/integration/p2p_swim/swim_cluster.sh" \
  "$build/tests/integration/p2p_swim/veil_swim_node" 20 30 "$out" >&2
cat "$out"
