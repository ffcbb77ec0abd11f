#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/guardian/master_test.sh - Guardian-issued credentials on
# a real Master: a 2-cluster x 2-server nats-server super cluster with TLS on
# 127.0.0.1. Shows messages crossing the gateway, a publish outside the
# allow-list refused, realm A seeing nothing of realm B, an expired
# credential disconnected, a message over the JWT's payload limit refused,
# and a revoked node disconnected by `veil guardian
# revoke` (account JWT pushed to the full resolver), then refused.
. "$(dirname "$0")/lib.sh"

G=$WORK/guardian
CA=$G/ca/root.crt
"$VEIL" guardian init -d "$G" >/dev/null
"$VEIL" guardian realm create -d "$G" alpha >/dev/null
"$VEIL" guardian realm create -d "$G" beta >/dev/null
for n in n1 n2; do "$VEIL" guardian issue -d "$G" --realm alpha --name $n -o "$WORK/$n.creds" >/dev/null; done
"$VEIL" guardian issue -d "$G" --realm beta --name b1 -o "$WORK/b1.creds" >/dev/null
"$VEIL" guardian issue -d "$G" --realm beta --name beta-svc --service -o "$WORK/bsvc.creds" >/dev/null
"$VEIL" guardian issue -d "$G" --realm alpha --name alpha-svc --service -o "$WORK/asvc.creds" >/dev/null
[ "$(stat -c %a "$WORK/n1.creds")" = 600 ] || fail ".creds file is not 0600"
start_master "$G" 2 2
ok "super cluster of 2 x 2 up (TLS, operator mode, full resolver) at base port $BASE_PORT"
C0=$(url_of 0 0)
C1=$(url_of 1 1)

# 1. a message from cluster c0 reaches a subscriber on cluster c1 (gateway)
"$NATSC" "$C1" "$WORK/n2.creds" "$CA" sub 'veil.alpha.live.*' 1 10000 >"$WORK/sub1.out" 2>&1 &
sub=$!
wait_line "$WORK/sub1.out" '^ready' || fail "subscriber not ready"
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pub veil.alpha.live.n1 beat-1 >/dev/null || fail "own publish refused"
wait $sub || fail "message did not cross the gateway: $(cat "$WORK/sub1.out")"
grep -q 'msg veil.alpha.live.n1 beat-1' "$WORK/sub1.out" || fail "wrong message"
ok "veil.alpha.live.n1 published on c0-s0 received on c1-s1 (gateway)"

# 2. publishing another node's subject is refused and never delivered: an
#    alpha service user subscribed to every alpha subject gets, as its first
#    message, the marker n1 publishes after the refused attempts (the same
#    server and gateway path, so a delivered spoof would arrive before it)
"$NATSC" "$C1" "$WORK/asvc.creds" "$CA" sub 'veil.alpha.>' 1 20000 >"$WORK/sub2.out" 2>&1 &
sub=$!
wait_line "$WORK/sub2.out" '^ready' || fail "subscriber not ready"
set +e
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pub veil.alpha.live.n2 spoofed >"$WORK/pub2.out" 2>&1
prc=$?
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pub veil.alpha.cmd.n2 spoofed >/dev/null 2>&1
crc=$?
set -e
[ $prc -eq 3 ] && [ $crc -eq 3 ] || fail "publish outside the allow-list not refused ($prc, $crc)"
grep -q 'Permissions Violation for Publish to "veil.alpha.live.n2"' "$WORK/pub2.out" || fail "no violation"
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pub veil.alpha.live.n1 marker-2 >/dev/null || fail "marker refused"
wait $sub || fail "marker not received: $(cat "$WORK/sub2.out")"
grep '^msg' "$WORK/sub2.out" | grep -q 'msg veil.alpha.live.n1 marker-2' || fail "spoofed message delivered"
ok "publish to veil.alpha.live.n2 / veil.alpha.cmd.n2 by n1 refused by the server, nothing delivered"

# 3. realm isolation: beta's all-subjects service user sees nothing of alpha
#    (its first message is beta's own marker, published after alpha's
#    traffic), and a beta node cannot even subscribe to alpha's subjects
"$NATSC" "$(url_of 0 1)" "$WORK/bsvc.creds" "$CA" sub '>' 1 20000 >"$WORK/sub3.out" 2>&1 &
sub=$!
wait_line "$WORK/sub3.out" '^ready' || fail "beta subscriber not ready"
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pub veil.alpha.live.n1 beat-2 >/dev/null || fail "publish refused"
"$NATSC" "$C0" "$WORK/asvc.creds" "$CA" pub veil.alpha.cmd.n1 hello >/dev/null || fail "publish refused"
"$NATSC" "$C0" "$WORK/b1.creds" "$CA" pub veil.beta.live.b1 marker-3 >/dev/null || fail "marker refused"
wait $sub || fail "beta marker not received: $(cat "$WORK/sub3.out")"
grep '^msg' "$WORK/sub3.out" | grep -q 'msg veil.beta.live.b1 marker-3' || fail "realm beta saw realm alpha traffic"
set +e
"$NATSC" "$C0" "$WORK/b1.creds" "$CA" sub 'veil.alpha.>' 1 500 >/dev/null 2>&1
brc=$?
set -e
[ $brc -eq 3 ] || fail "beta node subscribed to alpha subjects ($brc)"
ok "realm beta sees nothing of realm alpha (its '>' subscriber got only beta's marker)"

# 4. an expired credential is disconnected by the server at its exp
"$VEIL" guardian issue -d "$G" --realm alpha --name n3 --ttl 3s -o "$WORK/n3.creds" >/dev/null
"$NATSC" "$C1" "$WORK/n3.creds" "$CA" hold 20000 >"$WORK/hold3.out" 2>&1 || fail "expired credential not disconnected"
grep -q 'closed .*Expired' "$WORK/hold3.out" || fail "unexpected close: $(cat "$WORK/hold3.out")"
ok "a 3 s credential disconnected at expiry: $(grep closed "$WORK/hold3.out" | cut -d' ' -f3-)"

# 4b. control traffic only: a node's user JWT caps its messages at 64 KiB
#     (nats.limits.payload), enforced by the server itself; a node issued
#     with --max-payload none may send 200 KiB through the same server
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pubsize veil.alpha.health.n1 65536 >/dev/null 2>&1 ||
  fail "a 64 KiB message refused"
set +e
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pubsize veil.alpha.health.n1 65537 >"$WORK/big.out" 2>&1
brc=$?
set -e
# the client may close before it has read the server's -ERR text: the
# server's own log names the violation either way
# (or, when the server announced the user's limit in its INFO, libnats
# refuses it before sending: exit 7 with the announced limit, 64 KiB)
{ [ $brc -eq 6 ] && { grep -q 'closed .*Maximum Payload' "$WORK/big.out" ||
  grep -q 'Maximum Payload Violation' "$WORK"/c*-s*.log; }; } ||
  { [ $brc -eq 7 ] && grep -q '^refused max_payload 65536$' "$WORK/big.out"; } ||
  fail "a 64 KiB + 1 message not refused ($brc): $(cat "$WORK/big.out")"
"$VEIL" guardian issue -d "$G" --realm alpha --name n4 --max-payload none -o "$WORK/n4.creds" >/dev/null
"$NATSC" "$C0" "$WORK/n4.creds" "$CA" pubsize veil.alpha.health.n4 204800 >/dev/null 2>&1 ||
  fail "an unlimited node's 200 KiB message refused"
ok "64 KiB + 1 byte refused ($(cat "$WORK/big.out" "$WORK"/c*-s*.log | grep -o -e 'Maximum Payload[A-Za-z ]*' -e 'refused max_payload [0-9]*' | head -1)), 64 KiB and an unlimited node's 200 KiB accepted"

# 5. revocation: the node's live connection (on the other cluster) is closed
"$NATSC" "$C1" "$WORK/n2.creds" "$CA" hold 20000 >"$WORK/hold2.out" 2>&1 &
hold=$!
wait_line "$WORK/hold2.out" '^connected' || fail "n2 did not connect"
t0=$(date +%s%3N)
"$VEIL" guardian revoke -d "$G" n2 >/dev/null || fail "revoke failed"
wait $hold || fail "revoked node not disconnected"
t1=$(grep '^closed' "$WORK/hold2.out" | cut -d' ' -f2)
grep -q 'closed .*Revoked' "$WORK/hold2.out" || fail "unexpected close: $(cat "$WORK/hold2.out")"
ok "revoked n2 disconnected on c1-s1 $((t1 - t0)) ms after \`veil guardian revoke\` started"
set +e
"$NATSC" "$C0" "$WORK/n2.creds" "$CA" hold 500 >/dev/null 2>&1
rrc=$?
"$VEIL" guardian issue -d "$G" --realm alpha --name n2 -o "$WORK/n2b.creds" >/dev/null 2>"$WORK/reissue.err"
irc=$?
set -e
[ $rrc -eq 5 ] || fail "revoked credential could reconnect ($rrc)"
[ $irc -eq 1 ] && grep -q 'is revoked' "$WORK/reissue.err" || fail "revoked node got new credentials"
"$NATSC" "$C0" "$WORK/n1.creds" "$CA" pub veil.alpha.live.n1 still-here >/dev/null || fail "n1 affected by n2's revocation"
ok "revoked credential refused on reconnect, no reissue, other nodes unaffected"

# 6. the state survived every command (each one reopened the directory)
grep -q ' revoke node=n2 realm=alpha' < <("$VEIL" guardian audit -d "$G") || fail "revocation not audited"
grep -q 'account.push' < <("$VEIL" guardian audit -d "$G") || fail "push not audited"
grep -q '^n2 realm=alpha .* revoked$' < <("$VEIL" guardian nodes -d "$G" --realm alpha) || fail "n2 not listed revoked"
ok "audit log records issuance, revocation and the push; n2 listed revoked"
