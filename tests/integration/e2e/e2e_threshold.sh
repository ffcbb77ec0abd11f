#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_threshold.sh - threshold decryption in a running
# cluster (issue 11): four veild nodes, all key holders of a 1-of-4 dealing
# (t = 1: any 3 agreeing holders decrypt) made by `veil cluster init
# --key-holders ... --threshold 1`, each with its sealed share installed by
# `veil node join --share`. There is no designated decryptor and no client
# key anywhere. Checked, with every placement equal to the plaintext oracle:
#   - a job is placed while holder 4 publishes wrong partial decryptions
#     (a TEST-ONLY switch): it is named in the logs and in `veil job status`;
#   - holder 3, asked (TEST-ONLY) to decrypt a telemetry ciphertext, refuses;
#   - with holder 4 honest again and holder 2 killed, a 2-replica job is
#     still placed (3 holders answer), on two distinct nodes in ONE batch
#     round (issue 20: the holders squash, decrypt and sign both replicas
#     from one output; no round of replica 1's own).
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
start_anvil
export VEIL_KEYSTORE_PASSWORD=pw
N=4
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0" "cpu=3000m,memory=3Gi,disk=20Gi,gpu=0")
# Each holder's identity first: its share is sealed to that key.
holders=() ops=()
for i in $(seq 1 $N); do
  mkdir -p "$WORK/n$i"
  pid=$("$VEIL" p2p id --key "$WORK/n$i/p2p.key") || fail "p2p id $i"
  holders+=("$(addr_for "$i")=$pid")
  ops+=(--operator "$(addr_for "$i")@org$i")
done
t0=$SECONDS
"$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" --name th \
  --key-holders "$(IFS=,; echo "${holders[*]}")" --threshold 1 "${ops[@]}" --json \
  >"$WORK/init.json" || fail "cluster init: $(cat "$WORK/init.json")"
ok "ceremony for $N holders, t = 1, in $((SECONDS - t0)) s: $(cat "$WORK/init.json")"
[ ! -e "$WORK/bundle/decryptor" ] && ! ls "$WORK/bundle" | grep -q client \
  || fail "a client key was written"
for i in $(seq 1 $N); do
  [ "$(stat -c %a "$WORK/bundle/share-$i.key")" = 600 ] || fail "share $i is not 0600"
  join_node "$i" --share "$WORK/bundle/share-$i.key"
  [ "$(stat -c %a "$WORK/n$i/share.key")" = 600 ] || fail "installed share $i is not 0600"
done
# a share opens only with its own holder's key
if "$VEIL" node join "$WORK/bundle" -d "$WORK/n1" --keystore "$(keystore_for 1)" \
  --share "$WORK/bundle/share-2.key" >/dev/null 2>&1; then fail "node 1 installed holder 2's share"; fi
ok "shares installed (0600), each only on its own holder"

ENV=(VEIL_TELEMETRY_INTERVAL=2s VEIL_THREADS=1)
node_env() { echo "VEIL_TEST_ONLY_CAPACITY=${CAPS[$1]} VEIL_TEST_ONLY_GOSSIP_DUMP=$WORK/n$1/gossip.hex"; }
start_node 1 "${ENV[@]}" $(node_env 1)
start_node 2 "${ENV[@]}" $(node_env 2)
start_node 3 "${ENV[@]}" $(node_env 3) VEIL_TEST_ONLY_DECRYPT_TELEMETRY=1
start_node 4 "${ENV[@]}" $(node_env 4) VEIL_TEST_ONLY_WRONG_PARTIAL=1
wait_mesh "$N" 180
sleep 3
for i in $(seq 1 $N); do
  grep -q "this node is a key holder\" holder=$i of=4 t=1" "$WORK/n$i/veild.log" \
    || fail "node $i is not key holder $i"
done
ok "mesh up; nodes 1-4 are key holders 1-4"

IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: ${5:-1}
policy: $2
YAML
}
# node 1 submits: its node shows only that a replica is placed; where, the
# runner shows of the replica it runs (placements_at, views_agree: lib.sh)
assigned() { [ "$(placements_at 1 "$1" | wc -l)" -ge "${2:-1}" ]; }
# the squash time a holder logged for a job's round (ms), and its pairs
squash_of() {
  local l
  l=$(grep -h "msg=\"partial decryption published\" job=${1:0:16} " "$WORK"/n*/veild.log || true)
  sed -n 's/.* batch=\([0-9]*\) squash_ms=\([0-9]*\).*/\1 pairs: \2 ms/p' <<<"$l" | sed -n 1p
}
oracle() {
  "$ORACLE" "$WORK/$1.yaml" "$PEER_1=${CAPS[1]}" "$PEER_2=${CAPS[2]}" "$PEER_3=${CAPS[3]}" \
    "$PEER_4=${CAPS[4]}"
}
oracle_live() { # NAME: the oracle over nodes 1, 3, 4 (node 2 is down)
  "$ORACLE" "$WORK/$1.yaml" "$PEER_1=${CAPS[1]}" "$PEER_3=${CAPS[3]}" "$PEER_4=${CAPS[4]}"
}

# 1. Holder 4 lies: the job is still placed right, holder 4 is named.
job jliar binpack 1500m 512Mi
id=$(veil_at 1 job run "$WORK/jliar.yaml" | awk '{print $2}') || fail "job run jliar"
jliar=$id
wait_for 240 "jliar assigned (node 1, its submitter)" assigned "$id"
wait_for 30 "every node's own view of jliar agrees with node 1's" views_agree 1 "$id"
got=$(placements_at 1 "$id")
[ "$got" = "$(oracle jliar)" ] || fail "jliar placed on [$got], oracle says [$(oracle jliar)]"
named4() { grep -q "msg=\"wrong partial decryption\" job=${id:0:16} replica=0 holder=4 peer=$PEER_4" \
  "$WORK/n1/veild.log"; }
wait_for 120 "holder 4 named in node 1's log" named4
veil_at 1 job status "$id" | grep -q 'threshold decryption by holders 1,2,3,4 (t=1); wrong partials: \(4\|none\); rejected: \(4\|none\)' \
  || fail "job status does not name holder 4: $(veil_at 1 job status "$id")"
veil_at 1 job status "$id" | grep -q ': 4' || fail "job status does not name holder 4"
ok "a lying holder is named (log, job status) and jliar is still on $got (= oracle)"

# 2. A holder asked to decrypt telemetry refuses.
grep -q 'msg="decryption refused" what=telemetry holder=3' "$WORK/n3/veild.log" \
  || fail "holder 3 did not refuse to decrypt telemetry"
! grep -q 'telemetry passed the decryption guard' "$WORK"/n*/veild.log || fail "telemetry decrypted"
ok "a key holder asked to decrypt telemetry refuses"

# 3. Holder 4 honest again, holder 2 killed: three holders still decrypt.
stop_node 4
start_node 4 "${ENV[@]}" $(node_env 4)
kill -9 "${NODE_PIDS[2]}"; wait "${NODE_PIDS[2]}" 2>/dev/null || true; NODE_PIDS[2]=
dead2() { veil_at 1 get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.some(r => r.peer_id === process.argv[1] && !r.alive) ? 0 : 1);' "$PEER_2"; }
wait_for 120 "node 2 seen dead" dead2
back4() { [ "$(grep -c 'this node is a key holder" holder=4' "$WORK/n4/veild.log")" -ge 2 ]; }
wait_for 120 "holder 4 restarted" back4
sleep 8
job jdown spread 500m 64Mi 2
id=$(veil_at 1 job run "$WORK/jdown.yaml" | awk '{print $2}') || fail "job run jdown"
wait_for 240 "both replicas of jdown assigned (node 1, its submitter)" assigned "$id" 2
wait_for 30 "every live node's own view of jdown agrees with node 1's" views_agree 1 "$id"
got=$(placements_at 1 "$id")
[ "$got" = "$(oracle_live jdown)" ] || fail "jdown placed on [$got], oracle says [$(oracle_live jdown)]"
[ "$(sort -u <<<"$got" | wc -l)" = 2 ] || fail "jdown's replicas share a node: [$got]"
status=$(veil_at 1 job status "$id")
grep -q 'threshold decryption by holders 1,3,4' <<<"$status" \
  || fail "job status does not show holders 1,3,4: $status"
# one batch round placed both: planned with batch=2, each holder's two
# assignments signed from it, and no round of replica 1's own anywhere
logs=$(cat "$WORK"/n1/veild.log "$WORK"/n3/veild.log "$WORK"/n4/veild.log)
planned=$(grep -F 'msg="round planned"' <<<"$logs" | grep -F "job=${id:0:16} " || true)
grep -q 'replica=0 .*batch=2 ' <<<"$planned" || fail "jdown was not planned as one batch round: $planned"
! grep -q 'replica=1 ' <<<"$planned" || fail "jdown's replica 1 had a round of its own: $planned"
signed=$(grep -F 'msg="assignment signed"' <<<"$logs" | grep -F "job=${id:0:16} " || true)
for k in 0 1; do
  [ "$(grep -c "replica=$k .*batch=2" <<<"$signed")" -ge 2 ] \
    || fail "replica $k of jdown: fewer than t + 1 holders signed it from the batch: $signed"
done
ok "holder 2 killed: holders 1,3,4 decrypt one batch round, jdown's 2 replicas on" \
  "$(tr '\n' ' ' <<<"$got")(= oracle, distinct); squash: $(squash_of "$jliar") (jliar)," \
  "$(squash_of "$id") (jdown)"

# 4. Privacy: no share (nor any node's capacity) in gossip, logs, API answers
# or chain data. The squashing secret itself never exists outside the
# ceremony (wiped there); the shares are what would rebuild it.
secrets=()
for i in $(seq 1 $N); do secrets+=(--secret "$WORK/bundle/share-$i.key" --secret "$WORK/n$i/share.key"); done
for i in 1 3 4; do
  files=(--rpc "$RPC" "${secrets[@]}")
  for j in 1 3 4; do
    [ "$j" = "$i" ] && continue
    for w in nodes jobs assignments; do veil_at "$j" get "$w" -o json; done >"$WORK/n$j/get.json"
    veil_at "$j" job status "$id" -o json >"$WORK/n$j/status.json"
    cat "$WORK"/n$j/veild.log | grep -v 'TEST_ONLY\|test_only' >"$WORK/n$j/log.scan"
    files+=("$WORK/n$j/gossip.hex" "$WORK/n$j/get.json" "$WORK/n$j/status.json" "$WORK/n$j/log.scan")
  done
  node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" "${files[@]}" \
    >"$WORK/privacy$i.txt" 2>&1 || fail "leak seen from node $i: $(cat "$WORK/privacy$i.txt")"
done
ok "no share or capacity in gossip, logs, API answers or chain data: $(tail -1 "$WORK/privacy1.txt")"
echo "PASS e2e_threshold"
