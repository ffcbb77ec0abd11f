#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cli.sh (p2p core) - `veil p2p` end to end between Veil processes on
# 127.0.0.1: id (0600 key, stable peer ID), listen, ping, perf, members
# (SWIM view), publish (gossipsub through a relay peer), and exit codes for usage errors (2) and failures (1).
set -euo pipefail
VEIL=${VEIL_BIN:?VEIL_BIN not set}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$TMP"/*.out; do echo "== $f" >&2; cat "$f" >&2; done; exit 1; }
wait_listen() {
    for _ in $(seq 1 100); do
        if grep -q '^LISTEN ' "$1" 2>/dev/null; then grep '^LISTEN ' "$1" | head -1 | cut -d' ' -f2; return; fi
        sleep 0.1
    done
    fail "no LISTEN in $1"
}

echo "== id"
ID1=$("$VEIL" p2p id --key "$TMP/a.key")
ID2=$("$VEIL" p2p id --key "$TMP/a.key")
[[ $ID1 == "$ID2" && $ID1 == 12D3KooW* ]] || fail "unstable peer ID $ID1 $ID2"
[[ $(stat -c %a "$TMP/a.key") == 600 ]] || fail "key file mode"
"$VEIL" p2p id --key "$TMP/a.key" --json | grep -q "\"peer_id\":\"$ID1\"" || fail "id --json"
chmod 644 "$TMP/a.key"
if "$VEIL" p2p id --key "$TMP/a.key" 2>/dev/null; then fail "group-readable key accepted"; fi
chmod 600 "$TMP/a.key"

echo "== listen, ping, perf"
"$VEIL" p2p listen --key "$TMP/a.key" --topic news > "$TMP/a.out" 2>&1 & PIDS+=($!)
MA=$(wait_listen "$TMP/a.out")
[[ $MA == */p2p/$ID1 ]] || fail "LISTEN $MA"
grep -q "^PEER_ID $ID1\$" "$TMP/a.out" || fail "PEER_ID line"
"$VEIL" p2p ping "$MA" -c 2 > "$TMP/ping.out" || fail "ping"
[[ $(grep -c "^PONG $ID1 rtt=" "$TMP/ping.out") == 2 ]] || fail "ping output"
"$VEIL" p2p perf "$MA" --upload 4m --download 4m --json > "$TMP/perf.out" || fail "perf"
grep -q '"upload_bytes":4194304' "$TMP/perf.out" || fail "perf output"

echo "== members"
"$VEIL" p2p listen --bootstrap "$MA" --topic news > "$TMP/b.out" 2>&1 & PIDS+=($!)
wait_listen "$TMP/b.out" > /dev/null
ID_B=$(grep '^PEER_ID ' "$TMP/b.out" | cut -d' ' -f2)
for _ in $(seq 1 100); do grep -q "MEMBER join $ID_B" "$TMP/a.out" && break; sleep 0.1; done
grep -q "MEMBER join $ID_B" "$TMP/a.out" || fail "a never saw b join"
"$VEIL" p2p members --bootstrap "$MA" --wait 3s --json > "$TMP/members.out" || fail "members"
grep -q "\"peer\":\"$ID1\",\"state\":\"alive\"" "$TMP/members.out" || fail "members lacks a"
grep -q "\"peer\":\"$ID_B\",\"state\":\"alive\"" "$TMP/members.out" || fail "members lacks b"

echo "== publish"
"$VEIL" p2p publish --bootstrap "$MA" --topic news "hello veil" > "$TMP/pub.out" || fail "publish"
grep -q "^PUBLISHED news peers=" "$TMP/pub.out" || fail "publish output"
for _ in $(seq 1 50); do
    grep -q " news hello veil\$" "$TMP/a.out" && grep -q " news hello veil\$" "$TMP/b.out" && break
    sleep 0.1
done
grep -q "^MSG 12D3KooW[1-9A-HJ-NP-Za-km-z]* news hello veil\$" "$TMP/a.out" || fail "a did not get the message"
grep -q "^MSG 12D3KooW[1-9A-HJ-NP-Za-km-z]* news hello veil\$" "$TMP/b.out" || fail "b did not get the message"

echo "== exit codes"
set +e
"$VEIL" p2p ping /ip4/1.2.3.4 2>/dev/null; [[ $? == 2 ]] || fail "bad multiaddr should exit 2"
"$VEIL" p2p ping 2>/dev/null; [[ $? == 2 ]] || fail "missing argument should exit 2"
"$VEIL" p2p perf "$MA" --upload lots 2>/dev/null; [[ $? == 2 ]] || fail "bad size should exit 2"
"$VEIL" p2p ping /ip4/127.0.0.1/tcp/1 2>/dev/null; [[ $? == 1 ]] || fail "refused should exit 1"
"$VEIL" p2p ping --help > /dev/null; [[ $? == 0 ]] || fail "--help"
set -e
echo PASS
