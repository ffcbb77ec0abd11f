#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_net_tun.sh - one TCP stream (iperf3, receiver side) between two
# network namespaces joined by a veth, in one run: the plain veth, Veil's
# TUN overlay (src/net/overlay*.c through tests/integration/net/overlay_node),
# wireguard-go and nebula (Debian's); plus the median ping round trip over
# each, and the CPU seconds the tunnel processes (both ends) spent per GB
# moved (a figure that holds on a loaded machine). Prints one JSON line per
# path and a summary line. Needs root.
#   bench_net_tun.sh BUILD_DIR [SECONDS per stream, default 5]
set -uo pipefail
BUILD=${1:?build dir}
SECS=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(cd "$HERE/../../tests/integration/net" && pwd)
NODE="$BUILD/tests/integration/net/overlay_node"
NS="vb$$"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "${NS}1" 2>/dev/null; ip netns del "${NS}2" 2>/dev/null
    rm -f "/var/run/wireguard/${NS}w1.sock" "/var/run/wireguard/${NS}w2.sock"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 1" INT TERM
# (tunnel processes are started with ip netns exec directly, never through a
# function, so $! is the process itself: it is measured and killed)
x() { local n=$1; shift; ip netns exec "${NS}$n" "$@"; }

ip netns add "${NS}1"; ip netns add "${NS}2"
ip link add "${NS}e1" netns "${NS}1" type veth peer name "${NS}e2" netns "${NS}2"
for i in 1 2; do
    ip -n "${NS}$i" link set "${NS}e$i" name eth0
    ip -n "${NS}$i" addr add "10.99.0.$i/24" dev eth0
    ip -n "${NS}$i" link set eth0 up
    ip -n "${NS}$i" link set lo up
done

# CPU seconds (user + system, all threads) used so far by the given pids
cpu_of() {
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}

# measure NAME ADDR [TUNNEL PIDS...]: iperf3 from ns 1 to ADDR in ns 2 (the
# tunnel processes' CPU per GB moved, both ends), and 20 pings
measure() {
    local name=$1 addr=$2 rtt gbps out c0 c1 cpu
    shift 2
    x 2 iperf3 -s -1 -B "$addr" >/dev/null 2>&1 &
    local srv=$!
    sleep 0.5
    c0=$(cpu_of "$@")
    out=$(x 1 iperf3 -c "$addr" -t "$SECS" -J 2>/dev/null)
    c1=$(cpu_of "$@")
    gbps=$(python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out" 2>/dev/null || echo null)
    cpu=null
    if [ $# -gt 0 ] && [ "$gbps" != null ]; then
        cpu=$(python3 -c 'import sys,os; c=(int(sys.argv[1])-int(sys.argv[2]))/os.sysconf("SC_CLK_TCK"); print("%.2f" % (c/(float(sys.argv[3])*float(sys.argv[4])/8)))' "$c1" "$c0" "$gbps" "$SECS")
    fi
    wait $srv 2>/dev/null
    rtt=$(x 1 python3 "$T/icmp_ping.py" "$addr" 20 0.02 2>&1 >/dev/null | awk '/rtt_median_ms/ {print $2}')
    echo "{\"bench\": \"net_tun_tcp\", \"path\": \"$name\", \"gbit_s\": $gbps, \"rtt_median_ms\": ${rtt:-null}, \"tunnel_cpu_s_per_gb\": $cpu, \"seconds\": $SECS}"
    eval "R_${name//-/_}=$gbps L_${name//-/_}=${rtt:-0}"
}

measure veth 10.99.0.2

# Veil (each node's input a FIFO held open here, so it runs until killed)
for i in 1 2; do
    j=$((3 - i))
    mkfifo "$TMP/in$i"
    exec {fd}<>"$TMP/in$i"
    ip netns exec "${NS}$i" "$NODE" --name "n$i" --realm bench --taints lab --ip "10.77.0.$i/16" --bind "10.99.0.$i" \
        --port 51820 --ifname veil0 --peer "n$j,10.77.0.$j,10.99.0.$j,51820" \
        <"$TMP/in$i" >"$TMP/n$i.out" 2>&1 &
    PIDS+=($!)
done
for _ in $(seq 1 100); do grep -q ready "$TMP/n2.out" 2>/dev/null && break; sleep 0.05; done
# the first ping waits for the hybrid handshake: its round trip is the
# handshake time over the network plus one round trip
first=$(x 1 python3 "$T/icmp_ping.py" 10.77.0.2 1 0.1 2>&1 >/dev/null | awk '/rtt_median_ms/ {print $2}')
echo "{\"bench\": \"net_tun_first_packet\", \"path\": \"veil\", \"handshake_plus_rtt_ms\": ${first:-null}}"
measure veil 10.77.0.2 "${PIDS[@]}"
offload=$(awk '/^ready/ {print $4}' "$TMP/n1.out")

# wireguard-go: keys from Python's cryptography, configured over its UAPI socket
keys=$(python3 -c '
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey as K
from cryptography.hazmat.primitives import serialization as s
for _ in range(2):
    k = K.generate()
    print(k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()).hex(),
          k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())')
read -r sk1 pk1 sk2 pk2 <<<"$(echo $keys)"
wg_up() { # NS_INDEX SK PEER_PK PEER_INDEX
    local i=$1 dev="${NS}w$1"
    ip netns exec "${NS}$i" env WG_PROCESS_FOREGROUND=1 wireguard-go "$dev" >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do [ -S "/var/run/wireguard/$dev.sock" ] && break; sleep 0.05; done
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(("set=1\nprivate_key=%s\nlisten_port=51821\npublic_key=%s\nendpoint=%s:51821\n"
           "allowed_ip=10.88.0.%s/32\n\n" % tuple(sys.argv[2:6])).encode())
assert b"errno=0" in s.recv(4096)' "/var/run/wireguard/$dev.sock" "$2" "$3" "10.99.0.$4" "$4"
    ip -n "${NS}$i" addr add "10.88.0.$i/24" dev "$dev"
    ip -n "${NS}$i" link set "$dev" up
}
WG0=${#PIDS[@]}
wg_up 1 "$sk1" "$pk2" 2 && wg_up 2 "$sk2" "$pk1" 1 && measure wireguard-go 10.88.0.2 "${PIDS[@]:$WG0}"

# nebula: a CA, two certificates, static hosts, no lighthouse
(cd "$TMP" && nebula-cert ca -name bench -out-crt ca.crt -out-key ca.key >/dev/null &&
    nebula-cert sign -name a -ip 10.66.0.1/24 -ca-crt ca.crt -ca-key ca.key -out-crt 1.crt -out-key 1.key >/dev/null &&
    nebula-cert sign -name b -ip 10.66.0.2/24 -ca-crt ca.crt -ca-key ca.key -out-crt 2.crt -out-key 2.key >/dev/null)
NEB0=${#PIDS[@]}
for i in 1 2; do
    j=$((3 - i))
    cat >"$TMP/neb$i.yml" <<YML
pki: {ca: $TMP/ca.crt, cert: $TMP/$i.crt, key: $TMP/$i.key}
static_host_map: {"10.66.0.$j": ["10.99.0.$j:4242"]}
lighthouse: {am_lighthouse: false, hosts: []}
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
tun: {dev: neb$i, mtu: 1300}
logging: {level: error}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML
    ip netns exec "${NS}$i" nebula -config "$TMP/neb$i.yml" >/dev/null 2>&1 &
    PIDS+=($!)
done
for _ in $(seq 1 100); do ip -n "${NS}2" addr show neb2 2>/dev/null | grep -q 10.66 && break; sleep 0.05; done
x 1 python3 "$T/icmp_ping.py" 10.66.0.2 1 0.1 3 >/dev/null 2>&1 # handshake
measure nebula 10.66.0.2 "${PIDS[@]:$NEB0}"

python3 - "$R_veth" "$R_veil" "$R_wireguard_go" "$R_nebula" "$L_veth" "$L_veil" "$offload" <<'PY'
import json, sys
f = lambda v: None if v == "null" else float(v)
veth, veil, wg, neb, lveth, lveil = map(f, sys.argv[1:7])
print(json.dumps({"bench": "net_tun_summary", "veil_gbit_s": veil,
                  "veil_over_wireguard_go": round(veil / wg, 2) if veil and wg else None,
                  "veil_over_nebula": round(veil / neb, 2) if veil and neb else None,
                  "veil_share_of_veth": round(veil / veth, 3) if veil and veth else None,
                  "latency_added_ms": round(lveil - lveth, 3) if lveil and lveth else None,
                  "tun_offload": sys.argv[7] == "1"}))
PY
