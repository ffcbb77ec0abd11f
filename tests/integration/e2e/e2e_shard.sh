#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_shard.sh - sharded rounds in veild (issue 20) with
# real veild processes: E2E_SHARD_NODES nodes (default 12; e2e_shard_lib.sh)
# in a cluster whose on-chain policy has a shard size of 4 (`veil cluster
# init --shard-size 4 --shard-redundancy 3`), so each round is 3 shard
# rounds of 3 schedulers each, chosen by rendezvous per shard, whose
# vouched-for outputs the designated decryptor (node 1) merges before it
# decrypts the merged (index, found) only.
#  - jflip (2 replicas): one sharded batch round places both (every node
#    plans replica 0 with shards=3 batch=2 and no round for replica 1; each
#    shard hands on its top 2 with their keys, the decryptor merges the
#    2-lists); one scheduler of shard 1 lies (the test-only fault of
#    debug.test_only_split_job on a sharded round: it publishes a made-up
#    output at once); digest agreement leaves it out (the decryptor logs 3
#    voted, 2 agreeing, 1 dissenting) and both replicas land on distinct
#    nodes, each equal to the oracle.
#  - jkill: a scheduler of one of its shards is SIGKILLed right after the
#    round is planned; the shard's two others still agree, and the job is
#    placed where the oracle says (when the schedulers saw the death at
#    different times, their shards' candidate lists differ and the decryptor
#    retries the round at once).
#  - jsix: a policy vote (veil chain policy propose) changes the shard size
#    to 6 with 2 schedulers per shard while the nodes run; every running
#    node logs the new shard policy after the PolicyChanged event, and the
#    next job's round over the 11 alive members is planned as 2 shards of 2
#    schedulers.
# Every placement is checked against the plaintext oracle (the unsharded
# round: sharding changes where the work runs, never the result).
source "$(dirname "$0")/e2e_shard_lib.sh"
ORACLE=${E2E_ORACLE:?}
N=${E2E_SHARD_NODES:-12}
shard_caps "$N"
shard_cluster "$N" --shard-size 4 --shard-redundancy 3
for i in $(seq 1 "$N"); do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s VEIL_THREADS=1 \
    "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" VEIL_TEST_ONLY_SPLIT_JOB=jflip
done
shard_mesh_up "$N"
ok "$N nodes up, telemetry flowing ($SECONDS s)"

ALIVE=$(seq 1 "$N")
oracle() {
  local args=() i
  for i in $ALIVE; do args+=("$(eval echo "\$PEER_$i")=${CAPS[$i]}"); done
  "$ORACLE" "$WORK/$1.yaml" "${args[@]}"
}
assigned() { [ "$(placements_at 2 "$1" | wc -l)" -ge "$2" ]; }
placed_as_oracle() { # NAME ID REPLICAS
  wait_for 200 "$1: $3 replica(s) placed" assigned "$2" "$3"
  got=$(placements_at 2 "$2")
  [ "$(sort -u <<<"$got" | grep -vc unschedulable)" = "$3" ] || fail "$1 not on $3 distinct nodes: $got"
  want=$(oracle "$1")
  [ "$got" = "$want" ] || fail "$1 placed on [$got], the oracle says [$want]"
}
D1=$WORK/n1/veild.log

# ---- a shard whose schedulers disagree --------------------------------------
shard_job jflip binpack 1500m 512Mi 2
away_from_epoch_cliff 2000 # every node plans jflip at the same epoch (its liar included)
fid=$(veil_at 2 job run "$WORK/jflip.yaml" | awk '{print $2}') || fail "job run jflip"
placed_as_oracle jflip "$fid" 2
# one sharded batch round placed both replicas (each shard hands on its top 2,
# the decryptor merges the 2-lists): planned with shards=3 batch=2 on every
# node, no round of replica 1's own anywhere, both assignments signed from it
for i in $(seq 1 "$N"); do
  grep -q "msg=\"round planned\" job=${fid:0:16} replica=0 .*shards=3 batch=2 " "$WORK/n$i/veild.log" \
    || fail "node $i did not plan jflip as one batch of 2 in 3 shards: $(grep "job=${fid:0:16}" "$WORK/n$i/veild.log" | tail -n 5)"
  ! grep -q "msg=\"round planned\" job=${fid:0:16} replica=[1-9]" "$WORK/n$i/veild.log" \
    || fail "node $i planned a round for jflip's replica 1: $(grep "round planned.*${fid:0:16}" "$WORK/n$i/veild.log")"
done
grep -q "msg=\"shards merging\" job=${fid:0:16} replica=0 shards=3 batch=2" "$D1" \
  || fail "the decryptor did not merge jflip's shards' 2-lists: $(grep "shards merging" "$D1" | tail -n 3)"
grep -q "msg=\"TEST ONLY: shard output falsified\"" "$WORK"/n*/veild.log \
  || fail "no scheduler of jflip's shard 1 falsified its output"
grep -q "msg=\"shard vouched\" job=${fid:0:16} replica=0 shard=1 .*schedulers=3 voted=3 agreeing=2 dissenting=1" "$D1" \
  || fail "the decryptor did not merge shard 1 on 2 agreeing schedulers: $(grep 'shard vouched' "$D1" | tail -n 6)"
for k in 0 1; do
  grep -q "msg=\"assignment signed\" job=${fid:0:16} replica=$k schedulable=1 shards=3 batch=2" "$D1" \
    || fail "jflip's replica $k was not decided from the batch's merge of 3 shards"
done
ok "jflip: 2 replicas in one sharded batch round on distinct nodes (= oracle), shard 1's falsified output left out by digest agreement ($SECONDS s)"

# ---- a shard that loses a scheduler ---------------------------------------
# jkill runs in eu-west (odd nodes) only; the victim is a us-east scheduler
# of one of its shards (not node 2, the submitter), so that its death does
# not change where the job belongs.
peer_node() { local i; for i in $(seq 1 "$N"); do [[ "$(eval echo "\$PEER_$i")" == *"$1" ]] && { echo "$i"; return 0; }; done; return 1; }
victim=
for try in 1 2; do
  shard_job "jkill$try" spread 100m 16Mi 1 "{region: eu-west}"
  away_from_epoch_cliff 2000 # node 2's plan (where the victim is read) is everyone's
  kid=$(veil_at 2 job run "$WORK/jkill$try.yaml" | awk '{print $2}') || fail "job run jkill$try"
  planned() { [ "$(grep -c "msg=\"shard planned\" job=${kid:0:16} replica=0 " "$WORK/n2/veild.log")" -ge 3 ]; }
  wait_for 60 "jkill$try planned as 3 shards on node 2" planned
  for who in $(grep "msg=\"shard planned\" job=${kid:0:16} replica=0 " "$WORK/n2/veild.log" \
               | grep -o 'schedulers=[^ ]*' | cut -d= -f2 | tr ',' '\n'); do
    v=$(peer_node "$who") || continue
    if [ $((v % 2)) = 0 ] && [ "$v" != 2 ]; then victim=$v; break; fi
  done
  [ -n "$victim" ] && break
  placed_as_oracle "jkill$try" "$kid" 1 # no us-east scheduler this time: the next job
done
[ -n "$victim" ] || fail "no jkill round had a us-east scheduler to kill"
kill -9 "${NODE_PIDS[$victim]}"
wait "${NODE_PIDS[$victim]}" 2>/dev/null || true
NODE_PIDS[$victim]=
ok "node $victim (a scheduler of jkill$try's shards) SIGKILLed"
placed_as_oracle "jkill$try" "$kid" 1
grep -q "msg=\"assignment signed\" job=${kid:0:16} replica=0 schedulable=1 shards=3" "$D1" \
  || fail "jkill$try was not decided from a merge of 3 shards"
ok "jkill$try: placed as the oracle says after a shard lost scheduler node $victim ($SECONDS s)"

# ---- a policy vote changes the shard size on the running nodes ------------
# The whole policy is replaced (its FHE key hash and decryptor kept); the
# cluster's threshold is 1, so the proposer's vote executes it. Nodes reload
# the policy once the PolicyChanged event has chain.confirmations (2) blocks.
ALIVE=$(seq 1 "$N" | grep -vx "$victim")
CHAIN=(--rpc "$RPC" --contract "$(json_get "$(cat "$WORK/init.json")" contract)")
CID=$(json_get "$(cat "$WORK/init.json")" cluster_id)
pol=$("$VEIL" chain policy get "${CHAIN[@]}" --cluster "$CID" -o json) || fail "policy get: $pol"
[ "$(json_get "$pol" shards)" = '{"size":4,"redundancy":3}' ] || fail "init's shard policy: $pol"
dec=$(node -e 'console.log(JSON.parse(process.argv[1]).decryptors[0])' "$pol")
"$VEIL" chain policy propose "${CHAIN[@]}" --keystore "$(keystore_for 1)" --cluster "$CID" \
  --fhe-key-hash "$(json_get "$pol" fhe_key_hash)" --decryptor "$dec" --shard-size 6 \
  --shard-redundancy 2 -o json >"$WORK/propose.json" \
  || fail "policy propose: $(cat "$WORK/propose.json")"
"$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
for i in $ALIVE; do
  wait_for 60 "node $i applies shards of 6 x 2 (policy version 2)" grep -q \
    'msg="shard policy" size=6 redundancy=2 version=2 previous_size=4 previous_redundancy=3' \
    "$WORK/n$i/veild.log"
done
ok "shard size 6 x 2 voted on chain, applied by the $(wc -w <<<"$ALIVE") running nodes ($SECONDS s)"
shard_job jsix binpack 100m 16Mi 1
away_from_epoch_cliff 2000
sid=$(veil_at 2 job run "$WORK/jsix.yaml" | awk '{print $2}') || fail "job run jsix"
placed_as_oracle jsix "$sid" 1
grep -q "msg=\"round planned\" job=${sid:0:16} replica=0 .*shards=2" "$WORK/n2/veild.log" \
  || fail "jsix was not planned as 2 shards: $(grep "job=${sid:0:16}" "$WORK/n2/veild.log" | tail -n 5)"
two=$(grep "msg=\"shard planned\" job=${sid:0:16} replica=0 " "$WORK/n2/veild.log" \
      | grep -o 'schedulers=[^ ]*' | grep -c '^schedulers=[^,]*,[^,]*$' || true)
[ "$two" -ge 2 ] || fail "jsix's shards do not have 2 schedulers each: $(grep "shard planned.*${sid:0:16}" "$WORK/n2/veild.log")"
grep -q "msg=\"assignment signed\" job=${sid:0:16} replica=0 schedulable=1 shards=2" "$D1" \
  || fail "jsix was not decided from a merge of 2 shards"
ok "jsix: planned as 2 shards of 2 schedulers under the new policy, placed as the oracle says ($SECONDS s)"
