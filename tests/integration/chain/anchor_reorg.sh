#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A batch anchor dropped by a reorg (issue 18, chaos `anchors`): the
# sender's batch is mined, then anvil_reorg 2 drops it before it is 2 deep.
#   1. confirmation depth 2: the mined, unconfirmed batch is not recorded
#      and not sent again; after the reorg the sender sends it again, and
#      once that one is 2 deep every row names its transaction (never the
#      dropped one): one batch on chain for the epoch.
#   2. the same in ONE running sender (one chain client): its resent batch
#      must not take a nonce after the dropped one (never mined).
#   3. a row recorded at depth 0 (as before the fix: depth 0) whose
#      transaction a reorg dropped: a restarted sender (depth 2) finds no
#      log of it, turns the rows back into intents and sends the batch again.
#   4. a batch of ONE (its root is the leaf, its proof empty, like a single's
#      row) mined but not yet 2 deep: the next pass waits; it must not anchor
#      the commitment again alone (the long chaos run of 2026-12-07 found two
#      commitments anchored in a batch and a single, one block apart).
source "$(dirname "$0")/lib.sh"
TOOL=${ANCHOR_TOOL:?}
KEY=${ANVIL_KEYS[0]}
start_anvil
export VEIL_LOG=info
LAST=
tick() { # DIR CONF -> one pass (a restarted sender), output in $LAST
  LAST=$(ANCHOR_CONFIRMATIONS=$2 "$TOOL" tick "$RPC" "$KEY" "$WORK/$1" "$CONTRACT" "$CLUSTER" 5000 2>&1) \
    || fail "tick: $LAST"
}
check() { "$TOOL" check "$RPC" "$WORK/$1" "$CONTRACT" "$CLUSTER"; }
expect() { # DIR WANT WHAT
  local got
  got=$(check "$1")
  [ "$got" = "$2" ] || fail "$3: $got (want $2); last pass: $LAST"
}
tx_of() { sed -n 's/.*msg="batch anchored".* tx=\(0x[0-9a-f]*\).*/\1/p' <<<"$LAST"; }
reorg() {
  "$CAST" rpc --rpc-url "$RPC" anvil_reorg 2 '[]' >/dev/null || fail "anvil_reorg"
  local pool
  pool=$("$CAST" rpc --rpc-url "$RPC" txpool_status)
  grep -q '"pending":"0x0"' <<<"$pool" || fail "the dropped transaction came back to the pool: $pool"
}

# ---- 1. depth 2 --------------------------------------------------------
setup() { # DIR: registry, cluster and node buried under 3 blocks (the reorg keeps them)
  read -r CONTRACT CLUSTER < <("$TOOL" setup "$RPC" "$KEY" "$WORK/$1")
  [ -n "$CLUSTER" ] || fail "setup"
  "$CAST" rpc --rpc-url "$RPC" anvil_mine 3 >/dev/null || fail "anvil_mine"
}
setup a
tick a 2
grep -q "sent_batches=1" <<<"$LAST" || fail "first pass sent no batch: $LAST"
DROPPED=$(tx_of)
[ -n "$DROPPED" ] || fail "no tx in the first pass: $LAST"
expect a "batches=1 anchored=0 matching=0" "mined at depth 0, recorded anyway"
tick a 2
grep -q "sent_batches=0" <<<"$LAST" || fail "the mined, unconfirmed batch was sent again: $LAST"
ok "batch $DROPPED mined, not recorded while under 2 blocks, not sent again"

reorg
expect a "batches=0 anchored=0 matching=0" "after the reorg"
tick a 2
grep -q "sent_batches=1" <<<"$LAST" || fail "the dropped batch was not sent again: $LAST"
SECOND=$(tx_of)
[ -n "$SECOND" ] && [ "$SECOND" != "$DROPPED" ] || fail "resent as '$SECOND': $LAST"
"$CAST" rpc --rpc-url "$RPC" anvil_mine 2 >/dev/null || fail "anvil_mine"
tick a 2
expect a "batches=1 anchored=3 matching=3" "after the resent batch is 2 deep"
tick a 2
grep -q "sent_batches=0" <<<"$LAST" || fail "sent again once recorded: $LAST"
ok "reorg dropped it: sent again ($SECOND), recorded from the confirmed log, one batch for the epoch"

# ---- 2. one running sender -------------------------------------------------
setup c
LAST=$("$TOOL" reorg "$RPC" "$KEY" "$WORK/c" "$CONTRACT" "$CLUSTER" 5000 2>&1) || fail "reorg run: $LAST"
grep -q "sent_batches=2" <<<"$LAST" || fail "a running sender did not send the dropped batch again: $LAST"
expect c "batches=1 anchored=3 matching=3" "running sender, after the reorg"
ok "a running sender sent the dropped batch again with the right nonce; one batch for the epoch"

# ---- 3. a row recorded at depth 0 before the fix --------------------------
setup b
tick b 0
expect b "batches=1 anchored=3 matching=3" "recorded at depth 0"
reorg
expect b "batches=0 anchored=3 matching=0" "rows name the dropped transaction"
tick b 2
grep -q "recorded anchor transaction not on chain" <<<"$LAST" || fail "rows not re-checked: $LAST"
grep -q "sent_batches=1" <<<"$LAST" || fail "the dropped batch was not sent again: $LAST"
"$CAST" rpc --rpc-url "$RPC" anvil_mine 2 >/dev/null || fail "anvil_mine"
tick b 2
expect b "batches=1 anchored=3 matching=3" "after the resent batch is 2 deep"
ok "rows naming a dropped transaction became intents again on restart; one batch for the epoch"

# ---- 4. a batch of one, mined, not yet confirmed ---------------------------
ANCHOR_ASSIGNMENTS=1 setup d
tick d 2
grep -q "sent_batches=1 sent_singles=0" <<<"$LAST" || fail "the batch of one was not sent: $LAST"
tick d 2
grep -q "sent_batches=0 sent_singles=0" <<<"$LAST" ||
  fail "the mined, unconfirmed batch of one was anchored again: $LAST"
"$CAST" rpc --rpc-url "$RPC" anvil_mine 2 >/dev/null || fail "anvil_mine"
tick d 2
grep -q "sent_batches=0 sent_singles=0" <<<"$LAST" || fail "anchored again once 2 deep: $LAST"
expect d "batches=1 anchored=1 matching=1" "the batch of one once 2 deep"
ok "a batch of one waits for its depth like any batch: anchored once"
echo PASS
