#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_budget.sh - the per-member outcome budget (hook H2
# of docs/THREAT_MODEL.md) live on three veild nodes. The cluster's on-chain
# policy gets a budget of 2 outcomes per 60 s through `veil chain policy
# propose --outcome-budget` while the nodes run (each reloads its cached
# policy on the PolicyChanged event); node 3 (the would-be prober) submits:
#   j1, j2  within the budget: taken in and placed;
#   j3      the third of the period: refused at intake by every node, before
#           any round, logged with member address, period and seq, and
#           `veil job status` on node 3 names the budget and the next period;
#   j4      a hand-crafted announcement reusing j1's slot (node 3's own ledger
#           wiped in its database, so node 3 signs seq 0 again): nodes 1 and
#           2 refuse it as a reused slot;
#   j5      in the next period: accepted again and placed;
#   j6      node 2 restarted, node 3's ledger wiped again: the restarted node
#           still refuses j5's slot reused (its ledger is in its store).
# Jobs name an image that does not exist: placement is what is counted.
source "$(dirname "$0")/lib.sh"
PERIOD=60
create_cluster 3
CONTRACT=$(node -e 'console.log(require(process.argv[1]).contract)' "$WORK/bundle/bundle.json")
CHAIN=(--rpc "$RPC" --contract "$CONTRACT")

CAPS=("" "cpu=1280m,memory=2Gi,disk=20Gi,gpu=0" "cpu=5120m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2560m,memory=4Gi,disk=20Gi,gpu=0")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}"
done
wait_mesh 3
sleep 3
ok "mesh up"

# The budget goes into the policy while the nodes run, through the M-of-N
# proposal (threshold 1 here: the proposer's vote executes it); the rest of
# the policy is kept. Each node keeps one cached copy of the policy and reads
# it again once the PolicyChanged event is confirmed (chain.confirmations,
# default 2: two blocks mined after it).
pol=$("$VEIL" chain policy get "${CHAIN[@]}" --cluster 1 -o json)
dec=$(node -e 'console.log(JSON.parse(process.argv[1]).decryptors[0])' "$pol")
fhe=$(json_get "$pol" fhe_key_hash)
"$VEIL" chain policy propose "${CHAIN[@]}" --keystore "$(keystore_for 1)" --cluster 1 \
  --fhe-key-hash "$fhe" --decryptor "$dec" --outcome-budget "2/${PERIOD}s" -o json \
  >"$WORK/propose.json" || fail "policy propose: $(cat "$WORK/propose.json")"
pol=$("$VEIL" chain policy get "${CHAIN[@]}" --cluster 1 -o json)
[ "$(json_get "$pol" outcome_budget)" = "{\"outcomes_per_period\":2,\"period_s\":$PERIOD}" ] \
  || fail "budget not on chain: $pol"
[ "$(json_get "$pol" version)" = 2 ] || fail "policy version: $pol"
"$CAST" rpc anvil_mine 2 --rpc-url "$RPC" >/dev/null || fail "anvil_mine"
for i in 1 2 3; do
  wait_for 60 "node $i reloads the policy after the PolicyChanged event" \
    grep -q 'msg="policy reloaded" version=2 .*reason=event event_version=2' "$WORK/n$i/veild.log"
done
ok "outcome budget 2 per ${PERIOD}s passed on chain (policy version 2), reloaded by every node"

IMG=127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
for j in j1 j2 j3 j4 j5 j6; do
  cat >"$WORK/$j.yaml" <<YAML
name: $j
image: $IMG
command: [/bin/true]
resources: {cpu: 100m, memory: 16Mi}
policy: spread
YAML
done
submit() { veil_at 3 job run "$WORK/$1.yaml" | awk '{print $2}'; }
logged() { grep -q "$2" < <(grep -F "job=${3:0:16}" "$WORK/n$1/veild.log"); }
received() { logged "$1" 'msg="job received"' "$2"; }
placed() { logged 3 'msg="assignment"' "$1"; }
refused() { logged "$1" "msg=\"job refused: outcome budget\".*verdict=$3" "$2"; }
never_received() {
  local i
  for i in "$@"; do
    if received "$i" "$ID"; then fail "$NAME reached scheduling on node $i"; fi
  done
}
# wipe_ledger: node 3 forgets its own accepted slots (the tampering of a
# member that wants more outcomes): its next job claims seq 0 again.
wipe_ledger() { sqlite3 -cmd ".timeout 5000" "$WORK/n3/state.db" \
  "DELETE FROM outcome_slots WHERE verdict = 0" || fail "wiping node 3's ledger"; }
# period_start MIN: waits for a fresh period unless MIN seconds are left.
period_start() {
  local left=$((PERIOD - $(date +%s) % PERIOD))
  if [ "$left" -lt "$1" ]; then sleep $((left + 1)); fi
}

period_start 40
J1=$(submit j1); J2=$(submit j2)
for i in 1 2 3; do
  wait_for 30 "j1 taken in on node $i" received "$i" "$J1"
  wait_for 30 "j2 taken in on node $i" received "$i" "$J2"
done
J3=$(submit j3)
for i in 1 2 3; do wait_for 30 "j3 refused on node $i" refused "$i" "$J3" over_budget; done
ID=$J3 NAME=j3 never_received 1 2 3
line=$(grep -F "job=${J3:0:16}" "$WORK/n1/veild.log" | grep 'job refused: outcome budget')
[[ "$line" == *"member=$(addr_for 3 | tr 'A-F' 'a-f')"* || "$line" == *"member=$(addr_for 3)"* ]] \
  || fail "refusal not attributed to node 3's address: $line"
[[ "$line" == *"seq=2 "* && "$line" == *"period="* ]] || fail "refusal lacks the slot: $line"
status=$(veil_at 3 job status "$J3")
grep -q "outcome budget (2 per $PERIOD s): .*over the cluster's budget" <<<"$status" \
  || fail "job status does not name the budget: $status"
grep -q "the next period starts at" <<<"$status" || fail "job status lacks the next period: $status"
ok "j1, j2 taken in; j3 over the budget refused by all three nodes, attributed, status: $(grep -o 'refused at intake[^"]*' <<<"$status" | head -1)"

# j4: a JOB_SUBMIT signed by node 3 that reuses j1's slot
wipe_ledger
J4=$(submit j4)
for i in 1 2; do wait_for 30 "j4 refused as a reused slot on node $i" refused "$i" "$J4" reused; done
ID=$J4 NAME=j4 never_received 1 2
# the evidence of the equivocation: both jobs signed by node 3 for one slot
logged 1 "verdict=reused .*slot_holder=\(${J1:0:16}\|${J2:0:16}\)" "$J4" \
  || fail "j4's refusal does not name the job holding its slot"
ok "a re-used slot (node 3's ledger wiped) refused by nodes 1 and 2"
for j in "$J1" "$J2"; do wait_for 120 "${j:0:8} placed" placed "$j"; done
ok "j1 and j2 placed"

# the next period: accepted again
period_start "$PERIOD"
J5=$(submit j5)
for i in 1 2 3; do wait_for 30 "j5 taken in on node $i" received "$i" "$J5"; done
ok "the next period: j5 accepted by every node"

# the ledger survives a restart: node 2 restarted, node 3 reuses j5's slot
# (within the same period: placement of j5 is checked after)
stop_node 2
start_node 2 VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[2]}"
wait_for 60 "node 2 back with everyone's telemetry" has_epochs 2
wipe_ledger
J6=$(submit j6)
for i in 1 2; do wait_for 30 "j6 refused as a reused slot on node $i" refused "$i" "$J6" reused; done
ID=$J6 NAME=j6 never_received 1 2
ok "node 2 restarted still refuses a reused slot (its ledger is in its store)"
wait_for 120 "j5 placed" placed "$J5"
ok "j5 placed"
# eth_calls for the policy: one cached copy per node, read again only on the
# event, after a restart or when 10 s old (not once per job and check)
for i in 1 2 3; do
  echo "node $i: $(grep -c 'msg="job received"' "$WORK/n$i/veild.log") jobs received," \
    "$(grep -o 'msg="policy re[a-z]*[a-z ]*".* reads=[0-9]*' "$WORK/n$i/veild.log" | tail -1 | grep -o 'reads=[0-9]*') policy reads from chain (since its last start)"
done
echo "PASS e2e_budget"
