#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# conflux_tun_netns.sh - `veil conflux up --tun` (system mode) end to end, in
# network namespaces on one underlay bridge (10.99.0.0/24): h5 runs Master
# (one nats-server from `veil master config`), `veil guardian serve` and a
# census of everything Master carries in realm red (tun_census); A, B, C
# (realm red, h1-h3) enroll with tokens and bring up their TUN interfaces
# with the addresses Guardian assigned (IPv4 from the pool, in the
# certificate; IPv6 from the identity). Checked: pings over IPv4 and IPv6
# between all three, a TCP transfer arriving whole, `veil guardian revoke C`
# ending C's connectivity (polled, bounded), credentials renewed every 4 s
# under it all (the overlay presents each new certificate), X of realm blue - handed A's
# signed record and a route by hand - refused by A (counted, no answer),
# a clean shutdown removing the interface, and Master having carried only
# control subjects and none of the transferred bytes. Prints the time from
# C's start to its first answered ping (docs/BENCHMARKS.md). Needs root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "conflux_tun_netns: needs root (namespaces, TUN)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "conflux_tun_netns: no /dev/net/tun" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "conflux_tun_netns: no nats-server" >&2; exit 1; }
BUILD=${VEIL_BUILD_DIR:?VEIL_BUILD_DIR not set}
HERE=$(cd "$(dirname "$0")" && pwd)
NETDIR="$HERE/../net"
NS="vt$$"
TMP=$(mktemp -d)
source "$NETDIR/netns_lib.sh"
source "$HERE/cfx_tun_lib.sh"
trap cfx_cleanup EXIT
trap "exit 1" INT TERM
ping_ok() { in_ns "$1" python3 "$NETDIR/icmp_ping.py" "$2" 3 0.05 2 >/dev/null || fail "ping $1 -> $2"; }
ping_none() {
    local out
    out=$(in_ns "$1" python3 "$NETDIR/icmp_ping.py" "$2" 2 0.05 0.5 || true)
    [ "$out" = "sent 2 received 0" ] || fail "$1 -> $2 answered: $out"
}

ns_hosts 5
# 6-second credentials: every node renews (make before break) every 4 s
# while the checks below run
cfx_more_realms() { "$VEIL" guardian realm create -d "$G" --pool 10.78.0.0/16 blue >/dev/null; }
cfx_master h5 10.99.0.5 --ttl 6s --cert-ttl 6s

node() { cfx_node "$@"; }

node A h1 red
wait_for "$TMP/A.out" "conflux: tun up"
node B h2 red
wait_for "$TMP/B.out" "conflux: tun up"
[ "$(field A ipv4)" = 10.77.0.1/16 ] || fail "A got $(field A ipv4)"
[ "$(field B ipv4)" = 10.77.0.2/16 ] || fail "B got $(field B ipv4)"
grep -q "inet 10.77.0.1/16" < <(in_ns h1 ip -4 addr show dev veil0) || fail "veil0 of A lacks 10.77.0.1/16"
grep -q "dev veil0" < <(in_ns h1 ip route show 10.77.0.0/16) || fail "no route to the pool via veil0"
grep -q "inet6 $(field A ipv6)/" < <(in_ns h1 ip -6 addr show dev veil0) || fail "veil0 of A lacks its IPv6 address"
mtu=$(in_ns h1 cat /sys/class/net/veil0/mtu)
[ "$mtu" -lt 1500 ] && [ "$mtu" -ge 1280 ] || fail "veil0 MTU $mtu"
start=$(date +%s%N)
node C h3 red
wait_for "$TMP/C.out" "conflux: tun up"
for _ in $(seq 1 200); do
    in_ns h3 python3 "$NETDIR/icmp_ping.py" 10.77.0.1 1 0.05 0.2 >/dev/null 2>&1 && break
done
join_ms=$((($(date +%s%N) - start) / 1000000))
# C's CPU time so far (user + system, clock ticks) next to the wall time
cpu_ms=$(awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$PID_C/stat")
ping_ok h3 10.77.0.1
# the figure (docs/BENCHMARKS.md): C started -> its first answered ping to A,
# enrollment, TUN setup and discovery included; not asserted
printf '{"bench":"conflux_tun_join","join_to_first_ping_ms":%d,"cpu_ms":%d,"loadavg":"%s"}\n' \
    "$join_ms" "$cpu_ms" "$(cut -d' ' -f1 /proc/loadavg)"

# 1. v4 and v6 between all three
ping_ok h1 10.77.0.2
ping_ok h2 10.77.0.3
ping_ok h3 10.77.0.2
for n in A B C; do
    v6=$(field $n ipv6)
    [[ "$v6" == fd* ]] || fail "$n has no overlay IPv6 address ($v6)"
done
ping_ok h1 "$(field B ipv6)"
ping_ok h2 "$(field C ipv6)"
ping_ok h3 "$(field A ipv6)"
# 2. a TCP transfer through the overlay
MARKER="veil-tun-census-marker-$$"
ip netns exec "${NS}h2" python3 "$NETDIR/tcp_xfer.py" serve 10.77.0.2 8080 >"$TMP/xfer.txt" &
PIDS+=($!)
wait_for "$TMP/xfer.txt" listening
sent=$(in_ns h1 python3 "$NETDIR/tcp_xfer.py" send 10.77.0.2 8080 2 "$MARKER") || fail "transfer"
wait_for "$TMP/xfer.txt" '^got'
[ "$(grep '^got' "$TMP/xfer.txt" | cut -d' ' -f2-)" = "$(cut -d' ' -f2- <<<"$sent")" ] ||
    fail "transfer: sent $sent, $(cat "$TMP/xfer.txt")"
# 3. another realm: X (blue) is handed A's signed record and a route, A refuses it
recA=$(awk '$1 == "veil.red.topo.A" && $3 ~ /^565052/ {print $3; exit}' "$TMP/census.txt") # VPR, not VRT
[ -n "$recA" ] || fail "A's record never went over the topology subject"
node X h4 blue --peer-record "$recA"
wait_for "$TMP/X.out" "conflux: tun up"
[ "$(field X ipv4)" = 10.78.0.1/16 ] || fail "X got $(field X ipv4)"
in_ns h4 ip route add 10.77.0.0/16 dev veil0
ping_none h4 10.77.0.1
# 4. revocation: C loses connectivity within a bounded time
gv revoke C >"$TMP/revoke.log" 2>&1 || fail "revoke C: $(cat "$TMP/revoke.log")"
cut_off=0
for _ in $(seq 1 60); do
    if ! in_ns h1 python3 "$NETDIR/icmp_ping.py" 10.77.0.3 1 0.05 0.3 >/dev/null 2>&1; then
        cut_off=1
        break
    fi
    sleep 0.2
done
[ $cut_off = 1 ] || fail "A still reaches C after the revocation"
ping_none h1 10.77.0.3
ping_none h3 10.77.0.1
ping_none h3 10.77.0.2
ping_ok h1 10.77.0.2 # the others keep talking
ping_ok h2 "$(field A ipv6)"
# 5. clean shutdown: exit 0, statistics, the interface removed
stop_node A
stop_node B
! in_ns h1 ip link show veil0 >/dev/null 2>&1 || fail "veil0 still exists after A stopped"
[ "$(stat_of A drop_realm)" -ge 1 ] || fail "A did not refuse X's realm"
[ "$(stat_of A revocations)" -ge 1 ] || fail "A applied no revocation"
[ "$(stat_of A records_applied)" -ge 2 ] || fail "A applied $(stat_of A records_applied) records"
[ "$(stat_of A renewals)" -ge 1 ] || fail "A's overlay never took a renewed certificate"
[ "$(stat_of B renewals)" -ge 1 ] || fail "B's overlay never took a renewed certificate"
# 6. what Master carried in realm red: control subjects only, small, no data
kill -TERM "$CENSUS"
wait "$CENSUS" || true
python3 - "$TMP/census.txt" "$MARKER" <<'PY' || fail "census"
import re, sys
lines = open(sys.argv[1]).read().split("\n")
marker = sys.argv[2].encode().hex()
allowed = re.compile(r"^veil\.red\.(live|health|topo|reply|renew|revoked|cmd)\.[A-Za-z0-9_-]+$|^veil\.red\.inbox\.[A-Za-z0-9_-]+(\..+)?$")
kinds, total = {}, 0
for l in lines:
    if not l:
        continue
    subj, n, data = (l.split(" ") + [""])[:3]
    n = int(n)
    assert allowed.match(subj), "subject outside the control table: " + subj
    assert n <= 16384, "%s carried %d bytes" % (subj, n)
    assert marker not in data, "the transferred data went through Master on " + subj
    k = subj.split(".")[2]
    kinds[k] = kinds.get(k, 0) + 1
    total += n
    if k == "topo": # a signed peer record (VPR) or a routing summary (VRT)
        assert (data.startswith("565052") and n in (119, 131)) or \
            (data.startswith("565254") and n <= 4096), "topology message of %d bytes" % n
assert kinds.get("topo", 0) >= 3 and kinds.get("revoked", 0) >= 1, kinds
print("census: %d messages, %d bytes, %s" % (sum(kinds.values()), total, kinds))
PY
echo "conflux_tun_netns: ok"
