#!/usr/bin/env bash
# cert_overlay_netns.sh - VeilNet system mode with Guardian X.509 leaves as
# the Anchor credential (src/net/overlay_cert.c), in network namespaces on
# one underlay bridge: A and B (realm r1, leaves from Guardian CA 1) ping
# each other through their TUN interfaces; C (realm r2, same Guardian) and D
# (realm r1, certificate from another Guardian) get no answer and count the
# refusals (realm, authentication); once B's Guardian view revokes A, A no
# longer reaches B. Needs root.
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
cleanup() {
    set +e
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
ns_hosts 4
node_start h1 A --ca "$TMP/g1" --realm r1 --ip 10.77.0.1/16 --bind 10.99.0.1 --port $P \
    --peer "$(peer B 2)" --peer "$(peer C 3)" --peer "$(peer D 4)" || fail "start A"
node_start h2 B --ca "$TMP/g1" --realm r1 --ip 10.77.0.2/16 --bind 10.99.0.2 --port $P \
    --peer "$(peer A 1)" || fail "start B"
node_start h3 C --ca "$TMP/g1" --realm r2 --ip 10.77.0.3/16 --bind 10.99.0.3 --port $P \
    --peer "$(peer A 1)" || fail "start C"
node_start h4 D --ca "$TMP/g2" --realm r1 --ip 10.77.0.4/16 --bind 10.99.0.4 --port $P \
    --peer "$(peer A 1)" || fail "start D"

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
# 3. B's Guardian view revokes A: the session ends, A's packets go nowhere
node_cmd B "revoke A"
for _ in $(seq 1 50); do grep -q '^revoked A' "$TMP/B.out" && break; sleep 0.05; done
ping_none h1 10.77.0.2
echo "cert_overlay_netns: ok"
