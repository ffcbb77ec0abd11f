#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_interop.sh (p2p core interop) - Veil's libp2p stack against stock
# js-libp2p 3.x on 127.0.0.1: js dials Veil and Veil dials js (Noise, yamux,
# identify with the right protocol lists, identify push, ping both ways, perf
# both ways), js peers with secp256k1 and RSA identity keys, a js peer lying
# about its key is rejected, and a wrong expected peer ID is rejected. Needs
# VEIL_BIN (set by ctest) and node.
set -euo pipefail
VEIL=${VEIL_BIN:?VEIL_BIN not set}
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
JS=(node --import "$SRC/tests/interop/p2p/polyfill.mjs" "$SRC/tests/interop/p2p/js_peer.mjs")
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; for f in "$TMP"/*.out; do echo "== $f" >&2; cat "$f" >&2; done; exit 1; }

# Waits until FILE has a LISTEN line; prints the first one's address.
wait_listen() {
    local file=$1
    for _ in $(seq 1 150); do
        if grep -q '^LISTEN ' "$file" 2>/dev/null; then
            grep '^LISTEN ' "$file" | head -1 | cut -d' ' -f2
            return 0
        fi
        sleep 0.1
    done
    fail "no LISTEN line in $file"
}

wait_grep() {
    local pattern=$1 file=$2
    for _ in $(seq 1 100); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "'$pattern' not in $file"
}

"$VEIL" p2p id --key "$TMP/veil.key" > "$TMP/veil_id.out"
VEIL_ID=$(cat "$TMP/veil_id.out")

echo "== js dials Veil"
"$VEIL" p2p listen --key "$TMP/veil.key" > "$TMP/veil_listen.out" 2>&1 &
PIDS+=($!)
VEIL_MA=$(wait_listen "$TMP/veil_listen.out")
[[ $VEIL_MA == */p2p/$VEIL_ID ]] || fail "LISTEN $VEIL_MA lacks /p2p/$VEIL_ID"
timeout 60 "${JS[@]}" dial "$VEIL_MA" 3 > "$TMP/js_dial.out" || fail "js could not dial Veil"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const need = ["/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0", "/perf/1.0.0"];
for (const p of need) if (!r.protocols.includes(p)) { console.error("missing " + p); process.exit(1) }
if (r.peer !== process.argv[2]) { console.error("peer " + r.peer); process.exit(1) }
if (!r.agent.startsWith("veil/")) { console.error("agent " + r.agent); process.exit(1) }
if (r.rtt_ms.length !== 3) process.exit(1)
' "$TMP/js_dial.out" "$VEIL_ID" || fail "js saw a wrong identify from Veil"
wait_grep "IDENTIFIED .* agent=js-libp2p/.*/ipfs/ping/1.0.0" "$TMP/veil_listen.out"
wait_grep "IDENTIFIED .* agent=js-libp2p/.*/veil-test/late/1.0.0" "$TMP/veil_listen.out"
echo "== js perf to Veil"
timeout 60 "${JS[@]}" perf "$VEIL_MA" 8388608 8388608 > "$TMP/js_perf.out" || fail "js perf to Veil"
grep -q '"download_bytes":8388608' "$TMP/js_perf.out" || fail "js perf result"

echo "== Veil dials js"
"${JS[@]}" listen > "$TMP/js_listen.out" 2>&1 &
PIDS+=($!)
JS_MA=$(wait_listen "$TMP/js_listen.out")
timeout 60 "$VEIL" p2p ping "$JS_MA" -c 3 --key "$TMP/veil.key" --json > "$TMP/veil_ping.out" ||
    fail "Veil could not ping js"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (r.rtt_ms.length !== 3 || !r.rtt_ms.every((x) => x > 0)) process.exit(1)
' "$TMP/veil_ping.out" || fail "bad ping output"
wait_grep "IDENTIFIED $VEIL_ID .*/ipfs/ping/1.0.0" "$TMP/js_listen.out"
grep "IDENTIFIED $VEIL_ID" "$TMP/js_listen.out" | grep -q "/perf/1.0.0" || fail "js did not see /perf"
echo "== Veil perf to js"
timeout 60 "$VEIL" p2p perf "$JS_MA" --upload 8m --download 8m --json > "$TMP/veil_perf.out" ||
    fail "Veil perf to js"
grep -q '"download_bytes":8388608' "$TMP/veil_perf.out" || fail "Veil perf result"

echo "== wrong expected peer ID"
OTHER_ID=$("$VEIL" p2p id --key "$TMP/other.key")
WRONG_MA="${JS_MA%/p2p/*}/p2p/$OTHER_ID"
if timeout 30 "$VEIL" p2p ping "$WRONG_MA" 2> "$TMP/wrong.out"; then fail "wrong peer ID accepted"; fi
grep -q "dialed $OTHER_ID but the remote is" "$TMP/wrong.out" || fail "wrong peer ID message"

echo "== js peers with secp256k1 and RSA identity keys"
for kt in secp256k1 RSA; do
    "${JS[@]}" listen --key-type "$kt" > "$TMP/js_$kt.out" 2>&1 &
    PIDS+=($!)
    KT_MA=$(wait_listen "$TMP/js_$kt.out")
    timeout 30 "$VEIL" p2p ping "$KT_MA" > "$TMP/ping_$kt.out" 2>&1 || fail "Veil could not ping a $kt peer"
    grep -q "^PONG " "$TMP/ping_$kt.out" || fail "no pong from the $kt peer"
done

echo "== js peer lying about its key"
"${JS[@]}" listen --lie > "$TMP/js_liar.out" 2>&1 &
PIDS+=($!)
LIAR_MA=$(wait_listen "$TMP/js_liar.out")
if timeout 30 "$VEIL" p2p ping "$LIAR_MA" 2> "$TMP/liar.out"; then fail "lying peer accepted"; fi
grep -q "does not sign its static key" "$TMP/liar.out" || fail "liar message"
echo "PASS"
