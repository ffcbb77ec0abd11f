# SPDX-License-Identifier: Apache-2.0
# tests/integration/chaos/net.sh - the chaos suite's network (owned by the
# chaos suite): one bridge in the root namespace with a private /24, one
# network namespace per node joined to it by a veth pair, and the nftables
# faults (partition, packet loss, chain RPC down) as tables inside the node
# namespaces only, never in the root namespace. Sourced by chaos.sh; every
# name carries the driver's pid so parallel runs do not collide.

NET_BR="vcb$$"
NET_NS_PREFIX="veil-chaos-$$"
NET_PREFIX=""   # 10.213.X (set by net_up)
BR_IP=""
P2P_PORT=4001
API_PORT=7070

ns_of() { echo "$NET_NS_PREFIX-$1"; }
ip_of() { echo "$NET_PREFIX.$((10 + $1))"; }

# net_reap_stale: namespaces and bridges of chaos runs whose driver is gone
# (a run killed with SIGKILL cannot clean up after itself).
net_reap_stale() {
  local ns pid br
  for ns in $(ip netns list 2>/dev/null | awk '/^veil-chaos-[0-9]+-/ {print $1}'); do
    pid=${ns#veil-chaos-}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
  done
  for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep '^vcb[0-9]*$' || true); do
    kill -0 "${br#vcb}" 2>/dev/null || ip link del "$br" 2>/dev/null || true
  done
}

# net_up N: the bridge and N namespaces; a /24 in 10.213.0.0/16 that no
# interface of this machine uses yet.
net_up() {
  local n=$1 i x ns
  for _ in $(seq 1 50); do
    x=$(( (RANDOM % 250) + 1 ))
    ip -4 -o addr show | grep -q " 10\.213\.$x\." || { NET_PREFIX=10.213.$x; break; }
  done
  [ -n "$NET_PREFIX" ] || fail "no free 10.213.X.0/24"
  BR_IP=$NET_PREFIX.1
  ip link add "$NET_BR" type bridge || fail "cannot create bridge $NET_BR (needs root)"
  ip addr add "$BR_IP/24" dev "$NET_BR"
  ip link set "$NET_BR" up
  for i in $(seq 1 "$n"); do
    ns=$(ns_of "$i")
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip link add "vch$$x$i" type veth peer name "vcn$$x$i"
    ip link set "vch$$x$i" master "$NET_BR" up
    ip link set "vcn$$x$i" netns "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "vcn$$x$i" name eth0
    ip -n "$ns" addr add "$(ip_of "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

net_down() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk -v p="$NET_NS_PREFIX-" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$NET_BR" 2>/dev/null || true
}

# in_ns I CMD...: CMD in node I's network namespace only (the mount namespace
# stays the host's, so mounts a node makes are visible to the cleanup).
in_ns() { local i=$1; shift; nsenter --net="/run/netns/$(ns_of "$i")" "$@"; }

nft_in() { # I TABLE RULESET-BODY: (re)creates table inet TABLE in node I's namespace
  local i=$1 t=$2 body=$3
  in_ns "$i" nft delete table inet "$t" 2>/dev/null || true
  printf 'table inet %s {\n%s\n}\n' "$t" "$body" | in_ns "$i" nft -f - \
    || fail "nft $t in node $i"
}
nft_del() { in_ns "$1" nft delete table inet "$2" 2>/dev/null || true; }

# net_partition "A..." "B...": nodes of A and B no longer reach each other
# (the bridge address - API, anvil, registry - stays reachable).
net_partition() {
  local a=$1 b=$2 i j set
  for i in $a; do
    set=$(for j in $b; do printf '%s, ' "$(ip_of "$j")"; done); set=${set%, }
    nft_in "$i" chaos_part "chain in { type filter hook input priority 0; ip saddr { $set } drop; }
chain out { type filter hook output priority 0; ip daddr { $set } drop; }"
  done
  for i in $b; do
    set=$(for j in $a; do printf '%s, ' "$(ip_of "$j")"; done); set=${set%, }
    nft_in "$i" chaos_part "chain in { type filter hook input priority 0; ip saddr { $set } drop; }
chain out { type filter hook output priority 0; ip daddr { $set } drop; }"
  done
}
net_heal() { local i; for i in $1 $2; do nft_del "$i" chaos_part; done; }

# net_loss I PERCENT: random loss of node I's libp2p packets, both ways.
net_loss() {
  local m="numgen random mod 100 < $2 drop"
  nft_in "$1" chaos_loss "chain in { type filter hook input priority 0; tcp dport $P2P_PORT $m; tcp sport $P2P_PORT $m; }
chain out { type filter hook output priority 0; tcp dport $P2P_PORT $m; tcp sport $P2P_PORT $m; }"
}

# net_rpc_down N PORT MODE: every node loses the chain RPC (MODE drop: the
# requests hang; reject: connections are refused at once).
net_rpc_down() {
  local n=$1 port=$2 mode=$3 i verdict=drop
  [ "$mode" = reject ] && verdict="reject with tcp reset"
  for i in $(seq 1 "$n"); do
    nft_in "$i" chaos_rpc "chain out { type filter hook output priority 0; ip daddr $BR_IP tcp dport $port $verdict; }"
  done
}
net_rpc_up() { local i; for i in $(seq 1 "$1"); do nft_del "$i" chaos_rpc; done; }
