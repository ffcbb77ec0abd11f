#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/guardian/cli_errors.sh - bad input to `veil guardian` and
# `veil master` gets a clear message and a non-zero exit (2 for usage, 1 for
# failures), and nothing secret is printed. No services needed.
. "$(dirname "$0")/lib.sh"

G=$WORK/guardian
# A whole nkey seed (58 characters: S, its type, 56 more); public keys are
# 56 characters, so one that happens to hold "SA" or "SO" does not match.
SEED_RE='(^|[^A-Z2-7])S[OAU][A-Z2-7]{56}([^A-Z2-7]|$)'
# expect CODE PATTERN CMD...: runs CMD, checks the exit code and stderr.
expect() {
  local code=$1 pattern=$2
  shift 2
  set +e
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  set -e
  [ $rc -eq "$code" ] || fail "$* exited $rc, wanted $code: $(cat "$WORK/err")"
  grep -q -- "$pattern" "$WORK/err" || fail "$*: stderr lacks '$pattern': $(cat "$WORK/err")"
  if grep -Eq "$SEED_RE" "$WORK/out" "$WORK/err"; then
    fail "$* printed a seed"
  fi
}

expect 1 "not a Guardian directory" "$VEIL" guardian realm create -d "$G" alpha
"$VEIL" guardian init -d "$G" >"$WORK/init.out"
grep -Eq "$SEED_RE" "$WORK/init.out" && fail "init printed a seed"
expect 1 "already holds a Guardian" "$VEIL" guardian init -d "$G"
"$VEIL" guardian realm create -d "$G" alpha >/dev/null
expect 1 "already exists" "$VEIL" guardian realm create -d "$G" alpha
expect 1 "realm name must be" "$VEIL" guardian realm create -d "$G" 'a.b'
expect 1 "reserved name" "$VEIL" guardian realm create -d "$G" enroll
expect 2 "-d GUARDIAN_DIR is required" "$VEIL" guardian realm create alpha
expect 1 'unknown realm "nope"' "$VEIL" guardian issue -d "$G" --realm nope --name n1 -o "$WORK/x.creds"
expect 1 'unknown realm "nope"' "$VEIL" guardian token create -d "$G" --realm nope
expect 2 "are required" "$VEIL" guardian issue -d "$G" --realm alpha --name n1
expect 2 "--ttl wants a duration" "$VEIL" guardian issue -d "$G" --realm alpha --name n1 --ttl soon -o "$WORK/x.creds"
expect 2 "--max-payload wants" "$VEIL" guardian issue -d "$G" --realm alpha --name n1 --max-payload 0 -o "$WORK/x.creds"
expect 2 "--max-payload wants" "$VEIL" guardian issue -d "$G" --realm alpha --name n1 --max-payload 65m -o "$WORK/x.creds"
expect 2 "--max-payload wants" "$VEIL" guardian serve -d "$G" --nats tls://127.0.0.1:1 --max-payload lots
expect 2 "taint names are" "$VEIL" guardian cmd -d "$G" n1 taint-add 'a.b'
# 17 URLs (one over the limit) in more than 2 KiB: refused whole, not cut
# short at 2 KiB into a list that looks valid
LONG=$(for i in $(seq 17); do printf 'tls://s%s-%s.example.invalid:4222,' "$(printf 'x%.0s' $(seq 120))" "$i"; done)
expect 1 "bad --nats list" "$VEIL" guardian cmd -d "$G" --nats "$LONG" n1 query
expect 1 "node name must be" "$VEIL" guardian issue -d "$G" --realm alpha --name 'n>' -o "$WORK/x.creds"
expect 1 "taint names are" "$VEIL" guardian issue -d "$G" --realm alpha --name n1 --taints 'a b' -o "$WORK/x.creds"
expect 1 'unknown node "ghost"' "$VEIL" guardian revoke -d "$G" ghost
expect 2 "--clusters/--servers want" "$VEIL" master config -d "$G" -o "$WORK/m" --clusters 0
expect 2 "--clusters/--servers want" "$VEIL" master config -d "$G" -o "$WORK/m" --base-port 80
ok "usage errors exit 2, failures exit 1, with the reason"

# a token is printed once and works as the documented format
tok=$("$VEIL" guardian token create -d "$G" --realm alpha --taints gpu,eu --ttl 1h)
[[ $tok =~ ^vgt1\.[a-z2-7]{16}\.[a-z2-7]{32}$ ]] || fail "token format: $tok"
grep -q "token.create" < <("$VEIL" guardian audit -d "$G") || fail "token not audited"
grep -q "${tok##*.}" < <("$VEIL" guardian audit -d "$G") && fail "token secret in the audit log"
ok "enrollment token printed once, only its id audited"

# a damaged directory: a key file readable by others, a corrupt JWT
chmod 0644 "$G/keys/operator.nk"
expect 1 "operator.nk" "$VEIL" guardian realm create -d "$G" beta
chmod 0600 "$G/keys/operator.nk"
echo "garbage" >"$G/keys/acct-alpha.signing.nk"
chmod 0600 "$G/keys/acct-alpha.signing.nk"
expect 1 "acct-alpha.signing.nk" "$VEIL" guardian issue -d "$G" --realm alpha --name n1 -o "$WORK/x.creds"
ok "damaged key files refused with the file named"

# a malformed .creds file is refused by the client with a clear reason
printf -- '-----BEGIN NATS USER JWT-----\nnot-a-jwt\n------END NATS USER JWT------\n' >"$WORK/bad.creds"
chmod 0600 "$WORK/bad.creds"
set +e
"$NATSC" tls://127.0.0.1:1 "$WORK/bad.creds" - hold 10 2>"$WORK/err"
rc=$?
set -e
[ $rc -eq 5 ] && grep -q "creds" "$WORK/err" || fail "malformed creds accepted ($rc)"
ok "malformed .creds refused: $(cat "$WORK/err")"
