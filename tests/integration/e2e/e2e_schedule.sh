#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_schedule.sh - stage 2 of the end-to-end suite:
# three veild nodes with fixed test-only capacities; jobs submitted with
# `veil job run` on one node are announced on the cluster topic, evaluated on
# the encrypted telemetry by the rendezvous-chosen schedulers, decrypted by
# the designated decryptor only after digest agreement, and the signed
# assignment reaches every node. Placements, read from the runners' own
# views, must equal the plaintext oracle
# (binpack, spread, replicas on distinct nodes, region/zone constraints) for
# every job (counted at the end); the submitter's node must show only whether
# each replica is placed and every other node only the replicas it runs
# (hook H4); a job no node can hold is reported
# unschedulable. A decryptor that is down leaves a job visibly "awaiting
# decryption", and the job resumes when the decryptor is back.
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
create_cluster 3
CAPS=("" "cpu=1280m,memory=2Gi,disk=20Gi,gpu=0,region=eu-west,zone=1" \
      "cpu=5120m,memory=1Gi,disk=20Gi,gpu=0,region=eu-west,zone=2" \
      "cpu=2560m,memory=4Gi,disk=20Gi,gpu=0,region=us-east,zone=1")
# node 1 is the designated decryptor (cluster init --decryptor = anvil key 1)
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
# Nodes 2 and 3 falsify their first-attempt digest of job "jsplit" (a
# test-only fault), so that its three schedulers publish three different
# digests and the decryptor must run a retry round.
SPLIT=("" "" VEIL_TEST_ONLY_SPLIT_JOB=jsplit VEIL_TEST_ONLY_SPLIT_JOB=jsplit)
# Short anchor batches (10 s, anchored 4 s after they close): several
# multi-leaf Merkle batches within the test.
ANCHOR_ENV=(VEIL_ANCHOR_BATCH_INTERVAL=10s VEIL_ANCHOR_BATCH_DELAY=4s)
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" ${SPLIT[$i]} \
    "${ANCHOR_ENV[@]}"
done
IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))

wait_mesh 3
sleep 3 # every node holds two epochs of everyone's telemetry
ok "mesh up, telemetry flowing"

# job NAME POLICY CPU MEMORY REPLICAS [CONSTRAINTS] -> writes $WORK/NAME.yaml
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: $5
policy: $2
YAML
  if [ -n "${6:-}" ]; then echo "constraints: $6" >>"$WORK/$1.yaml"; fi
}
job jbin binpack 500m 64Mi 1      # binpack: least leftover -> the smallest that fits
job jspread spread 500m 64Mi 1    # spread: most free
job jbig binpack 1500m 1536Mi 1   # only node 3 holds 1.5 CPU and 1.5Gi
job jrep spread 500m 64Mi 2       # two replicas on distinct nodes
job jnone binpack 64 64Mi 1       # 64 CPUs: nobody
job jmem binpack 100m 1536Mi 1    # memory-heavy: nodes 1 and 3 fit, binpack takes the tighter
job jcpu spread 3000m 64Mi 1      # only node 2 has 3 free CPUs
job jbin2 binpack 1500m 512Mi 1   # nodes 2 and 3 fit
job jrep3 spread 100m 16Mi 3      # three replicas on three distinct nodes
# label constraints (nodes: 1 eu-west/1, 2 eu-west/2, 3 us-east/1)
job jeu binpack 100m 64Mi 1 "{region: eu-west}"        # nodes 1 and 2
job jus spread 100m 64Mi 1 "{region: us-east}"         # node 3 only
job jzone binpack 100m 64Mi 1 "{region: eu-west, zone: 2}" # node 2 only
job jz1 spread 100m 64Mi 1 "{zone: 1}"                 # nodes 1 and 3, any region
job jap binpack 100m 64Mi 1 "{region: ap-south}"       # nobody is there
job jeurep spread 100m 16Mi 2 "{region: eu-west}"      # both eu-west nodes
job jeu3 spread 100m 16Mi 3 "{region: eu-west}"        # a third replica: unschedulable

# node 2 submits every job: its node shows whether each replica is placed,
# each runner shows the replicas it runs (the union is the placement:
# placements_at, lib.sh), and the submitter's view names no node (views_agree)
assigned() { [ "$(placements_at 2 "$1" | wc -l)" -ge "$2" ]; }

IDS=()
N_JOBS=0 N_REPLICAS=0
oracle() { "$ORACLE" "$WORK/$1.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}"; }
# check_placed NAME ID: the placement the runners show equals the oracle's,
# and the views agree with the rule (the submitter sees placed/unschedulable,
# the runners their replicas, the others nothing of where the job landed)
check_placed() {
  local j=$1 id=$2 want n got
  want=$(oracle "$j")
  n=$(echo "$want" | wc -l)
  wait_for 90 "$j assigned (node 2, its submitter)" assigned "$id" "$n"
  got=$(placements_at 2 "$id")
  [ "$got" = "$want" ] || fail "$j placed on [$got], oracle says [$want]"
  wait_for 30 "every node's own view of $j agrees with the submitter's" views_agree 2 "$id"
  ok "$j: $(echo $got | tr '\n' ' ')= oracle"
  N_JOBS=$((N_JOBS + 1)); N_REPLICAS=$((N_REPLICAS + n))
}
# One at a time: each round sees only its own job.
for j in jbin jspread jbig jrep jnone jmem jcpu jbin2 jrep3; do
  id=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"
  check_placed "$j" "$id"
  IDS+=("$id")
done
# All at once: rounds of different jobs queue on the same schedulers, each
# still evaluated at the epoch its round fixed (so the schedulers agree).
declare -A LID
for j in jeu jus jzone jz1 jap jeurep jeu3; do
  LID[$j]=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"
done
for j in jeu jus jzone jz1 jap jeurep jeu3; do check_placed "$j" "${LID[$j]}"; IDS+=("${LID[$j]}"); done
# Schedulers that disagree: no majority can form, so the decryptor runs a
# retry round (fresh schedulers, a later epoch) instead of waiting forever;
# the retry is logged and visible in the job's status, and the placement is
# still the oracle's.
job jsplit spread 100m 64Mi 1
sid=$(veil_at 2 job run "$WORK/jsplit.yaml" | awk '{print $2}') || fail "job run jsplit"
check_placed jsplit "$sid"
IDS+=("$sid")
grep -q "msg=\"round retry\" job=${sid:0:16} replica=0 attempt=2 of=3.*disagreed" "$WORK/n1/veild.log" \
  || fail "no retry logged for jsplit"
st=$(veil_at 2 job status "$sid" -o json)
node -e 'const r = JSON.parse(process.argv[1]).replica_states[0];
  process.exit(r.attempts >= 2 && /attempt 2 of 3: the schedulers. digests disagreed/.test(r.note) ? 0 : 1);' "$st" \
  || fail "jsplit's status does not show the retry: $st"
ok "schedulers disagreed on jsplit: retried ($(veil_at 2 job status "$sid" | sed -n 2p | sed 's/^ *//' | cut -c1-40)... $(echo "$st" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).replica_states[0].note)'))"

# A confidential job: `veil job run --confidential` encrypts the request
# (unusual values, easy to search for) under the cluster public key; the
# schedulers evaluate the encrypted request and the placement still equals the
# oracle's on the plaintext file, while no node's log or API answer holds the
# values: the spec reads "confidential".
job jconf binpack 1230m 321Mi 1 "{region: eu-west}"
cid=$(veil_at 2 job run --confidential "$WORK/jconf.yaml" | awk '{print $2}') || fail "job run --confidential"
check_placed jconf "$cid"
IDS+=("$cid")
for i in 1 2 3; do
  st=$(veil_at "$i" job status "$cid" -o json)
  node -e 'const j = JSON.parse(process.argv[1]);
    process.exit(j.spec.resources === "confidential" && j.spec.constraints === "confidential" ? 0 : 1);' "$st" \
    || fail "node $i shows jconf's request: $st"
  if grep -q '1230m\|336592896\|321Mi\|eu-west' <<<"$st$(veil_at "$i" get jobs -o json)"; then
    fail "node $i's API shows jconf's plaintext request"
  fi
  if grep -v 'TEST_ONLY\|test_only' "$WORK/n$i/veild.log" | grep -q '1230m\|336592896\|321Mi'; then
    fail "node $i's log holds jconf's plaintext request"
  fi
done
veil_at 2 job status "$cid" | grep -q 'request: confidential' || fail "job status does not say confidential"
ok "confidential job placed as the oracle says on its encrypted request; no node's log or API shows the request"
[ "$N_JOBS" -ge 10 ] || fail "only $N_JOBS jobs compared with the oracle"
ok "placements equal the plaintext oracle for $N_JOBS jobs ($N_REPLICAS replicas): binpack, spread, replicas, region/zone constraints"

# Anchoring: every assignment's commitment is anchored on chain by the
# decryptor; the node running the replica (or, for an unschedulable one, the
# submitter: no node to hide) finds it and `veil job status` shows the
# transaction and an inclusion proof the contract itself accepts. The
# submitter's node shows only that a placed replica is anchored (H4).
C=$(json_get "$(cat "$WORK/init.json")" contract)
# full_anchor ID: "root tx proof commitment" of the first anchor of job ID
# that a live node shows in full (root, tx and the assignment's commitment)
full_anchor() {
  local i
  for i in "${!NODE_PIDS[@]}"; do
    [ -n "${NODE_PIDS[$i]}" ] || continue
    node -e '
      const j = JSON.parse(process.argv[1]);
      const a = (j.anchors || []).find(x => x.root && /^0x/.test(x.tx_hash || ""));
      // (an anchor epoch is the batch epoch: the assignment is the replica row shown in full)
      const s = a && (j.assignments || []).filter(x => x.replica === a.replica && x.commitment).pop();
      if (!s) process.exit(1);
      // the store parses *_json columns: the proof is an array under "proof"
      const proof = Array.isArray(a.proof) ? a.proof : JSON.parse(a.proof_json || "[]");
      console.log("0x" + a.root, a.tx_hash, "[" + proof.join(",") + "]", "0x" + s.commitment);' \
      "$(veil_at "$i" job status "$1" -o json)" && return 0
  done
  return 1
}
for id in "${IDS[@]}"; do
  wait_for 60 "job ${id:0:12} anchored (seen by the node running it)" full_anchor "$id"
  read -r root tx proof commitment < <(full_anchor "$id")
  rc=$("$CAST" receipt "$tx" status --rpc-url "$RPC")
  [[ "$rc" == 1* || "$rc" == true || "$rc" == success* ]] || fail "anchor tx $tx status $rc"
  ok=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
       "$root" 1 "0x$id" "$commitment" "$proof" --rpc-url "$RPC")
  [ "$ok" = true ] || fail "verifyInclusion for ${id:0:12}: $ok"
done
ok "every assignment anchored on chain; job status shows the tx and a proof the contract verifies"
grep -q 'msg="assignment signed"' "$WORK/n1/veild.log" || fail "decryptor did not sign"
if grep -q 'msg="assignment signed"' "$WORK/n2/veild.log" "$WORK/n3/veild.log"; then
  fail "a node other than the decryptor signed"
fi
ok "only the designated decryptor decrypted and signed"
# Before a majority of a round's schedulers had published the same digest the
# decryptor held an output and refused it (its guard logs each refusal).
grep -q 'msg="decryption refused".*no majority' "$WORK/n1/veild.log" \
  || fail "no refusal logged before digest agreement"
ok "the decryptor refuses an output without digest agreement"

# Bad specs are refused with the field and the reason, nothing is submitted.
printf 'name: bad\nimage: %s\nresources: {cpu: 500m, memory: 64Q}\n' "$IMG" >"$WORK/bad.yaml"
if out=$(veil_at 2 job run "$WORK/bad.yaml" 2>&1); then fail "bad spec accepted"; fi
[[ "$out" == *"resources.memory"*"64Q"* ]] || fail "bad spec message: $out"
ok "a bad job spec is refused: $out"
# The designated decryptor (node 1) is down: a job is evaluated by the
# schedulers that are alive and then waits, visibly "awaiting decryption"
# (job status and the jobs list), and resumes when the decryptor is back (the
# submitter re-announces it, the schedulers re-send their results).
stop_node 1
job jdec binpack 100m 64Mi 1
id=$(veil_at 2 job run "$WORK/jdec.yaml" | awk '{print $2}')
replica_state() { # ID NODE -> state of replica 0
  veil_at "$2" job status "$1" -o json | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const r = (j.replica_states || []).find(x => x.replica === 0);
    console.log(r ? r.state : "none");'
}
awaiting() { [ "$(replica_state "$id" 2)" = awaiting_decryption ]; }
wait_for 120 "jdec awaiting decryption while the decryptor is down" awaiting
sleep 4
awaiting || fail "jdec left awaiting_decryption without a decryptor: $(replica_state "$id" 2)"
veil_at 2 job status "$id" | grep -q 'awaiting_decryption' || fail "job status does not show it"
veil_at 2 get jobs | grep "^${id:0:12}" | grep -q awaiting_decryption \
  || fail "veil get jobs does not show it: $(veil_at 2 get jobs)"
ok "decryptor down: jdec is visibly awaiting decryption ($(veil_at 2 job status "$id" | sed -n 2p | cut -c1-60)...)"
start_node 1 VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[1]}" "${ANCHOR_ENV[@]}"
resumed() { [ "$(replica_state "$id" 2)" = assigned ] && [ "$(placements_at 2 "$id" | wc -l)" -ge 1 ]; }
wait_for 120 "jdec assigned after the decryptor came back" resumed
ok "decryptor back: jdec resumed and was assigned to $(placements_at 2 "$id")"

# A scheduler dies mid-evaluation: node 3 (a scheduler of every round here)
# is killed right after the submission. The two remaining schedulers still
# form a majority, and should the round have picked node 3, its death sends
# the replica to another round: the job ends up assigned to a live node.
job jkill binpack 500m 64Mi 1
id=$(veil_at 2 job run "$WORK/jkill.yaml" | awk '{print $2}')
sleep 0.3
kill -9 "${NODE_PIDS[3]}"; wait "${NODE_PIDS[3]}" 2>/dev/null || true; NODE_PIDS[3]=
# (node 3 is no longer asked: a replica on it shows on no live node)
placed_live() {
  local on
  [ "$(replica_state "$id" 2)" = assigned ] && on=$(placements_at 2 "$id") \
    && [ -n "$on" ] && [ "$on" != "$PEER_3" ]
}
wait_for 120 "jkill assigned to a live node after a scheduler died" placed_live
ok "a scheduler killed mid-evaluation does not block the job"
echo "PASS e2e_schedule"
