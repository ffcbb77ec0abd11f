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
VEIL=${VEIL_BIN:-$BUILD/src/cmd/veil}
CENSUS_BIN="$BUILD/tests/integration/conflux/tun_census"
HERE=$(cd "$(dirname "$0")" && pwd)
NETDIR="$HERE/../net"
NS="vt$$"
TMP=$(mktemp -d)
source "$NETDIR/netns_lib.sh"
PIDS=()
cleanup() {
    set +e
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ns_cleanup
    [ -n "${VEIL_KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM
fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/*.out "$TMP"/*.err "$TMP"/*.log; do [ -s "$f" ] && echo "== $f" >&2 && tail -20 "$f" >&2; done
    exit 1
}
in_ns() { local h=$1; shift; ip netns exec "${NS}$h" "$@"; }
wait_for() { # FILE TEXT: up to 60 s
    for _ in $(seq 1 600); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    fail "'$2' never appeared in $1"
}
ping_ok() { in_ns "$1" python3 "$NETDIR/icmp_ping.py" "$2" 3 0.05 2 >/dev/null || fail "ping $1 -> $2"; }
ping_none() {
    local out
    out=$(in_ns "$1" python3 "$NETDIR/icmp_ping.py" "$2" 2 0.05 0.5 || true)
    [ "$out" = "sent 2 received 0" ] || fail "$1 -> $2 answered: $out"
}
G="$TMP/g"
gv() { in_ns h5 "$VEIL" guardian "$@" -d "$G"; }

ns_hosts 5
"$VEIL" guardian init -d "$G" >/dev/null
"$VEIL" guardian realm create -d "$G" red >/dev/null
"$VEIL" guardian realm create -d "$G" --pool 10.78.0.0/16 blue >/dev/null
"$VEIL" master config -d "$G" -o "$TMP/master" --clusters 1 --servers 1 --host 10.99.0.5 >/dev/null
URL=$(cat "$G/master.servers")
ip netns exec "${NS}h5" nats-server -c "$TMP/master/c0-s0.conf" >"$TMP/nats.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/nats.log" "Server is ready"
# 6-second credentials: every node renews (make before break) every 4 s
# while the checks below run
ip netns exec "${NS}h5" "$VEIL" guardian serve -d "$G" --ttl 6s --cert-ttl 6s >"$TMP/guardian.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/guardian.log" "guardian: serving"
"$VEIL" guardian issue -d "$G" --realm red --name census --service -o "$TMP/census.creds" >/dev/null
ip netns exec "${NS}h5" "$CENSUS_BIN" "$URL" "$G/ca/root.crt" "$TMP/census.creds" "$TMP/census.txt" \
    >"$TMP/census.log" 2>&1 &
CENSUS=$!
PIDS+=($CENSUS)
wait_for "$TMP/census.log" "census ready"

# node NAME HOST REALM [FLAGS...]: enrolls with a fresh token, brings up veil0
node() {
    local name=$1 host=$2 realm=$3 token
    shift 3
    "$VEIL" guardian cmd -d "$G" --enroll-creds "$TMP/$name.creds" >/dev/null
    token=$("$VEIL" guardian token create -d "$G" --realm "$realm")
    ip netns exec "${NS}$host" "$VEIL" conflux up --dir "$TMP/$name" --name "$name" --nats "$URL" \
        --ca "$G/ca/root.crt" --enroll-creds "$TMP/$name.creds" --token "$token" --beacon 500ms \
        --tun --listen 51820 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=($!)
    eval "PID_$name=$!"
}
field() { grep '^conflux: tun up' "$TMP/$1.out" | sed -E "s/.* $2=([^ ]+).*/\1/"; }

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
recA=$(awk '$1 == "veil.red.topo.A" {print $3; exit}' "$TMP/census.txt")
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
stop_node() {
    local pid_var="PID_$1"
    kill -TERM "${!pid_var}"
    wait "${!pid_var}" || fail "$1 exited $?"
}
stop_node A
stop_node B
! in_ns h1 ip link show veil0 >/dev/null 2>&1 || fail "veil0 still exists after A stopped"
stat_of() { grep '^conflux: tun stats' "$TMP/$1.out" | sed 's/^conflux: tun stats //' |
    python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
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
