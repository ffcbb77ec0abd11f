#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/overlay/containers_netns.sh - Veil's containers talk over
# VeilNet by name (issue 16). Two veild nodes of one on-chain cluster in two
# network namespaces, joined only by an underlay link (no route between the
# containers' networks but the overlay), run the overlay in process. A job
# of two replicas (busybox: replica 0 serves TCP 8080, which the job
# exposes; replica 1 is the client) is placed by the cluster on the two
# nodes; each container gets its own namespace behind its node, an overlay
# name served by its node's resolver; the client resolves 0.web.c<cluster>
# and its payload arrives at the server. The port is exposed to job
# `friend` too, whose container reaches it; a container of a job the port
# does not name, or of a named job of another tenant, cannot (isolation by
# default, at both nodes' packet filters). A host outside the cluster, on
# the server node's LAN or on VeilNet with a realm certificate of its own,
# reaches neither the server nor its name.
# Node 2 deactivated on chain loses its sessions: the server is no longer
# reachable from node 1. The privacy scan still finds no telemetry value.
source "$(dirname "$0")/lib.sh"
ov_require
ov_hosts
ov_registry
ov_anvil
ov_cluster
ov_guardian
CAPS=("" "cpu=2000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=4Gi,disk=20Gi,gpu=0")
start_node() {
  ov_start "$1" "VEIL_TEST_ONLY_CAPACITY=${CAPS[$1]}" VEIL_INSECURE_REGISTRIES="$REG" \
    "VEIL_TEST_ONLY_GOSSIP_DUMP=$WORK/n$1/gossip.hex"
}
for i in 1 2; do start_node "$i"; done
for i in 1 2; do
  wait_for 60 "node $i overlay started" grep -q 'msg="overlay started"' "$WORK/n$i/veild.log"
done
wait_for 60 "node 1 knows node 2" grep -q "msg=\"overlay peer\" peer=$PEER_2" "$WORK/n1/veild.log"
wait_for 60 "node 2 knows node 1" grep -q "msg=\"overlay peer\" peer=$PEER_1" "$WORK/n2/veild.log"
has_epochs() {
  veil_on "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === 2 && rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);'
}
for i in 1 2; do wait_for 60 "node $i has everyone's telemetry" has_epochs "$i"; done
ok "two nodes on chain, Guardian-certified, overlay up"

NAME0=0.web.c$CLUSTER
cat >"$WORK/web.yaml" <<YAML
name: web
image: $REG/busybox@$DIGEST
replicas: 2
policy: spread
resources: {cpu: 100m, memory: 32Mi}
expose:
  - port: 8080
    to: [friend, stranger]
command:
  - /bin/sh
  - -c
  - |
    if [ "\$VEIL_REPLICA" = 0 ]; then
      echo "server \$VEIL_NAME listening"
      while true; do nc -l -p 8080; done
    fi
    for i in \$(seq 1 600); do
      ip=\$(nslookup $NAME0 2>/dev/null | sed -n 's/^Address: *\([0-9.]*\)\$/\1/p' | tail -n 1)
      if [ -n "\$ip" ] && echo "payload from \$VEIL_NAME" | nc -w 2 "\$ip" 8080; then
        echo "client sent to $NAME0 at \$ip"
        break
      fi
      sleep 1
    done
    sleep 600
YAML
# Probes: a job the port names (friend), one it names but of another tenant
# (stranger), one it does not name (other). Each tries every second.
probe_job() { # NAME [TENANT]
  cat <<YAML
name: $1
image: $REG/busybox@$DIGEST
resources: {cpu: 100m, memory: 32Mi}
${2:+tenant: $2}
command:
  - /bin/sh
  - -c
  - |
    for i in \$(seq 1 600); do
      ip=\$(nslookup $NAME0 2>/dev/null | sed -n 's/^Address: *\([0-9.]*\)\$/\1/p' | tail -n 1)
      if [ -n "\$ip" ] && echo "payload from \$VEIL_JOB" | nc -w 1 "\$ip" 8080; then
        echo "\$VEIL_JOB got through"
      else
        echo "\$VEIL_JOB refused \$ip"
      fi
      sleep 1
    done
YAML
}
probe_job friend >"$WORK/friend.yaml"
probe_job stranger acme >"$WORK/stranger.yaml"
probe_job other >"$WORK/other.yaml"
run_job() { veil_on 1 job run "$1" | awk '{print $2}'; }
logs_of() { # JOB_ID REPLICA: the replica's stdout on whichever node runs it
  local st
  for st in $(grep -l "\"veil-${1:0:16}-$2\"" "$WORK"/n*/containers/*/state.json 2>/dev/null); do
    cat "$(dirname "$st")/stdout.log" 2>/dev/null
  done
  return 0
}
id=$(run_job "$WORK/web.yaml")
[ -n "$id" ] || fail "web not submitted"
server_got() { grep -q "payload from 1.web.c$CLUSTER" < <(logs_of "$id" 0); }
wait_for 240 "the client's payload arrives at the server by name" server_got
grep -q "client sent to $NAME0 at 10.77.0." < <(logs_of "$id" 1) || fail "client: $(logs_of "$id" 1)"
on1=$(grep -l "veil-${id:0:16}-0" "$WORK"/n*/containers/*/state.json | head -n 1)
on2=$(grep -l "veil-${id:0:16}-1" "$WORK"/n*/containers/*/state.json | head -n 1)
[ "${on1%%/containers/*}" != "${on2%%/containers/*}" ] || fail "both replicas on one node"
ok "web's replicas on both nodes; the client resolved $NAME0 and its payload arrived"
status_has() { grep -q "$2" "$WORK/n$1/overlay/status.json"; }
for i in 1 2; do
  wait_for 30 "node $i's overlay status names both replicas" status_has "$i" \
    "\"ipv4\":\"10.77.0.[12]\",\"job\":\"$id\",\"name\":\"1.web.c$CLUSTER\""
done
ok "each node's overlay status (veil get's source) lists the replicas' names and addresses"
own_web() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(r["job"] == sys.argv[1] for r in d["replicas"]))' "$id"; }
for i in 1 2; do
  ov=$(veil_on "$i" get overlay -o json) || fail "veil get overlay on node $i"
  [ "$(own_web <<<"$ov")" = 1 ] || fail "veil get overlay on node $i: only its own replica of web expected: $ov"
done
grep -q "^realm .* address 10.77.0." < <(veil_on 1 get overlay) || fail "veil get overlay (text)"
ok "veil get overlay: each node shows its address, peers and only the replica it runs"

id_friend=$(run_job "$WORK/friend.yaml")
id_stranger=$(run_job "$WORK/stranger.yaml")
id_other=$(run_job "$WORK/other.yaml")
friend_got() { grep -q "payload from friend" < <(logs_of "$id" 0); }
wait_for 240 "the named job's payload arrives at the server" friend_got
refused_3() { [ "$(grep -c "$2 refused 10.77.0." < <(logs_of "$1" 0))" -ge 3 ]; }
wait_for 240 "the other job's container tried the server" refused_3 "$id_other" other
wait_for 240 "the stranger's container tried the server" refused_3 "$id_stranger" stranger
for j in other stranger; do
  grep -q "payload from $j" < <(logs_of "$id" 0) && fail "job $j reached the server"
done
grep -q "got through" < <(logs_of "$id_other" 0; logs_of "$id_stranger" 0) \
  && fail "a job not allowed connected"
ok "a job the port names reaches the server; one of another tenant, and one not named, do not"

# Restart: the server's node restarts; the container keeps running in its
# namespace, is taken up again, and a new connection from the client
# replica's namespace on the other node reaches it over the overlay.
srv=${on1%%/containers/*}; srv=${srv##*/n}
cli=$((3 - srv))
kill "${OV_PIDS[$srv]}"; wait "${OV_PIDS[$srv]}" 2>/dev/null || true
start_node "$srv"
wait_for 60 "node $srv takes its container up again" grep -q \
  "msg=\"container on the overlay again\" job=${id:0:16} replica=0" "$WORK/n$srv/veild.log"
CLI_NS=$(sed -n "s/.*msg=\"container on the overlay\" job=${id:0:16} replica=1 netns=\([^ ]*\).*/\1/p" \
  "$WORK/n$cli/veild.log" | tail -n 1)
[ -n "$CLI_NS" ] || fail "the client replica's namespace"
send_again() {
  nsenter --net="/run/netns/$CLI_NS" busybox nc -w 2 "10.77.0.$srv" 8080 <<<"after the restart" &&
    grep -q "after the restart" < <(logs_of "$id" 0)
}
wait_for 90 "a new connection reaches the server after its node restarted" send_again
ok "after its node restarted, the server is on the overlay again"

# A node outside the cluster. On the server node's LAN, routing through the
# node, it reaches neither the exposed port at the node's overlay address,
# nor the container's own link address, nor the node's resolver (the node's
# guard: those addresses only through the overlay). Then it runs VeilNet
# itself with a genuine Guardian certificate of the realm for its own key
# (enrolled with Guardian, not a node of the cluster on chain): the server's
# node refuses its handshakes (members only), so it gets no session.
SRV_CT=$(sed -n "s/.*msg=\"container on the overlay[a-z ]*\" job=${id:0:16} replica=0 netns=[^ ]* address=\([0-9.]*\).*/\1/p" \
  "$WORK/n$srv/veild.log" | tail -n 1)
[ -n "$SRV_CT" ] || fail "the server container's address"
ov_outsider_lan "$srv"
wait_for 10 "the outsider reaches the server node's LAN address" \
  out python3 "$SRC/tests/integration/net/icmp_ping.py" 10.198.0.1 1 0.05 1
# the three probes at once, each waiting 2 s for an answer that must not
# come: a connection, and a refusal too (the packet reached a stack), count
probes=()
for dst in "10.77.0.$srv" "$SRV_CT"; do
  { r=$(out busybox nc -w 2 "$dst" 8080 <<<"payload from the outsider" 2>&1) \
      && echo "connected to $dst:8080" >>"$WORK/lan_got" \
      || { grep -q "timed out" <<<"$r" || echo "$dst:8080 answered: $r" >>"$WORK/lan_got"; }; } &
  probes+=($!)
done
{ out python3 "$SRC/tests/integration/product/dns_query.py" "$NAME0" "10.77.0.$srv" \
    && echo "an answer from the resolver at 10.77.0.$srv" >>"$WORK/lan_got"; } &
probes+=($!)
for p in "${probes[@]}"; do wait "$p" || true; done
[ ! -s "$WORK/lan_got" ] || fail "through the node's LAN the outsider got: $(cat "$WORK/lan_got"); node $srv's guard: $(on "$srv" nft list table ip veil_guard 2>&1)"
grep -q "payload from the outsider" < <(logs_of "$id" 0) && fail "the outsider's payload arrived"
ok "a host outside the cluster on the server node's LAN reaches neither the server nor the names"
drops=$(auth_drops "$srv")
ov_outsider_overlay "$srv"
out python3 "$SRC/tests/integration/net/icmp_ping.py" "10.77.0.$srv" 1 0.05 1 \
  && fail "the outsider's ping crossed its overlay"
refused_more() { [ "$(auth_drops "$srv")" -gt "$drops" ]; }
wait_for 30 "node $srv refuses the outsider's handshake" refused_more
[ "$(out_stats handshakes_initiated)" -ge 1 ] || fail "the outsider never initiated"
[ "$(out_stats handshakes_completed)" = 0 ] \
  || fail "the outsider got a session: $(tail -n 1 "$WORK/out/node.log")"
out python3 "$SRC/tests/integration/product/dns_query.py" "$NAME0" "10.77.0.$srv" \
  && fail "the outsider resolved $NAME0 over its overlay"
[ "$(out_stats handshakes_completed)" = 0 ] || fail "the outsider got a session"
ok "a node outside the cluster with a realm certificate gets no handshake and no name"

on 1 "$CAST" send "$CONTRACT" "deactivateNode(address)" "$(addr_for 2)" \
  --private-key "${ANVIL_KEYS[2]}" --rpc-url "$RPC" >/dev/null || fail "deactivateNode"
on 1 "$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
wait_for 60 "node 1 revokes node 2" grep -q \
  "msg=\"overlay peer deactivated on chain: sessions ended\" peer=$PEER_2" "$WORK/n1/veild.log"
wait_for 30 "node 2 no longer answers" fails_now ping_ok 1 10.77.0.2
wait_for 30 "node 1's status marks node 2 revoked" status_has 1 \
  "\"ipv4\":\"10.77.0.2\",\"peer\":\"$PEER_2\",\"revoked\":true"
ok "node 2 deactivated on chain: node 1 ended its sessions"
# The privacy scan still finds no telemetry value: each node's capacity in
# no byte form in what the other node received on gossip, its log, its
# overlay status, or on the chain.
for i in 1 2; do
  j=$((3 - i))
  grep -v 'TEST_ONLY\|test_only' "$WORK/n$j/veild.log" >"$WORK/n$j/log.scan"
  on 1 node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" --rpc "$RPC" \
    "$WORK/n$j/gossip.hex" "$WORK/n$j/log.scan" "$WORK/n$j/overlay/status.json" \
    >"$WORK/privacy$i.txt" 2>&1 || fail "node $i's capacity leaked: $(cat "$WORK/privacy$i.txt")"
done
ok "the privacy scan finds no telemetry value in gossip, logs, overlay status or chain data"
echo "PASS containers_netns"
