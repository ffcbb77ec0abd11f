# SPDX-License-Identifier: Apache-2.0
# route_tun_lib.sh - sourced by the routing tests on `veil conflux up --tun`
# (conflux_route_netns.sh, two_relays_netns.sh) after cfx_tun_lib.sh:
#   ping_until HOST ADDR   one echo answered within 100 tries (0.3 s each), else fail
#   ip_of NAME             NAME's overlay IPv4 (from its "conflux: tun up" line)
ping_until() {
    for _ in $(seq 1 100); do
        in_ns "$1" python3 "$CFX_NETDIR/icmp_ping.py" "$2" 1 0.05 0.3 >/dev/null 2>&1 && return 0
    done
    fail "$1 never reached $2"
}
ip_of() { field "$1" ipv4 | cut -d/ -f1; }
