#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_packed.sh (TFHE-rs interop, packed lists) - a packed CompactCiphertextList
# written by Veil (`veil fhe encrypt --format tfhe-rs --packed`, two blocks per
# stored block as TFHE-rs's build_packed) under node-tfhe's public key is
# expanded by node-tfhe 1.7.0 - which needs its own server key for that (about
# 20 s to generate in WebAssembly, then one PBS per block: the reason this is
# its own test) - and decrypts to the values. (node-tfhe's packed lists read by
# Veil: run_interop.sh.) Needs VEIL_BIN (ctest) and node.
set -euo pipefail
VEIL=${VEIL_BIN:?VEIL_BIN not set}
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
NODE=(node "$SRC/tests/interop/tfhers/tfhe_node.cjs")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"${NODE[@]}" keygen "$T"
# FheUint8 255 and 0: eight blocks in four stored ones, an edge value each
"$VEIL" fhe encrypt -k "$T/public.key" -w 8 --format tfhe-rs --packed -o "$T/packed.ct" 255 0
TFHE_NODE_SERVER_KEY=1 "${NODE[@]}" decrypt-list "$T/client.key" "$T/packed.ct" 8 255 0 ||
    { echo "FAIL: node-tfhe could not expand Veil's packed list" >&2; exit 1; }
echo "Veil's packed list expanded and decrypted by node-tfhe: all passed"
