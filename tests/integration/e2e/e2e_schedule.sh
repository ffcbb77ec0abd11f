#!/usr/bin/env bash
# tests/integration/e2e/e2e_schedule.sh - stage 2 of the end-to-end suite:
# three veild nodes with fixed test-only capacities; jobs submitted with
# `veil job run` on one node are announced on the cluster topic, evaluated on
# the encrypted telemetry by the rendezvous-chosen schedulers, decrypted by
# the designated decryptor only after digest agreement, and the signed
# assignment reaches every node. Placements must equal the plaintext oracle
# (binpack, spread, two replicas on distinct nodes); a job no node can hold
# is reported unschedulable.
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
create_cluster 3
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
# node 1 is the designated decryptor (cluster init --decryptor = anvil key 1)
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"
done
IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))

has_epochs() {
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === 3 && rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);'
}
for i in 1 2 3; do wait_for 60 "node $i has everyone's telemetry" has_epochs "$i"; done
sleep 3 # every node holds two epochs of everyone's telemetry
ok "mesh up, telemetry flowing"

# job NAME POLICY CPU MEMORY REPLICAS -> writes $WORK/NAME.yaml
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: $5
policy: $2
YAML
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

placements() { # ID -> "replica node" lines from node $2's assignments
  veil_at "$2" get assignments -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8")).filter(r => r.job_id === process.argv[1]);
    rows.sort((a, b) => a.replica - b.replica);
    for (const r of rows) console.log(r.node ? r.node : "unschedulable");' "$1"
}
assigned() { [ "$(placements "$1" "$3" | wc -l)" -ge "$2" ]; }

IDS=()
for j in jbin jspread jbig jrep jnone jmem jcpu jbin2 jrep3; do
  id=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"
  want=$("$ORACLE" "$WORK/$j.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}")
  n=$(echo "$want" | wc -l)
  for i in 1 2 3; do wait_for 90 "$j assigned on node $i" assigned "$id" "$n" "$i"; done
  got=$(placements "$id" 3)
  [ "$got" = "$want" ] || fail "$j placed on [$got], oracle says [$want]"
  ok "$j: $(echo $got | tr '\n' ' ')= oracle"
  IDS+=("$id")
done

# Anchoring: every assignment's commitment is anchored on chain by the
# decryptor; the submitter (node 2) finds it and `veil job status` shows the
# transaction and an inclusion proof the contract itself accepts.
C=$(json_get "$(cat "$WORK/init.json")" contract)
anchored() { veil_at 2 job status "$1" -o json | grep -q '"tx_hash": "0x'; }
for id in "${IDS[@]}"; do
  wait_for 60 "job ${id:0:12} anchored (seen by node 2)" anchored "$id"
  st=$(veil_at 2 job status "$id" -o json)
  read -r root tx proof commitment < <(node -e '
    const j = JSON.parse(process.argv[1]);
    const a = j.anchors[0], s = j.assignments.find(x => x.replica === a.replica);
    console.log("0x" + a.root, a.tx_hash, "[" + JSON.parse(a.proof_json || "[]").join(",") + "]",
                "0x" + s.commitment);' "$st")
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
# A scheduler dies mid-evaluation: node 3 (a scheduler of every round here)
# is killed right after the submission. The two remaining schedulers still
# form a majority, and should the round have picked node 3, its death sends
# the replica to another round: the job ends up assigned to a live node.
job jkill binpack 500m 64Mi 1
id=$(veil_at 2 job run "$WORK/jkill.yaml" | awk '{print $2}')
sleep 0.3
kill -9 "${NODE_PIDS[3]}"; wait "${NODE_PIDS[3]}" 2>/dev/null || true; NODE_PIDS[3]=
placed_live() {
  veil_at 1 job status "$id" -o json | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const r = (j.replica_states || []).find(x => x.replica === 0);
    process.exit(r && r.state === "assigned" && r.node && r.node !== process.argv[1] ? 0 : 1);' "$PEER_3"
}
wait_for 120 "jkill assigned to a live node after a scheduler died" placed_live
ok "a scheduler killed mid-evaluation does not block the job"
echo "PASS e2e_schedule"
