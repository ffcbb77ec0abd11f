#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/anchor_refused.sh - one batch per epoch on
# chain (issue 18): three real veild nodes in batch mode, anvil's automatic
# mining off while a job is decided, so that the anchor sender's (node 1's)
# anchorBatch waits in the pool; another active node's batch for the same
# epoch and root (what a stand-in that raced the sender sends) is put before
# it in the block. The contract refuses node 1's batch (BatchEpochAnchored,
# its transaction reverts), node 1 logs the refusal with the root on chain,
# records that batch as its anchor and sends nothing more for the epoch.
# Before the fix both batches were mined: two BatchAnchored for one epoch.
source "$(dirname "$0")/../e2e/lib.sh"
create_cluster 3
C=$(json_get "$(cat "$WORK/init.json")" contract)
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0"
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
BATCH_S=8
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s VEIL_ANCHOR_BATCH_INTERVAL=${BATCH_S}s \
    VEIL_ANCHOR_BATCH_DELAY=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"
done
wait_mesh 3 90
ok "mesh up"

# From here every transaction waits in anvil's pool until the test mines.
"$CAST" rpc evm_setAutomine false --rpc-url "$RPC" >/dev/null || fail "evm_setAutomine"
IMG=127.0.0.1:9/busybox@sha256:$(printf 'ef%.0s' $(seq 1 32))
# No node has 64 CPUs: unschedulable, so its submitter (node 2) sees the
# commitment (hook H4); it is anchored all the same.
cat >"$WORK/one.yaml" <<YAML
name: one
image: $IMG
command: [/bin/true]
resources: {cpu: 64, memory: 16Mi}
policy: spread
YAML
id=$(veil_at 2 job run "$WORK/one.yaml" | awk '{print $2}') || fail "job run"
[[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "job id: $id"
A1=$(addr_for 1 | tr 'A-F' 'a-f')
pending_of_1() { # node 1's transaction hash waiting in the pool
  "$CAST" rpc txpool_content --rpc-url "$RPC" | node -e '
    const p = JSON.parse(require("fs").readFileSync(0, "utf8")).pending || {};
    for (const [a, byNonce] of Object.entries(p))
      if (a.toLowerCase() === process.argv[1])
        for (const tx of Object.values(byNonce)) { console.log(tx.hash); process.exit(0); }
    process.exit(1);' "$A1"
}
wait_for 240 "node 1's anchorBatch waits in the pool" pending_of_1
TX1=$(pending_of_1)
read -r COM EPOCH < <(veil_at 2 get assignments -o json | node -e '
  const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const r = rows.filter(r => r.job_id === process.argv[1]).pop();
  if (!r || !r.commitment) process.exit(1); console.log(r.commitment, r.epoch);' "$id") \
  || fail "node 2 shows no commitment for the job"
B=$((EPOCH * 2 / BATCH_S))
# the same one-leaf batch from node 2's key, with a higher tip: mined first
ROOT=$("$CAST" call "$C" "deploymentLeaf(uint64,bytes32,bytes32)(bytes32)" 1 "0x$id" "0x$COM" \
  --rpc-url "$RPC") || fail "deploymentLeaf"
WORD=$(printf '0x%024x%016x%016x%08x' 0 1 "$B" 1)
TX2=$("$CAST" send --async --private-key "${ANVIL_KEYS[2]}" --gas-price 200gwei \
  --priority-gas-price 100gwei --gas-limit 300000 "$C" "anchorBatch_lqy32(bytes32,uint256)" "$ROOT" "$WORD" --rpc-url "$RPC") \
  || fail "cast send: $TX2"
"$CAST" rpc evm_mine --rpc-url "$RPC" >/dev/null || fail "evm_mine"
"$CAST" rpc evm_setAutomine true --rpc-url "$RPC" >/dev/null || fail "evm_setAutomine"
status_of() { # TX: 1 mined and succeeded, 0 reverted
  "$CAST" receipt "$1" --json --rpc-url "$RPC" | node -e '
    console.log(parseInt(JSON.parse(require("fs").readFileSync(0, "utf8")).status));'
}
s2=$(status_of "$TX2"); s1=$(status_of "$TX1")
[ "$s2" = 1 ] || fail "the other node's batch was not mined first: status '$s2'"
[ "$s1" = 0 ] || fail "node 1's second batch for epoch $B was not refused: status '$s1'"
g1=$("$CAST" receipt "$TX1" --json --rpc-url "$RPC" | node -e '
  console.log(parseInt(JSON.parse(require("fs").readFileSync(0, "utf8")).gasUsed));')
ok "epoch $B: the other batch mined, node 1's ($TX1) reverted in the same block (gas $g1)"

refused() { grep -q "msg=\"batch refused: the epoch is anchored already\" epoch=$B .*chain_root=$ROOT" "$WORK/n1/veild.log"; }
wait_for 60 "node 1 logs the refusal with the root on chain" refused
anchored_by() { # NODE TX: the commitment's anchor as NODE shows it, in TX
  veil_at "$1" get anchors -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.some(a => a.commitment === process.argv[1] && a.tx_hash === process.argv[2]) ? 0 : 1);' \
    "$COM" "$2"
}
wait_for 60 "node 1 records the batch on chain as its anchor" anchored_by 1 "$TX2"
wait_for 60 "node 3 finds it too" anchored_by 3 "$TX2"
ok "node 1 took the batch on chain (its root) as the anchor of its commitment"

# two more anchor passes: nothing sent again for the epoch
sleep 12
n=$(grep -c "msg=\"batch refused" "$WORK/n1/veild.log" || true)
[ "$n" = 1 ] || fail "node 1 was refused $n times (sent again)"
"$VEIL" chain events --rpc "$RPC" --contract "$C" --cluster 1 --confirmations 0 >"$WORK/events.txt" \
  || fail "veil chain events"
nb=$(grep ' BatchAnchored ' "$WORK/events.txt" | grep -c " epoch=$B " || true)
nd=$(grep -c ' DeploymentAnchored ' "$WORK/events.txt" || true)
[ "$nb" = 1 ] && [ "$nd" = 0 ] || fail "epoch $B: $nb batches, $nd single anchors: $(cat "$WORK/events.txt")"
ok "one BatchAnchored for epoch $B, no single anchor, no second try"
