#!/usr/bin/env bash
# `make demo`: Veil's main job on local defaults.
#
# The end-to-end orchestrator (issue 7: encrypted telemetry -> scheduling on
# ciphertexts -> container run -> on-chain anchor) has not landed yet, so this
# script says so plainly and then demonstrates, for real, each subsystem that
# has: it runs only the steps whose commands exist in this build.
set -uo pipefail
build=${1:-build}
veil="$build/src/cmd/veil"
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
has() { "$veil" "$1" --help >/dev/null 2>&1; }

cat <<'TXT'
Veil demo
---------
The full story (three veild nodes of different organizations, encrypted
telemetry, a job scheduled on ciphertexts, the container's output and the
on-chain anchor verified with cast) needs the orchestrator, which is not
built yet. What follows exercises the pieces that exist in this build.
TXT

say "veil version"
"$veil" version

if has fhe; then
  tmp=$(mktemp -d /tmp/veil-demo.XXXXXX); trap 'rm -rf "$tmp"' EXIT
  say "FHE: cluster keys, two nodes encrypt their free memory with the public key"
  "$veil" fhe keygen -o "$tmp/keys" && ls -l "$tmp/keys"
  "$veil" fhe encrypt -k "$tmp/keys/public.key" -w 16 -o "$tmp/a.ct" 4096 &&
  "$veil" fhe encrypt -k "$tmp/keys/public.key" -w 16 -o "$tmp/b.ct" 1024 &&
  say "FHE: the scheduler finds the node with the least free memory without seeing either value" &&
  "$veil" fhe eval -k "$tmp/keys/server.key" -o "$tmp/idx.ct" argmin "$tmp/a.ct" "$tmp/b.ct" &&
  printf 'decrypted index (only the designated decryptor can do this): ' &&
  "$veil" fhe decrypt -k "$tmp/keys/client.key" "$tmp/idx.ct"
else
  say "FHE: not in this build yet"
fi

if has p2p; then
  say "libp2p: a fresh node identity"
  "$veil" p2p id --key "${tmp:-/tmp}/demo-node.key" || true
fi
echo
echo "demo: done (see README.md for what each subsystem does today)"
