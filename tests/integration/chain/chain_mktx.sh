#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chain/chain_mktx.sh - transaction encoding is byte for
# byte what `cast mktx` produces for the same fields (EIP-1559 and legacy,
# calls and contract creation, empty and long data, large nonces and fees).
source "$(dirname "$0")/lib.sh"
TOOL=${CHAIN_TOOL:?CHAIN_TOOL must point to chain_tool}
KEY=${ANVIL_KEYS[1]}
LONG=0x$(printf '07%.0s' $(seq 1 300))
n=0
# type chain nonce gas fee prio value to data
while read -r type chain nonce gas fee prio value to data; do
  [ -z "$type" ] && continue
  args=(--private-key "$KEY" --chain "$chain" --nonce "$nonce" --gas-limit "$gas" --gas-price "$fee")
  if [ "$type" = legacy ]; then args+=(--legacy); else args+=(--priority-gas-price "$prio"); fi
  [ "$value" != 0 ] && args+=(--value "$value")
  [ "$data" = LONG ] && data=$LONG
  if [ "$to" = - ]; then
    want=$("$CAST" mktx "${args[@]}" --create "$data")
  else
    if [ "$data" = 0x ]; then want=$("$CAST" mktx "${args[@]}" "$to"); else want=$("$CAST" mktx "${args[@]}" "$to" "$data"); fi
  fi
  got=$("$TOOL" mktx "$type" "$chain" "$nonce" "$gas" "$fee" "$prio" "$value" "$to" "$data" "$KEY")
  [ "$got" = "$want" ] || fail "$type chain=$chain nonce=$nonce: got $got want $want"
  n=$((n + 1))
done <<'CASES'
1559 1 0 21000 1000000000 1000000 0 0x00000000000000000000000000000000000000aa 0x
1559 31337 7 50000 30000000000 2000000000 12345 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0xdeadbeef
1559 11155111 300 1000000 1 0 1000000000000000000 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 LONG
1559 31337 18446744073709551614 30000000 9000000000000 9000000000000 0 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0x00
1559 31337 1 3000000 2000000000 1 0 - 0x6080604052
legacy 1 0 21000 1000000000 0 0 0x00000000000000000000000000000000000000aa 0x
legacy 31337 127 50000 30000000000 0 12345 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0xdeadbeef
legacy 137 128 1000000 1 0 1000000000000000000 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 LONG
legacy 31337 1 3000000 2000000000 0 0 - 0x6080604052
CASES
echo "cast mktx: $n transactions identical"
