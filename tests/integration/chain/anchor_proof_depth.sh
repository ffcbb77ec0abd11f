#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A proof from a peer counts only at depth (issue 18): node B holds one of
# a batch's three assignments (it cannot rebuild the tree) and asks node A,
# which anchored the batch, for its proof. While the batch's log is less
# than chain.confirmations (2) deep B keeps nothing (the proof is asked
# again later); once the log is 2 deep B keeps it, naming the anchored
# transaction. Before the fix veil_anchorer_accept compared the root with
# the contract's state at the head (depth 0): a reorg within the
# confirmation depth then left B a row naming a dropped batch.
source "$(dirname "$0")/lib.sh"
TOOL=${ANCHOR_TOOL:?}
KEY=${ANVIL_KEYS[0]}
start_anvil
export VEIL_LOG=info
read -r CONTRACT CLUSTER < <("$TOOL" setup "$RPC" "$KEY" "$WORK/a")
[ -n "$CLUSTER" ] || fail "setup"
"$CAST" rpc --rpc-url "$RPC" anvil_mine 3 >/dev/null || fail "anvil_mine"
# B: a copy of A's store that kept only one of the three assignments
mkdir -p "$WORK/b"
python3 - "$WORK/a/state.db" "$WORK/b/state.db" <<'PY' || fail "B's store"
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
keep = dst.execute("select min(rowid) from assignments").fetchone()[0]
dst.execute("delete from assignments where rowid != ?", (keep,))
dst.commit()
PY
# A sends the batch and records it at once (depth 0): its proofs are there
OUT=$(ANCHOR_CONFIRMATIONS=0 "$TOOL" tick "$RPC" "$KEY" "$WORK/a" "$CONTRACT" "$CLUSTER" 5000 2>&1) \
  || fail "A's pass: $OUT"
grep -q "sent_batches=1" <<<"$OUT" || fail "A sent no batch: $OUT"
proof() { OUT=$(ANCHOR_CONFIRMATIONS=2 "$TOOL" proof "$RPC" "$WORK/a" "$WORK/b" "$CONTRACT" "$CLUSTER" 2>&1) || fail "proof: $OUT"; }
proof
grep -q "missing=1 answered=1 kept=0" <<<"$OUT" || fail "a proof of a batch at depth 0 was kept: $OUT"
grep -q "not confirmed" <<<"$OUT" || fail "refused for another reason: $OUT"
[ "$("$TOOL" check "$RPC" "$WORK/b" "$CONTRACT" "$CLUSTER")" = "batches=1 anchored=0 matching=0" ] \
  || fail "B recorded an anchor at depth 0"
ok "B refuses the peer's proof while the batch is under 2 blocks ($(grep -o 'refused: .*' <<<"$OUT"))"
"$CAST" rpc --rpc-url "$RPC" anvil_mine 2 >/dev/null || fail "anvil_mine"
proof
grep -q "missing=1 answered=1 kept=1" <<<"$OUT" || fail "the confirmed proof was not kept: $OUT"
got=$("$TOOL" check "$RPC" "$WORK/b" "$CONTRACT" "$CLUSTER")
[ "$got" = "batches=1 anchored=1 matching=1" ] || fail "B after the confirmed proof: $got"
ok "once the batch is 2 deep B keeps the proof, naming the anchored transaction"
echo PASS
