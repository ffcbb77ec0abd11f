#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chain/chain_keystore.sh - keystore v3 interop with
# `cast wallet` both ways: a file from `veil chain keygen` opens in cast with
# the same address and key; a file from `cast wallet import` signs for veil.
source "$(dirname "$0")/lib.sh"
printf 'secret pw\n' > "$WORK/pw"
out=$("$VEIL" chain keygen --out "$WORK/ks/veil.json" --password-file "$WORK/pw" --scrypt-log-n 12 -o json 2>&1) \
  || { mkdir -p "$WORK/ks"; out=$("$VEIL" chain keygen --out "$WORK/ks/veil.json" --password-file "$WORK/pw" --scrypt-log-n 12 -o json); }
ADDR=$(json_get "$out" address)
mode=$(stat -c %a "$WORK/ks/veil.json")
[ "$mode" = 600 ] || fail "keystore mode $mode"
got=$("$CAST" wallet address --keystore "$WORK/ks/veil.json" --password 'secret pw')
[ "$got" = "$ADDR" ] || fail "cast reads address $got, veil wrote $ADDR"
pk=$("$CAST" wallet decrypt-keystore -k "$WORK/ks" veil.json --unsafe-password 'secret pw' | grep -o '0x[0-9a-fA-F]\{64\}')
[ "$("$CAST" wallet address --private-key "$pk")" = "$ADDR" ] || fail "decrypted key mismatch"
ok "veil keygen -> cast wallet"
# cast -> veil: a cast keystore signs a deployment (needs a chain).
start_anvil
K=$(keystore_for 4)
out=$(VEIL_KEYSTORE_PASSWORD=pw "$VEIL" chain deploy --rpc "$RPC" --keystore "$K" -o json)
tx=$(json_get "$out" tx_hash)
from=$("$CAST" tx "$tx" from --rpc-url "$RPC")
[ "$from" = "$(addr_for 4)" ] || fail "deploy sent from $from"
ok "cast wallet import -> veil signs"
expect_rc() { local want=$1; shift; local rc=0; "$@" >/dev/null 2>&1 || rc=$?; [ "$rc" = "$want" ] || fail "exit $rc from $*"; }
expect_rc 1 "$VEIL" chain keygen --out "$WORK/ks/veil.json" --password-file "$WORK/pw"
ok "keygen refuses to overwrite"
echo "keystore interop: all checks passed"
