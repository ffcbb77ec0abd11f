#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fresh clone (tracked files only, no tools/npm/node_modules) built with a
# plain `make`: with the npm tools out of reach (npm offline, empty cache)
# make stops before compiling with a message naming `make deps`; with the
# pinned tools present, `make` configures and compiles the contract into
# veil_chain.
set -euo pipefail
src=${VEIL_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

clone=$tmp/clone
mkdir -p "$clone"
(cd "$src" && git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
  tar -xf - -C "$clone"
[ -f "$clone/Makefile" ] || { echo "FAIL: copy of the tracked files failed"; exit 1; }
[ ! -e "$clone/tools/npm/node_modules" ] || { echo "FAIL: node_modules is tracked"; exit 1; }

# 1. No npm tools and no way to get them: a clear message, nothing compiled.
set +e
out=$(cd "$clone" && npm_config_offline=true npm_config_cache="$tmp/npm-cache" \
      make BUILD="$tmp/b1" JOBS=2 2>&1)
rc=$?
set -e
echo "$out" | tail -n 5
[ $rc -ne 0 ] || { echo "FAIL: make succeeded without the npm tools"; exit 1; }
grep -q "run 'make deps'" <<<"$out" || { echo "FAIL: no message saying to run make deps"; exit 1; }
! grep -q "Cannot find module" <<<"$out" || { echo "FAIL: reached the contract build"; exit 1; }
[ -z "$(find "$tmp" -name '*.o' -print -quit)" ] || { echo "FAIL: compiled without the tools"; exit 1; }
echo "ok: make without the npm tools stops and names make deps"

# 2. The pinned tools present (as make deps leaves them): make builds the
#    contract artifact and the chain library.
ln -s "$src/tools/npm/node_modules" "$clone/tools/npm/node_modules"
(cd "$clone" && make BUILD="$tmp/b2" JOBS=2 TARGET=veil_chain >"$tmp/make2.log" 2>&1) ||
  { tail -n 20 "$tmp/make2.log"; echo "FAIL: make with the tools failed"; exit 1; }
grep -q "0x60" "$tmp/b2/src/chain/veil_contract_artifact.c" ||
  { echo "FAIL: no contract bytecode generated"; exit 1; }
[ -f "$tmp/b2/src/chain/libveil_chain.a" ] || { echo "FAIL: no libveil_chain.a"; exit 1; }
echo "ok: make with the pinned npm tools compiles the contract"
echo "PASS"
