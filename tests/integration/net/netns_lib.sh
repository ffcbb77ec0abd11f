# SPDX-License-Identifier: Apache-2.0
# netns_lib.sh - sourced by the VeilNet namespace tests and the bench:
# builds hosts in network namespaces on one underlay bridge, runs
# overlay_node in them with a command FIFO each, and cleans everything up.
# Needs root. Callers set NS (a short unique prefix) and TMP (a directory).
#   ns_hosts N        hosts ${NS}h1..hN, underlay 10.99.0.i/24 on a bridge in ${NS}br
#   node_start H NAME ARGS...   overlay_node in host H (stdout in $TMP/NAME.out)
#   node_cmd NAME CMD           one command line to the node
#   node_stats NAME             its stats JSON line (waits for it)
#   ns_cleanup                  stops nodes, deletes the namespaces
NODE_PIDS=()

ns_hosts() {
    ip netns add "${NS}br"
    ip -n "${NS}br" link add br0 type bridge
    ip -n "${NS}br" link set br0 up
    for i in $(seq 1 "$1"); do
        ip netns add "${NS}h$i"
        ip link add "${NS}a$i" netns "${NS}h$i" type veth peer name "p$i" netns "${NS}br"
        ip -n "${NS}h$i" link set "${NS}a$i" name eth0
        ip -n "${NS}h$i" addr add "10.99.0.$i/24" dev eth0
        ip -n "${NS}h$i" link set eth0 up
        ip -n "${NS}h$i" link set lo up
        ip -n "${NS}br" link set "p$i" master br0
        ip -n "${NS}br" link set "p$i" up
    done
}

node_start() {
    local host=$1 name=$2
    shift 2
    mkfifo "$TMP/$name.in"
    # held open read-write by this shell, so the node never sees end of input early
    exec {fd}<>"$TMP/$name.in"
    eval "FD_$name=$fd"
    ip netns exec "${NS}$host" "$OVERLAY_NODE" --name "$name" "$@" <"$TMP/$name.in" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    NODE_PIDS+=($!)
    for _ in $(seq 1 100); do
        grep -q '^ready' "$TMP/$name.out" 2>/dev/null && return 0
        kill -0 "${NODE_PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "node $name did not start: $(cat "$TMP/$name.err")" >&2
    return 1
}

node_cmd() {
    echo "$2" >"$TMP/$1.in"
}

node_stats() {
    local before
    before=$(grep -c '^{' "$TMP/$1.out" || true)
    node_cmd "$1" stats
    for _ in $(seq 1 100); do
        [ "$(grep -c '^{' "$TMP/$1.out" || true)" -gt "$before" ] && break
        sleep 0.02
    done
    grep '^{' "$TMP/$1.out" | tail -1
}

# stat NAME FIELD: one counter from a fresh stats line
stat() {
    node_stats "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

ns_cleanup() {
    for p in "${NODE_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${NODE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    NODE_PIDS=()
    for n in $(ip netns list | awk '{print $1}' | grep "^${NS}"); do ip netns del "$n"; done
}
