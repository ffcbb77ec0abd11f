#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/boot_rpc_down.sh - veild restarted while its
# chain RPC is unreachable starts from the policy and members it stored
# (issue 18; the chaos suite's rpc_down overlapping a kill and restart).
# Three real veild nodes; node 2 reaches anvil through the reliability
# tests' TCP relay (rpc_relay.py), which the test stops (its requests are
# refused) while node 2 is down and restarted. Node 2 must start (log
# "chain unreachable at start: using the policy and members stored at block
# N"), rejoin the mesh (nodes 1 and 3 see it alive with new telemetry), and
# once the relay is back log its fresh read of the chain; a job it accepts
# after that is placed. Before the fix node 2 retried the chain for a minute
# at start and exited ("asking ... for its chain id" / "reading the cluster
# policy").
source "$(dirname "$0")/../e2e/lib.sh"
e2e_with_containers
e2e_busybox
source "$(dirname "$0")/rpc_relay.sh"
E2E_PRE_CLEANUP=relay_stop

E2E_CLUSTER_NAME=boot create_cluster 3 --allow-image "$DIGEST"
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
RELAY_PORT=$(e2e_port)
relay_start
sed -i "s|^rpc_url: .*|rpc_url: \"http://127.0.0.1:$RELAY_PORT\"|" "$WORK/n2/veild.yaml"
NODE_ENV=(VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=cpu=2000m,memory=2Gi,disk=20Gi,gpu=0"
  VEIL_INSECURE_REGISTRIES="$RT_REG")
for i in 1 2 3; do start_node "$i" "${NODE_ENV[@]}"; done
wait_mesh 3 90
stored() { # node 2 kept the policy and its member set (3 nodes) in its store
  python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
n = db.execute("select count(*) from chain_reads").fetchone()[0]
m = db.execute("select count(*) from chain_members").fetchone()[0]
sys.exit(0 if n == 2 and m == 3 else 1)' "$WORK/n2/state.db"
}
wait_for 30 "node 2 stores the policy and the members it read" stored
ok "mesh up; node 2 reaches the chain through the relay and stored what it read"

# node 2's telemetry epoch as node I sees it (alive), "" when not alive
epoch_of_2() {
  veil_at "$1" get nodes -o json | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8")).find(n => n.peer_id === process.argv[1]);
    console.log(r && r.alive ? r.last_telemetry_epoch : "");' "$PEER_2"
}
before=$(epoch_of_2 1)
stop_node 2
relay_stop
from=$(($(wc -l <"$WORK/n2/veild.log") + 1))
since_restart() { tail -n "+$from" "$WORK/n2/veild.log"; }
start_node 2 "${NODE_ENV[@]}"
from_store() { grep -q "msg=\"chain unreachable at start: using the policy and members stored at block [0-9]*\"" <<<"$(since_restart)"; }
wait_for 60 "node 2 starts from its stored view while its RPC is refused" from_store
started() { grep -q 'msg="node started"' <<<"$(since_restart)"; }
wait_for 60 "node 2 started" started
seen_again() { # node I sees node 2 alive with telemetry newer than before the restart
  local e
  e=$(epoch_of_2 "$1")
  [ -n "$e" ] && [ "$e" -gt "${before:-0}" ]
}
for i in 1 3; do wait_for 90 "node $i sees node 2 alive again (epoch > $before)" seen_again "$i"; done
wait_for 60 "node 2 sees every member" has_epochs 2 3
n=$(grep -c "msg=\"chain unreachable at start" <<<"$(since_restart)")
[ "$n" = 1 ] || fail "node 2 logged the start from its store $n times (once)"
ok "node 2 restarted without its RPC: $(grep -o 'msg="chain unreachable at start[^"]*"' <<<"$(since_restart)"); rejoined the mesh"

relay_start
fresh() { grep -q 'msg="chain reachable again: read the policy and members".* policy=read' <<<"$(since_restart)"; }
wait_for 60 "node 2 reads the chain again once its RPC is back" fresh
ok "node 2: $(grep -o 'msg="chain reachable again[^"]*".*' <<<"$(since_restart)" | head -n 1)"

cat >"$WORK/short.yaml" <<YAML
name: short
image: $RT_REG/busybox@$DIGEST
command: [/bin/sleep, "1"]
resources: {cpu: 100m, memory: 16Mi}
YAML
id=$(veil_at 2 job run "$WORK/short.yaml" | awk '{print $2}')
[[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "job id: $id"
placed() { replica0_placed 2 "$id"; }
wait_for 180 "the job node 2 accepted after its restart is placed" placed
ok "a job submitted through node 2 after its restart is placed"
echo "PASS rel_boot_rpc_down"
