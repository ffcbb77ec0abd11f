#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/fhe_tfhers/run.sh - node-tfhe's encryption time for a confidential
# request against a Veil public key exported in TFHE-rs format (JSON line);
# Veil's own figures come from the bench_tfhers program.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${VEIL_BUILD_DIR:-$SRC/build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BUILD/src/cmd/veil" fhe keygen -o "$T/k" >/dev/null
"$BUILD/src/cmd/veil" fhe export --format tfhe-rs -o "$T/pk.tfhers" "$T/k/public.key"
node "$SRC/bench/fhe_tfhers/node_encrypt.cjs" "$T/pk.tfhers"
