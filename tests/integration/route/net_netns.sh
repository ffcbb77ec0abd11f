#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# net_netns.sh - VeilNet routing with everything at once, in network
# namespaces this script builds (root): a "wan" bridge with four public
# members (M 192.0.2.10, which also runs Master - Debian's nats-server -,
# P1 .11, P2 .12, and T .13 whose taints no one shares) and three NAT
# routers: h1 and h2 behind Linux masquerades (cone), h3 behind a
# masquerade with random ports (symmetric). Every router drops unsolicited
# packets from the wan, as home routers do. Links: delays in user space by
# the sender (route_net_common.c; netem is not in this kernel) and nftables
# loss (numgen: every 5th packet h1 -> h2, every 20th P2 -> h2; counters,
# so the run is repeatable). Each host runs route_net_node (real Anchor
# sessions, topo summaries and path signals over Master); route_net_watch
# checks every message on Master. Checked: NAT classes; every pair of the
# realm reaches the other (h1-h2 by hole punching, h3's pairs with the NATed
# hosts through a relay); h1's selector converges to the best path to h2
# (via P1) and, when P1 is killed mid-transfer, moves to the next (via P2);
# T is refused as relay and gets no cell; relays never see the plaintext
# marker, nor does anything on the wan bridge (dumpcap); Master carries only
# decodable topo/path messages.
#   net_netns.sh          the test (make test)
#   net_netns.sh --bench  the same run, printing only its JSON figures
# Everything is removed on every exit path.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "route_net_netns: needs root (namespaces, nftables)" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "route_net_netns: nats-server missing" >&2; exit 77; }
BENCH=0
[ "${1:-}" = --bench ] && BENCH=1
BUILD=${VEIL_BUILD_DIR:-build}
NODE=$BUILD/tests/integration/route/route_net_node
WATCH=$BUILD/tests/integration/route/route_net_watch
for b in "$NODE" "$WATCH"; do
    [ -x "$b" ] || { echo "route_net_netns: $b not built" >&2; exit 1; }
done
NS=vn$$
source "$(cd "$(dirname "$0")/../net" && pwd)/nat_lib.sh"
TMP=$(mktemp -d)
NSLIST=()
declare -A PID

say() { [ $BENCH = 1 ] || echo "$@"; }

cleanup() {
    for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for n in "${NSLIST[@]}"; do ip netns del "${NS}$n" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

mkns() {
    ip netns add "${NS}$1"
    NSLIST+=("$1")
    ip -n "${NS}$1" link set lo up
}

# wan_port NS ADDR: a veth from namespace NS (named wan) onto the wan bridge
wan_port() {
    ip link add "${NS}w$1" netns "${NS}$1" type veth peer name "p$1" netns "${NS}wan"
    ip -n "${NS}$1" link set "${NS}w$1" name wan
    ip -n "${NS}$1" addr add "$2/24" dev wan
    ip -n "${NS}$1" link set wan up
    ip -n "${NS}wan" link set "p$1" master br0
    ip -n "${NS}wan" link set "p$1" up
}

# nat_site I MODE: router r$I (wan 192.0.2.2$I) and host h$I (10.0.$I.2)
nat_site() {
    local i=$1 mode=$2
    mkns "r$i"
    mkns "h$i"
    wan_port "r$i" "192.0.2.2$i"
    nat_lan "r$i" "h$i" "$i" "10.0.$i" wan "$mode"
}

# loss NS DST EVERY: drop every EVERY-th Anchor packet NS sends to DST
loss() {
    ip netns exec "${NS}$1" nft -f - <<NFT
table ip loss {
    chain out {
        type filter hook output priority 0;
        ip daddr $2 udp dport 5000 numgen inc mod $3 == 0 drop
    }
}
NFT
}

mkns wan
ip -n "${NS}wan" link add br0 type bridge
ip -n "${NS}wan" link set br0 up
for h in M:10 P1:11 P2:12 T:13; do
    mkns "${h%%:*}"
    wan_port "${h%%:*}" "192.0.2.${h##*:}"
done
nat_site 1 ""
nat_site 2 ""
nat_site 3 "random"
loss h1 192.0.2.22 5
loss P2 192.0.2.22 20

# Everything that crosses the wan, captured on its bridge (dumpcap, from tshark)
ip netns exec "${NS}wan" dumpcap -q -i br0 -w "$TMP/wan.pcapng" >"$TMP/dumpcap.log" 2>&1 &
PID[dumpcap]=$!
for _ in $(seq 1 100); do grep -q "Capturing on" "$TMP/dumpcap.log" && break; sleep 0.05; done

# Master: Debian's nats-server in M's namespace, and the watcher beside it
ip netns exec "${NS}M" nats-server -a 0.0.0.0 -p 4222 >"$TMP/nats.log" 2>&1 &
PID[nats]=$!
for _ in $(seq 1 100); do
    ip netns exec "${NS}M" bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222' 2>/dev/null && break
    sleep 0.05
done
ip netns exec "${NS}M" "$WATCH" nats://127.0.0.1:4222 >"$TMP/watch.out" 2>&1 &
PID[watch]=$!
for _ in $(seq 1 100); do grep -q watching "$TMP/watch.out" && break; sleep 0.05; done

URL=nats://192.0.2.10:4222
for n in M P1 P2 T h1 h2 h3; do
    extra=()
    [ $n = h1 ] && extra=("$TMP/kill.pid")
    ip netns exec "${NS}$n" "$NODE" "$n" "$URL" "${extra[@]}" >"$TMP/$n.out" 2>&1 &
    PID[$n]=$!
done

# wait_for FILE PATTERN COUNT SECONDS
wait_for() {
    for _ in $(seq 1 $(($4 * 20))); do
        [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
        sleep 0.05
    done
    return 1
}

fail=0
all="$TMP/all.out"
reach_ok=1
for n in M P1 P2 h1 h2 h3; do
    wait_for "$TMP/$n.out" "^reach-all $n ok" 1 40 || { reach_ok=0; echo "$n: no reach-all" >&2; }
done
# P1 dies once every pair has been reached; h1 kills it when its choice settled
echo "${PID[P1]}" >"$TMP/kill.tmp" && mv "$TMP/kill.tmp" "$TMP/kill.pid"
wait_for "$TMP/h1.out" "^xfer-done" 1 60 || { fail=1; echo "h1: no xfer-done" >&2; }
wait "${PID[P1]}" 2>/dev/null || true
unset 'PID[P1]'
for n in M P2 T h1 h2 h3; do kill -TERM "${PID[$n]}" 2>/dev/null || true; done
for n in M P2 T h1 h2 h3; do
    if ! wait "${PID[$n]}"; then
        fail=1
        echo "$n exited non-zero" >&2
    fi
    unset "PID[$n]"
done
kill -TERM "${PID[watch]}"
wait "${PID[watch]}" || fail=1
unset 'PID[watch]'
kill -TERM "${PID[dumpcap]}"
wait "${PID[dumpcap]}" || true
unset 'PID[dumpcap]'
cat "$TMP"/{M,P1,P2,T,h1,h2,h3}.out "$TMP/watch.out" >"$all"

# check PATTERN WHAT: one line of the run matches
check() {
    if grep -Eq -- "$1" "$all"; then say "ok: $2"; else echo "FAILED: $2" >&2; fail=1; fi
}
[ $reach_ok = 1 ] || fail=1
check '^nat h1 cone ' "h1 behind a cone NAT"
check '^nat h2 cone ' "h2 behind a cone NAT"
check '^nat h3 symmetric ' "h3 behind a symmetric NAT"
for n in M P1 P2; do check "^nat $n none " "$n public"; done
check '^reach h1 h2 via=punch ' "h1 -> h2 by hole punching"
check '^reach h2 h1 via=punch ' "h2 -> h1 by hole punching"
for p in "h3 h1" "h1 h3" "h3 h2" "h2 h3"; do
    check "^reach $p via=relay:(M|P1|P2) " "$p through a relay (symmetric NAT)"
done
check '^candidate T refused' "T (taints not contained) refused as relay"
check '^check converged-to-P1 ok' "converged to the best path (via P1)"
check '^check stayed-on-P1 ok' "stayed on it"
check '^check failover-off-P1 ok' "P1 killed mid-transfer: traffic left it"
check '^check settled-on-P2 ok' "... and settled on the next best path (via P2)"
check '^check xfer-errors ok' "no transfer errors"
check '^carrier (M|P1|P2) forwarded=[1-9]' "the relay fallback's cells went through a carrier (Anchor's cell kind)"
check '^stats T cells_in=0 ' "T received no cell"
check '^stats P2 cells_in=[0-9]+ relayed=[1-9]' "P2 relayed cells"
check '^stats M cells_in=[0-9]+ relayed=[1-9]' "M relayed cells"
if grep -Eq '^stats .* marker_hits=[1-9]' "$all"; then
    echo "FAILED: a relay saw plaintext" >&2
    fail=1
else
    say "ok: no relay saw the plaintext marker"
fi
# on the wire between sites (relays' input and output, Master's TCP) the
# marker every payload carries never appears in clear; Master's subjects,
# which do travel in clear, show that the capture holds payload bytes
cap_bytes=$(stat -c %s "$TMP/wan.pcapng" 2>/dev/null || echo 0)
if grep -aq 'veil\.acme\.topo\.' "$TMP/wan.pcapng" &&
    ! grep -aq VEIL-PLAINTEXT-MARKER "$TMP/wan.pcapng"; then
    say "ok: no plaintext on the wan ($cap_bytes bytes captured)"
else
    echo "FAILED: wan capture ($cap_bytes bytes) empty or with plaintext" >&2
    fail=1
fi
check '^watch topo=[1-9][0-9]* path=[1-9][0-9]* .* bad=0 marker=0' "Master carried only topo/path control messages"
if grep -q 'check .* FAIL' "$all"; then fail=1; fi

json=$(grep '^{"bench":"route_netns"' "$TMP/h1.out" || true)
wl=$(grep '^watch ' "$TMP/watch.out" || true)
bytes=$(sed -n 's/.* bytes=\([0-9]*\) secs=\([0-9.]*\).*/\1 \2/p' <<<"$wl")
ctl=""
reach_ms=$(sed -n 's/^reach-all .* after_ms=\([0-9]*\)/\1/p' "$all" | sort -n | tail -1)
if [ -n "$bytes" ]; then
    ctl=$(awk -v r="${reach_ms:--1}" '{ printf "{\"bench\":\"route_netns_control\",\"all_pairs_reached_ms\":%d,\"master_bytes\":%d,\"secs\":%.1f,\"master_bytes_per_node_s\":%.0f}", r, $1, $2, $1 / $2 / 7 }' <<<"$bytes")
fi
if [ $BENCH = 1 ]; then
    echo "$json"
    echo "$ctl"
else
    [ $fail = 0 ] || cat "$all"
    grep -E '^(nat|reach |candidate|path|check)' "$all" || true
    echo "$json"
    echo "$ctl"
    if [ $fail = 0 ]; then echo "route_net_netns: ok"; else echo "route_net_netns: FAILED"; fi
fi
exit $fail
