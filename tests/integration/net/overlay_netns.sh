#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# overlay_netns.sh - VeilNet system mode between hosts in network namespaces
# (built here, on one underlay bridge): A, B, C of realm r1 (taints "lab")
# ping each other over IPv4 and the identity-derived IPv6 addresses and move
# a TCP transfer through their TUN interfaces, while a capture of the
# underlay shows none of its plaintext; A rekeys every second under a ping
# run with no loss. Intruders D (realm r2), E (taints not contained), F
# (revoked by A's Guardian view), G (credential from an unknown Guardian)
# get no answer and A counts their drops; a revocation at run time cuts C
# off at once; replayed, tampered and random datagrams to C get no answer;
# a flood of a recorded initiation gets cookie replies only. Needs root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "overlay_netns: needs root (namespaces, TUN)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "overlay_netns: no /dev/net/tun" >&2; exit 1; }
BUILD=${VEIL_BUILD_DIR:?VEIL_BUILD_DIR not set}
HERE=$(cd "$(dirname "$0")" && pwd)
OVERLAY_NODE="$BUILD/tests/integration/net/overlay_node"
NS="vn$$"
TMP=$(mktemp -d)
TSHARK_PID=
source "$HERE/netns_lib.sh"
cleanup() {
    set +e
    [ -n "$TSHARK_PID" ] && kill "$TSHARK_PID" 2>/dev/null
    ns_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM
fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/*.err; do [ -s "$f" ] && echo "== $f" >&2 && cat "$f" >&2; done
    exit 1
}
in_ns() { local h=$1; shift; ip netns exec "${NS}$h" "$@"; }
ping_ok() { in_ns "$1" python3 "$HERE/icmp_ping.py" "$2" "${3:-3}" "${4:-0.05}" || fail "ping $1 -> $2"; }
ping_none() {
    local out
    out=$(in_ns "$1" python3 "$HERE/icmp_ping.py" "$2" 2 0.05 0.5 || true)
    [ "$out" = "sent 2 received 0" ] || fail "$1 -> $2 answered: $out"
}
v6_of() { ip -n "${NS}$1" -6 addr show dev veil0 scope global | awk '/inet6/ {print $2}' | cut -d/ -f1; }
P=51820
peer() { echo "$1,10.77.0.$2,10.99.0.$2,$P"; }

ns_hosts 7
node_start h1 A --realm r1 --taints lab --ip 10.77.0.1/16 --bind 10.99.0.1 --port $P --rekey-ms 1000 \
    --revoked F --peer "$(peer B 2)" --peer "$(peer C 3)" --peer "$(peer D 4)" \
    --peer "$(peer E 5)" --peer "$(peer F 6)" --peer "$(peer G 7)"
node_start h2 B --realm r1 --taints lab --ip 10.77.0.2/16 --bind 10.99.0.2 --port $P \
    --peer "$(peer A 1)" --peer "$(peer C 3)"
node_start h3 C --realm r1 --taints lab --ip 10.77.0.3/16 --bind 10.99.0.3 --port $P \
    --peer "$(peer A 1)" --peer "$(peer B 2)"
node_start h4 D --realm r2 --taints lab --ip 10.77.0.4/16 --bind 10.99.0.4 --port $P --peer "$(peer A 1)"
node_start h5 E --realm r1 --taints prod --ip 10.77.0.5/16 --bind 10.99.0.5 --port $P --peer "$(peer A 1)"
node_start h6 F --realm r1 --taints lab --ip 10.77.0.6/16 --bind 10.99.0.6 --port $P --peer "$(peer A 1)"
node_start h7 G --realm r1 --taints lab --ip 10.77.0.7/16 --bind 10.99.0.7 --port $P --guardian rogue \
    --peer "$(peer A 1)"

# 1. two and three hosts: IPv4 and derived IPv6, recording A->B's first packets
ip netns exec "${NS}h2" python3 "$HERE/inject.py" sniff eth0 $P 4 "$TMP/rec.txt" &
SNIFF=$!
sleep 0.3
ping_ok h1 10.77.0.2
ping_ok h1 10.77.0.3
ping_ok h2 10.77.0.3
ping_ok h3 10.77.0.1
ping_ok h1 "$(v6_of h2)"
ping_ok h3 "$(v6_of h2)"
wait $SNIFF || true
grep -q '^init ' "$TMP/rec.txt" && grep -q '^data ' "$TMP/rec.txt" || fail "nothing recorded"
echo "ok: ping A<->B<->C over IPv4 and IPv6"

# 2. a TCP transfer A -> B under a capture of B's underlay: no plaintext
marker="VEILPLAINTEXTMARKER$RANDOM"
ip netns exec "${NS}h2" tshark -i eth0 -f "udp port $P" -w "$TMP/cap.pcapng" -q >"$TMP/tshark.log" 2>&1 &
TSHARK_PID=$!
for _ in $(seq 1 100); do grep -q "Capturing on" "$TMP/tshark.log" 2>/dev/null && break; sleep 0.1; done
ip netns exec "${NS}h2" python3 "$HERE/tcp_xfer.py" serve 10.77.0.2 5001 >"$TMP/srv.txt" &
SRV=$!
for _ in $(seq 1 50); do grep -q listening "$TMP/srv.txt" && break; sleep 0.05; done
sent=$(in_ns h1 python3 "$HERE/tcp_xfer.py" send 10.77.0.2 5001 8 "$marker") || fail "transfer"
wait $SRV
got=$(grep '^got' "$TMP/srv.txt")
[ "${sent#sent }" = "${got#got }" ] || fail "transfer differs: $sent / $got"
sleep 0.5
kill -INT "$TSHARK_PID"; wait "$TSHARK_PID" 2>/dev/null || true; TSHARK_PID=
in_ns h2 tshark -r "$TMP/cap.pcapng" -T fields -e udp.payload >"$TMP/payloads.hex" 2>/dev/null
transport=$(grep -c '^04000000' "$TMP/payloads.hex" || true)
# UDP GSO/GRO: one captured "packet" may carry many Anchor datagrams back to back
[ "$transport" -ge 100 ] || fail "only $transport transport packets captured"
probe=$(printf '%s' "${marker:0:12}" | od -An -tx1 | tr -d ' \n')
if grep -qi "$probe" "$TMP/payloads.hex"; then fail "plaintext on the wire"; fi
if strings -n 8 "$TMP/cap.pcapng" | grep -q VEILPLAIN; then fail "plaintext in the capture"; fi
echo "ok: TCP ${sent#sent } through TUN, $transport captured transport messages, no plaintext"

# 3. rekey under traffic (A rekeys every second): 300 pings over 3 s, none lost
rekeys0=$(stat A rekeys)
ping_ok h1 10.77.0.2 300 0.01
rekeys1=$(stat A rekeys)
[ $((rekeys1 - rekeys0)) -ge 2 ] || fail "only $((rekeys1 - rekeys0)) rekeys during the run"
echo "ok: $((rekeys1 - rekeys0)) rekeys under 300 pings, none lost"

# 4. intruders: another realm, taints not contained, revoked, unknown Guardian
realm0=$(stat A drop_realm); auth0=$(stat A drop_auth)
for h in h4 h5 h6 h7; do ping_none "$h" 10.77.0.1; done
realm1=$(stat A drop_realm); auth1=$(stat A drop_auth)
[ $((realm1 - realm0)) -ge 2 ] || fail "realm/taint drops: $realm0 -> $realm1"
[ $((auth1 - auth0)) -ge 2 ] || fail "revoked/unknown drops: $auth0 -> $auth1"
for n in D E F G; do
    [ "$(stat $n udp_datagrams_in)" = 0 ] || fail "$n got an answer from A"
done
echo "ok: other realm, taints not contained, revoked, unknown Guardian: dropped, none answered"

# 5. revocation at run time: C is cut off at once, and C hears nothing more from A
ping_ok h3 10.77.0.1 2
node_cmd A "revoke C"
for _ in $(seq 1 50); do grep -q '^revoked C' "$TMP/A.out" && break; sleep 0.05; done
c_in=$(stat C udp_datagrams_in)
ping_none h1 10.77.0.3
ping_none h3 10.77.0.1
ping_ok h2 10.77.0.3 2
c_in2=$(stat C udp_datagrams_in)
c_from_b=2 # B's two echo replies (and possibly a keepalive) are the only new arrivals
[ $((c_in2 - c_in)) -le $((c_from_b + 2)) ] || fail "C still hears A: $c_in -> $c_in2"
echo "ok: revocation ended A<->C at once (B<->C unaffected)"

# 6. replayed, tampered, random datagrams to C (B<->C's traffic recorded
#    first): dropped, none answered
ip netns exec "${NS}h3" python3 "$HERE/inject.py" sniff eth0 $P 2 "$TMP/rec3.txt" &
SNIFF=$!
sleep 0.3
ping_ok h2 10.77.0.3 3
wait $SNIFF || true
grep -q '^data ' "$TMP/rec3.txt" || fail "no B->C transport packet recorded"
rep0=$(stat C drop_replay); auth0=$(stat C drop_auth)
for mode in replay-data tamper-data random; do
    out=$(in_ns h4 python3 "$HERE/inject.py" send 10.99.0.3 $P "$TMP/rec3.txt" $mode 20)
    [ "$out" = "answers 0 types -" ] || fail "$mode answered: $out"
done
[ "$(stat C drop_replay)" -gt "$rep0" ] || fail "replay not counted"
[ "$(stat C drop_auth)" -gt "$auth0" ] || fail "tampered packet not counted"
echo "ok: replayed, tampered and random datagrams dropped, none answered"

# 7. a handshake flood: cookie replies (type 3) only, the real session unaffected
out=$(in_ns h4 python3 "$HERE/inject.py" send 10.99.0.2 $P "$TMP/rec.txt" flood-init 400)
case "$out" in "answers 0 "*) fail "flood not answered by cookies: $out" ;; esac
[ "${out##* }" = 3 ] || fail "flood answered with other than cookies: $out"
[ "$(stat B cookies_sent)" -gt 0 ] || fail "no cookie counted"
ping_ok h1 10.77.0.2 3
echo "ok: initiation flood answered with cookies only ($out), A<->B unaffected"
echo "PASS"
