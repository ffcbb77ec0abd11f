#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_interop.sh (TFHE-rs interop) - Veil against node-tfhe 1.7.0 (TFHE-rs 1.7
# in WebAssembly, tools/npm), through `veil fhe` and TFHE-rs's safe_serialize
# files, for every width (FheBool, FheUint8/16/32/64) at its edges 0 and max:
#   1. node-tfhe encrypts (client key)            -> veil fhe decrypt
#   2. node-tfhe encrypts (public key, list)      -> veil fhe decrypt
#   3. Veil encrypts with node-tfhe's client key and with its public key
#      (single values and compact lists)          -> node-tfhe decrypts
#   4. Veil's own key set exported (veil fhe export --format tfhe-rs):
#      node-tfhe encrypts a list with Veil's public key -> Veil decrypts;
#      Veil encrypts (its client key, its public key) -> node-tfhe decrypts
#      with the exported client key
#   5. veil fhe eval add / lt / min on node-tfhe ciphertexts (server key from
#      node-tfhe's client key) -> node-tfhe decrypts the results
#   6. a packed list (build_packed): split with that server key, and decrypted
#      with the client key alone
#   7. refusals: a packed list where no server key is at hand (the daemon's
#      path: veil fhe import without -k), a truncated file, a Veil file given
#      as TFHE-rs
# One node-tfhe key set is shared by every case. Needs VEIL_BIN (ctest) and node.
set -euo pipefail
VEIL=${VEIL_BIN:?VEIL_BIN not set}
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
NODE=(node "$SRC/tests/interop/tfhers/tfhe_node.cjs")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
WIDTHS="1 8 16 32 64"

fail() { echo "FAIL: $*" >&2; exit 1; }
max() { case $1 in 1) echo 1 ;; 64) echo 18446744073709551615 ;; *) echo $(((1 << $1) - 1)) ;; esac; }
# Checks `veil fhe decrypt` of every DIR/<w>_<edge>.ct.
veil_edges() {
    local key=$1 dir=$2 w
    for w in $WIDTHS; do
        [ "$("$VEIL" fhe decrypt -k "$key" "$dir/${w}_0.ct")" = 0 ] || fail "$dir/${w}_0.ct"
        [ "$("$VEIL" fhe decrypt -k "$key" "$dir/${w}_max.ct")" = "$(max "$w")" ] ||
            fail "$dir/${w}_max.ct"
    done
}
# Veil encrypts every edge with KEY (TFHE-rs output) into DIR.
veil_encrypt_edges() {
    local key=$1 dir=$2 w
    mkdir -p "$dir"
    for w in $WIDTHS; do
        "$VEIL" fhe encrypt -k "$key" -w "$w" --format tfhe-rs -o "$dir/${w}_0.ct" 0
        "$VEIL" fhe encrypt -k "$key" -w "$w" --format tfhe-rs -o "$dir/${w}_max.ct" "$(max "$w")"
    done
}

mkdir -p "$T/node" "$T/n_ck" "$T/n_pk" "$T/veil"
"${NODE[@]}" keygen "$T/node"
NCK=$T/node/client.key NPK=$T/node/public.key

# 1. node-tfhe client-key encryption -> Veil
"${NODE[@]}" encrypt "$NCK" "$T/n_ck"
veil_edges "$NCK" "$T/n_ck"
echo "node-tfhe (client key) -> Veil: every width, 0 and max"

# 2. node-tfhe public-key encryption (compact lists) -> Veil
for w in $WIDTHS; do
    "${NODE[@]}" list-expand "$NPK" "$T/n_pk" "$w" 0 "$(max "$w")"
    mv "$T/n_pk/${w}_1.ct" "$T/n_pk/${w}_max.ct"
    "${NODE[@]}" list "$NPK" "$T/list_$w.ct" "$w" 0 "$(max "$w")"
    got=$("$VEIL" fhe decrypt -k "$NCK" "$T/list_$w.ct" | tr '\n' ' ')
    [ "$got" = "0 $(max "$w") " ] || fail "node-tfhe list of $w-bit values decrypts to '$got'"
done
veil_edges "$NCK" "$T/n_pk"
echo "node-tfhe (public key: lists and their expansions) -> Veil: every width, 0 and max"

# 3. Veil encrypts with node-tfhe's keys -> node-tfhe
veil_encrypt_edges "$NCK" "$T/v_nck"
"${NODE[@]}" decrypt-edges "$NCK" "$T/v_nck"
veil_encrypt_edges "$NPK" "$T/v_npk"
"${NODE[@]}" decrypt-edges "$NCK" "$T/v_npk"
for w in $WIDTHS; do # Veil's compact lists, expanded by node-tfhe
    "$VEIL" fhe encrypt -k "$NPK" -w "$w" --format tfhe-rs -o "$T/vl_$w.ct" 0 "$(max "$w")" 1
    "${NODE[@]}" decrypt-list "$NCK" "$T/vl_$w.ct" "$w" 0 "$(max "$w")" 1
done
echo "Veil (node-tfhe's client key and public key; single values and lists) -> node-tfhe: every width, 0 and max"

# 4. Veil's own key set, exported for node-tfhe
"$VEIL" fhe keygen -o "$T/veil" >/dev/null
"$VEIL" fhe export --format tfhe-rs -o "$T/veil/client.tfhers" "$T/veil/client.key"
"$VEIL" fhe export --format tfhe-rs -o "$T/veil/public.tfhers" "$T/veil/public.key"
[ "$(stat -c %a "$T/veil/client.tfhers")" = 600 ] || fail "exported client key is not 0600"
"${NODE[@]}" list "$T/veil/public.tfhers" "$T/vlist.ct" 16 0 65535 4242 7 1 2
got=$("$VEIL" fhe decrypt -k "$T/veil/client.key" "$T/vlist.ct" | tr '\n' ' ')
[ "$got" = "0 65535 4242 7 1 2 " ] || fail "node-tfhe list under Veil's public key: '$got'"
veil_encrypt_edges "$T/veil/client.key" "$T/v_vck"
"${NODE[@]}" decrypt-edges "$T/veil/client.tfhers" "$T/v_vck"
veil_encrypt_edges "$T/veil/public.key" "$T/v_vpk"
"${NODE[@]}" decrypt-edges "$T/veil/client.tfhers" "$T/v_vpk"
echo "Veil's key set exported: node-tfhe encrypts for it, decrypts Veil's ciphertexts"

# 5. Veil evaluates on node-tfhe ciphertexts
"$VEIL" fhe keygen -o "$T/eval" --client-key "$NCK" >/dev/null
mkdir -p "$T/ops"
"${NODE[@]}" encrypt-values "$NCK" "$T/ops" 16 40000 30000 65535 0
check_op() { # OP A B WIDTH EXPECTED
    "$VEIL" fhe eval -k "$T/eval/server.key" --format tfhe-rs -o "$T/ops/r.ct" "$1" \
        "$T/ops/$2.ct" "$T/ops/$3.ct"
    "${NODE[@]}" decrypt "$NCK" "$4" "$T/ops/r.ct" "$5" || fail "eval $1 $2 $3"
}
check_op add 0 1 16 $(((40000 + 30000) % 65536))
check_op add 2 2 16 65534
check_op lt 0 1 1 0
check_op lt 3 2 1 1
check_op min 0 1 16 30000
check_op min 2 3 16 0
echo "Veil add / lt / min on node-tfhe ciphertexts -> node-tfhe decrypts the results"

# 6. a packed list: every width at its max, then 0 (an odd block count)
"${NODE[@]}" list-packed "$NPK" "$T/packed.ct"
"$VEIL" fhe import --format tfhe-rs -k "$T/eval/server.key" -o "$T/unpacked" "$T/packed.ct" >/dev/null
i=0
for v in 1 255 65535 4294967295 18446744073709551615 0; do
    [ "$("$VEIL" fhe decrypt -k "$NCK" "$T/unpacked.$i")" = "$v" ] || fail "packed list value $i"
    i=$((i + 1))
done
got=$("$VEIL" fhe decrypt -k "$NCK" "$T/packed.ct" | tr '\n' ' ')
[ "$got" = "1 255 65535 4294967295 18446744073709551615 0 " ] || fail "packed list decrypts to '$got'"
echo "node-tfhe packed list split with Veil's server key, and decrypted directly: every width"

# 7. refusals with a clear message
out=$("$VEIL" fhe import --format tfhe-rs -o "$T/np" "$T/packed.ct" 2>&1) &&
    fail "packed list expanded without a server key"
grep -q "packed TFHE-rs compact list" <<<"$out" || fail "packed list: $out"
head -c 1000 "$T/n_ck/8_max.ct" >"$T/trunc.ct"
out=$("$VEIL" fhe decrypt -k "$NCK" "$T/trunc.ct" 2>&1) && fail "truncated file accepted"
grep -q "truncated" <<<"$out" || fail "truncated: $out"
out=$("$VEIL" fhe import --format tfhe-rs -o "$T/x" "$T/veil/public.key" 2>&1) &&
    fail "a Veil file imported as TFHE-rs"
grep -q "not a TFHE-rs safe_serialize object" <<<"$out" || fail "import of a Veil file: $out"
echo "packed lists, truncated files and non-TFHE-rs input are refused"
echo "tfhers interop: all passed"
