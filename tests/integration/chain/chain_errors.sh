#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chain/chain_errors.sh - error paths of `veil chain`: RPC
# down, a wrong chain id, reverts decoded to the contract's custom error
# (an unregistered node anchoring, a stranger registering a node), a wrong
# keystore password, insufficient funds; plus the nonce manager under
# concurrent sends and the log follower across a reorg.
source "$(dirname "$0")/lib.sh"
TOOL=${CHAIN_TOOL:?CHAIN_TOOL must point to chain_tool}
start_anvil
export VEIL_RPC_URL=$RPC VEIL_KEYSTORE_PASSWORD=pw
K0=$(keystore_for 0); K5=$(keystore_for 5)
A0=$(addr_for 0); A1=$(addr_for 1)

expect_fail() { # expect_fail "needle" cmd...
  local needle=$1; shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = 1 ] || fail "exit $rc (want 1) from: $* -> $out"
  [[ "$out" == *"$needle"* ]] || fail "'$needle' not in: $out"
}

out=$("$VEIL" chain deploy --keystore "$K0" -o json)
C=$(json_get "$out" contract)
export VEIL_CONTRACT_ADDRESS=$C
"$VEIL" chain cluster create --keystore "$K0" --name c --operator "$A0@o" --threshold 1 >/dev/null

DEAD=$(free_port)
expect_fail "rpc http://127.0.0.1:$DEAD" "$VEIL" chain node list --cluster 1 --rpc "http://127.0.0.1:$DEAD"
ok "rpc down"
expect_fail "chain id mismatch" "$VEIL" chain node list --cluster 1 --chain-id 1
VEIL_CHAIN_ID=5 expect_fail "expected 5" "$VEIL" chain deploy --keystore "$K0"
ok "wrong chain id"
J=0x$(printf '01%.0s' $(seq 1 32))
expect_fail "NotActiveNode(1, $(addr_for 5))" "$VEIL" chain anchor deployment --keystore "$K5" --cluster 1 --job "$J" --assignment "$J"
expect_fail "NotActiveNode(1, $(addr_for 5))" "$VEIL" chain anchor batch --keystore "$K5" --cluster 1 --epoch 1 --root "$J" --count 4
ok "unregistered node cannot anchor (NotActiveNode decoded)"
expect_fail "NotOperator(1, $(addr_for 5))" "$VEIL" chain node register --keystore "$K5" --cluster 1 --node "$A1" --peer-id "$J"
expect_fail "UnknownCluster(7)" "$VEIL" chain policy get --cluster 7
# the shard size is bounded by the member cap, as in `veil cluster init` (usage error: 2)
out=$("$VEIL" chain policy propose --keystore "$K0" --cluster 1 --shard-size 65537 2>&1) && rc=0 || rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"--shard-size: at most 65536"* ]] || fail "shard size 65537: exit $rc: $out"
expect_fail "InvalidThreshold(3, 1)" "$VEIL" chain cluster create --keystore "$K0" --name d --operator "$A0@o" --threshold 3
ok "custom errors decoded"
expect_fail "wrong password" env VEIL_KEYSTORE_PASSWORD=nope "$VEIL" chain deploy --keystore "$K0"
ok "wrong keystore password"
printf 'pw2\n' > "$WORK/pw2"
"$VEIL" chain keygen --out "$WORK/poor.json" --password-file "$WORK/pw2" --scrypt-log-n 10 >/dev/null
expect_fail "nsufficient funds" "$VEIL" chain deploy --keystore "$WORK/poor.json" --password-file "$WORK/pw2"
ok "insufficient funds"
rc=0; "$VEIL" chain anchor deployment --cluster 1 --job 0x12 --assignment "$J" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad --job should be a usage error, got $rc"
# Each leaf takes its own options only: one meant for another command is refused.
rc=0; out=$("$VEIL" chain anchor deployment --cluster 1 --job "$J" --assignment "$J" --epoch 3 2>&1) || rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"--epoch is not an option of this command"* ]] || fail "stray --epoch: $rc $out"
rc=0; out=$("$VEIL" chain deploy --keystore "$K0" --count 5 2>&1) || rc=$?
[ "$rc" = 2 ] && [[ "$out" == *"--count is not an option"* ]] || fail "stray --count: $rc $out"
ok "usage errors"

"$TOOL" nonce-stress "$RPC" "${ANVIL_KEYS[2]}" 4 10 || fail "nonce manager"
ok "nonce manager: 4 threads x 10 sends, no nonce reused or skipped"
"$TOOL" follow-reorg "$RPC" "${ANVIL_KEYS[3]}" || fail "log follower reorg"
ok "log follower survives a reorg"
echo "chain errors: all checks passed"
