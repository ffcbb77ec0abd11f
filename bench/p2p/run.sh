#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh (p2p core) - perf (/perf/1.0.0) throughput on 127.0.0.1 over one
# connection, all pairs in the same run: Veil->Veil, Veil->js, js->Veil and
# js->js (client->server), each the median of RUNS runs, with the ratios the
# issue sets targets for (Veil<->Veil >= 2x js<->js, Veil<->js >= js<->js).
# Prints one JSON line. (bench_p2p, run separately, gives handshake + round
# trip latency and heap per idle connection.)
#   bench/p2p/run.sh [BUILD_DIR] [BYTES] [RUNS]   (BUILD_DIR defaults to
#   $VEIL_BUILD_DIR, as scripts/bench.sh sets it)
set -euo pipefail
BUILD=${1:-${VEIL_BUILD_DIR:?usage: run.sh BUILD_DIR [BYTES] [RUNS]}}
BYTES=${2:-268435456}
RUNS=${3:-3}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
VEIL=$BUILD/src/cmd/veil
JS=(node --import "$SRC/tests/interop/p2p/polyfill.mjs" "$SRC/tests/interop/p2p/js_peer.mjs")
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

wait_listen() {
    for _ in $(seq 1 150); do
        if grep -q '^LISTEN ' "$1" 2>/dev/null; then grep '^LISTEN ' "$1" | head -1 | cut -d' ' -f2; return; fi
        sleep 0.1
    done
    echo "no LISTEN in $1" >&2; exit 1
}

"$VEIL" p2p listen > "$TMP/veil.out" 2>&1 & PIDS+=($!)
"${JS[@]}" listen > "$TMP/js.out" 2>&1 & PIDS+=($!)
VEIL_MA=$(wait_listen "$TMP/veil.out")
JS_MA=$(wait_listen "$TMP/js.out")

run_pair() { # name client target
    local name=$1 client=$2 target=$3
    for i in $(seq 1 "$RUNS"); do
        if [[ $client == veil ]]; then
            "$VEIL" p2p perf "$target" --upload "$BYTES" --download "$BYTES" --json
        else
            "${JS[@]}" perf "$target" "$BYTES" "$BYTES"
        fi
    done > "$TMP/$name.json"
}
# Warm both servers up (js JIT) so the first measured pair is not penalised.
"$VEIL" p2p perf "$JS_MA" --upload 32m --download 32m > /dev/null
"$VEIL" p2p perf "$VEIL_MA" --upload 32m --download 32m > /dev/null
run_pair veil_to_veil veil "$VEIL_MA"
run_pair veil_to_js veil "$JS_MA"
run_pair js_to_veil js "$VEIL_MA"
run_pair js_to_js js "$JS_MA"

node -e '
const fs = require("fs");
const dir = process.argv[1];
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] };
const out = { bench: "p2p_perf_pairs", bytes_each_way: Number(process.argv[2]), runs: Number(process.argv[3]), perf_gbit_s: {} };
for (const p of ["veil_to_veil", "veil_to_js", "js_to_veil", "js_to_js"]) {
  const rows = fs.readFileSync(`${dir}/${p}.json`, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  out.perf_gbit_s[p] = { upload: +med(rows.map((r) => r.upload_gbit_s)).toFixed(2),
                         download: +med(rows.map((r) => r.download_gbit_s)).toFixed(2),
                         connect_ms: +med(rows.map((r) => r.connect_ms)).toFixed(2) };
}
const g = out.perf_gbit_s;
const both = (x) => (x.upload + x.download) / 2;
out.ratio_veil_veil_over_js_js = +(both(g.veil_to_veil) / both(g.js_to_js)).toFixed(2);
out.ratio_veil_js_over_js_js = +(Math.min(both(g.veil_to_js), both(g.js_to_veil)) / both(g.js_to_js)).toFixed(2);
console.log(JSON.stringify(out));
' "$TMP" "$BYTES" "$RUNS"
