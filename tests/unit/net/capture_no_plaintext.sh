#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capture_no_plaintext.sh - runs the two-process Anchor UDP test with a known
# marker text in every payload while tshark captures the test's own port on
# the loopback interface, then checks the capture: Anchor transport packets
# were seen (type 4), and the marker appears in none of the bytes on the
# wire. A loaded machine may drop packets from a capture (not from the
# test), so at least 500 of the 6000+ transport packets must be in it.
# Needs root (capture) and tshark; VEIL_BUILD_DIR is set by ctest.
set -euo pipefail
BUILD=${VEIL_BUILD_DIR:?VEIL_BUILD_DIR not set}
TEST="$BUILD/tests/unit/net/test_net_anchor_udp"
TMP=$(mktemp -d)
TSHARK_PID=
cleanup() {
    [ -n "$TSHARK_PID" ] && kill "$TSHARK_PID" 2>/dev/null && wait "$TSHARK_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
marker="VEILPLAINTEXTMARKER-$RANDOM"
tshark -i lo -B 32 -f "udp port $port" -w "$TMP/cap.pcapng" -q >"$TMP/tshark.log" 2>&1 &
TSHARK_PID=$!
# tshark loads every dissector first: seconds, and many more on a loaded
# machine (it missed 5 s beside a whole ctest run and two builds)
for _ in $(seq 1 600); do
    grep -q "Capturing on" "$TMP/tshark.log" 2>/dev/null && break
    kill -0 "$TSHARK_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q "Capturing on" "$TMP/tshark.log" || fail "tshark did not start: $(cat "$TMP/tshark.log")"
# the capture is live once a probe datagram to the port shows up in it
live=0
for _ in $(seq 1 50); do
    python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"probe", ("127.0.0.1", int(sys.argv[1])))' "$port"
    sleep 0.1
    if [ "$(tshark -r "$TMP/cap.pcapng" 2>/dev/null | wc -l)" -gt 0 ]; then live=1; break; fi
done
[ "$live" = 1 ] || fail "the capture never saw a probe datagram"
VEIL_ANCHOR_TEST_PORT=$port VEIL_ANCHOR_TEST_MARKER=$marker "$TEST" >"$TMP/test.log" 2>&1 ||
    fail "test_net_anchor_udp failed: $(cat "$TMP/test.log")"
sleep 1
kill -INT "$TSHARK_PID"; wait "$TSHARK_PID" 2>/dev/null || true; TSHARK_PID=
tshark -r "$TMP/cap.pcapng" -T fields -e udp.payload >"$TMP/payloads.hex" 2>/dev/null
packets=$(grep -c . "$TMP/payloads.hex" || true)
transport=$(grep -c '^04000000' "$TMP/payloads.hex" || true)
[ "$transport" -ge 500 ] || fail "only $transport Anchor transport packets in the capture ($packets datagrams)"
marker_hex=$(printf '%s' "$marker" | od -An -tx1 | tr -d ' \n')
probe=${marker_hex:0:16} # any 8 consecutive bytes of the marker text
if grep -qi "$probe" "$TMP/payloads.hex"; then fail "plaintext marker found on the wire"; fi
if strings -n 8 "$TMP/cap.pcapng" | grep -q "VEILPLAIN"; then fail "plaintext marker in the capture file"; fi
echo "capture: $packets datagrams ($transport transport) on port $port, no plaintext"
