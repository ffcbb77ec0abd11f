#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/dashboard/dashboard.sh - the operators' web dashboard
# (issue 19) in a real browser: a private anvil, a local OCI registry with a
# busybox image allowed by the cluster's on-chain policy, three veild nodes
# (anchors sent one by one), and Debian's chromium driven headless by
# playwright-core (dashboard.js) against node 2's dashboard. Checks that the
# cluster page lists the three nodes; a job submitted from the form is placed
# and reaches running/exited on the jobs page without a reload; an invalid
# spec shows `veil job validate`'s own message; a write without the token is
# refused; the audit page gets an inclusion proof verified by the contract;
# another member's job shows only as decided, never where it runs (hook H4:
# not on the page, not in any response it received), and its submitter's node
# shows that it is placed, not where; the cluster page shows each member's
# last telemetry message size; the job page shows the round (schedulers,
# digest agreement, attempt, deadline) and the replica's container status and
# output; the audit page lists an open dispute; with anvil SIGSTOPped, the API
# still answers (curl --max-time 5) with the last policy read, marked stale,
# and fresh again once anvil resumes; and that no node's
# capacity is in any response the dashboard received.
# DASH_SCREENSHOTS=DIR saves a screenshot of each page there.
source "$(dirname "$0")/../e2e/lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no $CHROMIUM (make deps installs Debian's chromium)"; exit 77; }
# a stopped anvil would hold the SIGTERM of the cleanup
dash_resume_anvil() { [ -n "${ANVIL_PID:-}" ] && kill -CONT "$ANVIL_PID" 2>/dev/null; }
E2E_PRE_CLEANUP=dash_resume_anvil
e2e_with_containers
e2e_busybox

E2E_CLUSTER_NAME=dash create_cluster 3 --allow-image "$DIGEST"
join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
join_node 2; join_node 3
CAPS=("" "cpu=1000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=1Gi,disk=20Gi,gpu=0" \
      "cpu=2000m,memory=4Gi,disk=20Gi,gpu=0")
for i in 1 2 3; do
  start_node "$i" VEIL_TELEMETRY_INTERVAL=2s "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" \
    VEIL_INSECURE_REGISTRIES="$RT_REG" VEIL_ANCHOR_MODE=single
done
wait_mesh 3 90
ok "3 nodes up"
has_sizes() {
  veil_at 2 get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === 3 && rows.every(r => r.last_telemetry_bytes > 0 && r.last_telemetry_bytes_epoch > 0) ? 0 : 1);'
}
wait_for 30 "veil get nodes -o json on node 2 shows each member's last telemetry message size" has_sizes
ok "veil get nodes -o json: last_telemetry_bytes of every member"

# An open dispute on the contract (operator 1, against an anchor id): the
# audit page lists it as open.
CID=$(json_get "$(cat "$WORK/init.json")" cluster_id)
veil_at 1 chain dispute open --keystore "$(keystore_for 1)" --cluster "$CID" \
  --anchor "0x$(printf 'ab%.0s' $(seq 1 32))" --evidence "0x$(printf 'ee%.0s' $(seq 1 32))" \
  -o json >"$WORK/dispute.json" 2>&1 || fail "dispute open: $(cat "$WORK/dispute.json")"
DID=$(json_get "$(cat "$WORK/dispute.json")" dispute_id)
[ -n "$DID" ] || fail "no dispute id: $(cat "$WORK/dispute.json")"

# The specs the page types in; the invalid one's expected message is what
# `veil job validate` prints for the same text in a file named "spec" (the
# API names its input "spec").
mkdir -p "$WORK/specs"
cat >"$WORK/specs/good.yaml" <<YAML
name: hello-dash
image: $RT_REG/busybox@$DIGEST
command: [/bin/sh, -c, "echo hello from the dashboard; sleep 1"]
resources: {cpu: 100m, memory: 32Mi}
policy: binpack
YAML
cat >"$WORK/specs/spec" <<YAML
name: bad-dash
image: $RT_REG/busybox@$DIGEST
resources: {cpu: 100m, memory: 64Q}
YAML
if (cd "$WORK/specs" && "$VEIL" job validate spec) >/dev/null 2>"$WORK/validate.err"; then
  fail "veil job validate accepted the invalid spec"
fi
sed -n 's/^veil: //p' "$WORK/validate.err" | head -1 >"$WORK/specs/bad.expected"
[ -s "$WORK/specs/bad.expected" ] || fail "no validate message: $(cat "$WORK/validate.err")"
cp "$WORK/specs/spec" "$WORK/specs/bad.yaml"

# Another member's job (hook H4): node 1 submits one that node 2 cannot hold
# (1536Mi: node 2 has 1Gi), so node 2's dashboard may show only that it
# exists and is decided, never where it runs.
cat >"$WORK/other.yaml" <<YAML
name: other-dash
image: $RT_REG/busybox@$DIGEST
command: [/bin/true]
resources: {cpu: 100m, memory: 1536Mi}
policy: binpack
YAML
OTHER=$(veil_at 1 job run "$WORK/other.yaml" | awk '{print $2}') || fail "job run other-dash on node 1"
other_placed() { [ "$(placements_at 1 "$OTHER" | grep -vc unschedulable)" = 1 ]; }
wait_for 120 "other-dash placed (node 1's view)" other_placed
wait_for 30 "node 2 and 3's views of other-dash agree with node 1's" views_agree 1 "$OTHER"
OTHER_ON=$(placements_at 1 "$OTHER")
[ "$OTHER_ON" != "$PEER_2" ] || fail "other-dash landed on node 2 (1Gi)"
ok "other-dash (node 1's job) placed on a node other than node 2"
# node 1, its submitter, shows that it is placed, not where (H4)
grep -q "$OTHER_ON" < <(veil_at 1 job status "$OTHER" -o json) && [ "$OTHER_ON" != "$PEER_1" ] \
  && fail "node 1 (the submitter) names the node running other-dash"

URL=$(veil_at 2 dashboard url) || fail "veil dashboard url"
[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+/ui/#token=[0-9a-f]{64}$ ]] || fail "dashboard url: $URL"
NODE_PATH="$SRC/tools/npm/node_modules" DASH_URL="$URL" DASH_SPECS="$WORK/specs" \
  DASH_PEERS="$PEER_1,$PEER_2,$PEER_3" DASH_OUT="$WORK/responses.txt" CHROMIUM="$CHROMIUM" \
  DASH_OTHER="$OTHER" DASH_OTHER_ON="$OTHER_ON" DASH_SELF="$PEER_2" DASH_DISPUTE="$DID" \
  timeout 300 node "$SRC/tests/integration/dashboard/dashboard.js" >"$WORK/browser.txt" 2>&1 \
  || fail "browser: $(cat "$WORK/browser.txt")"
grep '^ok' "$WORK/browser.txt" | sed 's/^ok /ok - /' >&2 || true
[ -s "$WORK/responses.txt" ] || fail "no responses recorded"

# CLI parity of what the page showed.
veil_at 2 dashboard cluster -o json >"$WORK/cluster.json" || fail "veil dashboard cluster"
node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.exit(c.policy && c.policy.allowed_images.includes(process.argv[2]) ? 0 : 1);' \
  "$WORK/cluster.json" "$DIGEST" || fail "veil dashboard cluster: $(cat "$WORK/cluster.json")"
ok "veil dashboard cluster -o json shows the allowed image"
JOB=$(sed -n 's/^job=//p' "$WORK/browser.txt" | head -1)
veil_at 2 job status "$JOB" -o json >"$WORK/status.json" || fail "veil job status $JOB"
node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const r = (j.rounds || [])[0] || {};
  /* a settled round keeps the tally an earlier snapshot saw, else null */
  const tally = r.voted === null || (r.largest >= r.needed && r.voted >= r.largest);
  process.exit(r.replica === 0 && r.state === "decided" && r.schedulers.length > 0 && r.needed > 0 &&
    tally && r.attempt >= 1 && r.attempt <= r.max_attempts && r.deadline_ms > 0 ? 0 : 1);' "$WORK/status.json" \
  || fail "veil job status -o json has no round details: $(cat "$WORK/status.json")"
veil_at 2 dashboard disputes -o json >"$WORK/disputes.json" || fail "veil dashboard disputes"
node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.exit(d.disputes.some((x) => x.id === Number(process.argv[2]) && x.status === "open") ? 0 : 1);' \
  "$WORK/disputes.json" "$DID" || fail "veil dashboard disputes: $(cat "$WORK/disputes.json")"
ok "veil job status -o json has the round (schedulers, digest tally, attempt, deadline); veil dashboard disputes lists dispute $DID open"
veil_at 2 dashboard verify "$JOB" 0 -o json >"$WORK/verify.json" || fail "veil dashboard verify: $(cat "$WORK/verify.json")"
node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.exit(v.included === true && v.age_ms >= 0 ? 0 : 1);' "$WORK/verify.json" \
  || fail "veil dashboard verify: $(cat "$WORK/verify.json")"
ok "veil dashboard verify -o json: included (the node's cached check, with its age)"

node -e '
  const [file, other] = process.argv.slice(1);
  const parts = require("fs").readFileSync(file, "utf8").split(/^=== /m).slice(1);
  let n = 0;
  for (const p of parts) {
    const nl = p.indexOf("\n"), url = p.slice(0, nl), body = p.slice(nl + 1).trim();
    let j; try { j = JSON.parse(body); } catch (e) { continue; }
    const rows = url.endsWith("/v1/jobs/" + other) ? [...(j.replica_states || []), ...(j.assignments || [])]
      : url.endsWith("/v1/assignments") ? (j.assignments || []).filter(r => r.job_id === other) : null;
    if (!rows) continue;
    n++;
    if (rows.some(r => r.node)) { console.error("names a node: " + url + " " + body); process.exit(1); }
  }
  if (!n) { console.error("no answer about the job recorded"); process.exit(1); }' "$WORK/responses.txt" "$OTHER" \
  || fail "a response to node 2's dashboard says where node 1's job runs"
ok "no response node 2's dashboard received says where node 1's job runs"

for i in 1 2 3; do
  node "$SRC/tests/integration/e2e/privacy_scan.js" "${CAPS[$i]}" "$WORK/responses.txt" \
    >"$WORK/privacy$i.txt" 2>&1 || fail "node $i's capacity in a dashboard response: $(cat "$WORK/privacy$i.txt")"
done
ok "no node's capacity in any of the $(grep -c '^=== ' "$WORK/responses.txt") responses the dashboard received"
# Chain reads never wait on the API's thread: with anvil stopped, node 2's
# API answers every request within 5 s with the last policy it read, and
# marks it stale once its refresher's read fails; fresh again after resume.
TOKEN=$(tr -d '\n' <"$WORK/n2/api.token")
policy_state() { # prints "stale" or "fresh" (the policy still there), fails if no answer in 5 s
  local j
  j=$(curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "http://$API_2/v1/cluster") || return 2
  node -e 'const c = JSON.parse(process.argv[1]);
    if (!c.policy || !c.policy.allowed_images.includes(process.argv[2])) process.exit(1);
    console.log(c.policy_stale ? "stale" : "fresh");' "$j" "$DIGEST"
}
until_policy() { # STATE SECONDS
  local deadline=$((SECONDS + $2)) got
  while [ $SECONDS -lt $deadline ]; do
    got=$(policy_state) || fail "node 2's /v1/cluster gave no answer within 5 s (or lost the policy) with anvil ${ANVIL_STATE}"
    [ "$got" = "$1" ] && return 0
    curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "http://$API_2/v1/disputes" >/dev/null \
      || fail "node 2's /v1/disputes gave no answer within 5 s with anvil ${ANVIL_STATE}"
    sleep 0.5
  done
  fail "node 2's policy not $1 after $2 s with anvil ${ANVIL_STATE}: $(curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" "http://$API_2/v1/cluster")"
}
ANVIL_STATE=stopped
kill -STOP "$ANVIL_PID"
until_policy stale 120
ok "anvil stopped: node 2's API still answers at once with the last policy, marked stale"
kill -CONT "$ANVIL_PID"
ANVIL_STATE=resumed
until_policy fresh 120
ok "anvil resumed: the policy is fresh again"
echo "PASS dashboard"
