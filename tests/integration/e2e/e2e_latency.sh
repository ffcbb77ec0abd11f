#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_latency.sh - latency-aware placement end to end
# (issue 20): three veild nodes publish their RTT to the cluster's latency
# landmark 0 encrypted in their telemetry (format 2; fixed here through the
# test-only override, so the oracle knows it), jobs ask for
# `placement: lowest-latency`, the schedulers evaluate the circuit on the
# ciphertexts, and each placement, read from the runners' own views, must
# equal the plaintext oracle's: the closest feasible node (the closest one
# when it fits, the next closest when it lacks memory, two replicas on the
# two closest, and a confidential request); and one `placement: weighted`
# job (latency_weight 1, load_weight 4) whose cost picks a node that neither
# lowest-latency nor binpack picks (and that default weights would not pick:
# the weights travel in the spec to every scheduler).
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
create_cluster 3
# node 2 is the closest to landmark 0 but has the least memory; binpack
# would take node 1 (the least cpu), spread node 2 (the most): the latency
# order 2 < 3 < 1 differs from both on the memory-heavy jobs.
CAPS=("" "cpu=1280m,memory=2Gi,disk=20Gi,gpu=0,latency0=40" \
      "cpu=5120m,memory=1Gi,disk=20Gi,gpu=0,latency0=4.5,latency1=90" \
      "cpu=2560m,memory=4Gi,disk=20Gi,gpu=0,latency0=12.3,latency1=2")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"
done
IMG=127.0.0.1:5000/busybox@sha256:$(printf 'cd%.0s' $(seq 1 32))

wait_mesh 3 90
ok "mesh up, telemetry (with latency words) flowing"

# job NAME PLACEMENT CPU MEMORY REPLICAS -> writes $WORK/NAME.yaml
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: $5
YAML
  case $2 in
    lowest-latency) echo "placement: lowest-latency" >>"$WORK/$1.yaml" ;;
    weighted:*:*) printf 'placement: weighted\nlatency_weight: %s\nload_weight: %s\n' \
      "$(cut -d: -f2 <<<"$2")" "$(cut -d: -f3 <<<"$2")" >>"$WORK/$1.yaml" ;;
    *) echo "policy: $2" >>"$WORK/$1.yaml" ;;
  esac
}
oracle() { "$ORACLE" "$WORK/$1.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}"; }
peer_index() {
  local i
  for i in 1 2 3; do [ "$(eval echo "\$PEER_$i")" = "$1" ] && { echo "$i"; return; }; done
  echo "?"
}

job jnear lowest-latency 500m 64Mi 1     # everyone fits: node 2 (4.5 ms)
job jfar lowest-latency 100m 1536Mi 1    # node 2 lacks memory: node 3 (12.3 ms)
job jrep lowest-latency 100m 16Mi 2      # the two closest: nodes 2 and 3
job jconf lowest-latency 100m 1536Mi 1   # confidential: node 3
job jbin binpack 100m 1536Mi 1           # the same request under binpack: node 1
# weighted 1 x latq + 4 x load (load: the top 8 bits of spread's terms, cpu
# and memory): node 1 25 + 4 x 509, node 2 2 + 4 x 509, node 3 7 + 4 x 507:
# node 3, where lowest-latency takes node 2, binpack node 1, and the default
# weights (1, 1) node 2
job jweigh weighted:1:4 100m 16Mi 1
job jweigh-latency lowest-latency 100m 16Mi 1
job jweigh-binpack binpack 100m 16Mi 1
job jweigh-default weighted:1:1 100m 16Mi 1
# The oracle itself must tell the policies apart, or the test proves nothing.
expect_oracle() {
  local got
  got=$(oracle "$1" | while read -r p; do peer_index "$p"; done | tr '\n' ' ')
  [ "$got" = "$2 " ] || fail "oracle places $1 on nodes [$got], the test expects [$2]"
}
expect_oracle jnear 2; expect_oracle jfar 3; expect_oracle jrep "2 3"; expect_oracle jconf 3
expect_oracle jbin 1
expect_oracle jweigh 3; expect_oracle jweigh-latency 2; expect_oracle jweigh-binpack 1
expect_oracle jweigh-default 2

assigned() { [ "$(placements_at 2 "$1" | wc -l)" -ge "$2" ]; }
check_placed() {
  local j=$1 id=$2 want n got
  want=$(oracle "$j")
  n=$(echo "$want" | wc -l)
  wait_for 120 "$j assigned (node 2, its submitter)" assigned "$id" "$n"
  got=$(placements_at 2 "$id")
  [ "$got" = "$want" ] || fail "$j placed on [$got], oracle says [$want]"
  wait_for 30 "every node's own view of $j agrees with the submitter's" views_agree 2 "$id"
  ok "$j: nodes $(echo "$got" | while read -r p; do peer_index "$p"; done | tr '\n' ' ')= oracle"
}
# All submitted at once (admission queues them; each round sees its own job).
declare -A ID
for j in jnear jfar jrep jbin jweigh; do
  ID[$j]=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"
done
ID[jconf]=$(veil_at 2 job run --confidential "$WORK/jconf.yaml" | awk '{print $2}') \
  || fail "job run --confidential jconf"
for j in jnear jfar jrep jbin jconf jweigh; do check_placed "$j" "${ID[$j]}"; done
st=$(veil_at 2 job status "${ID[jnear]}" -o json)
node -e 'process.exit(JSON.parse(process.argv[1]).spec.policy === "lowest-latency" ? 0 : 1)' "$st" \
  || fail "jnear's status does not show policy lowest-latency: $st"
st=$(veil_at 2 job status "${ID[jweigh]}" -o json)
node -e 'const s = JSON.parse(process.argv[1]).spec;
  process.exit(s.policy === "weighted" && s.latency_weight === 1 && s.load_weight === 4 ? 0 : 1)' \
  "$st" || fail "jweigh's status does not show placement weighted 1/4: $st"
ok "lowest-latency jobs placed as the oracle says (encrypted latency, public and confidential requests)"
ok "weighted job placed as the oracle says (latency against load, neither lowest-latency's nor binpack's node)"
