# SPDX-License-Identifier: Apache-2.0
# tests/integration/guardian/lib.sh - shared helpers of the Guardian/Master
# script tests and benchmarks: tool paths, a private work directory, and a
# Master super cluster (stock nats-server, configs from `veil master config`)
# on free 127.0.0.1 ports, stopped with the work directory on every exit.
#   start_master GUARDIAN_DIR CLUSTERS SERVERS [FLAGS...]
#                        sets CONF, URLS, BASE_PORT; FLAGS go to `veil master
#                        config` (e.g. --client-verify)
#   stop_server c<c>-s<s>                        kills one server
#   url_of c s                                   the client URL of one server
set -euo pipefail
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
BUILD=${VEIL_BUILD_DIR:-$SRC/build}
VEIL=${VEIL_BIN:-$BUILD/src/cmd/veil}
NATSC=${GUARDIAN_NATSC:-$BUILD/tests/integration/guardian/guardian_natsc}
WORK=$(mktemp -d /tmp/veil-guardian-test.XXXXXX)
declare -A MASTER_PIDS=()
CLUSTERS=0
SERVERS=0

stop_master() {
  local name
  for name in "${!MASTER_PIDS[@]}"; do stop_server "$name"; done
}

cleanup() {
  local rc=$?
  stop_master
  if [ $rc -ne 0 ] && [ -d "$WORK" ]; then
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

stop_server() {
  local pid=${MASTER_PIDS[$1]:-}
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  unset "MASTER_PIDS[$1]"
}

# A base port whose 10 * n ports are all free (n servers).
free_base() {
  local n=$1 base p i busy
  for _ in $(seq 1 30); do
    base=$((20000 + (RANDOM % 4000) * 10))
    busy=0
    for i in $(seq 0 $((n - 1))); do
      for p in 0 1 2 3; do
        if (exec 3<>/dev/tcp/127.0.0.1/$((base + 10 * i + p))) 2>/dev/null; then busy=1; fi
      done
    done
    [ $busy -eq 0 ] && { echo "$base"; return 0; }
  done
  return 1
}

url_of() { echo "tls://127.0.0.1:$((BASE_PORT + 10 * ($1 * SERVERS + $2)))"; }
monitor_of() { echo "http://127.0.0.1:$((BASE_PORT + 10 * ($1 * SERVERS + $2) + 3))"; }

# True when server (c, s) has its routes and gateways up.
server_ready() {
  local m routes gws
  m=$(monitor_of "$1" "$2")
  routes=$(curl -sf "$m/routez" 2>/dev/null | grep -o '"num_routes": *[0-9]*' | grep -o '[0-9]*$') || return 1
  # one outbound gateway connection per remote cluster (the only entries
  # with "configured": true; inbound ones vary with the remote's choice)
  gws=$(curl -sf "$m/gatewayz" 2>/dev/null | grep -c '"configured": true') || true
  [ "${routes:-0}" -ge $((SERVERS - 1)) ] && [ "${gws:-0}" -ge $((CLUSTERS - 1)) ]
}

start_servers() {
  local c s name
  for c in $(seq 0 $((CLUSTERS - 1))); do
    for s in $(seq 0 $((SERVERS - 1))); do
      name=c$c-s$s
      nats-server -c "$CONF/$name.conf" >"$WORK/$name.log" 2>&1 &
      MASTER_PIDS[$name]=$!
    done
  done
}

wait_ready() {
  local deadline=$((SECONDS + 30)) c s all
  while [ $SECONDS -lt $deadline ]; do
    all=1
    for c in $(seq 0 $((CLUSTERS - 1))); do
      for s in $(seq 0 $((SERVERS - 1))); do
        server_ready "$c" "$s" || all=0
      done
    done
    [ $all -eq 1 ] && return 0
    sleep 0.2
  done
  return 1
}

start_master() {
  local gdir=$1
  CLUSTERS=$2
  SERVERS=$3
  shift 3
  CONF=$WORK/master
  for _attempt in 1 2 3; do
    BASE_PORT=$(free_base $((CLUSTERS * SERVERS))) || fail "no free ports"
    "$VEIL" master config -d "$gdir" -o "$CONF" --clusters "$CLUSTERS" --servers "$SERVERS" \
      --base-port "$BASE_PORT" "$@" >/dev/null
    URLS=$(cat "$CONF/servers.txt")
    start_servers
    wait_ready && return 0
    stop_master
  done
  fail "Master did not come up"
}

# wait_line FILE PATTERN [SECONDS]: waits until FILE has a line matching PATTERN.
wait_line() {
  local deadline=$((SECONDS + ${3:-10}))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}
