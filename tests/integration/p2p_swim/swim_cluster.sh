#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# swim_cluster.sh - SWIM over real libp2p connections (owned by the SWIM
# tests): N member processes (swim_node) on loopback inside a network
# namespace this script creates, so ports are private and nftables rules never
# touch the host's. Checks, in order:
#   1. the cluster converges (every member sees N live members);
#   2. a member killed with SIGKILL is declared dead by every other member
#      within the failure-detection bound computed from the parameters;
#   3. the member restarted with the same key rejoins with a higher
#      incarnation and is alive again everywhere;
#   4. with 10% random packet loss (nftables numgen on the cluster's ports)
#      no live member is declared dead for LOSS_SECONDS.
# Processes, the namespace and the temp dir are removed on every exit path.
#
# usage: swim_cluster.sh SWIM_NODE_BIN [N=20] [LOSS_SECONDS=120] [RESULT_JSON]
set -uo pipefail

bin=${1:?usage: swim_cluster.sh SWIM_NODE_BIN [N] [LOSS_SECONDS] [RESULT_JSON]}
n=${2:-20}
loss_seconds=${3:-120}
result_json=${4:-}
port_base=42000
victim=7
ns="veil-swim-$$"
work=$(mktemp -d /tmp/veil-swim.XXXXXX)
declare -a pids=()

cleanup() {
  for p in "${pids[@]}"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  echo "swim_cluster: FAIL: $*" >&2
  for f in "$work"/n*.err; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }
  done
  exit 1
}

now_ms() { date +%s%3N; }

# A run killed outright (SIGKILL) cannot clean up: remove namespaces left by
# runs whose script is gone. Members never outlive max_life seconds either.
for stale in $(ip netns list 2>/dev/null | awk '/^veil-swim-[0-9]+/ {print $1}'); do
  kill -0 "${stale#veil-swim-}" 2>/dev/null || ip netns del "$stale" 2>/dev/null
done
max_life=$((loss_seconds + 300))

ip netns add "$ns" || fail "cannot create network namespace $ns (needs root)"
ip -n "$ns" link set lo up || fail "cannot bring up lo in $ns"
# The members listen on fixed ports that lie inside the kernel's default
# ephemeral range (32768-60999): a member's outgoing connection could take a
# later member's port before it binds ("address already in use"). The range
# is per namespace: move it above the members' ports.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="50000 60999" ||
  fail "cannot set the ephemeral port range in $ns"

start_node() { # index, extra args...
  local i=$1
  shift
  ip netns exec "$ns" "$bin" --exit-after-s "$max_life" --listen "/ip4/127.0.0.1/tcp/$((port_base + i))" --key-index "$i" \
    "$@" >>"$work/n$i.out" 2>>"$work/n$i.err" &
  pids[i]=$!
}

peer_id_of() { awk '/^PEER_ID/{print $2; exit}' "$work/n$1.out"; }
members_of() { awk '/^MEMBERS/{m=$2} END{print m+0}' "$work/n$1.out"; }

wait_for_line() { # file, pattern, timeout seconds
  local deadline=$(($(now_ms) + $3 * 1000))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ "$(now_ms)" -gt "$deadline" ] && return 1
    sleep 0.1
  done
}

# --- 1. start and converge -------------------------------------------------
start_node 0
wait_for_line "$work/n0.out" '^LISTEN' 10 || fail "member 0 did not start"
seed=$(awk '/^LISTEN/{print $2; exit}' "$work/n0.out")
for ((i = 1; i < n; i++)); do
  start_node "$i" --bootstrap "$seed"
done
deadline=$(($(now_ms) + 60000))
while :; do
  converged=1
  for ((i = 0; i < n; i++)); do
    [ "$(members_of "$i")" -eq "$n" ] || { converged=0; break; }
  done
  [ $converged -eq 1 ] && break
  [ "$(now_ms)" -gt "$deadline" ] && fail "cluster did not converge to $n members in 60 s"
  sleep 0.2
done
echo "swim_cluster: $n members converged"

# Steady-state message load: counters of every member 20 s apart.
snapshot() {
  for ((i = 0; i < n; i++)); do kill -USR1 "${pids[i]}"; done
  sleep 0.5
}
snapshot
sleep 20
snapshot
load=$(for ((i = 0; i < n; i++)); do
  awk '/^STATS/ {p1 = p2; b1 = b2; t1 = t2; p2 = $2; b2 = $3; t2 = $6}
       END {printf "%f %f\n", (p2 - p1) / ((t2 - t1) / 1000), (b2 - b1) / ((t2 - t1) / 1000)}' \
    "$work/n$i.out"
done | awk '{p += $1; b += $2} END {printf "%.2f %.1f", p / NR, b / NR}')
read -r msgs_rate bytes_rate <<<"$load"
echo "swim_cluster: steady state: $msgs_rate messages and $bytes_rate bytes sent per member per s"

# --- 2. kill one: dead everywhere within the bound --------------------------
# Bound (see test_p2p_swim_sim.c): each member probes the victim within
# 2(n-1) probe intervals, then its suspicion times out within the Lifeguard
# maximum, 6 x 4 x max(1, log10 n) x 1 s.
bound_ms=$(awk -v n="$n" 'BEGIN { s = log(n) / log(10); if (s < 1) s = 1;
  printf "%d", 2 * (n - 1) * 1000 + 6 * int(4 * s * 1000 + 0.5) }')
victim_id=$(peer_id_of $victim)
sleep 2
kill_ms=$(now_ms)
kill -9 "${pids[victim]}"
wait "${pids[victim]}" 2>/dev/null
pids[victim]=""
deadline=$((kill_ms + bound_ms + 5000))
while :; do
  pending=0
  for ((i = 0; i < n; i++)); do
    [ $i -eq $victim ] && continue
    grep -q "^EVENT dead $victim_id " "$work/n$i.out" || { pending=1; break; }
  done
  [ $pending -eq 0 ] && break
  [ "$(now_ms)" -gt "$deadline" ] && fail "member $i did not declare the victim dead"
  sleep 0.2
done
worst=0
for ((i = 0; i < n; i++)); do
  [ $i -eq $victim ] && continue
  t=$(awk -v id="$victim_id" '$1 == "EVENT" && $2 == "dead" && $3 == id {print $5; exit}' \
    "$work/n$i.out")
  d=$((t - kill_ms))
  [ $d -gt $worst ] && worst=$d
done
[ $worst -le "$bound_ms" ] || fail "detection took $worst ms, bound $bound_ms ms"
echo "swim_cluster: every member declared the killed member dead within $worst ms" \
  "(bound $bound_ms ms)"

# --- 3. restart: alive again with a higher incarnation ----------------------
restart_ms=$(now_ms)
start_node $victim --bootstrap "$seed"
deadline=$((restart_ms + 30000))
while :; do
  pending=0
  for ((i = 0; i < n; i++)); do
    [ $i -eq $victim ] && continue
    awk -v id="$victim_id" -v t0="$restart_ms" \
      '$1 == "EVENT" && $2 == "join" && $3 == id && $4 >= 1 && $5 >= t0 {found = 1}
       END {exit !found}' "$work/n$i.out" || { pending=1; break; }
  done
  [ $pending -eq 0 ] && break
  [ "$(now_ms)" -gt "$deadline" ] && fail "member $i did not see the restarted member rejoin"
  sleep 0.2
done
rejoin_ms=$(($(now_ms) - restart_ms))
echo "swim_cluster: the restarted member is alive again everywhere (higher incarnation)" \
  "after $rejoin_ms ms"
sleep 3

# --- 4. 10% packet loss: no false deaths -----------------------------------
last_port=$((port_base + n - 1))
ip netns exec "$ns" nft -f - <<EOF || fail "cannot install the nftables loss rules"
table inet veil_swim_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport $port_base-$last_port numgen random mod 100 < 10 counter drop
    tcp sport $port_base-$last_port tcp dport != $port_base-$last_port numgen random mod 100 < 10 counter drop
  }
}
EOF
loss_start=$(now_ms)
sleep "$loss_seconds"
loss_end=$(now_ms)
drops=$(ip netns exec "$ns" nft list table inet veil_swim_loss 2>/dev/null |
  awk '/counter packets/ {for (i = 1; i < NF; i++) if ($i == "packets") d += $(i + 1)} END {print d+0}')
ip netns exec "$ns" nft delete table inet veil_swim_loss
false_deaths=0
suspicions=0
for ((i = 0; i < n; i++)); do
  c=$(awk -v t0="$loss_start" '$1 == "EVENT" && $2 == "dead" && $5 >= t0 {c++} END {print c+0}' \
    "$work/n$i.out")
  s=$(awk -v t0="$loss_start" '$1 == "EVENT" && $2 == "suspect" && $5 >= t0 {c++} END {print c+0}' \
    "$work/n$i.out")
  false_deaths=$((false_deaths + c))
  suspicions=$((suspicions + s))
  kill -0 "${pids[i]}" 2>/dev/null || fail "member $i exited during the loss phase"
done
[ "$drops" -gt 0 ] || fail "the loss rules dropped nothing"
[ $false_deaths -eq 0 ] || fail "$false_deaths false death events under 10% loss"
echo "swim_cluster: 10% loss for $(((loss_end - loss_start) / 1000)) s: no member declared dead" \
  "($drops packets dropped, $suspicions suspicion events)"

if [ -n "$result_json" ]; then
  printf '{"bench": "p2p_swim_real", "members": %d, "msgs_per_member_per_s": %s, ' \
    "$n" "$msgs_rate" >"$result_json"
  printf '"bytes_per_member_per_s": %s, "all_dead_ms": %d, "bound_ms": %d, "rejoin_ms": %d, ' \
    "$bytes_rate" "$worst" "$bound_ms" "$rejoin_ms" >>"$result_json"
  printf '"loss_seconds": %d, "loss_packets_dropped": %d, "false_deaths": %d}\n' \
    "$loss_seconds" "$drops" "$false_deaths" >>"$result_json"
fi

# Graceful shutdown: everyone leaves.
for ((i = 0; i < n; i++)); do kill -TERM "${pids[i]}" 2>/dev/null; done
for ((i = 0; i < n; i++)); do wait "${pids[i]}" 2>/dev/null; pids[i]=""; done
echo "swim_cluster: PASS"
