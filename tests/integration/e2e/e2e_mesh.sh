#!/usr/bin/env bash
# tests/integration/e2e/e2e_mesh.sh - stage 1 of the end-to-end suite: a
# cluster created on a private anvil with `veil cluster init`, three nodes
# joined with `veil node join` and run as veild processes on 127.0.0.1. Checks
# that every node sees the three members alive with their organizations and a
# telemetry epoch through `veil get nodes` (never values), that telemetry is
# published encrypted under the 64 KiB cap, that the fixed test capacities
# appear in no API answer or log line of another node, that a peer not
# registered on chain cannot join the mesh, and that a stopped node is seen
# dead by the others.
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

for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"
done

all_alive() {
  local i=$1 out
  out=$(veil_at "$i" get nodes -o json) || return 1
  node -e '
    const rows = JSON.parse(process.argv[1]); const want = process.argv.slice(2);
    for (const p of want) {
      const r = rows.find(x => x.peer_id === p);
      if (!r || !r.alive || !(r.last_telemetry_epoch > 0)) process.exit(1);
    }' "$out" "$PEER_1" "$PEER_2" "$PEER_3"
}
for i in 1 2 3; do wait_for 60 "node $i sees 3 alive members with telemetry" all_alive "$i"; done
table=$(veil_at 2 get nodes)
echo "$table" | grep -q "org1" && echo "$table" | grep -q "org3" || fail "get nodes table: $table"
ok "every node sees the 3 members alive with a telemetry epoch (veil get nodes)"

# Telemetry messages: encrypted, under the 64 KiB cap.
grep -h 'msg="telemetry published"' "$WORK/n1/veild.log" | head -1 | grep -q 'bytes=' \
  || fail "no telemetry published"
max=$(grep -ho 'msg="telemetry published".*bytes=[0-9]*' "$WORK"/n*/veild.log \
      | sed 's/.*bytes=//' | sort -n | tail -1)
[ "$max" -le 65536 ] || fail "telemetry message of $max bytes"
grep -q 'msg="telemetry received"' "$WORK/n2/veild.log" || fail "no telemetry received"
ok "telemetry published encrypted ($max bytes per message) and received"

# Privacy: node 1's capacity (the quantized words as decimal) is in no
# answer or log line of nodes 2 and 3. cpu 1230m -> 123, mem 3210Mi -> 802.
for i in 2 3; do
  api=$(veil_at "$i" get nodes -o json)
  for v in 1230 3210 802; do
    if echo "$api" | grep -qw "$v"; then fail "value $v in node $i API answer"; fi
  done
  if grep -v 'TEST_ONLY\|test_only' "$WORK/n$i/veild.log" | grep -qw '3210Mi\|1230m'; then
    fail "node 1 capacity in node $i log"
  fi
done
ok "no plaintext capacity of node 1 in the other nodes' API answers or logs"

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

# Node death: stop node 3, the others see it dead.
stop_node 3
dead3() {
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const r = rows.find(x => x.peer_id === process.argv[1]);
    process.exit(r && !r.alive ? 0 : 1);' "$PEER_3"
}
wait_for 60 "node 1 sees node 3 dead" dead3 1
wait_for 30 "node 2 sees node 3 dead" dead3 2
ok "a stopped node is declared dead by the others"
echo "PASS e2e_mesh"
