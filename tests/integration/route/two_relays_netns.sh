#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# two_relays_netns.sh - paths of two relays in `veil conflux up --tun`
# (issue 15): h1 runs Master and `veil guardian serve`; R1 (h2) and R2 (h3)
# are public members; A and B sit behind symmetric NATs (h4, h5) with no
# route between their networks. R1 drops everything to and from B's NAT and
# R2 everything to and from A's, so no single relay reaches both: A must go
# A -> R1 -> R2 -> B and B the other way. Checked: each side prints its
# two-relay route, pings cross both ways, a 1 MiB TCP transfer (full-size
# segments: the TUN MTU leaves room for three layers) arrives intact
# (SHA-256), both relays forwarded cells and delivered none to their own
# TUN. Needs root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "two_relays_netns: needs root (namespaces, TUN)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "two_relays_netns: no /dev/net/tun" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "two_relays_netns: no nats-server" >&2; exit 1; }
BUILD=${VEIL_BUILD_DIR:?VEIL_BUILD_DIR not set}
HERE=$(cd "$(dirname "$0")" && pwd)
NETDIR="$HERE/../net"
NS="v2r$$"
TMP=$(mktemp -d)
source "$NETDIR/netns_lib.sh"
source "$HERE/../conflux/cfx_tun_lib.sh"
source "$NETDIR/nat_lib.sh"
source "$HERE/route_tun_lib.sh"
trap cfx_cleanup EXIT
trap "exit 1" INT TERM

cut_off() { # HOST ADDR: HOST exchanges nothing with ADDR
    in_ns "$1" nft -f - <<NFT
table ip cut {
    chain in { type filter hook input priority -10; ip saddr $2 drop; }
    chain out { type filter hook output priority -10; ip daddr $2 drop; }
}
NFT
}

ns_hosts 5
for s in "h4 a 1" "h5 b 2"; do
    set -- $s
    ip netns add "${NS}$2"
    nat_lan "$1" "$2" "$3" "10.$3.0" eth0 random 1
done
cut_off h2 10.99.0.5 # R1 never hears B
cut_off h3 10.99.0.4 # R2 never hears A
cfx_master h1 10.99.0.1
cfx_node R1 h2 red
cfx_node R2 h3 red
cfx_node A a red
cfx_node B b red
for n in R1 R2 A B; do wait_for "$TMP/$n.out" "conflux: tun up"; done
A4=$(ip_of A) B4=$(ip_of B) R14=$(ip_of R1) R24=$(ip_of R2)
wait_for "$TMP/A.out" "conflux: route $B4 via $R14,$R24\$"
wait_for "$TMP/B.out" "conflux: route $A4 via $R24,$R14\$"
ping_until a "$B4"
ping_until b "$A4"
MARKER="veil-two-relays-marker-$$"
ip netns exec "${NS}b" python3 "$NETDIR/tcp_xfer.py" serve "$B4" 8080 >"$TMP/xfer.txt" &
PIDS+=($!)
wait_for "$TMP/xfer.txt" listening
sent=$(in_ns a timeout 60 python3 "$NETDIR/tcp_xfer.py" send "$B4" 8080 1 "$MARKER") ||
    fail "transfer"
wait_for "$TMP/xfer.txt" '^got'
[ "$(grep '^got' "$TMP/xfer.txt" | cut -d' ' -f2-)" = "$(cut -d' ' -f2- <<<"$sent")" ] ||
    fail "transfer: sent $sent, $(cat "$TMP/xfer.txt")"
for n in A B R1 R2; do stop_node "$n"; done
for n in R1 R2; do
    [ "$(stat_of "$n" cells_forwarded)" -ge 1 ] || fail "$n forwarded no cell"
    [ "$(stat_of "$n" cells_delivered)" = 0 ] || fail "$n delivered a relayed packet to itself"
    [ "$(stat_of "$n" relayed_in)" = 0 ] || fail "$n's TUN got relayed packets"
done
[ "$(stat_of B relayed_in)" -ge 700 ] || fail "B's TUN got $(stat_of B relayed_in) relayed packets"
echo "two_relays_netns: ok"
