# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/lib.sh - helpers of the end-to-end suite (owned by the
# veild integration): a private anvil (via the chain tests' helpers), a
# cluster created with `veil cluster init`, nodes joined with `veil node join`
# and run as real veild processes on 127.0.0.1, all stopped on exit.
source "${VEIL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/tests/integration/chain/lib.sh"
VEILD=${VEILD_BIN:-$SRC/build/src/cmd/veild}
NODE_PIDS=()
NODE_MAY_EXIT=()

e2e_cleanup() {
  local rc=$?
  set +e
  local p
  # On a failure, every node's log tail goes to stderr first, so that a flake
  # in CI can be diagnosed from the CI log alone (E2E_LOG_LINES, default 60).
  if [ "$rc" -ne 0 ]; then e2e_dump_logs; fi
  for p in "${NODE_PIDS[@]}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${NODE_PIDS[@]}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  # E2E_KEEP=DIR keeps the logs and state for a post-mortem.
  if [ -n "${E2E_KEEP:-}" ]; then rm -rf "$E2E_KEEP"; cp -r "$WORK" "$E2E_KEEP"; fi
  cleanup
}
trap e2e_cleanup EXIT

e2e_dump_logs() {
  local f
  for f in "$WORK"/n*/veild.log; do
    [ -f "$f" ] || continue
    echo "----- tail of $f -----" >&2
    tail -n "${E2E_LOG_LINES:-60}" "$f" >&2
  done
  echo "----- end of node logs -----" >&2
}

# create_cluster: anvil + `veil cluster init` with anvil keys 1..N as operators.
create_cluster() {
  local n=$1 ops=() i
  start_anvil
  export VEIL_KEYSTORE_PASSWORD=pw
  for i in $(seq 1 "$n"); do ops+=(--operator "$(addr_for "$i")@org$i"); done
  "$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" \
    --name e2e --decryptor "$(addr_for 1)" "${ops[@]}" --json >"$WORK/init.json" \
    || fail "cluster init: $(cat "$WORK/init.json")"
}

# e2e_port: a free port below the kernel's ephemeral range (32768+), so an
# outgoing connection cannot take it between this check and veild's bind -
# and one that no other e2e script running at the same time has picked: its
# node may not have bound it yet (loading the 30 MB server key takes seconds
# under load), and a veild that cannot bind exits, which looked like "timed
# out waiting for telemetry" when two suites ran side by side. Claims are
# "port pid" lines in a shared file, under flock; a dead pid's claims lapse.
E2E_PORTS_FILE=${E2E_PORTS_FILE:-/tmp/veil-e2e-ports}
e2e_port() {
  local p port pid live
  exec 9>>"$E2E_PORTS_FILE.lock"
  flock 9
  live=
  if [ -f "$E2E_PORTS_FILE" ]; then
    live=$(while read -r port pid; do
      if kill -0 "$pid" 2>/dev/null; then echo "$port $pid"; fi
    done <"$E2E_PORTS_FILE")
  fi
  for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % 20000))
    if grep -q "^$p " <<<"$live"; then continue; fi
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
      printf '%s\n%s %s\n' "$live" "$p" "$$" | grep . >"$E2E_PORTS_FILE"
      flock -u 9; exec 9>&-
      echo "$p"; return 0
    fi
  done
  flock -u 9; exec 9>&-
  return 1
}

# join_node I [extra join flags]: node I (anvil key I) joins with free ports.
join_node() {
  local i=$1; shift
  local p2p api
  p2p=$(e2e_port); api=$(e2e_port)
  "$VEIL" node join "$WORK/bundle" -d "$WORK/n$i" --keystore "$(keystore_for "$i")" \
    --listen "/ip4/127.0.0.1/tcp/$p2p" --api-listen "127.0.0.1:$api" \
    --organization "org$i" --announce --json "$@" >"$WORK/join$i.json" \
    || fail "node join $i: $(cat "$WORK/join$i.json")"
  eval "API_$i=127.0.0.1:$api"
  eval "PEER_$i=$(json_get "$(cat "$WORK/join$i.json")" peer_id)"
}

# start_node I [env assignments...]: runs veild for node I in the background
# (a restarted node appends to its log: what it did before stays greppable).
start_node() {
  local i=$1; shift
  # a node told to crash (a test-only fault) may exit: nodes_alive skips it
  NODE_MAY_EXIT[$i]=; [[ " $* " == *TEST_ONLY_ANCHOR_CRASH=* ]] && NODE_MAY_EXIT[$i]=1
  env "$@" "$VEILD" -c "$WORK/n$i/veild.yaml" -l debug >>"$WORK/n$i/veild.log" 2>&1 &
  NODE_PIDS[$i]=$!
}

stop_node() {
  local i=$1
  kill "${NODE_PIDS[$i]}" 2>/dev/null || true
  wait "${NODE_PIDS[$i]}" 2>/dev/null || true
  NODE_PIDS[$i]=
}

# veil_at I ARGS...: the veil CLI against node I's API.
veil_at() {
  local i=$1; shift
  VEIL_CONFIG="$WORK/n$i/veild.yaml" "$VEIL" "$@"
}

# nodes_alive: fails naming the first started node whose veild has exited
# (a bind failure or a crash would otherwise look like a slow mesh).
nodes_alive() {
  local i
  for i in "${!NODE_PIDS[@]}"; do
    [ -n "${NODE_PIDS[$i]}" ] && [ -z "${NODE_MAY_EXIT[$i]:-}" ] || continue
    if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
      fail "veild of node $i (pid ${NODE_PIDS[$i]}) exited: $(tail -n 3 "$WORK/n$i/veild.log")"
    fi
  done
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local t=$1 what=$2; shift 2
  local deadline=$((SECONDS + t))
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    nodes_alive
    sleep 0.5
  done
  fail "timed out after ${t}s waiting for: $what"
}

# ---- placements as each node may see them (hook H4, docs/THREAT_MODEL.md) --
# A node's API shows the placements of its own jobs in full and, of another
# member's job, only the replicas it runs. So the suites read a job's
# placements from its submitter's node, and check every other node's own view
# against it (views_agree).

# asg_rows I ID: node I's assignment rows of job ID, "replica epoch node"
# lines ("unschedulable" for no node), by replica then epoch.
asg_rows() {
  veil_at "$1" get assignments -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8")).filter(r => r.job_id === process.argv[1]);
    rows.sort((a, b) => a.replica - b.replica || a.epoch - b.epoch);
    for (const r of rows) console.log(r.replica, r.epoch, r.node || "unschedulable");' "$2"
}

# placements_at SUB ID: one line per decided replica of job ID, by replica:
# the node of its latest assignment (or "unschedulable"), as the submitter's
# node SUB shows it.
placements_at() {
  asg_rows "$1" "$2" | awk '{ last[$1] = $3 } END { for (r in last) print r, last[r] }' \
    | sort -n | cut -d' ' -f2
}

# views_agree SUB ID [NODE...]: every other started node's own view of job ID
# agrees with its submitter's (SUB): its assignment rows are exactly the
# submitter's rows that name it (the replicas it runs, nothing of the
# others), and its `veil job status` names no node but itself. NODEs default
# to every started node.
views_agree() {
  local sub=$1 id=$2 i args=()
  shift 2
  local nodes=("$@")
  [ ${#nodes[@]} -gt 0 ] || nodes=("${!NODE_PIDS[@]}")
  args+=("$(veil_at "$sub" get assignments -o json)") || return 1
  for i in "${nodes[@]}"; do
    [ "$i" != "$sub" ] && [ -n "${NODE_PIDS[$i]:-}" ] || continue
    args+=("$i" "$(eval echo "\$PEER_$i")" "$(veil_at "$i" get assignments -o json)" \
           "$(veil_at "$i" job status "$id" -o json)") || return 1
  done
  # one node process for all of them: the suites call this for every job
  node -e '
    const [id, subRows, ...rest] = process.argv.slice(1);
    const key = r => [r.replica, r.epoch, r.node || "unschedulable"].join(" ");
    const mine = rows => JSON.parse(rows).filter(r => r.job_id === id).map(key).sort().join("|");
    const all = JSON.parse(subRows).filter(r => r.job_id === id);
    for (let k = 0; k < rest.length; k += 4) {
      const [i, peer, rows, status] = rest.slice(k, k + 4);
      const want = all.filter(r => r.node === peer).map(key).sort().join("|"), got = mine(rows);
      if (got !== want) {
        console.error(`node ${i} shows [${got}] of job ${id.slice(0, 12)}; its share of the submitter view is [${want}]`);
        process.exit(1);
      }
      const j = JSON.parse(status);
      const named = [...(j.replica_states || []), ...(j.assignments || [])].map(r => r.node).filter(n => n);
      if (!named.every(n => n === peer) || !["runner", "none"].includes(j.view)) {
        console.error(`node ${i}: job status of ${id.slice(0, 12)} names other nodes: ${status}`);
        process.exit(1);
      }
    }' "$id" "${args[@]}"
}
