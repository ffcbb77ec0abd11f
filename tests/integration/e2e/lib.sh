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
  # SIGCONT first: a node a test paused (SIGSTOP) would hold SIGTERM until
  # resumed, and the wait below would then last until ctest's timeout.
  for p in "${NODE_PIDS[@]}"; do
    [ -n "$p" ] && { kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; } || true
  done
  for p in "${NODE_PIDS[@]}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  # E2E_KEEP=DIR keeps the logs and state for a post-mortem.
  if [ -n "${E2E_KEEP:-}" ]; then rm -rf "$E2E_KEEP"; cp -r "$WORK" "$E2E_KEEP"; fi
  cleanup
}
trap e2e_cleanup EXIT

# e2e_with_containers: for suites whose nodes run containers (sources the
# runtime helpers, starts their registry, installs the cleanup): on exit the
# nodes' containers, supervisors and mounts are reaped (rt_reap), then the
# nodes stop (their logs dumped on failure) and the registry goes.
# E2E_PRE_CLEANUP names a function to run first (e.g. to resume a paused
# service).
e2e_with_containers() {
  source "$SRC/tests/integration/runtime/lib.sh"
  rt_setup
  trap e2e_containers_cleanup EXIT
}
e2e_containers_cleanup() {
  local rc=$?
  set +e
  [ -n "${E2E_PRE_CLEANUP:-}" ] && "$E2E_PRE_CLEANUP"
  rt_reap "$WORK"/n*
  (exit $rc)
  e2e_cleanup
  (exit $rc)
  rt_cleanup
}

e2e_dump_logs() {
  local f
  for f in "$WORK"/n*/veild.log; do
    [ -f "$f" ] || continue
    # Debug lines (telemetry, gossip) would fill the tail: first the last
    # info-and-above lines (membership, rounds, errors), then the raw tail.
    echo "----- $f: last lines above debug -----" >&2
    grep -v 'level=debug' "$f" | tail -n "${E2E_LOG_LINES:-60}" >&2
    echo "----- tail of $f -----" >&2
    tail -n 15 "$f" >&2
  done
  echo "----- end of node logs -----" >&2
}

# create_cluster: anvil + `veil cluster init` with anvil keys 1..N as operators.
# Further arguments go to `veil cluster init` (e.g. --allow-image DIGEST);
# E2E_CLUSTER_NAME names the cluster (default e2e).
create_cluster() {
  local n=$1 ops=() i
  shift
  start_anvil
  export VEIL_KEYSTORE_PASSWORD=pw
  for i in $(seq 1 "$n"); do ops+=(--operator "$(addr_for "$i")@org$i"); done
  "$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" \
    --name "${E2E_CLUSTER_NAME:-e2e}" --decryptor "$(addr_for 1)" "${ops[@]}" "$@" --json \
    >"$WORK/init.json" || fail "cluster init: $(cat "$WORK/init.json")"
}

# e2e_busybox: the runtime registry's busybox:1 (after e2e_with_containers),
# its manifest digest in $DIGEST for the policy's allow-list.
e2e_busybox() {
  rt_image_busybox
  DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$RT_REG/busybox:1")
  [[ "$DIGEST" == sha256:* ]] || fail "image digest: $DIGEST"
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
  # the private anvil mines only on demand: an anchor would never get
  # chain.confirmations blocks on top (a test may pass another depth)
  env VEIL_ANCHOR_CONFIRMATIONS=0 "$@" "$VEILD" -c "$WORK/n$i/veild.yaml" -l debug \
    >>"$WORK/n$i/veild.log" 2>&1 &
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

# has_epochs I [N]: node I sees N (default 3) alive members, each with
# telemetry.
has_epochs() {
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const n = Number(process.argv[1]);
    process.exit(rows.length === n && rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);' "${2:-3}"
}

# The lowest (min) or highest (max) last telemetry epoch node $1 holds.
telemetry_epoch_at() {
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8")).map(r => r.last_telemetry_epoch);
    console.log(process.argv[1] === "max" ? Math.max(...rows) : Math.min(...rows));' "$2"
}
telemetry_after() { [ "$(telemetry_epoch_at "$1" min)" -gt "$2" ]; }

# wait_mesh N [SECONDS]: every node 1..N has everyone's telemetry, and node 1
# everyone's of an epoch after the newest one it held then. A job heard now
# evaluates the previous epoch (veil_round_plan_times): without the second
# wait, a node whose first telemetry fell in the current epoch is no
# candidate of the first rounds (nor can it compute its key for them).
wait_mesh() {
  local n=$1 t=${2:-60} i e0
  for i in $(seq 1 "$n"); do wait_for "$t" "node $i has everyone's telemetry" has_epochs "$i" "$n"; done
  e0=$(telemetry_epoch_at 1 max) || fail "no nodes view on node 1"
  wait_for "$t" "everyone's telemetry after epoch $e0 at node 1" telemetry_after 1 "$e0"
}

# ---- placements as each node may see them (hook H4, docs/THREAT_MODEL.md) --
# A node's API shows of its own jobs whether each replica is placed, never
# where (unless it runs the replica itself), and of another member's job only
# the replicas it runs. So the suites read a job's placement from the runners'
# own views (the union over every started node: each claims the rows that name
# it), join them with the submitter's rows (which replica, which epoch,
# placed or not), and check that the submitter's view names no other node.

# views_js: the node program shared by placements_at and views_agree. argv:
# MODE ID SUBPEER SUBROWS SUBSTATUS then PEER ROWS STATUS per node (STATUS
# "" to skip it). Prints the placement (MODE place) or checks the views
# (MODE agree); exits 1 with a reason on stderr when a view shows too much.
replica0_state() { # NODE ID -> replica 0's state in NODE's `job status` (empty if none)
  veil_at "$1" job status "$2" -o json | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log((j.replica_states || []).find(r => r.replica === 0)?.state || "");'
}
replica0_placed() { # NODE ID: replica 0 assigned, running or exited in NODE's view
  [[ "$(replica0_state "$1" "$2")" =~ ^(assigned|running|exited)$ ]]
}
views_js() {
  node -e '
    const [mode, id, subPeer, subRows, subStatus, ...rest] = process.argv.slice(1);
    const die = m => { console.error(m); process.exit(1); };
    const rowsOf = s => JSON.parse(s).filter(r => r.job_id === id);
    const sub = rowsOf(subRows);
    const named = j => [...(j.replica_states || []), ...(j.assignments || [])].map(r => r.node).filter(n => n);
    for (const r of sub)
      if (r.node ? r.node !== subPeer : r.placed !== false && ["signature", "commitment", "output_digest"].some(k => k in r))
        die(`the submitter view of ${id.slice(0, 12)} shows too much: ${JSON.stringify(r)}`);
    if (subStatus) {
      const j = JSON.parse(subStatus);
      // replicas it may see in full: it runs them, or no node was chosen
      const runs = new Set((j.assignments || []).filter(r => r.commitment).map(r => r.replica));
      if (j.view !== "submitter" || !named(j).every(n => n === subPeer) ||
          (j.anchors || []).some(a => a.root !== undefined && !runs.has(a.replica)))
        die(`the submitter job status of ${id.slice(0, 12)} names a node: ${subStatus}`);
    }
    const claim = new Map();
    for (let k = 0; k < rest.length; k += 3) {
      const [peer, rows, status] = rest.slice(k, k + 3);
      for (const r of rowsOf(rows)) {
        if (r.node !== peer && !(peer === subPeer && !r.node))
          die(`node ${peer.slice(-8)} shows a row of ${id.slice(0, 12)} it does not run: ${JSON.stringify(r)}`);
        if (!r.node) continue;
        const key = r.replica + " " + r.epoch;
        if (!sub.some(s => s.replica === r.replica && s.epoch === r.epoch && s.placed !== false))
          die(`node ${peer.slice(-8)} runs ${key} of ${id.slice(0, 12)}, its submitter has no placed row of it`);
        if (claim.has(key) && claim.get(key) !== peer) die(`two nodes run ${key} of ${id.slice(0, 12)}`);
        claim.set(key, peer);
      }
      if (!status || peer === subPeer) continue;
      const j = JSON.parse(status);
      if (!named(j).every(n => n === peer) || !["runner", "none"].includes(j.view))
        die(`node ${peer.slice(-8)}: job status of ${id.slice(0, 12)} names other nodes: ${status}`);
    }
    const latest = new Map();
    for (const r of sub) if (!(latest.get(r.replica)?.epoch >= r.epoch)) latest.set(r.replica, r);
    const out = [];
    for (const rep of [...latest.keys()].sort((a, b) => a - b)) {
      const r = latest.get(rep), key = rep + " " + r.epoch;
      if (r.placed === false) out.push("unschedulable");
      else if (claim.has(key)) out.push(claim.get(key));
      else if (mode === "agree") die(`replica ${key} of ${id.slice(0, 12)} is placed but no node shows it`);
      else break; /* its runner has not recorded it yet: the list ends here */
    }
    if (mode === "place" && out.length) console.log(out.join("\n"));' "$@"
}

# placements_at SUB ID: one line per decided replica of job ID, by replica:
# the node running its latest assignment as that node's own API shows it, or
# "unschedulable" (from the submitter SUB's rows). A placed replica that no
# started node shows yet ends the list, so a wait on its length goes on.
placements_at() {
  local sub=$1 id=$2 i args=()
  for i in "${!NODE_PIDS[@]}"; do
    [ -n "${NODE_PIDS[$i]:-}" ] || continue
    args+=("$(eval echo "\$PEER_$i")" "$(veil_at "$i" get assignments -o json)" "") || return 1
  done
  views_js place "$id" "$(eval echo "\$PEER_$sub")" "$(veil_at "$sub" get assignments -o json)" "" \
    "${args[@]}"
}

# runner_at SUB ID REPLICA: the index I of the started node that runs
# REPLICA's latest assignment of job ID (submitted through SUB); fails when
# none does (unschedulable, or not recorded yet).
runner_at() {
  local peer i
  peer=$(placements_at "$1" "$2" | sed -n "$(($3 + 1))p")
  for i in "${!NODE_PIDS[@]}"; do
    [ "$(eval echo "\$PEER_$i")" = "$peer" ] && { echo "$i"; return 0; }
  done
  return 1
}

# views_agree SUB ID [NODE...]: the views of job ID agree with the rule: the
# submitter SUB's rows and `veil job status` name no node but itself (and no
# signature, commitment or digest of another's replica); every other node
# (NODEs, default every started one) shows only rows naming itself, each one
# a placed row of the submitter's, no row claimed twice, and its job status
# names no node but itself; every placed latest replica is shown by a node.
views_agree() {
  local sub=$1 id=$2 i args=()
  shift 2
  local nodes=("$@")
  [ ${#nodes[@]} -gt 0 ] || nodes=("${!NODE_PIDS[@]}")
  for i in "${nodes[@]}"; do
    [ -n "${NODE_PIDS[$i]:-}" ] || continue
    args+=("$(eval echo "\$PEER_$i")" "$(veil_at "$i" get assignments -o json)" \
           "$(veil_at "$i" job status "$id" -o json)") || return 1
  done
  views_js agree "$id" "$(eval echo "\$PEER_$sub")" "$(veil_at "$sub" get assignments -o json)" \
    "$(veil_at "$sub" job status "$id" -o json)" "${args[@]}"
}
