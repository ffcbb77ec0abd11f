#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Anchors read and written through a provider that refuses eth_getLogs over
# more than 100 blocks (range_proxy.py, as public providers cap ranges), with
# a dead endpoint listed first (chain.rpc_url "DEAD,PROXY"): the chain client
# fails over, the anchorer pages the 300+ blocks since genesis (its pages
# halved until the provider accepts them) and anchors the batch once.
source "$(dirname "$0")/lib.sh"
TOOL=${ANCHOR_TOOL:?}
KEY=${ANVIL_KEYS[0]}
start_anvil
read -r CONTRACT CLUSTER < <("$TOOL" setup "$RPC" "$KEY" "$WORK/node")
"$CAST" rpc --rpc-url "$RPC" anvil_mine 0x12c >/dev/null   # 300 empty blocks
PPORT=$(free_port)
python3 "$(dirname "$0")/range_proxy.py" "$PPORT" "$RPC" 100 >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null && break; sleep 0.05; done
DEAD=$(free_port)   # nothing listens there
LIST="http://127.0.0.1:$DEAD,http://127.0.0.1:$PPORT"

out=$("$TOOL" tick "$LIST" "$KEY" "$WORK/node" "$CONTRACT" "$CLUSTER" 10000 2>&1)
grep -q "sent_batches=1" <<<"$out" || fail "anchoring through the proxy: $out"
grep -q "failovers=[1-9]" <<<"$out" || fail "no failover to the second endpoint: $out"
grep -q refused "$WORK/proxy.log" || fail "the proxy refused nothing: the range was not wide"
ok "failed over from the dead endpoint, paged past refused ranges, sent one batch"

out=$("$TOOL" tick "$LIST" "$KEY" "$WORK/node" "$CONTRACT" "$CLUSTER" 10000 2>&1)
grep -q "sent_batches=0" <<<"$out" || fail "second pass sent again: $out"
out=$("$TOOL" count "$LIST" "$WORK/node" "$CONTRACT" "$CLUSTER")
[ "$out" = "batches=1 anchored=3" ] || fail "after anchoring: $out"
ok "anchors found again through paged reads: $out"
echo PASS
