#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/overlay/veild_guardian_netns.sh - a Veil cluster is a
# VeilNet realm (issue 16): two veild nodes, in two network namespaces
# joined only by an underlay link, run the Conflux agent in process with
# their libp2p key as its identity and are admitted by a real `veil guardian
# serve` (behind a nats-server Master) because they are active on chain in
# the cluster - no certificate file anywhere. They talk over the overlay at
# the addresses Guardian assigned, present renewed certificates (short
# --ttl) and keep talking; once node 2 is deactivated on chain, node 1 ends
# its sessions and Guardian refuses node 2's re-enrollment; Guardian's
# revocation notice for node 2 reaches node 1's agent.
source "$(dirname "$0")/lib.sh"
ov_require
ov_hosts
ov_anvil
ov_cluster
ov_guardian_serve --ttl 20s --cert-ttl 2m
ok "cluster $CLUSTER on chain, Guardian and Master serving realm r16 bound to it"
ov_start 1
ov_start 2
for i in 1 2; do
  wait_for 60 "node $i admitted by Guardian" grep -q 'msg="admitted by Guardian (active on chain)"' \
    "$WORK/n$i/veild.log"
  wait_for 30 "node $i overlay started" grep -q 'msg="overlay started"' "$WORK/n$i/veild.log"
  wait_for 30 "node $i status" test -s "$WORK/n$i/overlay/status.json"
done
[ ! -e "$WORK/n1/identity.nk" ] && ! ls "$WORK"/n*/overlay/*.crt >/dev/null 2>&1 ||
  fail "an identity or certificate file was written"
A1=$(ov_addr 1); A2=$(ov_addr 2)
[ -n "$A1" ] && [ -n "$A2" ] && [ "$A1" != "$A2" ] || fail "overlay addresses: '$A1' '$A2'"
ok "both nodes admitted by their on-chain registration: $A1 and $A2 from Guardian"

wait_for 60 "node 1 applied node 2's record" grep -q "msg=\"overlay peer\" peer=$PEER_2" \
  "$WORK/n1/veild.log"
wait_for 60 "node 2 applied node 1's record" grep -q "msg=\"overlay peer\" peer=$PEER_1" \
  "$WORK/n2/veild.log"
wait_for 30 "node 1 reaches node 2 over the overlay" ping_ok 1 "$A2"
wait_for 30 "node 2 reaches node 1 over the overlay" ping_ok 2 "$A1"
ok "the nodes talk over the overlay with Guardian's certificates for their libp2p keys"

for i in 1 2; do
  wait_for 60 "node $i presents a renewed certificate" grep -q \
    'msg="overlay certificate renewed"' "$WORK/n$i/veild.log"
done
wait_for 30 "node 1 reaches node 2 after the renewals" ping_ok 1 "$A2"
wait_for 30 "node 2 reaches node 1 after the renewals" ping_ok 2 "$A1"
ok "renewed certificates presented, the overlay still carries traffic"

on 1 "$CAST" send "$CONTRACT" "deactivateNode(address)" "$(addr_for 2)" \
  --private-key "${ANVIL_KEYS[2]}" --rpc-url "$RPC" >/dev/null || fail "deactivateNode"
on 1 "$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
wait_for 60 "node 1 revokes node 2" grep -q \
  "msg=\"overlay peer deactivated on chain: sessions ended\" peer=$PEER_2" "$WORK/n1/veild.log"
wait_for 30 "node 2 no longer answers" fails_now ping_ok 1 "$A2"
ok "node 2, deactivated on chain, lost its overlay sessions"

# node 2 restarts: Guardian refuses to enroll it again, veild says why
kill "${OV_PIDS[2]}"; wait "${OV_PIDS[2]}" 2>/dev/null; OV_PIDS[2]=
rc=0
on 2 timeout 90 env VEIL_TELEMETRY_INTERVAL=2s "$VEILD" -c "$WORK/n2/veild.yaml" -l debug \
  >"$WORK/n2/restart.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "veild 2 restarted with rc $rc: $(tail -5 "$WORK/n2/restart.log")"
# Refused by Guardian's answer, or, once Guardian has revoked the node it saw
# deactivated, already by Master when the node connects to enroll.
refusal="(no longer|not) active in cluster $CLUSTER|connecting to Master for enrollment: .*Authorization Violation"
grep -Eq "$refusal" "$WORK/n2/restart.log" ||
  fail "no Guardian refusal: $(tail -5 "$WORK/n2/restart.log")"
ok "re-enrollment of the deactivated node refused: $(grep -Eo "$refusal" "$WORK/n2/restart.log" | head -1)"
# Guardian revokes node 2: its signed notice reaches node 1's agent, and the
# overlay refuses node 2 (here already refused: deactivated on chain)
N2=$(grep -o 'sub=conflux msg="enrolled and connected" node=[^ ]*' "$WORK/n2/veild.log" |
  head -1 | sed 's/.*node=//')
[ -n "$N2" ] || fail "node 2's Guardian name not logged"
on 1 "$VEIL" guardian revoke -d "$WORK/guardian" "$N2" >/dev/null || fail "guardian revoke $N2"
wait_for 30 "node 1 gets Guardian's revocation notice" grep -q \
  "msg=\"revocation notice from Guardian\" peer=$PEER_2" "$WORK/n1/veild.log"
ok "Guardian's revocation notice for $N2 reached node 1's in-process agent"
echo "PASS veild_guardian_netns"
