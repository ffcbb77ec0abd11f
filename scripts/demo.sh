#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo` (owned by the veild integration): Veil's whole story on this
# machine, with real processes only - anvil (the chain), a local OCI registry
# holding a busybox image, a cluster created with `veil cluster init`, three
# veild nodes of three organizations with different capacities, all three key
# holders of a threshold dealing (no node can decrypt alone: each holds a
# share, every decryption needs the three partial decryptions with t = 1), a
# job placed on encrypted telemetry, its container's output, and the on-chain
# anchor checked with cast. Everything it starts is stopped on exit.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
export VEIL_SOURCE_DIR=$PWD
export VEIL_BIN=$PWD/$build/src/cmd/veil VEILD_BIN=$PWD/$build/src/cmd/veild
ORACLE=$PWD/$build/tests/integration/e2e/e2e_oracle
source tests/integration/e2e/lib.sh
source tests/integration/runtime/lib.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
rt_setup
demo_cleanup() {
  local rc=$?
  set +e
  local root
  for root in "$WORK"/n*/runc; do
    [ -d "$root" ] || continue
    for id in $(runc --root "$root" list -q 2>/dev/null); do runc --root "$root" delete -f "$id" >/dev/null 2>&1; done
  done
  grep " $WORK/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
  (exit $rc)   # e2e_cleanup reads $? to decide whether to dump the node logs
  e2e_cleanup
  (exit $rc)
  rt_cleanup
}
trap demo_cleanup EXIT

say "A local OCI registry with a busybox image (umoci + skopeo)"
rt_image_busybox
DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$RT_REG/busybox:1")
echo "image $RT_REG/busybox@$DIGEST"

say "anvil: a local Ethereum chain"
start_anvil
echo "RPC $RPC"
export VEIL_KEYSTORE_PASSWORD=pw

say "Each node's libp2p identity (its key share will be sealed to it)"
holders=()
for i in 1 2 3; do
  mkdir -p "$WORK/n$i"
  holders+=("$(addr_for "$i")=$("$VEIL" p2p id --key "$WORK/n$i/p2p.key")")
done
printf '%s\n' "${holders[@]}"

say "veil cluster init: the threshold key ceremony, the VeilRegistry contract, the cluster, its policy"
"$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" --name demo \
  --key-holders "$(IFS=,; echo "${holders[*]}")" --threshold 1 --allow-image "$DIGEST" \
  --operator "$(addr_for 1)@acme" --operator "$(addr_for 2)@globex" --operator "$(addr_for 3)@initech"
ls -la "$WORK/bundle"
C=$(node -e 'console.log(require(process.argv[1]).contract)' "$WORK/bundle/bundle.json")

say "veil node join: three nodes of three organizations register their peer IDs on chain and install their key shares"
for i in 1 2 3; do join_node "$i" --share "$WORK/bundle/share-$i.key"; done
for i in 1 2 3; do echo "node $i: $(eval echo \$PEER_$i)"; done
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    VEIL_INSECURE_REGISTRIES="$RT_REG"
done
has_epochs() {
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === 3 && rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);'
}
wait_for 180 "the mesh (each key holder loads the squashing key first)" has_epochs 2
sleep 3
say "veil get nodes (on node 2): members, liveness, telemetry epochs - never the values"
veil_at 2 get nodes
echo "capacities (fixed for the demo, encrypted before they leave each node):"
for i in 1 2 3; do echo "  node $i: ${CAPS[$i]}"; done
echo "telemetry messages: $(grep -ho 'msg="telemetry published".*bytes=[0-9]*' "$WORK/n1/veild.log" | tail -1 | sed 's/.*bytes=//') bytes each (one compact FHE ciphertext list)"

cat >"$WORK/hello.yaml" <<YAML
name: hello
image: $RT_REG/busybox@$DIGEST
command: [/bin/sh, -c, "echo hello from a confidential cluster; uname -a"]
resources: {cpu: 500m, memory: 64Mi}
policy: spread
YAML
say "veil job run hello.yaml (on node 2)"
cat "$WORK/hello.yaml"
id=$(veil_at 2 job run "$WORK/hello.yaml" | awk '{print $2}')
echo "job $id"
exited() { veil_at 2 job status "$id" -o json | grep -q '"state": "exited"'; }
wait_for 120 "the job to run" exited

say "Scheduling on ciphertexts (from the nodes' logs)"
grep -h 'msg="round evaluated"\|msg="partial decryption published"\|msg="threshold decryption"\|msg="assignment agreed' \
  "$WORK"/n*/veild.log | sed 's/^time=[^ ]* //'
if [ -x "$ORACLE" ]; then
  echo "plaintext oracle of the same policy says: $("$ORACLE" "$WORK/hello.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}")"
fi

say "veil job status (on node 2, the submitter: placed, its state, anchored; not where)"
veil_at 2 job status "$id"

# Where it runs: each node's API shows the replicas it runs, so an operator
# finds the job on the node running it (hook H4; placements_at, e2e lib.sh).
wait_for 30 "a node showing the replica it runs" runner_at 2 "$id" 0
RUN=$(runner_at 2 "$id" 0)
say "veil job status (on node $RUN, the node running it)"
anchored() { veil_at "$RUN" job status "$id" -o json | grep -q '"tx_hash": "0x'; }
wait_for 30 "the anchor" anchored
veil_at "$RUN" job status "$id"

say "The same job on the other nodes (hook H4: the submitter sees that it is placed, another member only that the job exists)"
for i in 1 2 3; do [ "$i" = "$RUN" ] || { echo "node $i:"; veil_at "$i" job status "$id"; }; done

say "The container's output (veil job logs on node $RUN, which ran it)"
veil_at "$RUN" job logs "$id" 2>/dev/null || find "$WORK/n$RUN/containers" -name '*.log' -exec cat {} + 2>/dev/null | grep -v '^time=' || true

say "The anchor, verified on chain with cast (root and proof from node $RUN)"
st=$(veil_at "$RUN" job status "$id" -o json)
read -r root tx proof commitment < <(node -e '
  const j = JSON.parse(process.argv[1]);
  const a = j.anchors.find(x => x.root), s = j.assignments.find(x => x.replica === a.replica && x.commitment);
  const proof = Array.isArray(a.proof) ? a.proof : JSON.parse(a.proof_json || "[]");
  console.log("0x" + a.root, a.tx_hash, "[" + proof.join(",") + "]", "0x" + s.commitment);' "$st")
"$CAST" receipt "$tx" --rpc-url "$RPC" | grep -E 'status|gasUsed|blockNumber'
echo -n "verifyInclusion(root, cluster 1, job, commitment, proof) = "
"$CAST" call "$C" "verifyInclusion(bytes32,uint64,bytes32,bytes32,bytes32[])(bool)" \
  "$root" 1 "0x$id" "$commitment" "$proof" --rpc-url "$RPC"
say "demo: done (everything started is being stopped)"
