# SPDX-License-Identifier: Apache-2.0
# cfx_tun_lib.sh - sourced by the `veil conflux up --tun` namespace tests
# (conflux_tun_netns.sh, conflux_route_netns.sh): a Master (one nats-server
# from `veil master config`), `veil guardian serve` and a census of realm
# red in one namespace, nodes enrolled with fresh tokens, and cleanup of
# everything on every exit path. Callers set NS, TMP, BUILD and source
# ../net/netns_lib.sh first (ns_hosts, ns_cleanup).
#   cfx_master HOST IP [SERVE FLAGS...]  Guardian init, realm red (and the caller's
#                                        cfx_more_realms), Master, serve, census
#   cfx_node NAME HOST REALM [FLAGS...]  `veil conflux up --tun` (PID_<NAME>)
#   wait_for FILE TEXT                   up to 60 s, else fail
#   field NAME KEY                       from NAME's "conflux: tun up" line
#   stat_of NAME KEY                     from NAME's "conflux: tun stats" line
VEIL=${VEIL_BIN:-$BUILD/src/cmd/veil}
CENSUS_BIN="$BUILD/tests/integration/conflux/tun_census"
CFX_NETDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../net"
G="$TMP/g"
PIDS=()
cfx_cleanup() {
    set +e
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ns_cleanup
    [ -n "${VEIL_KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
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
gv() { in_ns "$CFX_HOST" "$VEIL" guardian "$@" -d "$G"; }

cfx_master() {
    CFX_HOST=$1
    local ip=$2
    shift 2
    "$VEIL" guardian init -d "$G" >/dev/null
    "$VEIL" guardian realm create -d "$G" red >/dev/null
    ! declare -F cfx_more_realms >/dev/null || cfx_more_realms # the caller's, before serving
    "$VEIL" master config -d "$G" -o "$TMP/master" --clusters 1 --servers 1 --host "$ip" >/dev/null
    URL=$(cat "$G/master.servers")
    ip netns exec "${NS}$CFX_HOST" nats-server -c "$TMP/master/c0-s0.conf" >"$TMP/nats.log" 2>&1 &
    PIDS+=($!)
    wait_for "$TMP/nats.log" "Server is ready"
    ip netns exec "${NS}$CFX_HOST" "$VEIL" guardian serve -d "$G" "$@" >"$TMP/guardian.log" 2>&1 &
    PIDS+=($!)
    wait_for "$TMP/guardian.log" "guardian: serving"
    "$VEIL" guardian issue -d "$G" --realm red --name census --service -o "$TMP/census.creds" >/dev/null
    ip netns exec "${NS}$CFX_HOST" "$CENSUS_BIN" "$URL" "$G/ca/root.crt" "$TMP/census.creds" \
        "$TMP/census.txt" >"$TMP/census.log" 2>&1 &
    CENSUS=$!
    PIDS+=($CENSUS)
    wait_for "$TMP/census.log" "census ready"
}

cfx_node() {
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
stat_of() { grep '^conflux: tun stats' "$TMP/$1.out" | sed 's/^conflux: tun stats //' |
    python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
stop_node() {
    local pid_var="PID_$1"
    kill -TERM "${!pid_var}"
    wait "${!pid_var}" || fail "$1 exited $?"
}
