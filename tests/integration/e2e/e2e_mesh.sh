#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_mesh.sh - stage 1 of the end-to-end suite: a
# cluster created on a private anvil with `veil cluster init`, three nodes
# joined with `veil node join` and run as veild processes on 127.0.0.1. Checks
# that every node sees the three members alive with their organizations and a
# telemetry epoch through `veil get nodes` (never values), that telemetry is
# published encrypted under the 64 KiB cap, that a node given a single
# bootstrap peer finds the others through Kademlia, that the fixed test
# capacities appear (in any byte form) in no gossip payload another node
# received, no transaction or log on the chain, no API answer and no log line
# of another node, that a peer not registered on chain cannot join the mesh,
# that a node deactivated on chain is dropped and refused (the gater follows
# the registry's events), and that a stopped node is seen dead by the others.
source "$(dirname "$0")/lib.sh"
create_cluster 3
[ -f "$WORK/bundle/bundle.json" ] && [ -f "$WORK/bundle/public.key" ] \
  && [ -f "$WORK/bundle/server.key" ] || fail "bundle files"
[ "$(stat -c %a "$WORK/bundle/decryptor/client.key")" = 600 ] || fail "client.key mode"
C=$(json_get "$(cat "$WORK/init.json")" contract)
got=$("$CAST" call "$C" "getClusterPolicy(uint64)((bytes32[],string,uint32[],bytes32,address[],bytes32[]),uint64)" 1 --rpc-url "$RPC" | tr '\n' ' ')
FHE_HASH=$(json_get "$(cat "$WORK/init.json")" fhe_key_hash)
[[ "$got" == *"$FHE_HASH"* && "$got" == *"$(addr_for 1)"* ]] || fail "policy on chain: $got"
ok "cluster init (contract $C, policy with FHE key hash and decryptor)"

# Distinctive capacities: their quantized words must appear nowhere else.
CAPS=("" "cpu=1230m,memory=3210Mi,disk=45Gi,gpu=0" "cpu=2340m,memory=1230Mi,disk=67Gi,gpu=1" \
      "cpu=3450m,memory=2340Mi,disk=89Gi,gpu=2")
for i in 1 2 3; do join_node "$i"; done
got=$("$CAST" call "$C" "getActiveNodes(uint64)(address[])" 1 --rpc-url "$RPC")
[[ "$got" == *"$(addr_for 1)"*"$(addr_for 2)"*"$(addr_for 3)"* ]] || fail "nodes on chain: $got"
ok "3 nodes joined (registered on chain)"

# Node 3 is told of node 1 only: it must find node 2 itself (Kademlia).
sed -i "/\/p2p\/$PEER_2\"/d" "$WORK/n3/veild.yaml"
grep -q "$PEER_2" "$WORK/n3/veild.yaml" && fail "node 3 still has node 2 as bootstrap"
grep -q "p2p/$PEER_1" "$WORK/n3/veild.yaml" || fail "node 3 lost node 1 as bootstrap"

# Every node keeps a TEST-ONLY copy of the cluster messages it receives.
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    "VEIL_TEST_ONLY_GOSSIP_DUMP=$WORK/n$i/gossip.hex"
done

all_alive() {
  local i=$1 out
  out=$(veil_at "$i" get nodes -o json) || return 1
  node -e '
    const rows = JSON.parse(process.argv[1]); const want = process.argv.slice(2);
    for (const p of want) {
      const r = rows.find(x => x.peer_id === p);
      if (!r || !r.alive || !(r.last_telemetry_epoch > 0) || !r.organization) process.exit(1);
    }' "$out" "$PEER_1" "$PEER_2" "$PEER_3"
}
# (node 3 reached node 2 through discovery: its organization, in SWIM's
# metadata, may arrive after its telemetry)
for i in 1 2 3; do
  wait_for 60 "node $i sees 3 alive members with telemetry and organization" all_alive "$i"
done
table=$(veil_at 2 get nodes)
grep -q "org1" <<<"$table" && grep -q "org3" <<<"$table" || fail "get nodes table: $table"
ok "every node sees the 3 members alive with a telemetry epoch (veil get nodes)"

# Telemetry messages: encrypted, under the 64 KiB cap.
grep -h 'msg="telemetry published"' "$WORK/n1/veild.log" | head -1 | grep -q 'bytes=' \
  || fail "no telemetry published"
max=$(grep -ho 'msg="telemetry published".*bytes=[0-9]*' "$WORK"/n*/veild.log \
      | sed 's/.*bytes=//' | sort -n | tail -1)
[ "$max" -le 65536 ] || fail "telemetry message of $max bytes"
grep -q 'msg="telemetry received"' "$WORK/n2/veild.log" || fail "no telemetry received"
ok "telemetry published encrypted ($max bytes per message) and received"

# Discovery: node 3 (bootstrap: node 1 only) ends up connected to node 2, and
# its Kademlia routing table holds node 2, which answered its lookups.
wait_for 60 "node 3's Kademlia queries node 2" \
  grep -q "msg=\"Kademlia bootstrap done\" table=2 .*peers=.*$PEER_2" "$WORK/n3/veild.log"
grep -q "msg=\"peer connected\" peer=$PEER_2" "$WORK/n3/veild.log" \
  || grep -q "msg=\"peer connected\" peer=$PEER_3" "$WORK/n2/veild.log" \
  || fail "nodes 2 and 3 never connected"
ok "node 3, given only node 1's address, is connected to node 2; Kademlia knows and queries it"

# Privacy: node 1's capacity (the quantized words as decimal) is in no
# answer or log line of nodes 2 and 3. cpu 1230m -> 123, mem 3210Mi -> 802.
for i in 2 3; do
  api=$(veil_at "$i" get nodes -o json)
  for v in 1230 3210 802; do
    if grep -qw "$v" <<<"$api"; then fail "value $v in node $i API answer"; fi
  done
  if grep -v 'TEST_ONLY\|test_only' "$WORK/n$i/veild.log" | grep -qw '3210Mi\|1230m'; then
    fail "node 1 capacity in node $i log"
  fi
done
ok "no plaintext capacity of node 1 in the other nodes' API answers or logs"

# Privacy, byte level: every node's quantized words and raw capacities, in
# every encoding the test can think of (u16/u32/u64 big and little endian,
# the word vector packed both ways, decimal and unit text, JSON-ish lists),
# in no gossip payload another node received, no chain transaction input or
# log, no API answer and no log line of another node. Short forms would match
# ciphertext bytes by chance: each binary pattern has >= 3 non-zero bytes.
for i in 1 2 3; do
  tok=$(cat "$WORK/n$i/api.token")
  curl -sf -H "Authorization: Bearer $tok" "http://$(eval echo \$API_$i)/metrics" >"$WORK/n$i/metrics.txt" \
    || fail "metrics of node $i"
  veil_at "$i" get nodes -o json >"$WORK/n$i/nodes.json" || fail "get nodes $i"
  veil_at "$i" job ls -o json >"$WORK/n$i/jobs.json" || fail "job ls $i"
done
for i in 1 2 3; do
  for j in 1 2 3; do # each dump holds messages (telemetry) of both other nodes
    [ "$j" = "$i" ] && continue
    wait_for 30 "node $i received a message of node $j" \
      grep -q "^$(eval echo \$PEER_$j) " "$WORK/n$i/gossip.hex"
  done
done
# The scanner itself finds a leak: node 1's word vector inside random bytes.
printf 'x %s%s%s\n' "$(head -c 100 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  "007b0322002d0000000000000000" "$(head -c 50 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  >"$WORK/leak.hex"
if node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[1]}" "$WORK/leak.hex" >/dev/null 2>&1; then
  fail "the privacy scan misses a planted leak"
fi
total=""
for i in 1 2 3; do
  files=(--rpc "$RPC")
  for j in 1 2 3; do
    [ "$j" = "$i" ] && continue
    grep -v 'TEST_ONLY\|test_only' "$WORK/n$j/veild.log" >"$WORK/n$j/log.scan"
    files+=("$WORK/n$j/gossip.hex" "$WORK/n$j/metrics.txt" "$WORK/n$j/nodes.json" \
            "$WORK/n$j/jobs.json" "$WORK/n$j/log.scan")
  done
  node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" "${files[@]}" \
    >"$WORK/privacy$i.txt" 2>&1 || fail "node $i's capacity leaked: $(cat "$WORK/privacy$i.txt")"
  total="$total node $i: $(tr '\n' ' ' <"$WORK/privacy$i.txt");"
done
ok "no capacity in any byte form in gossip received by others, chain data, API answers or logs:$total"

# A peer not registered on chain is refused by the gater.
mkdir -p "$WORK/rogue"
cp "$WORK/n3/veild.yaml" "$WORK/rogue/veild.yaml"
sed -i "s|$WORK/n3|$WORK/rogue|g" "$WORK/rogue/veild.yaml"
rp=$(e2e_port); ra=$(e2e_port)
sed -i "s|^libp2p.listen: .*|libp2p.listen: \"/ip4/127.0.0.1/tcp/$rp\"|; s|^api.listen: .*|api.listen: \"127.0.0.1:$ra\"|" "$WORK/rogue/veild.yaml"
ROGUE=$("$VEIL" p2p id --key "$WORK/rogue/p2p.key" | grep -o '12D3KooW[A-Za-z0-9]*' | head -1)
[ -n "$ROGUE" ] || fail "cannot make a rogue key"
sed -i "s|^node.peer_id: .*|node.peer_id: \"$ROGUE\"|" "$WORK/rogue/veild.yaml"
"$VEILD" -c "$WORK/rogue/veild.yaml" -l debug >"$WORK/rogue/veild.log" 2>&1 &
NODE_PIDS[9]=$!
wait_for 30 "the rogue peer refused" grep -q "refused peer not registered.*$ROGUE" "$WORK/n1/veild.log" "$WORK/n2/veild.log" "$WORK/n3/veild.log"
sleep 2
for i in 1 2 3; do
  if veil_at "$i" get nodes -o json | grep -q "$ROGUE"; then
    fail "rogue peer listed by node $i"
  fi
done
stop_node 9
ok "a peer not registered on chain cannot join the mesh"

dead() { # OBSERVER PEER
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const r = rows.find(x => x.peer_id === process.argv[1]);
    process.exit(r && !r.alive ? 0 : 1);' "$2"
}
# Deactivation on chain: node 3's operator deactivates it while it runs. Once
# the event is confirmed (chain.confirmations, default 2: mine two blocks),
# nodes 1 and 2 close its connections and refuse it from then on.
"$CAST" send "$C" "deactivateNode(address)" "$(addr_for 3)" --private-key "${ANVIL_KEYS[3]}" \
  --rpc-url "$RPC" >/dev/null || fail "deactivateNode"
"$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
for i in 1 2; do
  wait_for 30 "node $i applies the NodeDeactivated event" \
    grep -q 'msg="node deactivated on chain"' "$WORK/n$i/veild.log"
done
wait_for 30 "node 3 dropped" grep -q "msg=\"closing peer no longer active on chain\" peer=$PEER_3" \
  "$WORK/n1/veild.log" "$WORK/n2/veild.log"
wait_for 60 "node 3 refused when it dials again" \
  grep -q "refused peer not registered.*$PEER_3" "$WORK/n1/veild.log" "$WORK/n2/veild.log"
wait_for 60 "node 1 sees node 3 dead" dead 1 "$PEER_3"
wait_for 30 "node 2 sees node 3 dead" dead 2 "$PEER_3"
grep -q 'msg="registry refresh' "$WORK/n1/veild.log" && fail "the registry was polled"
ok "a node deactivated on chain is disconnected, refused and declared dead (registry events)"

# Node death: stop node 2, node 1 sees it dead.
stop_node 2
wait_for 60 "node 1 sees node 2 dead" dead 1 "$PEER_2"
ok "a stopped node is declared dead by the others"
echo "PASS e2e_mesh"
