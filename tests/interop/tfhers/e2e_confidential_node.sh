#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# e2e_confidential_node.sh - a confidential job submitted by Zama's SDK: three
# veild nodes (tests/integration/e2e/lib.sh: private anvil, `veil cluster
# init`, `veil node join`) with fixed test-only capacities; the cluster's
# public key is exported in TFHE-rs format, and the Node example client
# (examples/confidential-job-node/submit.mjs) encrypts each job's request with
# node-tfhe and posts it to node 2's local API. The schedulers evaluate the
# node-tfhe ciphertext like one from `veil job run --confidential`, and the
# placement (the submitter's view; every other node shows only a replica it
# runs) must equal the plaintext oracle's; no node shows the request.
source "$(dirname "$0")/../../integration/e2e/lib.sh"
ORACLE=${E2E_ORACLE:?}
create_cluster 3
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0,region=eu-west,zone=1" \
      "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0,region=eu-west,zone=2" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0,region=us-east,zone=1")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key" # the decryptor
join_node 2; join_node 3
for i in 1 2 3; do start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"; done

# The Zama-SDK client: the example as a user runs it, with the pinned npm tools.
mkdir -p "$WORK/client"
cp "$SRC/examples/confidential-job-node/submit.mjs" "$WORK/client/"
ln -s "$SRC/tools/npm/node_modules" "$WORK/client/node_modules"
"$VEIL" fhe export --format tfhe-rs -o "$WORK/bundle/public.tfhers" "$WORK/bundle/public.key"

wait_mesh 3 90
sleep 3
ok "mesh up, telemetry flowing"

IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
# job NAME POLICY CPU MEMORY [REGION] [ZONE]: $WORK/NAME.yaml for the oracle,
# $WORK/NAME.json for the example client (the same spec).
job() {
  local cons_yaml="" cons_json=""
  if [ -n "${5:-}" ]; then cons_yaml="constraints: {region: $5}"; cons_json=", \"constraints\": {\"region\": \"$5\"}"; fi
  if [ -n "${6:-}" ]; then cons_yaml="constraints: {zone: $6}"; cons_json=", \"constraints\": {\"zone\": $6}"; fi
  printf 'name: %s\nimage: %s\ncommand: [/bin/true]\nresources: {cpu: %s, memory: %s}\nreplicas: 1\npolicy: %s\n%s\n' \
    "$1" "$IMG" "$3" "$4" "$2" "$cons_yaml" >"$WORK/$1.yaml"
  printf '{"name": "%s", "image": "%s", "command": ["/bin/true"], "resources": {"cpu": "%s", "memory": "%s"}, "replicas": 1, "policy": "%s"%s}\n' \
    "$1" "$IMG" "$3" "$4" "$2" "$cons_json" >"$WORK/$1.json"
}
job zconf binpack 1230m 321Mi eu-west   # only node 2 (node 1 has 1 CPU, node 3 is us-east)
job zzone spread 100m 64Mi "" 1         # nodes 1 and 3: spread takes the freer

# node 2 submits: its node shows only that each job is placed; where, each
# runner shows of the replica it runs (placements_at, views_agree: lib.sh)
assigned() { [ "$(placements_at 2 "$1" | wc -l)" -ge "$2" ]; }
oracle() { "$ORACLE" "$WORK/$1.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}"; }

for j in zconf zzone; do
  out=$(node "$WORK/client/submit.mjs" --public-key "$WORK/bundle/public.tfhers" \
          --api "http://$API_2" --token-file "$WORK/n2/api.token" "$WORK/$j.json") \
    || fail "example client: $out"
  id=$(json_get "$out" id)
  want=$(oracle "$j")
  wait_for 120 "$j assigned (node 2, its submitter)" assigned "$id" 1
  wait_for 30 "every node's own view of $j agrees with node 2's" views_agree 2 "$id"
  got=$(placements_at 2 "$id")
  [ "$got" = "$want" ] || fail "$j placed on [$got], oracle says [$want]"
  st=$(veil_at 3 job status "$id" -o json)
  node -e 'const j = JSON.parse(process.argv[1]);
    process.exit(j.spec.resources === "confidential" && j.spec.constraints === "confidential" ? 0 : 1);' "$st" \
    || fail "node 3 shows $j's request: $st"
  ok "$j (node-tfhe request, $(json_get "$out" ciphertext_bytes) bytes) placed on $got = oracle"
done
if grep -v 'TEST_ONLY\|test_only' "$WORK"/n*/veild.log | grep -q '1230m\|321Mi'; then
  fail "a node's log holds zconf's plaintext request"
fi
ok "confidential jobs from node-tfhe scheduled like veil job run --confidential"
