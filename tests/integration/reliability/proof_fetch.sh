#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/proof_fetch.sh - proofs for a node that saw
# none of a batch's assignments (issue 18): three real veild nodes in batch
# mode. Node 3 is down while two jobs (one submitted on node 1, one on node
# 2) are decided and anchored in ONE batch. Node 2 goes down, node 3 comes
# back: the catch-up gives it node 1's job and assignment only, so its own
# tree over the batch is not the anchored one and it cannot rebuild the
# proof. It asks a peer (/veil/anchor-proof/1.0.0), checks the answer
# against the root on chain and keeps it: `veil get anchors` on node 3
# shows the anchor with its proof, which the contract verifies. Before the
# fix node 3 never had an anchor for that assignment.
source "$(dirname "$0")/../e2e/lib.sh"
create_cluster 3
C=$(json_get "$(cat "$WORK/init.json")" contract)
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0"
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
BATCH_S=12
ENVS=(VEIL_TELEMETRY_INTERVAL=2s VEIL_ANCHOR_BATCH_INTERVAL=${BATCH_S}s VEIL_ANCHOR_BATCH_DELAY=2s)
startn() { local i=$1; shift; start_node "$i" "${ENVS[@]}" "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" "$@"; }
startn 1; startn 2; startn 3
alive_n() { # NODE COUNT: NODE sees COUNT live members with telemetry
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8")).filter(r => r.alive && r.last_telemetry_epoch > 0);
    process.exit(rows.length === Number(process.argv[1]) ? 0 : 1);' "$2"
}
wait_mesh 3 90 # everyone's telemetry, of an epoch the first rounds read too
# SWIM must know node 3 before it goes (a member it never knew is never declared dead)
swim_knows() { grep -q "msg=\"member\" event=join peer=$PEER_3" "$WORK/n$1/veild.log"; }
for i in 1 2; do wait_for 60 "node $i's SWIM knows node 3" swim_knows "$i"; done
stop_node 3
wait_for 60 "nodes 1 and 2 see node 3 gone" alive_n 1 2
ok "mesh up; node 3 stopped"

IMG=127.0.0.1:9/busybox@sha256:$(printf 'fe%.0s' $(seq 1 32))
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: 64, memory: 16Mi}
policy: spread
YAML
}
# 64 CPUs: both assignments are "unschedulable", which their submitters see
# in full (commitment, anchor, proof: hook H4 hides a placed replica's node
# from everyone but its runner); they are anchored like any other.
job ja; job jb
# early in a batch window, so that both rounds fall into one batch epoch
now_ms=$(date +%s%3N); phase=$(( now_ms % (BATCH_S * 1000) ))
if [ "$phase" -gt 2000 ]; then sleep "$(( (BATCH_S * 1000 - phase + 2500) / 1000 ))"; fi
ida=$(veil_at 2 job run "$WORK/ja.yaml" | awk '{print $2}') || fail "job run ja"
idb=$(veil_at 1 job run "$WORK/jb.yaml" | awk '{print $2}') || fail "job run jb"
com_of() { # SUBMITTER ID: the assignment's commitment, as the replica's runner
  # shows it (H4: the submitter sees it only when the job is unschedulable)
  local at
  at=$(runner_at "$1" "$2" 0) || at=$1
  veil_at "$at" get assignments -o json | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8")).filter(r => r.job_id === process.argv[1]).pop();
    if (!r || !r.commitment) process.exit(1); console.log(r.commitment);' "$2"
}
wait_for 180 "ja decided" com_of 2 "$ida"
wait_for 180 "jb decided" com_of 1 "$idb"
CA=$(com_of 2 "$ida"); CB=$(com_of 1 "$idb")
anchor_of() { # NODE COMMITMENT: "epoch root tx proof-as-cast-array" of NODE's anchor
  veil_at "$1" get anchors -o json | node -e '
    const a = JSON.parse(require("fs").readFileSync(0, "utf8")).filter(a => a.commitment === process.argv[1]
      && /^0x[0-9a-f]{64}$/.test(a.tx_hash)).pop();
    if (!a) process.exit(1);
    console.log(a.epoch, a.root, a.tx_hash, "[" + (a.proof || []).join(",") + "]");' "$2"
}
wait_for 120 "node 1 anchored jb" anchor_of 1 "$CB"
wait_for 60 "node 1 anchored ja" anchor_of 1 "$CA"
read -r ea ra _ _ < <(anchor_of 1 "$CA"); read -r eb rb _ _ < <(anchor_of 1 "$CB")
[ "$ea" = "$eb" ] && [ "$ra" = "$rb" ] || fail "ja and jb not in one batch ($ea $ra / $eb $rb)"
ok "ja (node 2's) and jb (node 1's) decided and anchored in one batch (epoch $ea) while node 3 was down"

stop_node 2
startn 3
knows_jb() { grep -q "msg=\"assignment\" job=${idb:0:16}" "$WORK/n3/veild.log"; }
wait_for 120 "node 3 caught up with jb's assignment" knows_jb
if grep -q "msg=\"assignment\" job=${ida:0:16}" "$WORK/n3/veild.log"; then
  fail "node 3 learned ja (its submitter is down): the scenario needs it not to"
fi
ok "node 3 back: it holds jb's assignment, not ja's (node 2, its submitter, is down)"

wait_for 240 "node 3 obtained jb's proof from a peer" anchor_of 3 "$CB"
grep -q 'msg="proofs fetched from a peer" answered=[1-9][0-9]* kept=[1-9]' "$WORK/n3/veild.log" \
  || fail "node 3 has the anchor but never kept a fetched proof"
read -r e3 r3 tx3 proof3 < <(anchor_of 3 "$CB")
[ "$r3" = "$rb" ] && [ "$proof3" != "[]" ] || fail "node 3's anchor of jb: root $r3 proof $proof3"
got=$("$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
  "0x$r3" 1 "0x$idb" "0x$CB" "$proof3" --rpc-url "$RPC")
[ "$got" = true ] || fail "verifyInclusion of node 3's fetched proof: $got"
ok "node 3 fetched jb's proof, checked it against the chain and kept it; the contract verifies it"
