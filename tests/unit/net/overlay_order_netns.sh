#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# overlay_order_netns.sh - one flow keeps its order through the TUN overlay
# (src/net/overlay.c) while both of its threads at each end are busy: A
# sends a numbered UDP stream to B through the overlay while B floods A the
# other way (B's TUN-reading thread and A's receiving thread then also
# flush queued datagrams and hand over received packets). Every datagram B
# gets must come after the ones before it (losses are allowed, a
# reordering or a duplicate is not). Before the overlay's order locks the
# two threads' batches overtook each other and this saw inversions. Needs
# root; OVERLAY_NODE may name another overlay_node binary.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "overlay_order_netns: needs root (namespaces, TUN)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "overlay_order_netns: no /dev/net/tun" >&2; exit 1; }
BUILD=${VEIL_BUILD_DIR:?VEIL_BUILD_DIR not set}
HERE=$(cd "$(dirname "$0")" && pwd)
NETDIR="$HERE/../../integration/net"
OVERLAY_NODE=${OVERLAY_NODE:-$BUILD/tests/integration/net/overlay_node}
NS="vo$$"
TMP=$(mktemp -d)
PIDS=()
source "$NETDIR/netns_lib.sh"
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ns_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM
in_ns() { local h=$1; shift; ip netns exec "${NS}$h" "$@"; }
fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/*.err "$TMP"/*.out "$TMP"/*.txt; do
        [ -s "$f" ] && echo "== $f" >&2 && tail -20 "$f" >&2
    done
    exit 1
}
wait_line() { # FILE PATTERN: polls up to 30 s
    for _ in $(seq 1 300); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "'$2' never appeared in $1"
}
P=51820
COUNT=${ORDER_COUNT:-30000}

ns_hosts 2
node_start h1 A --realm r1 --taints lab --ip 10.77.0.1/16 --bind 10.99.0.1 --port $P \
    --peer "B,10.77.0.2,10.99.0.2,$P" || fail "node A"
node_start h2 B --realm r1 --taints lab --ip 10.77.0.2/16 --bind 10.99.0.2 --port $P \
    --peer "A,10.77.0.1,10.99.0.1,$P" || fail "node B"
in_ns h1 python3 "$NETDIR/icmp_ping.py" 10.77.0.2 3 0.05 >/dev/null || fail "ping A -> B"

ip netns exec "${NS}h2" python3 "$HERE/udp_order.py" recv 10.77.0.2 7000 >"$TMP/order.txt" &
RECV=$!
PIDS+=($RECV)
ip netns exec "${NS}h1" python3 "$HERE/udp_order.py" recv 10.77.0.1 7001 >"$TMP/sink.txt" &
PIDS+=($!)
wait_line "$TMP/order.txt" listening
wait_line "$TMP/sink.txt" listening
ip netns exec "${NS}h2" python3 "$HERE/udp_order.py" flood 10.77.0.1 7001 60 &
FLOOD=$!
PIDS+=($FLOOD)
in_ns h1 python3 "$HERE/udp_order.py" send 10.77.0.2 7000 "$COUNT" >"$TMP/send.txt" ||
    fail "sender"
kill "$FLOOD" 2>/dev/null || true
wait "$RECV" || fail "receiver"
read -r _ got _ inv _ dup < <(grep '^got' "$TMP/order.txt") || fail "no receiver summary"
echo "B got $got of $COUNT, $inv inversions, $dup duplicates"
echo "A: $(node_stats A)"
echo "B: $(node_stats B)"
[ "$got" -ge $((COUNT / 10)) ] || fail "only $got of $COUNT datagrams arrived"
[ "$inv" -eq 0 ] || fail "$inv datagrams arrived after a later one"
[ "$dup" -eq 0 ] || fail "$dup datagrams arrived twice"
echo "overlay_order_netns: ok"
