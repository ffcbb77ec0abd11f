#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/catchup.sh - the catch-up query (issue 18):
# three real veild nodes. Node 2 submits j0 while everyone is up; node 3 is
# stopped; node 2 submits j1 and j2, decided by nodes 1 and 2; node 3 comes
# back. It asks each member for what it lacks of that member's jobs: node 2
# announces again exactly j1 and j2 (not j0, which node 3 holds) and node 3
# records both jobs and their assignments. Before the fix every node
# re-announced every job it had whenever a member came back (j0 too).
source "$(dirname "$0")/../e2e/lib.sh"
create_cluster 3
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0"
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
startn() { local i=$1; shift; start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" "$@"; }
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
IMG=127.0.0.1:9/busybox@sha256:$(printf 'c0%.0s' $(seq 1 32))
job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: $IMG
command: [/bin/true]
resources: {cpu: 100m, memory: 16Mi}
policy: spread
YAML
}
declare -A ID
recorded() { grep -q "msg=\"assignment\" job=${2:0:16}" "$WORK/n$1/veild.log"; }
job j0; ID[j0]=$(veil_at 2 job run "$WORK/j0.yaml" | awk '{print $2}') || fail "job run j0"
for i in 1 2 3; do wait_for 180 "j0 decided on node $i" recorded "$i" "${ID[j0]}"; done
stop_node 3
wait_for 60 "nodes 1 and 2 see node 3 gone" alive_n 1 2
for j in j1 j2; do job "$j"; ID[$j]=$(veil_at 2 job run "$WORK/$j.yaml" | awk '{print $2}') || fail "job run $j"; done
for j in j1 j2; do wait_for 180 "$j decided on node 2" recorded 2 "${ID[$j]}"; done
ok "j0 decided everywhere; j1, j2 decided while node 3 was down"

mark=$(wc -l <"$WORK/n2/veild.log")
startn 3
for j in j1 j2; do wait_for 120 "node 3 caught up with $j's assignment" recorded 3 "${ID[$j]}"; done
grep -q 'msg="caught up from a member"' "$WORK/n3/veild.log" || fail "node 3 never caught up by query"
sleep 12 # the follow-up passes
after=$(tail -n +"$((mark + 1))" "$WORK/n2/veild.log")
for j in j1 j2; do
  grep -q "msg=\"job re-announced\" job=${ID[$j]:0:16}" <<<"$after" || fail "node 2 did not announce $j again"
done
if grep -q "msg=\"job re-announced\" job=${ID[j0]:0:16}" <<<"$after"; then
  fail "node 2 announced j0 again although node 3 holds it"
fi
grep -q 'msg="catch-up query answered" peer=[^ ]* held=1 announced_again=2' <<<"$after" \
  || fail "node 2's answer to node 3 is not 'held 1, announced again 2': $(grep 'catch-up query answered' <<<"$after")"
ok "node 3 asked; node 2 announced again only j1 and j2 (not j0, which node 3 held); node 3 recorded both"
