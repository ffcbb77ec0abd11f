#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chain/chain_flow.sh - the whole VeilRegistry flow through
# the `veil chain` CLI against a private anvil, each step checked
# independently with `cast call`: deploy, create a cluster (3 operators in 2
# organizations, 2-of-3), register nodes, propose and pass a policy, add an
# organization, anchor one deployment and a batch, verify inclusion, open and
# resolve a dispute, list events.
source "$(dirname "$0")/lib.sh"
start_anvil
export VEIL_RPC_URL=$RPC VEIL_KEYSTORE_PASSWORD=pw
K0=$(keystore_for 0); K1=$(keystore_for 1); K2=$(keystore_for 2); K3=$(keystore_for 3)
K4=$(keystore_for 4)
A0=$(addr_for 0); A1=$(addr_for 1); A2=$(addr_for 2); A3=$(addr_for 3); A4=$(addr_for 4)
A5=$(addr_for 5)

out=$("$VEIL" chain deploy --keystore "$K0" -o json)
C=$(json_get "$out" contract)
[ "$(json_get "$out" status)" = success ] || fail "deploy: $out"
code=$("$CAST" code "$C" --rpc-url "$RPC")
[ ${#code} -gt 100 ] || fail "no code at $C"
export VEIL_CONTRACT_ADDRESS=$C
ok "deploy $C"

out=$("$VEIL" chain cluster create --keystore "$K0" --name prod --operator "$A0@acme" \
      --operator "$A1@globex" --operator "$A2@globex" --threshold 2 -o json)
CID=$(json_get "$out" cluster_id)
[ "$CID" = 1 ] || fail "cluster id: $out"
got=$("$CAST" call "$C" "getCluster(uint64)(string,uint16,uint16,uint32,uint64,uint256)" 1 --rpc-url "$RPC" | tr '\n' ' ')
[[ "$got" == '"prod" 2 3 2 0 0 ' ]] || fail "getCluster: $got"
got=$("$CAST" call "$C" "operatorOf(uint64,address)(bool,uint32)" 1 "$A2" --rpc-url "$RPC" | tr '\n' ' ')
[[ "$got" == 'true 1 ' ]] || fail "operatorOf: $got"
ok "cluster create"

# Nodes: A3 (by operator A0, raw 32-byte key) and A4 (by A1, base58 peer ID).
PEER3=0x$(printf '11%.0s' $(seq 1 32))
PEER4=12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA
"$VEIL" chain node register --keystore "$K0" --cluster 1 --node "$A3" --peer-id "$PEER3" >/dev/null
"$VEIL" chain node register --keystore "$K1" --cluster 1 --node "$A4" --peer-id "$PEER4" >/dev/null
got=$("$CAST" call "$C" "getActiveNodes(uint64)(address[])" 1 --rpc-url "$RPC")
[[ "$got" == "[$A3, $A4]" ]] || fail "active nodes: $got"
got=$("$CAST" call "$C" "nodeByPeerId(bytes)(address)" "$PEER3" --rpc-url "$RPC")
[ "$got" = "$A3" ] || fail "nodeByPeerId: $got"
list=$("$VEIL" chain node list --cluster 1 -o json)
grep -q "$A4" <<<"$list" || fail "node list: $list"
ok "node register + list"

# Governance: A0 proposes (1 vote), A2 votes -> executed (2-of-3).
IMG=0x$(printf 'ab%.0s' $(seq 1 32)); FHE=0x$(printf 'cd%.0s' $(seq 1 32))
out=$("$VEIL" chain policy propose --keystore "$K0" --cluster 1 --image-digest "$IMG" \
      --scheduler binpack --weight 3 --weight 7 --fhe-key-hash "$FHE" --decryptor "$A1" \
      --guardian-key "$FHE" --outcome-budget 5/2m --shard-size 16 --shard-redundancy 2 \
      --no-node-keys --ttl 1h \
      -o json)
PID=$(json_get "$out" proposal_id)
got=$("$CAST" call "$C" "getClusterPolicy(uint64)((bytes32[],string,uint32[],bytes32,address[],bytes32[],uint32,uint32,uint32,uint8,uint8),uint64)" 1 --rpc-url "$RPC" | tail -1)
[ "$got" = 0 ] || fail "policy before vote: version $got"
out=$("$VEIL" chain policy vote --keystore "$K2" --proposal "$PID" -o json)
[ "$(json_get "$out" executed)" = true ] || fail "vote: $out"
got=$("$CAST" call "$C" "getClusterPolicy(uint64)((bytes32[],string,uint32[],bytes32,address[],bytes32[],uint32,uint32,uint32,uint8,uint8),uint64)" 1 --rpc-url "$RPC" | tr '\n' ' ')
[[ "$got" == *"binpack"* && "$got" == *"[3, 7]"* && "$got" == *", 5, 120, 16, 2, 2)"* && "$got" == *" 1 " ]] \
  || fail "policy: $got"
pol=$("$VEIL" chain policy get --cluster 1 -o json)
[ "$(json_get "$pol" scheduler_policy)" = binpack ] || fail "policy get: $pol"
[ "$(json_get "$pol" version)" = 1 ] || fail "policy get version: $pol"
[ "$(json_get "$pol" outcome_budget)" = '{"outcomes_per_period":5,"period_s":120}' ] \
  || fail "policy get outcome budget: $pol"
[ "$(json_get "$pol" shards)" = '{"size":16,"redundancy":2}' ] || fail "policy get shards: $pol"
[ "$(json_get "$pol" scheduling)" = '{"batch_replicas":true,"node_keys":false}' ] \
  || fail "policy get scheduling switches: $pol"
if "$VEIL" chain policy propose --keystore "$K0" --cluster 1 --shard-redundancy 4 >/dev/null 2>&1; then
  fail "--shard-redundancy 4 accepted"
fi
# a budget without a period is refused by the CLI, and by the contract
if "$VEIL" chain policy propose --keystore "$K0" --cluster 1 --outcome-budget 5/0 >/dev/null 2>&1; then
  fail "--outcome-budget 5/0 accepted"
fi
err=$("$CAST" send "$C" "proposePolicy(uint64,(bytes32[],string,uint32[],bytes32,address[],bytes32[],uint32,uint32,uint32,uint8,uint8),uint64)" \
  1 "([],\"\",[],$FHE,[],[],5,0,0,0,0)" 3600 --private-key "${ANVIL_KEYS[0]}" --rpc-url "$RPC" 2>&1 || true)
grep -q "outcomePeriodSeconds\|InvalidArgument\|revert" <<<"$err" || fail "budget without period: $err"
# a scheduling switch the nodes do not know is refused by the contract
err=$("$CAST" send "$C" "proposePolicy(uint64,(bytes32[],string,uint32[],bytes32,address[],bytes32[],uint32,uint32,uint32,uint8,uint8),uint64)" \
  1 "([],\"\",[],$FHE,[],[],0,0,0,0,4)" 3600 --private-key "${ANVIL_KEYS[0]}" --rpc-url "$RPC" 2>&1 || true)
grep -q "schedFlags\|InvalidArgument\|revert" <<<"$err" || fail "schedFlags 4 accepted: $err"
ok "policy propose + vote + get (with an outcome budget of 5 per 2 min, shards of 16 x 2, node keys off)"

# A new organization through governance.
out=$("$VEIL" chain org add --keystore "$K1" --cluster 1 --name initech --operator "$A5" -o json)
PID2=$(json_get "$out" proposal_id)
"$VEIL" chain policy vote --keystore "$K0" --proposal "$PID2" >/dev/null
got=$("$CAST" call "$C" "operatorOf(uint64,address)(bool,uint32)" 1 "$A5" --rpc-url "$RPC" | tr '\n' ' ')
[[ "$got" == 'true 2 ' ]] || fail "org add: $got"
ok "org add"

# Anchors: one deployment by node A3, a batch of 5 by node A4.
J1=0x$(printf '01%.0s' $(seq 1 32)); H1=0x$(printf '02%.0s' $(seq 1 32))
out=$("$VEIL" chain anchor deployment --keystore "$K3" --cluster 1 --job "$J1" --assignment "$H1" -o json)
ANCHOR1=$(json_get "$out" anchor_id)
want=$("$CAST" call "$C" "anchorId(uint8,uint64,bytes32,bytes32)(bytes32)" 0 1 "$J1" "$H1" --rpc-url "$RPC")
[ "$ANCHOR1" = "$want" ] || fail "anchor id $ANCHOR1 != $want"
LEAVES=()
for i in 1 2 3 4 5; do
  j=0x$(printf '%064x' $((100 + i))); h=0x$(printf '%064x' $((200 + i)))
  LEAVES+=(--leaf "$j:$h")
done
out=$("$VEIL" chain anchor batch --keystore "$K4" --cluster 1 --epoch 9 "${LEAVES[@]}" -o json)
ROOT=$(json_get "$out" merkle_root)
# BatchAnchored is anonymous (VeilRegistry.sol says why): its one topic is the
# first 24 bytes of keccak256("BatchAnchored(uint64,bytes32,uint256)") and the
# cluster id; its data is the root and clusterId << 96 | epoch << 32 | count.
PREFIX=$("$CAST" keccak "BatchAnchored(uint64,bytes32,uint256)")
T0=${PREFIX:0:50}$(printf '%016x' 1)
WORD=$(printf '%024x%016x%016x%08x' 0 1 9 5)
logs=$("$CAST" logs --address "$C" "$T0" --from-block 0 --rpc-url "$RPC" --json)
grep -q "\"data\": *\"${ROOT}${WORD}\"" <<<"$logs" || fail "BatchAnchored log: $logs"
[ "$(echo "$logs" | grep -c '"topics"')" = 1 ] || fail "one BatchAnchored log expected: $logs"
# The same call made by cast (node A4, epoch 10, 3 deployments) reads back
# through the C client's decoder.
ROOT10=0x$(printf 'a1%.0s' $(seq 1 32))
"$CAST" send -q "$C" "anchorBatch_lqy32(bytes32,uint256)" "$ROOT10" \
  "0x$(printf '%024x%016x%016x%08x' 0 1 10 3)" --private-key "${ANVIL_KEYS[4]}" --rpc-url "$RPC" >/dev/null
# The plain-ABI entry point (the issue's anchorBatch(cluster, epoch, root,
# count)) emits the same log.
"$CAST" send -q "$C" "anchorBatch(uint64,uint64,bytes32,uint32)" 1 12 "$ROOT10" 7 \
  --private-key "${ANVIL_KEYS[4]}" --rpc-url "$RPC" >/dev/null
ev=$("$VEIL" chain events --cluster 1)
grep -q "BatchAnchored cluster=1 epoch=10 merkle_root=$ROOT10 count=3" <<<"$ev" || fail "events: $ev"
grep -q "BatchAnchored cluster=1 epoch=12 merkle_root=$ROOT10 count=7" <<<"$ev" || fail "events: $ev"
grep -q "BatchAnchored cluster=1 epoch=9 merkle_root=$ROOT count=5" <<<"$ev" || fail "events: $ev"
# The gas of a batch of 256 with a real epoch (unix time / 10 s) and a root
# without zero bytes, all included: 25,490 before the contract kept one bit
# per anchored epoch (one batch per epoch); with it 30,716 when the epoch's
# slot of 256 holds an earlier epoch (the usual case: the epoch before is
# anchored first here) and 47,816 for the first epoch of a slot.
ROOT256=0x0aef7850df741b168810b1e81da703dba1ac237549490e6c5a3926caf78ec780
"$VEIL" chain anchor batch --keystore "$K4" --cluster 1 --epoch 176349999 --root "$ROOT256" \
  --count 256 -o json >/dev/null || fail "anchor batch of epoch 176349999"
out=$("$VEIL" chain anchor batch --keystore "$K4" --cluster 1 --epoch 176350000 --root "$ROOT256" --count 256 -o json)
gas=$(json_get "$out" gas_used)
[ "$gas" -le 31000 ] || fail "anchorBatch of 256 used $gas gas (target <= 31,000 with the epoch bit)"
echo "     anchorBatch of 256: $gas gas"
# One batch per epoch: a second one for epoch 176350000 is refused by name.
rc=0; out=$("$VEIL" chain anchor batch --keystore "$K4" --cluster 1 --epoch 176350000 \
  --root "$ROOT10" --count 3 2>&1) || rc=$?
[ "$rc" = 1 ] && [[ "$out" == *"BatchEpochAnchored(1, 176350000)"* ]] || fail "second batch: $rc $out"
# Not a node of cluster 1: refused with the contract's error, through cast too.
if "$CAST" send "$C" "anchorBatch_lqy32(bytes32,uint256)" "$ROOT10" \
     "0x$(printf '%024x%016x%016x%08x' 0 1 11 3)" --private-key "${ANVIL_KEYS[5]}" --rpc-url "$RPC" >/dev/null 2>&1; then
  fail "a stranger anchored a batch"
fi
ok "anchor deployment + batch"

J3=0x$(printf '%064x' 103); H3=0x$(printf '%064x' 203)
out=$("$VEIL" chain anchor verify --cluster 1 --epoch 9 --job "$J3" --assignment "$H3" "${LEAVES[@]}" -o json)
[ "$(json_get "$out" included)" = true ] || fail "verify: $out"
# Independent check: the same proof through cast (leaf 2 of 5: siblings leaf3, pair(0,1), leaf4).
leaf() { "$CAST" call "$C" "deploymentLeaf(uint64,bytes32,bytes32)(bytes32)" 1 "$(printf '0x%064x' $((100 + $1)))" "$(printf '0x%064x' $((200 + $1)))" --rpc-url "$RPC"; }
pair() { if [[ "$1" < "$2" ]]; then "$CAST" keccak "0x01${1#0x}${2#0x}"; else "$CAST" keccak "0x01${2#0x}${1#0x}"; fi; }
L1=$(leaf 1); L2=$(leaf 2); L4=$(leaf 4); L5=$(leaf 5)
P12=$(pair "$L1" "$L2")
got=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" "$ROOT" 1 "$J3" "$H3" "[$L4,$P12,$L5]" --rpc-url "$RPC")
[ "$got" = true ] || fail "cast verifyInclusion: $got"
if "$VEIL" chain anchor verify --cluster 1 --epoch 9 --job "$J3" --assignment "$H1" "${LEAVES[@]}" >/dev/null 2>&1; then
  fail "a deployment outside the batch verified"
fi
ok "anchor verify (C proof == contract, checked with cast)"

# Dispute against the batch: opened by A1, upheld by A0 and A2.
EVID=0x$(printf 'ee%.0s' $(seq 1 32))
BATCH_ANCHOR=$("$CAST" call "$C" "anchorId(uint8,uint64,bytes32,bytes32)(bytes32)" 1 1 "$(printf '0x%064x' 9)" "$ROOT" --rpc-url "$RPC")
out=$("$VEIL" chain dispute open --keystore "$K1" --cluster 1 --anchor "$BATCH_ANCHOR" --evidence "$EVID" -o json)
DID=$(json_get "$out" dispute_id)
out=$("$VEIL" chain dispute resolve --keystore "$K0" --dispute "$DID" --uphold -o json)
[ "$(json_get "$out" dispute_status)" = open ] || fail "first vote: $out"
out=$("$VEIL" chain dispute resolve --keystore "$K2" --dispute "$DID" --uphold -o json)
[ "$(json_get "$out" dispute_status)" = upheld ] || fail "second vote: $out"
got=$("$CAST" call "$C" "getDispute(uint256)(uint64,uint8,uint16,uint16,address,bytes32,bytes32)" "$DID" --rpc-url "$RPC" | sed -n 2p)
[ "$got" = 2 ] || fail "dispute status: $got"
ok "dispute open + resolve"

# Deactivation and the event log.
"$VEIL" chain node deactivate --keystore "$K0" --node "$A3" >/dev/null
got=$("$CAST" call "$C" "getActiveNodes(uint64)(address[])" 1 --rpc-url "$RPC")
[[ "$got" == "[$A4]" ]] || fail "after deactivate: $got"
ev=$("$VEIL" chain events --cluster 1)
for e in ClusterCreated NodeRegistered PolicyChanged DeploymentAnchored BatchAnchored DisputeOpened DisputeResolved NodeDeactivated; do
  grep -q "$e" <<<"$ev" || fail "events lack $e"
done
ok "node deactivate + events"

# events --follow: a new anchor shows up once it is 1 block deep.
"$VEIL" chain events --cluster 1 --follow --confirmations 1 -o json > "$WORK/follow.out" 2>&1 &
FOLLOW_PID=$!
J9=0x$(printf '09%.0s' $(seq 1 32))
"$VEIL" chain anchor deployment --keystore "$K4" --cluster 1 --job "$J9" --assignment "$J9" >/dev/null
"$CAST" rpc evm_mine --rpc-url "$RPC" >/dev/null
for _ in $(seq 1 50); do grep -q "${J9#0x}" "$WORK/follow.out" && break; sleep 0.1; done
kill "$FOLLOW_PID"; wait "$FOLLOW_PID" || true
grep -q "DeploymentAnchored" "$WORK/follow.out" || fail "follow output: $(cat "$WORK/follow.out")"
[ "$(grep -c "${J9#0x}" "$WORK/follow.out")" = 1 ] || fail "anchor delivered more than once"
ok "events --follow"
echo "chain flow: all steps passed"
