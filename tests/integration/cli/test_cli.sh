#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The two programs' surface: help, version, unknown commands, exit codes,
# configuration layering end to end, and veild's clean shutdown on signals.
set -uo pipefail
veil=${VEIL_BIN:?} veild=${VEILD_BIN:?}
tmp=$(mktemp -d /tmp/veil-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
expect_rc() { # name want cmd...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$name"; else fail "$name (rc $rc, want $want)"; cat "$tmp/err"; fi
}
expect_out() { # name pattern file
  if grep -q -- "$2" "$3"; then pass "$1"; else fail "$1: '$2' not in $3"; sed 's/^/  | /' "$3"; fi
}

expect_rc "veil --help exits 0" 0 "$veil" --help
expect_out "help lists commands" "Commands:" "$tmp/out"
expect_rc "veil help exits 0" 0 "$veil" help
expect_rc "veil version" 0 "$veil" version
expect_out "version printed" "^veil [0-9]" "$tmp/out"
expect_rc "veil version --json" 0 "$veil" version --json
expect_out "version json" '"veil":' "$tmp/out"
expect_rc "no command is a usage error" 2 "$veil"
expect_rc "unknown command exits 2" 2 "$veil" frobnicate
expect_out "unknown command named" "unknown command 'frobnicate'" "$tmp/err"
expect_out "unknown command shows usage" "Usage: veil" "$tmp/err"
expect_rc "unknown subcommand exits 2" 2 "$veil" config frob
expect_rc "veil help config" 0 "$veil" help config
expect_rc "bad log level" 2 "$veil" --log-level loud version
expect_rc "VEIL_LOG bad" 1 env VEIL_LOG=loud "$veil" version

# Every command and subcommand answers --help with exit 0.
while read -r cmd; do
  expect_rc "veil $cmd --help" 0 "$veil" $cmd --help
  if "$veil" $cmd --help | grep -q '^Commands:'; then
    for sub in $("$veil" $cmd --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 && NF {print $1}'); do
      expect_rc "veil $cmd $sub --help" 0 "$veil" $cmd $sub --help
    done
  fi
done < <("$veil" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 && NF && $1 != "help" {print $1}')

# Configuration: file < env < flag, with file:line errors.
cat >"$tmp/veil.yaml" <<'YAML'
data_dir: /srv/from-file
rpc_url: http://127.0.0.1:9999
libp2p:
  bootstrap:
    - /ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA
YAML
VEIL_RPC_URL=http://127.0.0.1:7777 "$veil" --config "$tmp/veil.yaml" config show \
  --set data_dir=/srv/from-flag -o json >"$tmp/show.json" 2>"$tmp/err"
expect_out "flag beats file" '"value": "/srv/from-flag"' "$tmp/show.json"
expect_out "env beats file" '"value": "http://127.0.0.1:7777"' "$tmp/show.json"
expect_out "file value with origin" "veil.yaml:4" "$tmp/show.json"
printf 'data_dir: /x\nthreads: many\n' >"$tmp/bad.yaml"
expect_rc "bad config value" 1 "$veil" --config "$tmp/bad.yaml" config show
expect_out "bad value has file:line" "bad.yaml:2: key 'threads' expects an integer" "$tmp/err"
printf 'data_dir: /x\nlibp2p:\n  bootstrapp: [a]\n' >"$tmp/bad2.yaml"
expect_rc "unknown config key" 1 "$veil" config check "$tmp/bad2.yaml"
expect_out "unknown key has file:line" "bad2.yaml:3: unknown key 'libp2p.bootstrapp'" "$tmp/err"

# veild: help, version, config check, and a clean exit on SIGINT and SIGTERM.
expect_rc "veild --help" 0 "$veild" --help
expect_out "veild usage" "Usage: veild" "$tmp/out"
expect_rc "veild --version" 0 "$veild" --version
expect_rc "veild bad flag" 2 "$veild" --bogus
expect_rc "veild --check" 0 "$veild" --check --config "$tmp/veil.yaml" -d "$tmp/data"
expect_out "veild logs its config" 'key=data_dir value="'"$tmp"'/data" origin="flag --data-dir"' "$tmp/err"
for sig in INT TERM; do
  "$veild" -d "$tmp/data" -l info 2>"$tmp/veild.log" &
  pid=$!
  for _ in $(seq 50); do grep -q 'msg="ready"' "$tmp/veild.log" && break; sleep 0.1; done
  kill -$sig $pid
  wait $pid; rc=$?
  if [ $rc -eq 0 ] && grep -q 'msg="stopped"' "$tmp/veild.log"; then pass "veild exits 0 on SIG$sig"
  else fail "veild on SIG$sig (rc $rc)"; cat "$tmp/veild.log"; fi
done

echo "cli: $fails failed"
[ "$fails" -eq 0 ]
