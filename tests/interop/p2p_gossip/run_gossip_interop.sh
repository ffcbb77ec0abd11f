#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run_gossip_interop.sh (gossipsub/Kademlia interop) - Veil's gossipsub and
# Kademlia against stock js-libp2p 3.3 (@libp2p/gossipsub 17, @libp2p/kad-dht
# 16) on 127.0.0.1, in both dial directions:
#   1. js dials Veil: a message published on each side arrives on the other;
#   2. Veil dials js: the same;
#   3. Kademlia: Veil asks js FIND_NODE and js asks Veil (getClosestPeers);
#      a second Veil peer known only to js is discovered by a Veil lookup
#      through js, dialed, and then gossips with the first Veil peer directly.
# Usage: run_gossip_interop.sh PATH/TO/gs_peer
set -euo pipefail
GS_PEER=${1:?usage: run_gossip_interop.sh GS_PEER}
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
DIR="$SRC/tests/interop/p2p_gossip"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for fd in 10 11 12 13 14 15; do eval "exec $fd>&-" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/*.out "$TMP"/*.err; do echo "== $f" >&2; cat "$f" >&2 || true; done
    exit 1
}

# start_veil NAME FD: a gs_peer subscribed to topic "veil-interop", commands on fd FD
start_veil() {
    local name=$1 fd=$2
    mkfifo "$TMP/$name.in"
    "$GS_PEER" --topic veil-interop < "$TMP/$name.in" > "$TMP/$name.out" 2> "$TMP/$name.err" &
    PIDS+=($!)
    eval "exec $fd>\"$TMP/$name.in\""
}

start_js() {
    local name=$1 fd=$2
    mkfifo "$TMP/$name.in"
    node --import "$DIR/polyfill.mjs" "$DIR/js_gossip_peer.mjs" veil-interop \
        < "$TMP/$name.in" > "$TMP/$name.out" 2> "$TMP/$name.err" &
    PIDS+=($!)
    eval "exec $fd>\"$TMP/$name.in\""
}

# wait_grep PATTERN FILE [TENTHS]: waits for a line matching PATTERN
wait_grep() {
    local pattern=$1 file=$2 tries=${3:-150}
    for _ in $(seq 1 "$tries"); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "'$pattern' not in $file"
}

field() { grep -m1 "^$1 " "$2" | cut -d' ' -f2; }

send() { local fd=$1; shift; echo "$*" >&"$fd"; }

# wait_mesh FD FILE: polls `mesh veil-interop` until the mesh is non-empty
wait_mesh() {
    local fd=$1 file=$2
    for _ in $(seq 1 100); do
        send "$fd" "mesh veil-interop"
        sleep 0.2
        if grep -q '^MESH veil-interop [1-9]' "$file"; then return 0; fi
    done
    fail "no mesh peer in $file"
}

# exchange VFD VOUT JFD JOUT TAG: each side publishes, the other receives
exchange() {
    local vfd=$1 vout=$2 jfd=$3 jout=$4 tag=$5
    wait_mesh "$vfd" "$vout"
    wait_mesh "$jfd" "$jout"
    send "$vfd" "publish veil-interop from-veil-$tag"
    send "$jfd" "publish veil-interop from-js-$tag"
    wait_grep "^MSG $VID veil-interop from-veil-$tag\$" "$jout"
    wait_grep "^MSG $JID veil-interop from-js-$tag\$" "$vout"
    echo "ok: gossip both ways ($tag)"
}

echo "== 1. js dials Veil"
start_veil veil1 10
start_js js1 11
wait_grep '^LISTEN ' "$TMP/veil1.out"
wait_grep '^LISTEN ' "$TMP/js1.out" 300
VID=$(field PEER_ID "$TMP/veil1.out")
JID=$(field PEER_ID "$TMP/js1.out")
send 11 "dial $(field LISTEN "$TMP/veil1.out")"
wait_grep "^DIALED $VID" "$TMP/js1.out"
exchange 10 "$TMP/veil1.out" 11 "$TMP/js1.out" js-dials

echo "== 3a. Kademlia FIND_NODE each way"
send 10 "query $JID $VID"
wait_grep "^KAD_ANSWER $JID [0-9]" "$TMP/veil1.out"
send 11 "closest $VID"
wait_grep "^KAD_RESPONSE $VID [0-9]" "$TMP/js1.out"
echo "ok: FIND_NODE answered each way"

echo "== 2. Veil dials js"
start_veil veil2 12
wait_grep '^LISTEN ' "$TMP/veil2.out"
V2ID=$(field PEER_ID "$TMP/veil2.out")
send 12 "dial $(field LISTEN "$TMP/js1.out")"
wait_grep "^DIALED $JID" "$TMP/veil2.out"
VID_SAVE=$VID
VID=$V2ID
exchange 12 "$TMP/veil2.out" 11 "$TMP/js1.out" veil-dials
VID=$VID_SAVE

echo "== 3b. discovery through js: veil1 finds veil2 and dials it"
# js learned veil2 from identify (it lists /ipfs/kad/1.0.0); veil1 only knows js
send 10 "find $V2ID"
wait_grep "^FOUND $V2ID [1-9].* $V2ID" "$TMP/veil1.out"
for _ in $(seq 1 100); do
    send 10 "peers veil-interop"
    sleep 0.2
    grep -q '^TOPIC_PEERS veil-interop [2-9]' "$TMP/veil1.out" && break
done
grep -q '^TOPIC_PEERS veil-interop [2-9]' "$TMP/veil1.out" ||
    fail "veil1 did not connect to the peer it discovered"
send 12 "publish veil-interop direct-$V2ID"
wait_grep "^MSG $V2ID veil-interop direct-$V2ID\$" "$TMP/veil1.out"
echo "ok: Kademlia discovery beyond the bootstrap peer"

send 10 quit
send 12 quit
send 11 quit
echo "PASS"
