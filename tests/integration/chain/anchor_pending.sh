#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A batch anchor sent while the chain does not mine (anvil automine off),
# then the sender restarts (a fresh chain client and anchorer on the same
# store): it must find its unmined transaction by nonce and wait, not send
# a second batch for the same epoch. After mining: one BatchAnchored log for
# the epoch, every assignment anchored.
source "$(dirname "$0")/lib.sh"
TOOL=${ANCHOR_TOOL:?}
KEY=${ANVIL_KEYS[0]}
start_anvil
export VEIL_LOG=info
read -r CONTRACT CLUSTER < <("$TOOL" setup "$RPC" "$KEY" "$WORK/node")
ok "registry $CONTRACT, cluster $CLUSTER, 3 assignments of batch epoch 0"

"$CAST" rpc --rpc-url "$RPC" evm_setAutomine false >/dev/null
# 1. the batch goes out and is not mined: the receipt wait times out (the
#    process dies here in the real failure: nothing after the send ran)
out=$("$TOOL" tick "$RPC" "$KEY" "$WORK/node" "$CONTRACT" "$CLUSTER" 1500 2>&1)
grep -q "sent_batches=0" <<<"$out" || fail "first pass: $out"
pending=$("$CAST" rpc --rpc-url "$RPC" txpool_status | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(parseInt(JSON.parse(s).pending,16)))')
[ "$pending" = 1 ] || fail "expected the batch transaction pending, txpool has $pending"
ok "batch transaction sent, unmined"

# 2. restarted sender, still unmined: it must not send again
for i in 1 2; do
  out=$("$TOOL" tick "$RPC" "$KEY" "$WORK/node" "$CONTRACT" "$CLUSTER" 1500 2>&1)
  grep -q "sent_batches=0" <<<"$out" || fail "restart pass $i sent again: $out"
  grep -q "still pending" <<<"$out" || fail "restart pass $i did not find the pending tx: $out"
done
pending=$("$CAST" rpc --rpc-url "$RPC" txpool_status | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(parseInt(JSON.parse(s).pending,16)))')
[ "$pending" = 1 ] || fail "a second transaction was sent: txpool has $pending"
ok "restarted sender found its pending transaction by nonce and waited"

# 3. mined: the next pass records it; exactly one batch for the epoch
"$CAST" rpc --rpc-url "$RPC" evm_mine >/dev/null
"$CAST" rpc --rpc-url "$RPC" evm_setAutomine true >/dev/null
"$TOOL" tick "$RPC" "$KEY" "$WORK/node" "$CONTRACT" "$CLUSTER" 5000 >/dev/null 2>&1
out=$("$TOOL" count "$RPC" "$WORK/node" "$CONTRACT" "$CLUSTER")
[ "$out" = "batches=1 anchored=3" ] || fail "after mining: $out"
ok "one batch on chain for the epoch, 3 anchors recorded"
echo PASS
