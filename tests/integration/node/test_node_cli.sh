#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_node_cli.sh - `veil job validate|run|ls|status` and `veil get` end to
# end: the CLI against the node's HTTP API (served by the node_api_server test
# helper on a free loopback port), exit codes and exact error messages.
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
