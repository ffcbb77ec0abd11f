#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_keys.sh - node-computed keys in veild end to end
# (issue 20, src/node/daemon_keys.c): four veild nodes; for a public job each
# candidate publishes its key (veil_sched_node_key of the words it published
# for the round's epoch) encrypted, and the schedulers evaluate the argmin
# alone over those keys. Checked: a public binpack job, a public weighted
# job and a 2-replica binpack job (a batch round over keys) land where the
# plaintext oracle says, every scheduler's `round evaluated` line of their
# rounds shows the key path (keys=1) with at most 21 PBS per candidate (the
# full circuit costs ~38-49 per node, so this fails if veild went back to
# it); a confidential job in the same cluster keeps the full circuit
# (keys=0, and its PBS say so) and lands on the oracle's node; the privacy
# scan finds no node's capacity in the gossip (NODE_KEY messages included)
# or the logs of the others. A key lost in gossip is asked for again: the
# node the oracle picks for kbin drops its first NODE_KEY (a test-only
# switch), the schedulers that miss it ask, it re-sends, and every
# scheduler of that round still evaluates it over all four candidates
# (without the re-send they would go on with three after one interval).
# The switches are on-chain policy: after a vote turns node keys and batch
# rounds off, a public 2-replica job takes one full-circuit round per
# replica, placed as the oracle says.
source "$(dirname "$0")/lib.sh"
ORACLE=${E2E_ORACLE:?}
N=4
create_cluster "$N"
CAPS=("" "cpu=1280m,memory=2Gi,disk=20Gi,gpu=0,latency0=40" \
      "cpu=5120m,memory=1Gi,disk=20Gi,gpu=0,latency0=4.5" \
      "cpu=2560m,memory=4Gi,disk=20Gi,gpu=0,latency0=12.3" \
      "cpu=3840m,memory=3Gi,disk=20Gi,gpu=0,latency0=25")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
for i in $(seq 2 "$N"); do join_node "$i"; done
IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))

# job NAME PLACEMENT CPU MEMORY REPLICAS -> $WORK/NAME.yaml
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: $5
YAML
  case $2 in
    weighted:*:*) printf 'placement: weighted\nlatency_weight: %s\nload_weight: %s\n' \
      "$(cut -d: -f2 <<<"$2")" "$(cut -d: -f3 <<<"$2")" >>"$WORK/$1.yaml" ;;
    *) echo "policy: $2" >>"$WORK/$1.yaml" ;;
  esac
}
oracle() {
  local args=() i
  for i in $(seq 1 "$N"); do args+=("$(eval echo "\$PEER_$i")=${CAPS[$i]}"); done
  "$ORACLE" "$WORK/$1.yaml" "${args[@]}"
}
job kbin binpack 100m 1536Mi 1       # the least cpu that fits the memory
job kweigh weighted:1:4 100m 16Mi 1  # latency against load
job krep binpack 100m 16Mi 2         # one batch round over keys
job kconf binpack 100m 1536Mi 1      # submitted --confidential: full circuit
job kspread spread 100m 64Mi 1       # submitted last: queued by admission (3 in flight)
[ "$(oracle kbin)" != "$(oracle kweigh)" ] || fail "the oracle places kbin and kweigh alike"
# the node whose first key is lost: kbin's (a winner left out is a wrong placement)
DROP=
for i in $(seq 1 "$N"); do [ "$(eval echo "\$PEER_$i")" = "$(oracle kbin)" ] && DROP=$i; done
[ -n "$DROP" ] || fail "the oracle places kbin on no node: $(oracle kbin)"
for i in $(seq 1 "$N"); do
  drop=(); [ "$i" = "$DROP" ] && drop=(VEIL_TEST_ONLY_DROP_FIRST_NODE_KEY=true)
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    "VEIL_TEST_ONLY_GOSSIP_DUMP=$WORK/n$i/gossip.hex" "${drop[@]}"
done
wait_mesh "$N" 90
ok "mesh up: $N nodes, telemetry flowing (node $DROP drops its first key)"

# placements_at reads NODE_PIDS and PEER_i: polled in this shell
check_placed() {
  local j=$1 id=$2 want n got deadline=$((SECONDS + 150))
  want=$(oracle "$j")
  n=$(wc -l <<<"$want")
  while [ "$(placements_at 2 "$id" | wc -l)" -lt "$n" ]; do
    [ $SECONDS -lt $deadline ] || fail "timed out after 150s waiting for $j to be placed"
    nodes_alive
    sleep 0.5
  done
  got=$(placements_at 2 "$id")
  [ "$got" = "$want" ] || fail "$j placed on [$got], the oracle says [$want]"
}

declare -A ID
ID[kconf]=$(veil_at 2 job run --confidential "$WORK/kconf.yaml" | awk '{print $2}') \
  || fail "job run --confidential kconf"
for j in kbin kweigh krep kspread; do
  ID[$j]=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"
done
for j in kbin kweigh krep kspread kconf; do
  check_placed "$j" "${ID[$j]}"
  ok "$j placed as the oracle says: $(oracle "$j" | tr '\n' ' ')"
done

# evaluated JOB: every scheduler's `round evaluated` line of the job's rounds
evaluated() { grep -h 'msg="round evaluated"' "$WORK"/n*/veild.log | grep "job=${1:0:16} " || true; }
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
declare -A K=([kbin]=1 [kweigh]=1 [krep]=2 [kspread]=1) # tournaments in the round
for j in kbin kweigh krep kspread; do
  lines=$(evaluated "${ID[$j]}")
  [ -n "$lines" ] || fail "$j: no round evaluated line"
  while read -r l; do
    keys=$(field keys "$l"); pbs=$(field pbs "$l"); c=$(field candidates "$l")
    [ "$keys" = 1 ] || fail "$j evaluated without the node keys: $l"
    [ "$c" -ge 1 ] && [ "$pbs" -ge 1 ] || fail "$j: no candidate or no PBS: $l"
    [ "$pbs" -le $((21 * c * K[$j])) ] \
      || fail "$j: $pbs PBS for $c candidates and ${K[$j]} replicas (over 21 each): $l"
  done <<<"$lines"
  ok "$j: key path, PBS per candidate $(while read -r l; do
    echo "$(field pbs "$l")/$(field candidates "$l")"; done <<<"$lines" | sort -u | tr '\n' ' ')"
done
# every candidate's key reached the round, also while admission queued it
for j in kbin kweigh krep kspread; do
  grep -q "candidates=$N " <<<"$(evaluated "${ID[$j]}")" \
    || fail "$j: no scheduler evaluated it over all $N candidates: $(evaluated "${ID[$j]}")"
done
# the lost key: asked for again, re-sent, and every scheduler of its round
# evaluated it over all four candidates
dropped=$(grep -h 'TEST ONLY: node key dropped' "$WORK/n$DROP/veild.log" | head -1)
[ -n "$dropped" ] || fail "node $DROP dropped no key (the test-only switch did nothing)"
djob=$(sed -n 's/.* job=\([0-9a-f]*\).*/\1/p' <<<"$dropped")
[ -n "$djob" ] || fail "no job in the drop line: $dropped"
grep -h 'msg="node keys asked again"' "$WORK"/n*/veild.log | grep -q "job=$djob " \
  || fail "no scheduler asked for the lost key of job $djob: $dropped"
grep -h 'msg="node key re-sent"' "$WORK/n$DROP/veild.log" | grep -q "job=$djob " \
  || fail "node $DROP did not re-send its key of job $djob: $(tail -n 20 "$WORK/n$DROP/veild.log")"
lines=$(grep -h 'msg="round evaluated"' "$WORK"/n*/veild.log | grep "job=$djob " || true)
[ -n "$lines" ] || fail "the round of job $djob (the lost key's) was never evaluated"
while read -r l; do
  grep -q "candidates=$N " <<<"$l" || fail "a scheduler went on without the lost key: $l"
done <<<"$lines"
ok "a lost key was asked for and re-sent: job $djob evaluated over all $N candidates" \
   "by $(wc -l <<<"$lines") scheduler(s)"
grep -h 'msg="round queued"' "$WORK"/n*/veild.log | grep -q "job=${ID[kspread]:0:16} " \
  || fail "kspread was never queued by admission (the test needs it)"
# the batch: one round placed both replicas
grep -h 'msg="round planned"' "$WORK"/n2/veild.log | grep "job=${ID[krep]:0:16} " \
  | grep -q 'batch=2' || fail "krep was not planned as one batch round"
lines=$(evaluated "${ID[kconf]}")
[ -n "$lines" ] || fail "kconf: no round evaluated line"
while read -r l; do
  [ "$(field keys "$l")" = 0 ] || fail "kconf (confidential) took the key path: $l"
  [ "$(field pbs "$l")" -gt $((21 * $(field candidates "$l"))) ] \
    || fail "kconf's round is not the full circuit: $l"
done <<<"$lines"
ok "kconf (confidential): full circuit, $(field pbs "$(head -1 <<<"$lines")") PBS over" \
   "$(field candidates "$(head -1 <<<"$lines")") candidates"
grep -q 'msg="node key published"' "$WORK/n3/veild.log" || fail "node 3 published no key"
if grep -h 'msg="node key published"' "$WORK"/n*/veild.log | grep -q "job=${ID[kconf]:0:16} "; then
  fail "a node published a key for the confidential job"
fi

# the scheduling switches are cluster policy (schedFlags): a vote turns both
# off on the running nodes, and the next public 2-replica job takes one
# round per replica over the full circuit, still where the oracle says
CHAIN=(--rpc "$RPC" --contract "$(json_get "$(cat "$WORK/init.json")" contract)")
CID=$(json_get "$(cat "$WORK/init.json")" cluster_id)
pol=$("$VEIL" chain policy get "${CHAIN[@]}" --cluster "$CID" -o json) || fail "policy get: $pol"
dec=$(node -e 'console.log(JSON.parse(process.argv[1]).decryptors[0])' "$pol")
"$VEIL" chain policy propose "${CHAIN[@]}" --keystore "$(keystore_for 1)" --cluster "$CID" \
  --fhe-key-hash "$(json_get "$pol" fhe_key_hash)" --decryptor "$dec" --no-node-keys \
  --no-batch-replicas -o json >"$WORK/propose.json" \
  || fail "policy propose: $(cat "$WORK/propose.json")"
"$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
for i in $(seq 1 "$N"); do
  wait_for 60 "node $i applies the switches voted off" grep -q \
    'msg="scheduling policy" batch_replicas=0 node_keys=0 version=2' "$WORK/n$i/veild.log"
done
job koff binpack 100m 16Mi 2
ID[koff]=$(veil_at 2 job run "$WORK/koff.yaml" | awk '{print $2}') || fail "job run koff"
check_placed koff "${ID[koff]}"
lines=$(evaluated "${ID[koff]}")
[ -n "$lines" ] || fail "koff: no round evaluated line"
while read -r l; do
  [ "$(field keys "$l")" = 0 ] || fail "koff took the key path with node keys voted off: $l"
done <<<"$lines"
planned=$(grep -h 'msg="round planned"' "$WORK/n2/veild.log" | grep "job=${ID[koff]:0:16} " || true)
for r in 0 1; do
  grep "replica=$r " <<<"$planned" | grep -q 'batch=1' \
    || fail "koff's replica $r was not planned in a round of its own: $planned"
done
ok "switches voted off (policy version 2): koff placed as the oracle says, one full-circuit" \
   "round per replica"

# no capacity leaves its node in plaintext (keys are published encrypted)
for i in $(seq 1 "$N"); do
  files=()
  for k in $(seq 1 "$N"); do
    [ "$k" = "$i" ] && continue
    grep -v 'TEST_ONLY\|test_only' "$WORK/n$k/veild.log" >"$WORK/n$k/log.scan"
    files+=("$WORK/n$k/gossip.hex" "$WORK/n$k/log.scan")
  done
  node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" "${files[@]}" \
    >"$WORK/privacy$i.txt" 2>&1 || fail "node $i's capacity leaked: $(cat "$WORK/privacy$i.txt")"
done
grep -q ' 0108' "$WORK/n1/gossip.hex" \
  || fail "node 1's gossip dump holds no NODE_KEY message (the scan saw none)"
ok "privacy scan: no capacity in the gossip (NODE_KEY included) or the logs of the others"
