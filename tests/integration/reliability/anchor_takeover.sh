#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/anchor_takeover.sh - anchoring survives the
# loss of its sender (issue 18): three real veild nodes in batch mode; the
# designated decryptor (node 1, the only sender) signs a job's assignment
# and goes down before its batch is due (its own batch delay is long). The
# first live node of the fixed anchorer order stands in after a silence and
# anchors the batch; the other node finds it on chain and keeps the proof,
# which the contract verifies. Node 1 comes back and sends no second batch
# for that epoch: one BatchAnchored per epoch. Before the fix nothing was
# anchored while node 1 was down.
source "$(dirname "$0")/../e2e/lib.sh"
create_cluster 3
C=$(json_get "$(cat "$WORK/init.json")" contract)
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0"
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
BATCH_S=8
ENVS=(VEIL_TELEMETRY_INTERVAL=2s VEIL_ANCHOR_BATCH_INTERVAL=${BATCH_S}s VEIL_ANCHOR_BATCH_DELAY=2s)
startn() { local i=$1; shift; start_node "$i" "${ENVS[@]}" "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" "$@"; }
# node 1 would send its batch only 10 minutes after the batch epoch: it is
# down long before that
startn 1 VEIL_ANCHOR_BATCH_DELAY=600s
startn 2; startn 3
wait_mesh 3 90
sleep 3
ok "mesh up"

IMG=127.0.0.1:9/busybox@sha256:$(printf 'ef%.0s' $(seq 1 32))
# No node has 64 CPUs: the assignment is "unschedulable", which its
# submitter sees in full (commitment, anchor, proof; hook H4 hides where a
# placed replica runs from everyone but its runner), and it is anchored all
# the same.
cat >"$WORK/one.yaml" <<YAML
name: one
image: $IMG
command: [/bin/true]
resources: {cpu: 64, memory: 16Mi}
policy: spread
YAML
id=$(veil_at 2 job run "$WORK/one.yaml" | awk '{print $2}') || fail "job run"
decided() { [ "$(placements_at 2 "$id" | wc -l)" -ge 1 ]; }
wait_for 180 "the job decided on node 2" decided
recorded3() { grep -q "msg=\"assignment\" job=${id:0:16}" "$WORK/n3/veild.log"; }
wait_for 30 "node 3 recorded the assignment" recorded3
# the commitment as the replica's runner shows it (H4: the submitter sees it
# only when the job is unschedulable or runs on itself)
R=$(runner_at 2 "$id" 0) || R=2
COM=$(veil_at "$R" get assignments -o json | node -e '
  const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const r = rows.filter(r => r.job_id === process.argv[1]).pop();
  if (!r || !r.commitment) process.exit(1); console.log(r.commitment);' "$id") \
  || fail "node $R shows no commitment for the job"
stop_node 1
ok "job ${id:0:12} assigned (runner: node $R); node 1 (the decryptor, the anchor sender) stopped before its batch"

# the stand-in: the first of nodes 2 and 3 by peer ID
if [[ "$PEER_2" < "$PEER_3" ]]; then S=2; O=3; else S=3; O=2; fi
anchored_at() { # NODE: the assignment's anchor with a tx, as NODE shows it
  veil_at "$1" get anchors -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.some(a => a.commitment === process.argv[1] && /^0x[0-9a-f]{64}$/.test(a.tx_hash)) ? 0 : 1);' "$COM"
}
wait_for 180 "node $S stands in and anchors the batch" anchored_at "$S"
grep -q 'msg="anchor sender down: this node stands in"' "$WORK/n$S/veild.log" \
  || fail "node $S never said it stands in"
grep -q 'msg="anchor sender silent: anchoring its batch instead"' "$WORK/n$S/veild.log" \
  || fail "node $S anchored without saying it stood in"
if grep -q 'msg="anchor sender silent' "$WORK/n$O/veild.log"; then
  fail "node $O sent a batch too (node $S was alive before it)"
fi
wait_for 60 "node $O found the anchor on chain" anchored_at "$O"
ok "node $S stood in for the silent sender; node $O found its batch on chain"

# node 1 comes back (normal delay): it finds the batch, sends nothing more
startn 1
sender_back() { anchored_at 1 && grep -q 'anchor sender back: this node stands by' "$WORK/n$S/veild.log"; }
wait_for 120 "node 1 back, the batch recorded from the chain" sender_back
sleep $((BATCH_S + 6))
"$VEIL" chain events --rpc "$RPC" --contract "$C" --cluster 1 --confirmations 0 >"$WORK/events.txt" \
  || fail "veil chain events"
nb=$(grep -c ' BatchAnchored ' "$WORK/events.txt" || true)
ne=$(grep ' BatchAnchored ' "$WORK/events.txt" | grep -o ' epoch=[0-9]*' | sort -u | wc -l)
nd=$(grep -c ' DeploymentAnchored ' "$WORK/events.txt" || true)
[ "$nb" -ge 1 ] && [ "$nb" = "$ne" ] && [ "$nd" = 0 ] \
  || fail "$nb batches for $ne epochs, $nd single anchors: $(cat "$WORK/events.txt")"
ok "$nb anchorBatch transaction(s), one per batch epoch, none alone, after node 1's return"

# the proof the runner (or, unschedulable, the submitter) keeps, checked by the contract
read -r root com proof < <(veil_at "$R" job status "$id" -o json | node -e '
  const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const a = j.anchors[0], c = j.assignments.filter(x => x.replica === a.replica).pop().commitment;
  console.log(a.root, c, "[" + (a.proof || []).join(",") + "]");')
got=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
  "0x$root" 1 "0x$id" "0x$com" "$proof" --rpc-url "$RPC")
[ "$got" = true ] || fail "verifyInclusion: $got (root $root proof $proof)"
ok "the contract verifies node $R's inclusion proof of the stand-in's batch"
