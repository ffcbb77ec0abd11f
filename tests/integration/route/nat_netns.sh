#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# nat_netns.sh - VeilNet NAT traversal behind real NATs, in network
# namespaces this script builds (root): a "wan" bridge with one reachable
# member (M, 192.0.2.10) and three NAT routers; behind r1 and r2 a Linux
# masquerade (one mapping per local socket: cone), behind r3 a masquerade
# with random ports (a new mapping per destination: symmetric). Each host
# runs route_nat_node: it learns its reflexive address from the member's two
# ports, classifies its NAT, exchanges punch offers (veil_route_signal)
# through the member, and punches or falls back to the member as relay.
# Checked: h1 and h2 (both cone) classify as cone and reach each other
# directly through both NATs; h3 classifies as symmetric and its pair with h1
# goes through the relay. Everything is removed on every exit path.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "route_nat_netns: needs root (namespaces, nftables)" >&2; exit 1; }
BUILD=${VEIL_BUILD_DIR:-build}
BIN=$BUILD/tests/integration/route/route_nat_node
[ -x "$BIN" ] || { echo "route_nat_netns: $BIN not built" >&2; exit 1; }
NS=vr$$
source "$(cd "$(dirname "$0")/../net" && pwd)/nat_lib.sh"
TMP=$(mktemp -d)
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for n in wan m r1 r2 r3 h1 h2 h3; do ip netns del "${NS}$n" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# wan_port NS ADDR: a veth from namespace NS (named wan) onto the wan bridge
wan_port() {
    ip link add "${NS}w$1" netns "${NS}$1" type veth peer name "p$1" netns "${NS}wan"
    ip -n "${NS}$1" link set "${NS}w$1" name wan
    ip -n "${NS}$1" addr add "$2/24" dev wan
    ip -n "${NS}$1" link set wan up
    ip -n "${NS}$1" link set lo up
    ip -n "${NS}wan" link set "p$1" master br0
    ip -n "${NS}wan" link set "p$1" up
}

# nat_site I MODE: router r$I (wan 192.0.2.1$I) and host h$I (10.0.$I.2) behind
# it. Like a home router, it drops unsolicited packets from the wan: without
# that, a peer's first punch packet (arriving before ours left) leaves an
# inbound conntrack entry that makes the masquerade pick another port.
nat_site() {
    local i=$1 mode=$2
    ip netns add "${NS}r$i"
    ip netns add "${NS}h$i"
    wan_port "r$i" "192.0.2.1$i"
    nat_lan "r$i" "h$i" "$i" "10.0.$i" wan "$mode"
}

ip netns add "${NS}wan"
ip -n "${NS}wan" link add br0 type bridge
ip -n "${NS}wan" link set br0 up
ip netns add "${NS}m"
wan_port m 192.0.2.10
nat_site 1 ""
nat_site 2 ""
nat_site 3 "random"

ip netns exec "${NS}m" "$BIN" member 4000 4001 >"$TMP/m.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q ready "$TMP/m.out" && break; sleep 0.05; done

# pair NAME_A HOST_A NAME_B HOST_B: both sides at once; their result lines
pair() {
    ip netns exec "${NS}$2" "$BIN" node "$1" 192.0.2.10 "$3" >"$TMP/$1.out" 2>&1 &
    local a=$!
    ip netns exec "${NS}$4" "$BIN" node "$3" 192.0.2.10 "$1" >"$TMP/$3.out" 2>&1 &
    local b=$!
    PIDS+=("$a" "$b")
    local rc=0
    wait "$a" || rc=1
    wait "$b" || rc=1
    cat "$TMP/$1.out" "$TMP/$3.out"
    return $rc
}

fail=0
out=$(pair alice h1 bob h2) || fail=1
echo "$out"
grep -q "result alice nat=cone plan=punch via=direct" <<<"$out" || fail=1
grep -q "result bob nat=cone plan=punch via=direct" <<<"$out" || fail=1
out=$(pair carol h1 dave h3) || fail=1
echo "$out"
grep -q "result carol nat=cone plan=relay via=relay" <<<"$out" || fail=1
grep -q "result dave nat=symmetric plan=relay via=relay" <<<"$out" || fail=1
if [ $fail = 0 ]; then echo "route_nat_netns: ok"; else echo "route_nat_netns: FAILED"; fi
exit $fail
