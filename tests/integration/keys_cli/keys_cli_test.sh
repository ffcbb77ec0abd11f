#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# keys_cli_test.sh - `veil keys` end to end with real processes: four holder
# identities (veil p2p id), the ceremony naming them (two as identity files,
# two as peer IDs) with n = 4, t = 1, a value encrypted with the public key and
# an eval result, each squashed, four partial decryptions, then combine: all
# honest; holder 3 lying (a wrong partial it signs itself: corrected and
# named); holder 2 down; holder 2 down and holder 3 lying (refused, never a
# wrong value); a tampered partial (rejected); too few partials. Also the clear
# non-zero exits for bad parameters, holders, identities and files.
set -euo pipefail

VEIL="${VEIL_BIN:?VEIL_BIN must point at the veil program}"
SRC="${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}"
T="$(mktemp -d /tmp/veil-keys-cli-XXXXXX)"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# expect_exit CODE NEEDLE CMD...: exit code and a stderr substring.
expect_exit() {
    local want="$1" needle="$2" rc=0
    shift 2
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "'$*' exited $rc, want $want"; }
    grep -q -- "$needle" "$T/err" || { cat "$T/err" >&2; fail "'$*': stderr lacks '$needle'"; }
}

# Holder identities, as veild's node keys are made.
for i in 1 2 3 4; do "$VEIL" p2p id --key "$T/id$i.key" >"$T/id$i.peer"; done
HOLDERS="$T/id1.key,$T/id2.key,$(cat "$T/id3.peer"),$(cat "$T/id4.peer")"

# Refusals before any key is generated.
expect_exit 1 "at most 15" "$VEIL" keys deal -n 16 -t 1 -o "$T/bad"
expect_exit 1 "2t + 1" "$VEIL" keys deal -n 4 -t 2 -o "$T/bad"
expect_exit 1 "names 2 holders" "$VEIL" keys deal -n 4 -t 1 -o "$T/bad" --holders "$T/id1.key,$T/id2.key"
expect_exit 1 "neither an identity file" "$VEIL" keys deal -n 4 -t 1 -o "$T/bad" \
    --holders "$T/id1.key,$T/id2.key,$T/id3.key,12D3KooWnotapeerid"
expect_exit 2 "expected" "$VEIL" keys deal -n 4 -o "$T/bad"

# The ceremony.
K="$T/keys"
"$VEIL" keys deal -n 4 -t 1 -o "$K" --holders "$HOLDERS" --threads 2 >"$T/deal.out"
for i in 1 2 3 4; do
    grep -q "holder $i: $(cat "$T/id$i.peer") " "$T/deal.out" || fail "holder $i not listed"
    expect_eq "share-$i.key mode" "$(stat -c %a "$K/share-$i.key")" 600
done
for f in public.key server.key squash.key threshold.pub; do [ -s "$K/$f" ] || fail "missing $f"; done
[ ! -e "$K/client.key" ] || fail "the dealer left a client key"
expect_exit 1 "already holds a dealing" "$VEIL" keys deal -n 4 -t 1 -o "$K" --holders "$HOLDERS"

# Two ciphertexts: a fresh encryption and an eval result; squash each.
"$VEIL" fhe encrypt -k "$K/public.key" -w 8 -o "$T/a" 173
"$VEIL" fhe encrypt -k "$K/public.key" -w 8 -o "$T/b" 98
"$VEIL" fhe eval -k "$K/server.key" -o "$T/min" min "$T/a" "$T/b"
"$VEIL" keys squash -k "$K/server.key" --threads 2 -o "$T/sa" "$T/a" >"$T/sa.digest"
"$VEIL" keys squash -k "$K/server.key" --threads 2 -o "$T/smin" "$T/min" >/dev/null
[ "$(wc -c <"$T/sa.digest")" = 65 ] || fail "squash did not print a digest"

partial() { # partial HOLDER SQUASHED OUT
    "$VEIL" keys partial -k "$K/share-$1.key" --identity "$T/id$1.key" -o "$3" "$2"
}
for i in 1 2 3 4; do partial "$i" "$T/sa" "$T/pa$i"; partial "$i" "$T/smin" "$T/pm$i"; done
combine() { "$VEIL" keys combine -k "$K/threshold.pub" "$@"; }

expect_eq "all honest" "$(combine "$T/sa" "$T/pa1" "$T/pa2" "$T/pa3" "$T/pa4")" 173
expect_eq "eval result" "$(combine "$T/smin" "$T/pm1" "$T/pm2" "$T/pm3" "$T/pm4")" 98
expect_eq "holder 2 down" "$(combine "$T/sa" "$T/pa1" "$T/pa3" "$T/pa4")" 173
# Defaults: identity-I.key beside share-I.key, threshold.pub beside the first partial.
cp "$T/id1.key" "$K/identity-1.key"
"$VEIL" keys partial -k "$K/share-1.key" -o "$K/pa1" "$T/sa"
cmp -s "$K/pa1" "$T/pa1" || fail "partial decryption is not deterministic"
expect_eq "default public material" "$("$VEIL" keys combine "$T/sa" "$K/pa1" "$T/pa2" "$T/pa3")" 173

# Holder 3 lies (and signs its lie).
node "$SRC/tests/integration/keys_cli/lie.mjs" "$SRC" "$T/id3.key" "$T/pa3" "$T/pa3.lie"
got=$(combine "$T/sa" "$T/pa1" "$T/pa2" "$T/pa3.lie" "$T/pa4" 2>"$T/err")
expect_eq "one liar corrected" "$got" 173
grep -q "wrong partials from holders 3 (corrected)" "$T/err" || fail "liar not named"
expect_exit 1 "sent wrong partials" combine --strict "$T/sa" "$T/pa1" "$T/pa2" "$T/pa3.lie" "$T/pa4"
expect_exit 1 "too few consistent partials" combine "$T/sa" "$T/pa1" "$T/pa3.lie" "$T/pa4"
grep -q "answered: 1,3,4" "$T/err" || fail "refusal does not list who answered"
[ ! -s "$T/out" ] || fail "a refused combine printed a value"

# A tampered partial (not re-signed) is rejected; a partial of another
# ciphertext too; too few partials.
cp "$T/pa4" "$T/pa4.bad"
byte=$(od -An -tu1 -j200 -N1 "$T/pa4")
printf "\\x$(printf %02x $((byte ^ 1)))" | dd of="$T/pa4.bad" bs=1 seek=200 conv=notrunc status=none
cmp -s "$T/pa4" "$T/pa4.bad" && fail "tampering did not change the partial"
got=$(combine "$T/sa" "$T/pa1" "$T/pa2" "$T/pa3" "$T/pa4.bad" 2>"$T/err")
expect_eq "tampered partial ignored" "$got" 173
grep -q "rejected partials from holders 4" "$T/err" || fail "tampered partial not named"
expect_exit 1 "rejected: 4" combine "$T/sa" "$T/pa1" "$T/pa2" "$T/pm4"
expect_exit 1 "too few partials" combine "$T/sa" "$T/pa1" "$T/pa2"
expect_exit 1 "ignoring" combine "$T/sa" "$T/pa1" "$T/pa2" "$T/a"

# Holder errors: another holder's identity, a corrupted squashed ciphertext.
expect_exit 1 "sealed to another identity" "$VEIL" keys partial -k "$K/share-1.key" \
    --identity "$T/id2.key" -o "$T/x" "$T/sa"
head -c 1000 "$T/sa" >"$T/sa.trunc"
expect_exit 1 "veil:" "$VEIL" keys partial -k "$K/share-1.key" --identity "$T/id1.key" \
    -o "$T/x" "$T/sa.trunc"
expect_exit 2 "expected" "$VEIL" keys combine "$T/sa"
echo "keys_cli: ok"
