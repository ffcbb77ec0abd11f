#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/overlay/veild_overlay_netns.sh - veild on VeilNet
# (issue 16): two veild nodes of one on-chain cluster, in two network
# namespaces joined only by an underlay link, run the overlay in process
# with their libp2p keys certified by Guardian; they learn each other from
# the signed peer records gossiped on the cluster's overlay topic, and their
# overlay addresses answer each other; once node 2 is deactivated on chain,
# node 1 ends its sessions and refuses it (node 2's overlay address stops
# answering). A host outside the cluster reaches node 1's resolver neither
# through node 1's LAN nor over VeilNet with a realm certificate of its own
# (node 1 refuses its handshake: members only).
source "$(dirname "$0")/lib.sh"
ov_require
ov_hosts
ov_anvil
ov_cluster
ov_guardian
ok "cluster $CLUSTER on chain, two nodes joined, Guardian certified their libp2p keys"
ov_start 1
ov_start 2
for i in 1 2; do
  wait_for 60 "node $i overlay started" grep -q 'msg="overlay started"' "$WORK/n$i/veild.log"
done
wait_for 60 "node 1 applied node 2's record" grep -q "msg=\"overlay peer\" peer=$PEER_2" \
  "$WORK/n1/veild.log"
wait_for 60 "node 2 applied node 1's record" grep -q "msg=\"overlay peer\" peer=$PEER_1" \
  "$WORK/n2/veild.log"
wait_for 30 "node 1 reaches node 2 over the overlay" ping_ok 1 10.77.0.2
wait_for 30 "node 2 reaches node 1 over the overlay" ping_ok 2 10.77.0.1
ok "the nodes learned each other from gossiped peer records and talk over the overlay"

# A host outside the cluster on node 1's LAN cannot reach node 1's resolver
# through the node; running VeilNet with a genuine Guardian certificate of
# the realm for its own key (not a node on chain) it gets no handshake.
ov_outsider_lan 1
wait_for 10 "the outsider reaches node 1's LAN address" \
  out python3 "$SRC/tests/integration/net/icmp_ping.py" 10.198.0.1 1 0.05 1
out python3 "$SRC/tests/integration/product/dns_query.py" x.c1 10.77.0.1 \
  && fail "node 1's resolver answered the outsider on its LAN"
drops=$(auth_drops 1)
ov_outsider_overlay 1
out python3 "$SRC/tests/integration/net/icmp_ping.py" 10.77.0.1 1 0.05 1 \
  && fail "the outsider's ping crossed its overlay"
refused_more() { [ "$(auth_drops 1)" -gt "$drops" ]; }
wait_for 30 "node 1 refuses the outsider's handshake" refused_more
[ "$(out_stats handshakes_initiated)" -ge 1 ] || fail "the outsider never initiated"
[ "$(out_stats handshakes_completed)" = 0 ] \
  || fail "the outsider got a session: $(tail -n 1 "$WORK/out/node.log")"
ok "a host outside the cluster: no resolver through the LAN, no handshake with a realm certificate"

on 1 "$CAST" send "$CONTRACT" "deactivateNode(address)" "$(addr_for 2)" \
  --private-key "${ANVIL_KEYS[2]}" --rpc-url "$RPC" >/dev/null || fail "deactivateNode"
on 1 "$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
wait_for 60 "node 1 revokes node 2" grep -q \
  "msg=\"overlay peer deactivated on chain: sessions ended\" peer=$PEER_2" "$WORK/n1/veild.log"
wait_for 30 "node 2 no longer answers" fails_now ping_ok 1 10.77.0.2
ok "a node deactivated on chain loses its overlay sessions"
echo "PASS veild_overlay_netns"
