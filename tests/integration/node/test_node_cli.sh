#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_node_cli.sh - `veil job validate|run|ls|status` and `veil get` end to
# end: the CLI against the node's HTTP API (served by the node_api_server test
# helper on a free loopback port), exit codes and exact error messages; what
# the API shows of jobs this node did not submit (hook H4 of
# docs/THREAT_MODEL.md), on jobs the helper seeded: aa.. (Alpha's, replica 0
# here, replica 1 on Beta), bb.. (Alpha's, on Beta), cc.. (Alpha's, pending),
# dd.. (this node's, on Beta).
# Usage: test_node_cli.sh PATH_TO_node_api_server   (VEIL_BIN from ctest)
set -euo pipefail
server=${1:?usage: test_node_cli.sh NODE_API_SERVER}
veil=${VEIL_BIN:?VEIL_BIN not set}
work=$(mktemp -d /tmp/veil-node-cli.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$work/job.yaml" <<'YAML'
name: hello
image: 127.0.0.1:5000/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
command: [/bin/echo, hi]
resources: {cpu: 250m, memory: 16Mi}
replicas: 2
policy: spread
constraints: {region: eu-west}
YAML

# validate: canonical JSON on success
out=$("$veil" job validate --json "$work/job.yaml")
[ "$out" = '{"args":[],"command":["/bin/echo","hi"],"confidential":false,"constraints":{"region":"eu-west"},"env":{},"image":"127.0.0.1:5000/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","name":"hello","policy":"spread","replicas":2,"resources":{"cpu":"250m","disk":0,"gpu":0,"memory":16777216}}' ] || fail "canonical form: $out"
grep -qx "$work/job.yaml: ok" < <("$veil" job validate -o text "$work/job.yaml") || fail "text output"

# validate: exact field, line and reason; exit 1
sed 's/memory: 16Mi/memory: 64Q/' "$work/job.yaml" >"$work/bad.yaml"
set +e
err=$("$veil" job validate "$work/bad.yaml" 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad spec exit code $rc"
[ "$err" = "veil: $work/bad.yaml:4: resources.memory: \"64Q\" is not a quantity (e.g. 64Mi)" ] || fail "message: $err"
printf 'name: x\nimage: busybox:1\nreplicas: -2\n' >"$work/neg.yaml"
set +e
err=$("$veil" job validate "$work/neg.yaml" 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] && [[ "$err" == *"neg.yaml:3: replicas: \"-2\" is not an integer"* ]] || fail "negative replicas: $err"
set +e
"$veil" job validate >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "usage error exit code $rc"

# The API: start the helper, point the CLI at it.
"$server" "$work" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/api.port" ] && break; sleep 0.05; done
[ -s "$work/api.port" ] || fail "API server did not start: $(cat "$work/server.log")"
[ "$(stat -c %a "$work/api.token")" = 600 ] || fail "token file mode"
export VEIL_API_LISTEN="127.0.0.1:$(cat "$work/api.port")" VEIL_API_TOKEN_FILE="$work/api.token"

"$veil" get nodes >"$work/nodes.txt"
grep -q '^PEER ID' "$work/nodes.txt" || fail "nodes header"
grep -Eq '^12D3KooWAlpha.* acme +yes +12$' "$work/nodes.txt" || fail "nodes row: $(cat "$work/nodes.txt")"
grep -q '"last_telemetry_epoch": 7' < <("$veil" get nodes -o json) || fail "nodes json"

id=$("$veil" job run -o json "$work/job.yaml" | sed -n 's/^  "id": "\([0-9a-f]*\)".*/\1/p')
[ ${#id} -eq 64 ] || fail "job id '$id'"
"$veil" job ls | grep -Eq "^$id +hello +2 +0 +pending$" || fail "job ls"
"$veil" get jobs | grep -Eq "^${id:0:12} +hello +2 +0 +pending +12D3KooWsubmitter$" || fail "get jobs"
"$veil" job status "$id" >"$work/status.txt"
grep -q "replica 1: pending" "$work/status.txt" || fail "status: $(cat "$work/status.txt")"

# H4: each job as this node may see it.
A=$(printf 'a%.0s' $(seq 64)); B=$(printf 'b%.0s' $(seq 64))
C=$(printf 'c%.0s' $(seq 64)); D=$(printf 'd%.0s' $(seq 64))
BETA=12D3KooWBetaNodeBetaNodeBetaNodeBetaNodeBetaNode02
jq_ok() { # JSON CHECK [ARG...]: CHECK, a js expression over j (and process.argv[3...])
  node -e 'const j = JSON.parse(process.argv[1]); process.exit(eval(process.argv[2]) ? 0 : 1);' "$@"
}
st=$("$veil" job status "$A" -o json)
jq_ok "$st" 'j.view === "runner" && j.decided === true && j.replica_states.length === 2 &&
  j.replica_states[0].node === "12D3KooWsubmitter" && j.replica_states[0].state === "assigned" &&
  Object.keys(j.replica_states[1]).join() === "replica" &&
  j.assignments.length === 1 && j.assignments[0].replica === 0 &&
  j.anchors.length === 1 && j.anchors[0].replica === 0 && j.anchors[0].epoch === 9 &&
  j.anchors[0].root.length === 64 && j.anchors[0].proof.length === 1' || fail "runner view of aa..: $st"
grep -q "$BETA" <<<"$st" && fail "the runner of replica 0 sees where replica 1 runs: $st"
st=$("$veil" job status "$B" -o json)
jq_ok "$st" 'j.view === "none" && j.decided === true && j.assignments.length === 0 &&
  j.anchors.length === 0 && j.replica_states.every(r => Object.keys(r).join() === "replica")' \
  || fail "another member's view of bb..: $st"
grep -q "$BETA" <<<"$st" && fail "a node neither submitter nor runner sees where bb.. runs: $st"
grep -q "another member's job (decided): where it runs is shown only to" < <("$veil" job status "$B") \
  || fail "job status text of bb..: $("$veil" job status "$B")"
jq_ok "$("$veil" job status "$C" -o json)" 'j.view === "none" && j.decided === false' || fail "cc.. view"
# The submitter's own job dd..: placed or not, state, notes, that replica 0
# is anchored; never a node, signature, commitment, digest, root or proof,
# except for replica 1, which this node runs itself, and the unschedulable
# replica 2 (no node to hide: its row stays checkable).
SELF=12D3KooWsubmitter
st=$("$veil" job status "$D" -o json)
jq_ok "$st" 'const [r0, r1, r2] = j.replica_states, a = j.assignments;
  j.view === "submitter" && j.replica_states.length === 3 &&
  !("node" in r0) && r0.state === "assigned" && /signed by key holders 1,2/.test(r0.note) &&
  r1.node === process.argv[3] && r2.state === "unschedulable" && !r2.node &&
  a.length === 3 && a[0].placed === true && a[2].placed === false &&
  !["node", "signature", "commitment", "output_digest"].some(k => k in a[0]) &&
  a[2].commitment.length === 64 && !a[2].node &&
  a[1].node === process.argv[3] && a[1].commitment.length === 64 &&
  j.anchors.length === 1 && Object.keys(j.anchors[0]).sort().join() === "anchored,epoch,replica" &&
  j.anchors[0].anchored === true && j.anchors[0].epoch === 9' \
  "$SELF" || fail "the submitter's view of dd..: $st"
for leak in "$BETA" 8888888888 9999999999 "$(printf 'd%.0s' $(seq 63))0"; do
  grep -q "$leak" <<<"$st" && fail "the submitter's view of dd.. shows $leak: $st"
done
txt=$("$veil" job status "$D")
grep -q "your job: .*only on the node running it" <<<"$txt" && grep -q "replica 0: assigned - assignment signed" <<<"$txt" \
  && grep -q "replica 1: assigned on $SELF" <<<"$txt" && grep -q "replica 2: unschedulable" <<<"$txt" \
  && grep -q "anchor replica 0: epoch 9 anchored (root" <<<"$txt" || fail "job status text of dd..: $txt"
grep -q "$BETA" <<<"$txt" && fail "job status text of dd.. names Beta: $txt"
asg=$("$veil" get assignments -o json)
jq_ok "$asg" 'j.map(r => r.job_id[0] + r.replica + ":" + (r.node === process.argv[3] ? "self" : r.node || (r.placed ? "placed" : "unschedulable"))).sort().join() ===
  "a0:self,d0:placed,d1:self,d2:unschedulable"' "$SELF" || fail "get assignments: $asg"
grep -q "$BETA" <<<"$asg" && fail "get assignments names Beta: $asg"
jobs=$("$veil" get jobs -o json)
# keyed by the seeded ids' first 8 characters: the job submitted above has a
# random id that may start with the same letter
jq_ok "$jobs" 'const by = Object.fromEntries(j.filter(r => /^(.)\1{7}/.test(r.id)).map(r => [r.id[0], r]));
  by.a.state === "decided" && by.a.view === "runner" && by.b.state === "decided" && by.b.view === "none" &&
  by.c.state === "undecided" && by.d.view === "submitter"' \
  || fail "get jobs: $jobs"
"$veil" get jobs | grep -Eq "^bbbbbbbbbbbb +seeded +1 +0 +decided " || fail "get jobs text: $("$veil" get jobs)"
# /metrics counts only the replicas this node may see: assigned = aa../0
# (runs here) + dd../0 and 1 (its own); unschedulable dd../2; pending = its
# own job's 2 (not cc..'s)
m=$(curl -sf -H "Authorization: Bearer $(cat "$work/api.token")" "http://$VEIL_API_LISTEN/metrics")
grep -qx 'veil_replicas{state="assigned"} 3' <<<"$m" && grep -qx 'veil_replicas{state="pending"} 2' <<<"$m" \
  && grep -qx 'veil_replicas{state="unschedulable"} 1' <<<"$m" \
  || fail "metrics count replicas this node may not see: $(grep veil_replicas <<<"$m")"

# Refusals: bad spec rejected locally, unknown job 404, wrong token 401.
set +e
"$veil" job run "$work/bad.yaml" >/dev/null 2>&1; rc=$?
err=$("$veil" job status 00000000000000000000000000000000000000000000000000000000000000ff 2>&1); rc2=$?
set -e
[ "$rc" -eq 1 ] || fail "bad spec run exit $rc"
[ "$rc2" -eq 1 ] && [[ "$err" == "veil: no job "* ]] || fail "unknown job: $err"
umask 077; printf '%064d\n' 0 >"$work/wrong.token"
set +e
err=$(VEIL_API_TOKEN_FILE="$work/wrong.token" "$veil" get jobs 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] && [ "$err" = "veil: missing or wrong bearer token" ] || fail "wrong token: $rc $err"
grep -q '^JOB' < <("$veil" get assignments) || fail "assignments"
grep -q '^COMMITMENT' < <("$veil" get anchors) || fail "anchors"
echo "test_node_cli: ok"
