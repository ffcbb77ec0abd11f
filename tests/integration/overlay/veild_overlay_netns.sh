#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/overlay/veild_overlay_netns.sh - veild on VeilNet
# (issue 16): two veild nodes of one on-chain cluster, in two network
# namespaces joined only by an underlay link, run the overlay in process
# with their libp2p keys certified by Guardian; they learn each other from
# the signed peer records gossiped on the cluster's overlay topic, and their
# overlay addresses answer each other; once node 2 is deactivated on chain,
# node 1 ends its sessions and refuses it (node 2's overlay address stops
# answering).
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

on 1 "$CAST" send "$CONTRACT" "deactivateNode(address)" "$(addr_for 2)" \
  --private-key "${ANVIL_KEYS[2]}" --rpc-url "$RPC" >/dev/null || fail "deactivateNode"
on 1 "$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
wait_for 60 "node 1 revokes node 2" grep -q \
  "msg=\"overlay peer deactivated on chain: sessions ended\" peer=$PEER_2" "$WORK/n1/veild.log"
wait_for 30 "node 2 no longer answers" fails_now ping_ok 1 10.77.0.2
ok "a node deactivated on chain loses its overlay sessions"
echo "PASS veild_overlay_netns"
