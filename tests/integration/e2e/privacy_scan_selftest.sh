#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# privacy_scan_selftest.sh - the leak scanner's own check: a node's telemetry
# words planted in a gossip dump are found (the full word vector once; a
# short 4-byte form when it recurs), a short form seen once in a dump of
# random ciphertext is chance and passes, and a message that every node
# dumped is searched once. Fast: node only, no services.
set -euo pipefail
SCAN="$(dirname "$0")/privacy_scan.js"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
CAPS="cpu=3500m,memory=6Gi,disk=20Gi,gpu=0" # words: cpu 350, memory 1536, disk 20
fail() { echo "FAIL: $*"; exit 1; }
# dump FILE COUNT HEX: COUNT messages of random bytes around HEX
dump() {
  node -e '
    const [f, n, hex] = process.argv.slice(1), c = require("crypto"), fs = require("fs");
    let s = "";
    for (let i = 0; i < +n; i++)
      s += "peer " + Buffer.concat([c.randomBytes(100), Buffer.from(hex, "hex"), c.randomBytes(50)]).toString("hex") + "\n";
    fs.writeFileSync(f, s);' "$@"
}
scan() { node "$SCAN" "$CAPS" "$@" >"$T/out" 2>&1; }
WORDS=015e0600001400000000000000000000 # u16 big-endian, cpu memory disk gpu 0 0 0
dump "$T/words.hex" 1 "${WORDS:0:28}"
! scan "$T/words.hex" || fail "the word vector in one message was not found: $(cat "$T/out")"
grep -q "words u16 be found" "$T/out" || fail "wrong finding: $(cat "$T/out")"
dump "$T/short10.hex" 10 015e0600
! scan "$T/short10.hex" || fail "cpu,memory in 10 messages was not found: $(cat "$T/out")"
grep -q "found 10 times in gossip dumps" "$T/out" || fail "wrong finding: $(cat "$T/out")"
dump "$T/short1.hex" 1 015e0600
scan "$T/short1.hex" || fail "one chance 4-byte hit in a dump failed the scan: $(cat "$T/out")"
grep -q "1 hit(s)" "$T/out" || fail "the chance hit was not reported: $(cat "$T/out")"
# the same short hit in five nodes' dumps is one message, not five hits
for i in 2 3 4 5; do cp "$T/short1.hex" "$T/copy$i.hex"; done
scan "$T/short1.hex" "$T"/copy?.hex || fail "one message in five dumps: $(cat "$T/out")"
# a short form in a log (not a dump) counts at once
printf 'level=info msg=x cpu=3500m\n' >"$T/log.scan"
! scan "$T/log.scan" || fail "the capacity in a log line was not found: $(cat "$T/out")"
echo "privacy_scan_selftest: ok"
