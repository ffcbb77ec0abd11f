#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cert_overlay_netns.sh - VeilNet system mode with Guardian X.509 leaves as
# the Anchor credential (src/net/overlay_cert.c), in network namespaces on
# one underlay bridge: A and B (realm r1, leaves from Guardian CA 1) ping
# each other through their TUN interfaces; C (realm r2, same Guardian) and D
# (realm r1, certificate from another Guardian) get no answer and count the
# refusals (realm, authentication); once B's Guardian view revokes A, A no
# longer reaches B. E enforces ingress rules that open only TCP port 8080:
# A's pings and A's connection to port 9090 are refused at E (counted),
# A's transfer to port 8080 - addressed by the name 0.web.c42, which A's
# node resolver answers - arrives whole, E's own pings to A are answered.
# F is declared to nobody: A and F learn each other only from their signed
# peer records (what the realm's topology subject carries) and then ping;
# a tampered record and G's record claiming B's overlay address are
# refused (F still reaches B itself there).
# Needs root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "cert_overlay_netns: needs root (namespaces, TUN)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "cert_overlay_netns: no /dev/net/tun" >&2; exit 1; }
BUILD=${VEIL_BUILD_DIR:?VEIL_BUILD_DIR not set}
HERE=$(cd "$(dirname "$0")" && pwd)
NETDIR="$HERE/../net"
OVERLAY_NODE="$BUILD/tests/integration/product/cert_node"
NS="vp$$"
TMP=$(mktemp -d)
source "$NETDIR/netns_lib.sh"
SERVERS=()
cleanup() {
    set +e
    for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
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
ping_ok() { in_ns "$1" python3 "$NETDIR/icmp_ping.py" "$2" 3 0.05 || fail "ping $1 -> $2"; }
ping_none() {
    local out
    out=$(in_ns "$1" python3 "$NETDIR/icmp_ping.py" "$2" 2 0.05 0.5 || true)
    [ "$out" = "sent 2 received 0" ] || fail "$1 -> $2 answered: $out"
}
stat_of() { node_stats "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
P=51820
peer() { echo "$1,10.77.0.$2,10.99.0.$2,$P"; }

"$OVERLAY_NODE" --init-ca "$TMP/g1" || fail "Guardian CA 1"
"$OVERLAY_NODE" --init-ca "$TMP/g2" || fail "Guardian CA 2"
ns_hosts 7
node_start h1 A --ca "$TMP/g1" --realm r1 --ip 10.77.0.1/16 --bind 10.99.0.1 --port $P \
    --peer "$(peer B 2)" --peer "$(peer C 3)" --peer "$(peer D 4)" --peer "$(peer E 5)" \
    --dns 0.web.c42=10.77.0.5 || fail "start A"
node_start h2 B --ca "$TMP/g1" --realm r1 --ip 10.77.0.2/16 --bind 10.99.0.2 --port $P \
    --peer "$(peer A 1)" || fail "start B"
node_start h3 C --ca "$TMP/g1" --realm r2 --ip 10.77.0.3/16 --bind 10.99.0.3 --port $P \
    --peer "$(peer A 1)" || fail "start C"
node_start h4 D --ca "$TMP/g2" --realm r1 --ip 10.77.0.4/16 --bind 10.99.0.4 --port $P \
    --peer "$(peer A 1)" || fail "start D"
node_start h5 E --ca "$TMP/g1" --realm r1 --ip 10.77.0.5/16 --bind 10.99.0.5 --port $P \
    --peer "$(peer A 1)" --allow tcp:8080 || fail "start E"
node_start h6 F --ca "$TMP/g1" --realm r1 --ip 10.77.0.6/16 --bind 10.99.0.6 --port $P || fail "start F"
node_start h7 G --ca "$TMP/g1" --realm r1 --ip 10.77.0.2/16 --bind 10.99.0.7 --port $P || fail "start G"

# 1. same realm, same Guardian: a session, both ways
ping_ok h1 10.77.0.2
ping_ok h2 10.77.0.1
[ "$(stat_of B handshakes_completed)" -ge 1 ] || fail "B completed no handshake"
# 2. another realm and another Guardian: no answer, refusals counted
ping_none h1 10.77.0.3
ping_none h1 10.77.0.4
[ "$(stat_of C drop_realm)" -ge 1 ] || fail "C did not refuse A's realm"
[ "$(stat_of D drop_auth)" -ge 1 ] || fail "D did not refuse A's certificate"
[ "$(stat_of A handshakes_completed)" -eq 1 ] || fail "A has a session besides B's"
# 2b. E's ingress rules: only TCP 8080 opens; answers to E's own traffic enter
ping_none h1 10.77.0.5
[ "$(stat_of E filtered)" -ge 2 ] || fail "E did not count A's refused pings"
ping_ok h5 10.77.0.1
XFER="$NETDIR/tcp_xfer.py"
ip netns exec "${NS}h5" python3 "$XFER" serve 10.77.0.5 8080 >"$TMP/open.txt" &
SERVERS+=($!)
ip netns exec "${NS}h5" python3 "$XFER" serve 10.77.0.5 9090 >"$TMP/closed.txt" &
SERVERS+=($!)
for _ in $(seq 1 100); do
    grep -q listening "$TMP/open.txt" && grep -q listening "$TMP/closed.txt" && break
    sleep 0.05
done
[ "$(in_ns h1 python3 "$HERE/dns_query.py" 1.web.c42 127.0.0.1)" = NXDOMAIN ] || fail "1.web.c42 resolved"
addr=$(in_ns h1 python3 "$HERE/dns_query.py" 0.web.c42 127.0.0.1) || fail "no answer for 0.web.c42"
[ "$addr" = 10.77.0.5 ] || fail "0.web.c42 resolved to '$addr'"
sent=$(in_ns h1 python3 "$XFER" send "$addr" 8080 1 marker-open) || fail "transfer to 8080"
for _ in $(seq 1 100); do grep -q '^got' "$TMP/open.txt" && break; sleep 0.05; done
[ "$(grep '^got' "$TMP/open.txt" | cut -d' ' -f2-)" = "$(echo "$sent" | cut -d' ' -f2-)" ] \
    || fail "8080: sent $sent, $(cat "$TMP/open.txt")"
before=$(stat_of E filtered)
! in_ns h1 timeout 2 python3 "$XFER" send 10.77.0.5 9090 1 marker-closed 2>/dev/null \
    || fail "a connection to E's closed port 9090 went through"
[ "$(stat_of E filtered)" -gt "$before" ] || fail "E did not count the SYNs to 9090"
grep -q '^got' "$TMP/closed.txt" && fail "E's 9090 server got a connection"
# 2c. discovery by signed peer records
record_of() { grep '^record ' "$TMP/$1.out" | cut -d' ' -f2; }
answer_of() { # NODE LINE...: the node's next applied/refused line after a command
    local before
    before=$(grep -cE '^(applied|refused)' "$TMP/$1.out" || true)
    node_cmd "$1" "$2"
    for _ in $(seq 1 100); do
        [ "$(grep -cE '^(applied|refused)' "$TMP/$1.out" || true)" -gt "$before" ] && break
        sleep 0.02
    done
    grep -E '^(applied|refused)' "$TMP/$1.out" | tail -1
}
recA=$(record_of A) recF=$(record_of F) recB=$(record_of B)
[ -n "$recA" ] && [ -n "$recF" ] || fail "no peer records printed"
ping_none h1 10.77.0.6
bad=$(python3 -c "import sys; r=sys.argv[1]; print(r[:80] + ('0' if r[80] != '0' else '1') + r[81:])" "$recF")
case "$(answer_of A "record $bad")" in refused*) ;; *) fail "a tampered record was applied" ;; esac
[ "$(answer_of A "record $recF")" = applied ] || fail "A refused F's record"
[ "$(answer_of F "record $recA")" = applied ] || fail "F refused A's record"
ping_ok h1 10.77.0.6
ping_ok h6 10.77.0.1
[ "$(answer_of F "record $recB")" = applied ] || fail "F refused B's record"
case "$(answer_of F "record $(record_of G)")" in
    *"belongs to another member"*) ;;
    *) fail "F took G's record claiming B's address" ;;
esac
[ "$(answer_of B "record $recF")" = applied ] || fail "B refused F's record"
ping_ok h6 10.77.0.2
# 3. B's Guardian view revokes A: the session ends, A's packets go nowhere
node_cmd B "revoke A"
for _ in $(seq 1 50); do grep -q '^revoked A' "$TMP/B.out" && break; sleep 0.05; done
ping_none h1 10.77.0.2
echo "cert_overlay_netns: ok"
