# SPDX-License-Identifier: Apache-2.0
# nat_lib.sh - sourced by the namespace tests that put hosts behind NATs
# (route_nat_netns, route_net_netns, conflux_route_netns). Needs root; the
# caller sets NS (its namespace prefix) and creates both namespaces.
#
# nat_lan R H IDX NET WANIF MODE [FWD]: host namespace ${NS}H behind router
# namespace ${NS}R: a veth pair (${NS}lIDX / ${NS}eIDX) as R's "lan" and H's
# eth0, NET.1/24 on R and NET.2/24 on H (default route via R), forwarding on
# R, an nftables masquerade out of WANIF (MODE "" keeps the source port where
# it can: a cone NAT; "random": a symmetric one), new inbound packets on WANIF
# to R dropped as a home router does, and with FWD=1 new inbound packets
# forwarded through R dropped too (nothing unsolicited reaches H).
nat_lan() {
    local r=$1 h=$2 idx=$3 net=$4 wan=$5 mode=$6 fwd=${7:-0} forward=""
    ip link add "${NS}l$idx" netns "${NS}$r" type veth peer name "${NS}e$idx" netns "${NS}$h"
    ip -n "${NS}$r" link set "${NS}l$idx" name lan
    ip -n "${NS}$r" addr add "$net.1/24" dev lan
    ip -n "${NS}$r" link set lan up
    ip -n "${NS}$h" link set "${NS}e$idx" name eth0
    ip -n "${NS}$h" addr add "$net.2/24" dev eth0
    ip -n "${NS}$h" link set eth0 up
    ip -n "${NS}$h" link set lo up
    ip -n "${NS}$h" route add default via "$net.1"
    ip netns exec "${NS}$r" sysctl -qw net.ipv4.ip_forward=1
    if [ "$fwd" = 1 ]; then
        forward="chain forward { type filter hook forward priority 0; iifname \"$wan\" ct state new drop; }"
    fi
    ip netns exec "${NS}$r" nft -f - <<NFT
table ip nat {
    chain post {
        type nat hook postrouting priority 100;
        oifname "$wan" masquerade $mode
    }
}
table ip filter {
    chain input {
        type filter hook input priority 0;
        iifname "$wan" ct state new drop
    }
    $forward
}
NFT
}
