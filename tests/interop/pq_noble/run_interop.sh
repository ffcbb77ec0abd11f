#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_interop.sh (pq interop) - Veil's ML-KEM-768 (`veil pq mlkem768`) against
# @noble/post-quantum 0.7.1 in both directions: noble encapsulates to a Veil
# key and Veil decapsulates, Veil encapsulates to a noble key and noble
# decapsulates (equal shared secrets, random keys and messages, several
# rounds); from the same seeds both produce byte-identical keys, ciphertexts
# and secrets; a tampered ciphertext gives the same implicit-rejection secret
# on both sides (and not the real one). Needs VEIL_BIN (set by ctest) and node.
set -euo pipefail
VEIL=${VEIL_BIN:?VEIL_BIN not set}
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
NOBLE=(node "$SRC/tests/interop/pq_noble/noble_mlkem.mjs")
export VEIL_SOURCE_DIR="$SRC"
MLKEM=("$VEIL" pq mlkem768)

fail() { echo "FAIL: $*" >&2; exit 1; }
line() { sed -n "${1}p"; }
rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
# Flips the low bit of the byte at offset $2 of hex string $1.
flip() {
    local h=$1 off=$(($2 * 2))
    local byte=$((16#${h:$off:2} ^ 1))
    printf '%s%02x%s' "${h:0:$off}" "$byte" "${h:$((off + 2))}"
}

for round in 1 2 3; do
    # noble -> Veil
    keys=$("${MLKEM[@]}" keygen)
    ek=$(line 1 <<<"$keys"); dk=$(line 2 <<<"$keys")
    out=$("${NOBLE[@]}" encaps "$ek")
    ct=$(line 1 <<<"$out"); ss=$(line 2 <<<"$out")
    [ "$("${MLKEM[@]}" decaps "$dk" "$ct")" = "$ss" ] || fail "round $round: Veil decaps of noble's ciphertext"
    # Veil -> noble
    keys=$("${NOBLE[@]}" keygen)
    ek=$(line 1 <<<"$keys"); dk=$(line 2 <<<"$keys")
    out=$("${MLKEM[@]}" encaps "$ek")
    ct=$(line 1 <<<"$out"); ss=$(line 2 <<<"$out")
    [ "$("${NOBLE[@]}" decaps "$dk" "$ct")" = "$ss" ] || fail "round $round: noble decaps of Veil's ciphertext"
    [ "$("${MLKEM[@]}" decaps "$dk" "$ct")" = "$ss" ] || fail "round $round: Veil decaps with noble's key"
    # implicit rejection: same rejection secret on both sides, not the real one
    bad=$(flip "$ct" $((round * 300)))
    rv=$("${MLKEM[@]}" decaps "$dk" "$bad"); rn=$("${NOBLE[@]}" decaps "$dk" "$bad")
    [ "$rv" = "$rn" ] || fail "round $round: implicit rejection differs (veil $rv, noble $rn)"
    [ "$rv" != "$ss" ] || fail "round $round: tampered ciphertext gave the real secret"
    echo "round $round: both directions and implicit rejection agree"
done

# deterministic: same seeds, byte-identical results
seed=$(rand_hex 64); m=$(rand_hex 32)
[ "$("${MLKEM[@]}" keygen --seed "$seed")" = "$("${NOBLE[@]}" keygen "$seed")" ] || fail "keygen from the same d||z differs"
ek=$("${MLKEM[@]}" keygen --seed "$seed" | line 1)
[ "$("${MLKEM[@]}" encaps "$ek" --seed "$m")" = "$("${NOBLE[@]}" encaps "$ek" "$m")" ] || fail "encaps from the same m differs"
echo "deterministic keygen and encaps byte-identical"

# a key that fails the modulus check is refused with a message
badek="ffff${ek:4}"
if err=$("${MLKEM[@]}" encaps "$badek" 2>&1); then fail "an ek with a coefficient >= q was accepted"; fi
grep -q "modulus check" <<<"$err" || fail "unexpected message: $err"
echo "interop_pq_noble: ok"
