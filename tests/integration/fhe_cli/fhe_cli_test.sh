#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fhe_cli_test.sh - `veil fhe` round trip: keygen, encryption with the public key,
# eval (lt, min, argmin/argmax, scalar ops, select), decryption, and clear non-zero
# exits for wrong key kinds, width mismatches, corrupted/truncated files, unknown
# parameter sets and usage errors.
set -euo pipefail

VEIL="${VEIL_BIN:?VEIL_BIN must point at the veil program}"
T="$(mktemp -d /tmp/veil-fhe-cli-XXXXXX)"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect_eq() { # expect_eq WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# expect_exit CODE NEEDLE CMD...: runs CMD, checks its exit code and that stderr
# contains NEEDLE.
expect_exit() {
    local want="$1" needle="$2" rc=0
    shift 2
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "'$*' exited $rc, want $want"; }
    grep -q -- "$needle" "$T/err" || { cat "$T/err" >&2; fail "'$*': stderr lacks '$needle'"; }
}

K="$T/keys"
"$VEIL" fhe keygen -o "$K" >/dev/null
for f in client.key server.key public.key; do [ -s "$K/$f" ] || fail "missing $f"; done
expect_eq "client.key mode" "$(stat -c %a "$K/client.key")" 600

dec() { "$VEIL" fhe decrypt -k "$K/client.key" "$1"; }
ev() { "$VEIL" fhe eval -k "$K/server.key" "$@"; }

"$VEIL" fhe encrypt -k "$K/public.key" -w 16 -o "$T/a" 1234
"$VEIL" fhe encrypt -k "$K/public.key" -w 16 -o "$T/b" 999
"$VEIL" fhe encrypt -k "$K/client.key" -w 16 -o "$T/c" 5000
"$VEIL" fhe encrypt -k "$K/public.key" -w 16 -o "$T/d" 999
"$VEIL" fhe encrypt -k "$K/public.key" -w 1 -o "$T/t" 1
"$VEIL" fhe encrypt -k "$K/public.key" -w 8 -o "$T/e" 200
expect_eq "decrypt public-key ciphertext" "$(dec "$T/a")" 1234
expect_eq "decrypt bool" "$(dec "$T/t")" 1

ev -o "$T/r" lt "$T/a" "$T/b";  expect_eq "lt" "$(dec "$T/r")" 0
ev -o "$T/r" lt "$T/b" "$T/a";  expect_eq "lt" "$(dec "$T/r")" 1
ev -o "$T/r" ge "$T/b" "$T/d";  expect_eq "ge (equal)" "$(dec "$T/r")" 1
ev -o "$T/r" min "$T/a" "$T/b"; expect_eq "min" "$(dec "$T/r")" 999
ev -o "$T/r" --value-out "$T/v" argmin "$T/a" "$T/b" "$T/c" "$T/d"
expect_eq "argmin index (tie: lowest index)" "$(dec "$T/r")" 1
expect_eq "argmin value" "$(dec "$T/v")" 999
ev -o "$T/r" argmax "$T/a" "$T/b" "$T/c"; expect_eq "argmax" "$(dec "$T/r")" 2
ev -o "$T/r" add_scalar:10 "$T/a";  expect_eq "add_scalar" "$(dec "$T/r")" 1244
ev -o "$T/r" mul_scalar:3 "$T/e";   expect_eq "mul_scalar wraps" "$(dec "$T/r")" 88
ev -o "$T/r" select "$T/t" "$T/a" "$T/c"; expect_eq "select" "$(dec "$T/r")" 1234

# Wrong key kinds, mismatches, damaged files: exit 1 with a specific message.
expect_exit 1 "not a client key" "$VEIL" fhe decrypt -k "$K/public.key" "$T/a"
expect_exit 1 "not a server key" "$VEIL" fhe eval -k "$K/client.key" -o "$T/r" lt "$T/a" "$T/b"
expect_exit 1 "not a public or client key" "$VEIL" fhe encrypt -k "$K/server.key" -w 8 -o "$T/r" 1
expect_exit 1 "widths differ" "$VEIL" fhe eval -k "$K/server.key" -o "$T/r" add "$T/a" "$T/e"
expect_exit 1 "boolean" "$VEIL" fhe eval -k "$K/server.key" -o "$T/r" select "$T/a" "$T/a" "$T/b"
expect_exit 1 "does not fit" "$VEIL" fhe encrypt -k "$K/public.key" -w 8 -o "$T/r" 300
expect_exit 1 "not a" "$VEIL" fhe decrypt -k "$K/client.key" "$K/public.key"

cp "$T/a" "$T/bad"
printf '\x55' | dd of="$T/bad" bs=1 seek=5000 conv=notrunc status=none
expect_exit 1 "corrupted" "$VEIL" fhe decrypt -k "$K/client.key" "$T/bad"
head -c 70000 "$T/a" >"$T/short"
expect_exit 1 "truncated" "$VEIL" fhe decrypt -k "$K/client.key" "$T/short"
cp "$T/a" "$T/params"
printf '\x07' | dd of="$T/params" bs=1 seek=12 conv=notrunc status=none
expect_exit 1 "parameter set" "$VEIL" fhe decrypt -k "$K/client.key" "$T/params"
: >"$T/empty"
expect_exit 1 "" "$VEIL" fhe decrypt -k "$K/client.key" "$T/empty"
expect_exit 1 "" "$VEIL" fhe decrypt -k "$K/client.key" "$T/does-not-exist"

# Usage errors: exit 2.
expect_exit 2 "" "$VEIL" fhe encrypt -k "$K/public.key" -w 12 -o "$T/r" 1
expect_exit 2 "" "$VEIL" fhe encrypt -k "$K/public.key" -w 8 -o "$T/r" -- -1
expect_exit 2 "unknown OP" "$VEIL" fhe eval -k "$K/server.key" -o "$T/r" frobnicate "$T/a"
expect_exit 2 "takes" "$VEIL" fhe eval -k "$K/server.key" -o "$T/r" lt "$T/a"
expect_exit 2 "mul_scalar" "$VEIL" fhe eval -k "$K/server.key" -o "$T/r" mul_scalar:x "$T/a"
expect_exit 2 "" "$VEIL" fhe keygen
"$VEIL" fhe eval --help | grep -q "argmin" || fail "eval --help"

echo "fhe cli: ok"
