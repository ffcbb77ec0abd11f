#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_anchor.sh - stage 4 of the end-to-end suite
# (owned by the "net" part of the veild integration): per-epoch Merkle batch
# anchoring. Three veild nodes place replicas on ciphertexts; the designated
# decryptor (node 1) anchors every assignment commitment of a batch epoch as
# ONE anchorBatch. Checks that:
#   - every assignment gets an anchor, one transaction per batch epoch, and
#     a batch holds several commitments (real, non-empty inclusion proofs);
#   - `veil job status` on the node running each replica (which rebuilt the
#     tree itself) shows the anchor transaction, root and proof; the
#     submitter's node (node 2) only that each replica is anchored (hook H4);
#     the sender's node lists an anchor for each commitment; the contract's
#     verifyInclusion accepts them (`cast call`), as does
#     `veil chain anchor verify` given the batch's leaves; a wrong commitment
#     is refused;
#   - the decryptor crashing right after its anchorBatch went out, before it
#     recorded it (a TEST-ONLY crash point), records that batch from the
#     chain after its restart without sending it again; a further restart
#     anchors nothing twice;
#   - anchor.mode single anchors a new assignment on its own, also when the
#     sender crashed between recording its intent and sending;
#   - with jobs flowing, no node's capacity is in what the others received
#     (gossip dumps), answered or logged, nor in any chain transaction or log.
source "$(dirname "$0")/lib.sh"
create_cluster 3
C=$(json_get "$(cat "$WORK/init.json")" contract)
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
BATCH_S=30
ENVS=(VEIL_TELEMETRY_INTERVAL=2s VEIL_ANCHOR_BATCH_INTERVAL=${BATCH_S}s VEIL_ANCHOR_BATCH_DELAY=4s)
startn() { # I [ENV...]: node I with the stage's settings and a gossip dump
  local i=$1; shift
  start_node "$i" "${ENVS[@]}" "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    "VEIL_TEST_ONLY_GOSSIP_DUMP=$WORK/n$i/gossip.hex" "$@"
}
startn 1 VEIL_TEST_ONLY_ANCHOR_CRASH=after_send
startn 2; startn 3
# crashed I CODE: node I's veild has exited with CODE (reaped here)
crashed() {
  kill -0 "${NODE_PIDS[$1]}" 2>/dev/null && return 1
  local rc=0; wait "${NODE_PIDS[$1]}" 2>/dev/null || rc=$?
  NODE_PIDS[$1]=; echo "$rc" >"$WORK/exit$1"
}
exited_with() { [ "$(cat "$WORK/exit$1" 2>/dev/null)" = "$2" ]; }
wait_mesh 3
sleep 3
ok "mesh up"

# The image is never pulled successfully (nothing listens there): what is
# anchored is the assignment, whatever the container does afterwards.
IMG=127.0.0.1:9/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
cat >"$WORK/rep.yaml" <<YAML
name: rep
image: $IMG
command: [/bin/true]
resources: {cpu: 100m, memory: 16Mi}
replicas: 3
policy: spread
YAML
cat >"$WORK/none.yaml" <<YAML
name: none
image: $IMG
command: [/bin/true]
resources: {cpu: 64, memory: 16Mi}
policy: binpack
YAML
# Submit early in a batch window so that the rounds (each uses the epoch
# before it starts) fall into one batch epoch.
now_ms=$(date +%s%3N); phase=$(( now_ms % (BATCH_S * 1000) ))
if [ "$phase" -gt 3000 ]; then sleep "$(( (BATCH_S * 1000 - phase + 3000) / 1000 ))"; fi
id=$(veil_at 2 job run "$WORK/rep.yaml" | awk '{print $2}')
id2=$(veil_at 2 job run "$WORK/none.yaml" | awk '{print $2}')
[ -n "$id" ] && [ -n "$id2" ] || fail "job run"
n_assigned() { # NODE -> assignments of both jobs recorded there
  veil_at "$1" get assignments -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(rows.filter(r => r.job_id === process.argv[1] || r.job_id === process.argv[2]).length);' "$id" "$id2"
}
four() { [ "$(n_assigned "$1")" = 4 ]; }
# node 2 submitted both jobs: it shows all 4 assignments; every other node
# only the replica it runs (hook H4; views_agree, lib.sh)
both_agree() { views_agree 2 "$id" && views_agree 2 "$id2"; }
# Node 1 sends its first batch once the window is over, then (TEST ONLY)
# crashes before recording it.
wait_for $((BATCH_S + 120)) "node 1 crashed right after its first anchorBatch" crashed 1
exited_with 1 86 || fail "node 1 exited with $(cat "$WORK/exit1"), not the test crash"
grep -q 'msg="TEST ONLY: crashing after the anchor was sent' "$WORK/n1/veild.log" \
  || fail "node 1 did not stop at the crash point"
crash_tx=$(grep -o 'crashing after the anchor was sent.*tx=0x[0-9a-f]*' "$WORK/n1/veild.log" | grep -o '0x[0-9a-f]*$')
mv "$WORK/n1/veild.log" "$WORK/n1/veild.log.1"
startn 1
wait_for 120 "4 assignments on node 2, the submitter (3 replicas + 1 unschedulable)" four 2
wait_for 120 "every node's own view (node 1 restarted) agrees with node 2's" both_agree
ok "3 replicas and an unschedulable job assigned; node 1 crashed after sending batch tx $crash_tx, restarted"

anchored_all() { # NODE -> every replica of both jobs that NODE sees has an anchor with a tx
  # (its submitter's node, node 2, sees of a replica it does not run only
  # that it is anchored: H4)
  for j in "$id" "$id2"; do
    veil_at "$1" job status "$j" -o json | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const ok = (j.assignments.length > 0 || j.view === "none") && j.assignments.every(a =>
        (j.anchors || []).some(n => n.replica === a.replica &&
          (a.commitment ? /^0x[0-9a-f]{64}$/.test(n.tx_hash) : n.anchored === true && !n.root)));
      process.exit(ok ? 0 : 1);' || return 1
  done
}
commitments() { # the commitments of both jobs' assignments, as the nodes running them show them
  local i
  for i in 1 2 3; do veil_at "$i" get assignments -o json; done | node -e '
    const all = require("fs").readFileSync(0, "utf8").split(/\n(?=\[)/).flatMap(t => JSON.parse(t));
    const seen = new Set();
    for (const r of all) if ((r.job_id === process.argv[1] || r.job_id === process.argv[2]) && r.commitment) seen.add(r.commitment);
    for (const c of seen) console.log(c);' "$id" "$id2"
}
sender_anchored() { # node 1 (the sender, no submitter) lists an anchor with a tx for each
  local anchors c
  anchors=$(veil_at 1 get anchors -o json) || return 1
  [ "$(commitments | wc -l)" = 4 ] || return 1
  for c in $(commitments); do
    node -e 'process.exit(JSON.parse(process.argv[1]).some(a => a.commitment === process.argv[2]
      && /^0x[0-9a-f]{64}$/.test(a.tx_hash)) ? 0 : 1)' "$anchors" "$c" || return 1
  done
}
wait_for $((BATCH_S + 60)) "node 1 anchored every assignment of node 2's jobs" sender_anchored
wait_for 30 "node 2 found every anchor on chain" anchored_all 2
wait_for 30 "node 1 shows the anchor of the replica it runs" anchored_all 1
wait_for 30 "node 3 shows the anchor of the replica it runs" anchored_all 3
veil_at 1 get anchors -o json | grep -q "$crash_tx" \
  || fail "the batch sent before the crash ($crash_tx) was not recorded after the restart"
ok "every assignment anchored (node 1 sent, node 2 found the batch and rebuilt its proofs); the batch sent before the crash recorded from the chain"


# One BatchAnchored per batch epoch, as the chain client decodes the events.
"$VEIL" chain events --rpc "$RPC" --contract "$C" --cluster 1 --confirmations 0 >"$WORK/events.txt" \
  || fail "veil chain events"
nb=$(grep -c ' BatchAnchored ' "$WORK/events.txt" || true)
nd=$(grep -c ' DeploymentAnchored ' "$WORK/events.txt" || true)
ne=$(grep ' BatchAnchored ' "$WORK/events.txt" | grep -o ' epoch=[0-9]*' | sort -u | wc -l)
[ "$nb" -ge 1 ] && [ "$nb" = "$ne" ] || fail "batches $nb for $ne epochs: $(cat "$WORK/events.txt")"
[ "$(grep -c "tx=$crash_tx" "$WORK/events.txt")" = 1 ] || fail "the crashed batch is not on chain once"
# In batch mode a single anchor is only for an assignment decided after its
# batch went out (a round slower than the batch's hold): each one is logged.
late=$(cat "$WORK"/n1/veild.log* | grep -c 'msg="late for its batch' || true)
[ "$nd" = "$late" ] || fail "$nd single anchors in batch mode, $late late assignments"
ok "$nb anchorBatch transaction(s), one per batch epoch; $nd late assignment(s) anchored alone"

# The proofs, from the `veil job status` of each node running a replica (or,
# for the unschedulable job, its submitter's), checked by the contract; the
# submitter's node shows of the others only that they are anchored.
r0=$(runner_at 2 "$id" 0) || fail "no node shows replica 0 of rep"
veil_at "$r0" job status "$id" >"$WORK/status.txt" || fail "job status"
grep -q 'anchor replica 0: epoch [0-9]* root 0x[0-9a-f]\{64\} tx 0x[0-9a-f]\{64\}' "$WORK/status.txt" \
  && grep -q 'inclusion proof' "$WORK/status.txt" || fail "job status text: $(cat "$WORK/status.txt")"
veil_at 2 job status "$id" >"$WORK/status2.txt" || fail "job status on node 2"
grep -q 'anchor replica [0-9]: epoch [0-9]* anchored (root, transaction and proof on the node running it)' \
  "$WORK/status2.txt" || fail "job status text on the submitter: $(cat "$WORK/status2.txt")"
rows1() { # JOB NODE -> "replica epoch root tx commitment proof-as-cast-array" lines, anchors shown in full
  veil_at "$2" job status "$1" -o json | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const a of j.anchors) {
      const s = j.assignments.filter(x => x.replica === a.replica && x.commitment).pop();
      if (!a.root || !s) continue;
      const p = a.proof || [];
      console.log([a.replica, a.epoch, a.root, a.tx_hash, s.commitment, "[" + p.join(",") + "]"].join(" "));
    }'
}
rows() { local i; for i in 1 2 3; do rows1 "$1" "$i"; done | sort -u; }
[ "$(rows "$id" | wc -l)" = 3 ] && [ "$(rows "$id2" | wc -l)" = 1 ] \
  || fail "anchors shown in full: $(rows "$id" | wc -l) of rep (want 3), $(rows "$id2" | wc -l) of none (want 1)"
maxproof=0
for j in "$id" "$id2"; do
  while read -r rep ep root tx com proof; do
    got=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
      "0x$root" 1 "0x$j" "0x$com" "$proof" --rpc-url "$RPC")
    [ "$got" = true ] || fail "verifyInclusion of $j/$rep: $got (root $root proof $proof)"
    st=$("$CAST" receipt "$tx" status --rpc-url "$RPC")
    [[ "$st" == 1* || "$st" == true ]] || fail "anchor tx $tx status $st"
    "$CAST" tx "$tx" input --rpc-url "$RPC" | grep -q "$root" || fail "tx $tx does not carry root $root"
    n=$(echo "$proof" | tr -cd ',' | wc -c); [ "$proof" != "[]" ] && n=$((n + 1))
    [ "$n" -gt "$maxproof" ] && maxproof=$n
    # a wrong commitment is refused with the same proof
    bad=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
      "0x$root" 1 "0x$j" "0x$(printf '%064x' 7)" "$proof" --rpc-url "$RPC")
    [ "$bad" = false ] || fail "verifyInclusion accepted a wrong commitment"
    echo "$ep $j $com" >>"$WORK/leaves.txt"
  done < <(rows "$j")
done
[ "$maxproof" -ge 1 ] || fail "every batch held a single commitment (no sibling to check)"
ok "verifyInclusion (cast call) accepts every proof shown by veil job status (up to $maxproof siblings), refuses a wrong commitment"

# `veil chain anchor verify` with the batch's leaves (sorted as anchor.c sorts).
read -r ep j com < <(head -1 "$WORK/leaves.txt")
leaves=()
while read -r e lj lc; do [ "$e" = "$ep" ] && leaves+=(--leaf "0x$lj:0x$lc"); done < <(sort -k2,2 -k3,3 "$WORK/leaves.txt")
out=$("$VEIL" chain anchor verify --rpc "$RPC" --contract "$C" --cluster 1 --epoch "$ep" \
  --job "0x$j" --assignment "0x$com" "${leaves[@]}") || fail "veil chain anchor verify: $out"
[[ "$out" == included* ]] || fail "veil chain anchor verify: $out"
ok "veil chain anchor verify: $out"

# A further restart of the sender sends nothing again.
before=$(grep -c 'Anchored' "$WORK/events.txt")
stop_node 1
startn 1
wait_for 30 "node 1 API back" veil_at 1 get nodes
sleep 8
"$VEIL" chain events --rpc "$RPC" --contract "$C" --cluster 1 --confirmations 0 >"$WORK/events2.txt"
after=$(grep -c 'Anchored' "$WORK/events2.txt")
[ "$before" = "$after" ] || fail "anchors on chain $before -> $after after a restart"
ok "restarts of the sender (a crash right after sending a batch, then a clean one) lost nothing and anchored nothing twice"

# Single mode: the next assignment is anchored on its own, right away; here
# the sender (TEST ONLY) records its intent and crashes before sending, and
# sends it after its restart.
stop_node 1
startn 1 VEIL_ANCHOR_MODE=single VEIL_TEST_ONLY_ANCHOR_CRASH=before_send
wait_for 30 "node 1 API back" veil_at 1 get nodes
wait_mesh 3
sed 's/^name: none$/name: none2/' "$WORK/none.yaml" >"$WORK/none2.yaml"
id3=$(veil_at 2 job run "$WORK/none2.yaml" | awk '{print $2}')
[ -n "$id3" ] || fail "job run none2"
wait_for 120 "node 1 crashed before sending the single anchor" crashed 1
exited_with 1 86 || fail "node 1 exited with $(cat "$WORK/exit1"), not the test crash"
grep -q 'msg="TEST ONLY: anchor intent recorded, not sent' "$WORK/n1/veild.log" \
  || fail "node 1 did not stop at the crash point"
mv "$WORK/n1/veild.log" "$WORK/n1/veild.log.2"
startn 1 VEIL_ANCHOR_MODE=single
single_done() {
  veil_at 2 job status "$id3" -o json | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const a = (j.anchors || [])[0];
    process.exit(a && /^0x[0-9a-f]{64}$/.test(a.tx_hash) && (a.proof || []).length === 0 ? 0 : 1);'
}
wait_for 120 "the single anchor of a new job seen on node 2" single_done
read -r rep ep root tx com proof < <(rows "$id3")
got=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
  "0x$root" 1 "0x$id3" "0x$com" "[]" --rpc-url "$RPC")
[ "$got" = true ] || fail "verifyInclusion of the single anchor: $got"
"$VEIL" chain events --rpc "$RPC" --contract "$C" --cluster 1 --confirmations 0 | grep -c " DeploymentAnchored .*$com" >"$WORK/nsingle" || true
[ "$(cat "$WORK/nsingle")" = 1 ] || fail "$(cat "$WORK/nsingle") DeploymentAnchored for $com (want 1)"
ok "anchor.mode single: the intent left by a crash before sending went out once after the restart (DeploymentAnchored), its one-leaf proof verifies"

# Privacy with jobs, digests, assignments and anchors flowing: no node's
# capacity in what the others received, answered or logged, nor on chain.
total=""
for i in 1 2 3; do
  files=(--rpc "$RPC")
  for j in 1 2 3; do
    [ "$j" = "$i" ] && continue
    for x in "$id" "$id2" "$id3"; do veil_at "$j" job status "$x" -o json; done >"$WORK/n$j/status.json"
    for w in nodes jobs assignments anchors; do veil_at "$j" get "$w" -o json; done >"$WORK/n$j/get.json"
    cat "$WORK"/n$j/veild.log* | grep -v 'TEST_ONLY\|test_only' >"$WORK/n$j/log.scan"
    files+=("$WORK/n$j/gossip.hex" "$WORK/n$j/status.json" "$WORK/n$j/get.json" "$WORK/n$j/log.scan")
  done
  node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" "${files[@]}" \
    >"$WORK/privacy$i.txt" 2>&1 || fail "node $i's capacity leaked: $(cat "$WORK/privacy$i.txt")"
  total="$total node $i: $(tr '\n' ' ' <"$WORK/privacy$i.txt");"
done
ok "no capacity in gossip, API answers, logs or chain data with jobs running:$total"
echo "PASS e2e_anchor"
