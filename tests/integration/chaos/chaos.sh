#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chaos/chaos.sh - the seeded chaos suite (owned by the chaos
# suite; issue 18). A cluster of CHAOS_NODES (5) veild nodes, each in its own
# network namespace on a private bridge, with anvil (1 s blocks) and an OCI
# registry on the bridge address, runs jobs submitted continuously while a
# seeded schedule of faults (schedule.py: a pure function of the seed) kills
# and restarts nodes (schedulers and the decryptor mid-round among them),
# pauses them past SWIM's suspicion timeout, partitions the network, drops
# packets, takes the chain RPC away, reorganizes the chain and fills one
# node's disk. Then every fault is healed and the invariants (invariants.py)
# are checked and printed: every job placed or explicitly failed, one running
# container per replica on the whole cluster, no job lost across restarts,
# every anchor on chain matches an assignment and none is anchored twice, and
# the privacy scan finds nothing.
#
#   chaos.sh SECONDS SEED        (env: VEIL_BIN, VEILD_BIN, CHAOS_NODES,
#                                 CHAOS_SETTLE (s), CHAOS_SETTLE_MAX (s:
#                                 past CHAOS_SETTLE while the queues
#                                 drain; 3 x CHAOS_SETTLE for runs of 600 s
#                                 and more), CHAOS_OUT=DIR keeps
#                                 everything there: logs, schedule, results)
#
# The seed is printed first; `chaos.sh SECONDS SEED` with the same values
# replays the same schedule. Must run as root (namespaces, nftables, runc).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${VEIL_SOURCE_DIR:-$(cd "$HERE/../../.." && pwd)}
CHAOS_SECONDS=${1:-${CHAOS_SECONDS:-90}}
CHAOS_SEED=${2:-${CHAOS_SEED:-$(( $(date +%s) % 100000 ))}}
N=${CHAOS_NODES:-5}
SETTLE=${CHAOS_SETTLE:-300}
# a long run's backlog may drain past SETTLE (see the settle loop)
SETTLE_MAX=${CHAOS_SETTLE_MAX:-$(( CHAOS_SECONDS >= 600 ? 3 * SETTLE : SETTLE ))}
echo "chaos: seed=$CHAOS_SEED seconds=$CHAOS_SECONDS nodes=$N (replay: chaos.sh $CHAOS_SECONDS $CHAOS_SEED)"

BIN_DIR=$SRC/tools/npm/node_modules/.bin
ANVIL=$BIN_DIR/anvil
CAST=$BIN_DIR/cast
VEIL=${VEIL_BIN:-$SRC/build/src/cmd/veil}
VEILD=${VEILD_BIN:-$SRC/build/src/cmd/veild}
WORK=$(mktemp -d /tmp/veil-chaos.XXXXXX)
ANVIL_PID= REG_PID=
NODE_PIDS=()
PAUSED=()

fail() { echo "chaos: FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
log() { printf 'chaos: [%6.1fs] %s\n' "$(elapsed)" "$*"; }
T0_MS=$(date +%s%3N)
elapsed() { echo "scale=1; ($(date +%s%3N) - $T0_MS) / 1000" | bc; }

source "$HERE/net.sh"
# anvil's dev keys (mnemonic "test test ... junk"): 0 founds the cluster, I runs node I
ANVIL_KEYS=(
  0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
  0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
  0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
  0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
  0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
  0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
  0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
  0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356
)
[ "$N" -ge 3 ] && [ "$N" -lt "${#ANVIL_KEYS[@]}" ] || fail "CHAOS_NODES must be 3..$(( ${#ANVIL_KEYS[@]} - 1 ))"
for tool in "$ANVIL" "$CAST" "$VEIL" "$VEILD" docker-registry umoci skopeo runc busybox nft nsenter python3 node bc; do
  command -v "$tool" >/dev/null || fail "missing tool: $tool"
done
addr_for() { "$CAST" wallet address --private-key "${ANVIL_KEYS[$1]}"; }
keystore_for() {
  local i=$1 dir=$WORK/keystores
  mkdir -p "$dir"
  [ -f "$dir/k$i" ] || "$CAST" wallet import "k$i" -k "$dir" --private-key "${ANVIL_KEYS[$i]}" \
    --unsafe-password pw >/dev/null
  echo "$dir/k$i"
}

cleanup() {
  local rc=$? i p root st sp
  set +e
  [ "$rc" -ne 0 ] && dump_logs
  for i in "${!NODE_PIDS[@]}"; do
    p=${NODE_PIDS[$i]}; [ -n "$p" ] || continue
    kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  # a veild orphaned by a failed kill still names its data dir: ours only
  for p in $(grep -l "$WORK/n" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    grep -q veild "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p" 2>/dev/null
  done
  for root in "$WORK"/n*/runc; do
    [ -d "$root" ] || continue
    for id in $(runc --root "$root" list -q 2>/dev/null); do runc --root "$root" delete -f "$id" >/dev/null 2>&1; done
  done
  for st in "$WORK"/n*/containers/*/state.json; do
    [ -f "$st" ] || continue
    sp=$(sed -n 's/.*"supervisor_pid": *\([0-9][0-9]*\).*/\1/p' "$st")
    # a supervisor is a fork of its node's veild (-c $WORK/nI/veild.yaml); a pid
    # reused since by another veil process (a test beside this run) is left alone
    if [ -n "$sp" ] && [ "$sp" -gt 1 ] && grep -qaF -- "$WORK/n" "/proc/$sp/cmdline" 2>/dev/null; then kill -9 "$sp"; fi
  done
  for p in $ANVIL_PID $REG_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "${CHAOS_OUT:-}" ]; then # before the unmounts: the disk node's dir is a tmpfs
    mkdir -p "$CHAOS_OUT"
    tar -C "$WORK" -cf - --exclude=keystores --exclude=bundle --exclude='*.key' \
      --exclude=blobs --exclude=registry --exclude=oci --exclude=rootfs --exclude=runc --exclude=store \
      --exclude=upper --exclude=work . \
      2>/dev/null | tar -C "$CHAOS_OUT" -xf - 2>/dev/null
    echo "chaos: kept in $CHAOS_OUT"
  fi
  grep " $WORK/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
  net_down
  rm -rf "$WORK"
  [ "$rc" -ne 0 ] && echo "chaos: seed=$CHAOS_SEED failed; replay: chaos.sh $CHAOS_SECONDS $CHAOS_SEED" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

dump_logs() {
  local f
  for f in "$WORK"/n*/veild.log; do
    [ -f "$f" ] || continue
    echo "----- tail of $f -----" >&2
    grep -v 'msg="config"' "$f" | tail -n "${CHAOS_LOG_LINES:-25}" >&2
  done
}

# --- the schedule --------------------------------------------------------------
python3 "$HERE/schedule.py" "$CHAOS_SEED" "$CHAOS_SECONDS" "$N" >"$WORK/schedule.json" \
  || fail "schedule.py"
DISK_NODE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disk_node"])' "$WORK/schedule.json")
python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
fs = ["%s@%ss%s" % (f["kind"], f["t"], "(n%s)" % ",".join(map(str, f.get("nodes", []))) if f.get("nodes") else "") for f in s["faults"]]
kinds = {}
for f in s["faults"]: kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
print("chaos: %d faults (%s): %s%s" % (len(fs), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
      ", ".join(fs[:16]), ", ..." if len(fs) > 16 else ""))
print("chaos: %d jobs, disk node %d" % (len(s["jobs"]), s["disk_node"]))' "$WORK/schedule.json"

# --- network, chain, registry ---------------------------------------------------
net_reap_stale
net_up "$N"
ok "bridge $NET_BR $BR_IP/24, namespaces $(ns_of 1)..$(ns_of "$N")"

ANVIL_PORT=
for _ in 1 2 3; do
  ANVIL_PORT=$((20000 + RANDOM % 20000))
  "$ANVIL" --host "$BR_IP" --port "$ANVIL_PORT" --block-time 1 --silent >"$WORK/anvil.log" 2>&1 &
  ANVIL_PID=$!
  RPC=http://$BR_IP:$ANVIL_PORT
  for _ in $(seq 1 300); do
    "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break
    kill -0 "$ANVIL_PID" 2>/dev/null || break
    sleep 0.2
  done
  "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break
  kill "$ANVIL_PID" 2>/dev/null; wait "$ANVIL_PID" 2>/dev/null || true; ANVIL_PID=
done
[ -n "$ANVIL_PID" ] || fail "anvil did not start"
REG=$BR_IP:$((40000 + RANDOM % 10000))
mkdir -p "$WORK/registry" "$WORK/scan" # scan: what the privacy scan reads, never on the full-disk node's tmpfs
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
  "$WORK/registry" "$REG" >"$WORK/registry.yml"
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 100); do curl -fs "http://$REG/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://$REG/v2/" >/dev/null || fail "registry did not start: $(cat "$WORK/registry.log")"
rootfs=$WORK/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
cp /usr/bin/busybox "$rootfs/bin/busybox"
for a in sh sleep true echo; do ln -sf busybox "$rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
umoci init --layout "$WORK/oci" && umoci new --image "$WORK/oci:1" \
  && umoci insert --image "$WORK/oci:1" "$rootfs" / >/dev/null \
  && umoci config --image "$WORK/oci:1" --config.cmd /bin/sh --config.env PATH=/bin --os linux --architecture amd64 \
  || fail "umoci"
skopeo copy -q --dest-tls-verify=false "oci:$WORK/oci:1" "docker://$REG/busybox:1" >/dev/null || fail "skopeo push"
DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/busybox:1")
ok "anvil $RPC (1 s blocks), registry $REG with busybox@$DIGEST"

# --- the cluster ----------------------------------------------------------------
export VEIL_KEYSTORE_PASSWORD=pw
ops=()
for i in $(seq 1 "$N"); do ops+=(--operator "$(addr_for "$i")@org$i"); done
"$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" --name chaos \
  --decryptor "$(addr_for 1)" --allow-image "$DIGEST" "${ops[@]}" --json >"$WORK/init.json" \
  || fail "cluster init: $(cat "$WORK/init.json")"
CONTRACT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["contract"])' "$WORK/init.json")
CAPS=("")
for i in $(seq 1 "$N"); do CAPS+=("cpu=$((1000 + 500 * i))m,memory=$((1 + i))Gi,disk=20Gi,gpu=0"); done
for i in $(seq 1 "$N"); do
  mkdir -p "$WORK/n$i"
  # the full-disk node's data dir is a small tmpfs (sized after the join)
  [ "$i" = "$DISK_NODE" ] && mount -t tmpfs -o size=512m chaos-disk "$WORK/n$i"
  extra=(); [ "$i" = 1 ] && extra=(--client-key "$WORK/bundle/decryptor/client.key")
  "$VEIL" node join "$WORK/bundle" -d "$WORK/n$i" --keystore "$(keystore_for "$i")" \
    --listen "/ip4/$(ip_of "$i")/tcp/$P2P_PORT" --api-listen "127.0.0.1:$API_PORT" \
    --organization "org$i" --announce --json "${extra[@]}" >"$WORK/join$i.json" \
    || fail "node join $i: $(cat "$WORK/join$i.json")"
  eval "PEER_$i=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peer_id"])' "$WORK/join$i.json")"
done
used_kb=$(df -k --output=used "$WORK/n$DISK_NODE" | tail -1)
mount -o remount,size=$(( used_kb / 1024 + 96 ))m "$WORK/n$DISK_NODE"
ok "cluster $CONTRACT, $N nodes joined; node $DISK_NODE's data dir on a $(( used_kb / 1024 + 96 )) MiB tmpfs"

start_node() {
  local i=$1
  # nsenter execs env, which execs veild: $! is veild itself (kill -9, SIGSTOP)
  nsenter --net="/run/netns/$(ns_of "$i")" env VEIL_THREADS=1 VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    "VEIL_TEST_ONLY_GOSSIP_DUMP=$WORK/scan/n$i.gossip.hex" VEIL_INSECURE_REGISTRIES="$REG" \
    VEIL_ANCHOR_BATCH_INTERVAL=10s VEIL_ANCHOR_BATCH_DELAY=4s \
    "$VEILD" -c "$WORK/n$i/veild.yaml" -l debug >>"$WORK/n$i/veild.log" 2>&1 &
  NODE_PIDS[$i]=$!
  echo "$(elapsed) start $i pid ${NODE_PIDS[$i]}" >>"$WORK/events.log"
}
# the local API binds to 127.0.0.1 only: the CLI runs in the node's namespace
veil_at() { local i=$1; shift; in_ns "$i" env VEIL_CONFIG="$WORK/n$i/veild.yaml" timeout 20 "$VEIL" "$@"; }
for i in $(seq 1 "$N"); do start_node "$i"; done
mesh_ready() {
  veil_at "$1" get nodes -o json | N=$N node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === +process.env.N && rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);'
}
deadline=$((SECONDS + 180))
for i in $(seq 1 "$N"); do
  until mesh_ready "$i" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "node $i never saw every node's telemetry"
    kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || fail "veild $i exited: $(tail -3 "$WORK/n$i/veild.log")"
    sleep 1
  done
done
ok "mesh up: $N nodes see each other's telemetry"

# --- the storm --------------------------------------------------------------------
jobfile() { # NAME KIND REPLICAS -> $WORK/jobs/NAME.yaml
  local cmd cpu=100m
  mkdir -p "$WORK/jobs"
  case $2 in
    long) cmd='[/bin/sleep, "100000"]' ;;
    short) cmd='[/bin/sh, -c, "echo chaos; sleep 1"]' ;;
    unschedulable) cmd='[/bin/true]'; cpu=64 ;;
  esac
  printf 'name: %s\nimage: %s/busybox@%s\ncommand: %s\nresources: {cpu: %s, memory: 16Mi}\nreplicas: %s\npolicy: spread\n' \
    "$1" "$REG" "$DIGEST" "$cmd" "$cpu" "$3" >"$WORK/jobs/$1.yaml"
}
submit() { # NAME NODE: in the background, the outcome appended to submitted.txt
  local name=$1 i=$2 kind reps out rc=0
  read -r kind reps < <(python3 -c 'import json,sys
j = [x for x in json.load(open(sys.argv[1]))["jobs"] if x["name"] == sys.argv[2]][0]
print(j["kind"], j["replicas"])' "$WORK/schedule.json" "$name")
  jobfile "$name" "$kind" "$reps"
  (
    out=$(veil_at "$i" job run "$WORK/jobs/$name.yaml" 2>&1) || rc=$?
    echo "$name $i $kind $reps $rc $(echo "$out" | awk 'NR==1{print $2}')" >>"$WORK/submitted.txt"
    echo "$(elapsed) submit $name on $i rc=$rc: $out" >>"$WORK/events.log"
  ) &
}
do_action() { # one line of the schedule: T DO ARGS...
  local what=$2 a=$3 b=$4
  log "$what $a $b"
  echo "$(elapsed) $what $a $b" >>"$WORK/events.log"
  case $what in
    submit) submit "$a" "$b" ;;
    kill) kill -9 "${NODE_PIDS[$a]}" 2>/dev/null || true; wait "${NODE_PIDS[$a]}" 2>/dev/null || true
          NODE_PIDS[$a]= ;;
    start) [ -z "${NODE_PIDS[$a]}" ] && start_node "$a" ;;
    stop) kill -STOP "${NODE_PIDS[$a]}" 2>/dev/null || true; PAUSED[$a]=1 ;;
    cont) kill -CONT "${NODE_PIDS[$a]}" 2>/dev/null || true; PAUSED[$a]= ;;
    partition) net_partition "${a//,/ }" "${b//,/ }" ;;
    heal) net_heal "${a//,/ }" "${b//,/ }" ;;
    loss) net_loss "$a" "$b" ;;
    unloss) nft_del "$a" chaos_loss ;;
    rpc_down) net_rpc_down "$N" "$ANVIL_PORT" "$a" ;;
    rpc_up) net_rpc_up "$N" ;;
    reorg) echo "$(elapsed) reorg depth $a at block $("$CAST" block-number --rpc-url "$RPC")" >>"$WORK/events.log"
           "$CAST" rpc anvil_reorg "$a" '[]' --rpc-url "$RPC" >>"$WORK/events.log" 2>&1 \
             || fail "anvil_reorg $a" ;;
    disk_fill) dd if=/dev/zero of="$WORK/n$a/chaos-fill" bs=1M status=none 2>/dev/null || true
               echo "$(elapsed) disk of node $a: $(df -h --output=avail "$WORK/n$a" | tail -1) left" >>"$WORK/events.log" ;;
    disk_free) rm -f "$WORK/n$a/chaos-fill" ;;
    *) fail "unknown action $what" ;;
  esac
}
python3 -c 'import json,sys
for a in json.load(open(sys.argv[1]))["actions"]:
    x = a.get("job") or a.get("node") or ",".join(map(str, a.get("nodes", []))) or a.get("mode") or a.get("depth") or "-"
    y = a.get("node") if "job" in a else a.get("percent") or ",".join(map(str, a.get("other", []))) or "-"
    if a["do"] in ("rpc_down",): x = a["mode"]
    if a["do"] == "reorg": x = a["depth"]
    print(a["t"], a["do"], x, y)' "$WORK/schedule.json" >"$WORK/actions.txt"
# reaped I: node I's veild died by itself (not killed by the schedule): its
# exit status goes to crashes.txt and it is restarted, as a supervisor would
reap_crashed() {
  local i=$1 p=${NODE_PIDS[$1]:-} st=0 sig=""
  [ -n "$p" ] && [ -z "${PAUSED[$i]:-}" ] && ! kill -0 "$p" 2>/dev/null || return 0
  wait "$p" 2>/dev/null || st=$?
  [ "$st" -gt 128 ] && sig=" = SIG$(kill -l $((st - 128)) 2>/dev/null)"
  echo "veild $i (pid $p) died by itself at ${2:-?}, exit status $st$sig; its last log line: $(tail -1 "$WORK/n$i/veild.log" | cut -c1-220)" >>"$WORK/crashes.txt"
  log "node $i died by itself (status $st$sig): restarted"
  NODE_PIDS[$i]=
  start_node "$i"
}
START_MS=$(date +%s%3N)
while read -r t what a b <&3; do
  now=$(( $(date +%s%3N) - START_MS ))
  due=$(echo "$t * 1000 / 1" | bc)
  [ "$due" -gt "$now" ] && sleep "$(echo "scale=3; ($due - $now) / 1000" | bc)"
  do_action "$t" "$what" "$a" "$b"
  for i in $(seq 1 "$N"); do reap_crashed "$i" "t=${t}s"; done
done 3<"$WORK/actions.txt"
rest=$(( CHAOS_SECONDS * 1000 - ($(date +%s%3N) - START_MS) ))
[ "$rest" -gt 0 ] && sleep "$(echo "scale=3; $rest / 1000" | bc)"
wait_submissions() { local p; for p in $(jobs -p); do case " ${NODE_PIDS[*]} $ANVIL_PID $REG_PID " in *" $p "*) ;; *) wait "$p" || true ;; esac; done; }

# --- heal everything, let the cluster settle -------------------------------------------
log "storm over: healing every fault"
for i in $(seq 1 "$N"); do
  [ -n "${PAUSED[$i]:-}" ] && { kill -CONT "${NODE_PIDS[$i]}" 2>/dev/null || true; PAUSED[$i]=; }
  reap_crashed "$i" "the end of the storm"
  [ -z "${NODE_PIDS[$i]:-}" ] && start_node "$i"
  for t in chaos_part chaos_loss chaos_rpc; do nft_del "$i" "$t"; done
done
rm -f "$WORK/n$DISK_NODE/chaos-fill"
wait_submissions
ok "$(wc -l <"$WORK/submitted.txt") submissions made ($(awk '$5 == 0' "$WORK/submitted.txt" | wc -l) accepted), faults healed"

# collect: every node's API answers, runc's view of every node, the chain
collect() {
  local i d=$WORK/collect
  rm -rf "$d"; mkdir -p "$d"
  for i in $(seq 1 "$N"); do
    for w in jobs assignments anchors nodes; do
      veil_at "$i" get "$w" -o json >"$d/n$i.$w.json" 2>"$d/n$i.$w.err" || echo null >"$d/n$i.$w.json"
    done
    awk '$5 == 0 {print $6}' "$WORK/submitted.txt" | while read -r id; do
      veil_at "$i" job status "$id" -o json 2>/dev/null || echo null
    done | node -e 'const t = require("fs").readFileSync(0, "utf8");
      const out = []; let depth = 0, start = -1, str = false, esc = false;
      for (let k = 0; k < t.length; k++) { const c = t[k];
        if (str) { if (esc) esc = false; else if (c === "\\") esc = true; else if (c === "\"") str = false; continue; }
        if (c === "\"") str = true; else if (c === "{") { if (!depth++) start = k; }
        else if (c === "}" && !--depth) out.push(JSON.parse(t.slice(start, k + 1))); }
      console.log(JSON.stringify(out));' >"$d/n$i.status.json"
    runc --root "$WORK/n$i/runc" list -f json 2>/dev/null | grep . >"$d/n$i.runc.json" || echo '[]' >"$d/n$i.runc.json"
  done
  "$VEIL" chain events --rpc "$RPC" --contract "$CONTRACT" --cluster 1 --confirmations 0 -o json \
    >"$d/events.json" 2>"$d/events.err" || true
}
check() { # [--final]
  python3 "$HERE/invariants.py" --work "$WORK" --nodes "$N" --rpc "$RPC" --contract "$CONTRACT" \
    --cast "$CAST" "$@"
}
# settling is watched on the jobs lists alone (one API call per node)
collect_jobs() {
  local i d=$WORK/collect
  mkdir -p "$d"
  for i in $(seq 1 "$N"); do veil_at "$i" get jobs -o json >"$d/n$i.jobs.json" 2>/dev/null || echo null >"$d/n$i.jobs.json"; done
}
# Past SETTLE the wait goes on while the queues drain (fewer unsettled
# (node, job) pairs than 120 s before), up to SETTLE_MAX: a backlog of rounds
# behind the admission bound is work in progress, a stuck one is a finding.
settle_start=$SECONDS
settle_deadline=$((SECONDS + SETTLE))
settle_cap=$((SECONDS + SETTLE_MAX))
left=-1 best=-1 best_at=$SECONDS
while :; do
  collect_jobs
  left=$(check --count 2>/dev/null) || left=-1
  [ "$left" = 0 ] && break
  if [ "$left" -ge 0 ] && { [ "$best" -lt 0 ] || [ "$left" -lt "$best" ]; }; then
    best=$left best_at=$SECONDS
  fi
  if [ $SECONDS -ge $settle_deadline ]; then
    [ $SECONDS -lt $settle_cap ] && [ $((SECONDS - best_at)) -lt 120 ] || break
  fi
  sleep 5
done
log "jobs settled for $((SECONDS - settle_start)) s: $left (node, job) pairs left (settle ${SETTLE} s, at most ${SETTLE_MAX} s while draining)"
# an extended wait leaves the anchors their own interval
[ $SECONDS -lt $((settle_deadline - 60)) ] || settle_deadline=$((SECONDS + 60))
# then the anchors: a batch goes on chain one anchor interval after its last
# assignment, so the full answers are collected again until every check
# holds or the settle time is spent (the last collection is the one judged)
while :; do
  collect
  if check --final >/dev/null 2>&1; then break; fi
  [ $SECONDS -lt $settle_deadline ] || break
  sleep 5
done
log "settled (or out of settle time after $((SECONDS - settle_start)) s): checking the invariants"
rc=0
check --final || rc=1

# privacy: no node's capacity in what the others received, answered or logged, nor on chain
leaks=0
for i in $(seq 1 "$N"); do
  files=(--rpc "$RPC")
  for j in $(seq 1 "$N"); do
    [ "$j" = "$i" ] && continue
    cat "$WORK/collect/n$j".*.json >"$WORK/scan/n$j.api" 2>/dev/null || true
    grep -v 'TEST_ONLY\|test_only' "$WORK/n$j/veild.log" >"$WORK/scan/n$j.log" || true
    files+=("$WORK/scan/n$j.api" "$WORK/scan/n$j.log")
    [ -f "$WORK/scan/n$j.gossip.hex" ] && files+=("$WORK/scan/n$j.gossip.hex")
  done
  if ! node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" "${files[@]}" >"$WORK/privacy$i.txt" 2>&1; then
    leaks=1; echo "INVARIANT privacy: node $i's capacity leaked: $(head -5 "$WORK/privacy$i.txt")"
  fi
done
[ "$leaks" = 0 ] && echo "INVARIANT privacy: ok ($(tail -1 "$WORK/privacy1.txt"))" || rc=1
# every veild still runs, and none died by itself during the run
for i in $(seq 1 "$N"); do reap_crashed "$i" "the end"; done
if [ -s "$WORK/crashes.txt" ]; then
  echo "INVARIANT no_crash: VIOLATED ($(wc -l <"$WORK/crashes.txt"))"; sed 's/^/    /' "$WORK/crashes.txt"; rc=1
else
  echo "INVARIANT no_crash: ok"
fi
cp "$WORK/schedule.json" "$WORK/collect/" 2>/dev/null || true
if [ "$rc" = 0 ]; then echo "PASS chaos seed=$CHAOS_SEED seconds=$CHAOS_SECONDS"; else fail "invariants violated (seed $CHAOS_SEED)"; fi
