#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""inject.py - the attacker of the namespace tests.
  inject.py sniff IFACE PORT SECONDS OUT
      records the UDP payloads sent to PORT on IFACE (AF_PACKET, root) for
      SECONDS; writes the first Anchor initiation (type 1) and the first
      transport packet (type 4) as hex lines "init HEX" / "data HEX" to OUT.
  inject.py send DST PORT CAPTURE MODE [N]
      from a fresh socket: replay-data (the recorded transport packet again),
      tamper-data (a fresh counter and one ciphertext bit flipped), random (N random datagrams
      that look like initiations), flood-init (the recorded initiation N
      times, fast); then listens 1 s and prints "answers K types T" (the
      datagrams that came back and their Anchor types)."""
import os, socket, struct, sys, time

def sniff(iface, port, seconds, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
    s.bind((iface, 0))
    s.settimeout(0.1)
    found, frags, end = {}, {}, time.time() + seconds
    while time.time() < end and len(found) < 2:
        try:
            f = s.recv(65535)
        except socket.timeout:
            continue
        if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        ihl, ipid = (f[14] & 15) * 4, f[18:20]
        flags_off = struct.unpack("!H", f[20:22])[0]
        more, off = flags_off & 0x2000, (flags_off & 0x1FFF) * 8
        body = f[14 + ihl:14 + struct.unpack("!H", f[16:18])[0]]
        if more or off:  # an IP fragment (handshake messages exceed the MTU)
            parts = frags.setdefault(ipid, {})
            parts[off] = (body, more)
            got, pos = b"", 0
            while pos in parts:
                got += parts[pos][0]
                if not parts[pos][1]:
                    body = got
                    break
                pos += len(parts[pos][0])
            else:
                continue
        if len(body) < 8 or struct.unpack("!H", body[2:4])[0] != port:
            continue
        payload = body[8:]
        kind = {1: "init", 4: "data"}.get(payload[0] if payload else 0)
        if kind and kind not in found:
            found[kind] = payload.hex()
    with open(out, "w") as fh:
        for k, v in found.items():
            fh.write("%s %s\n" % (k, v))

def send(dst, port, capture, mode, n):
    rec = dict(l.split() for l in open(capture) if l.strip())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if mode == "replay-data":
        msgs = [bytes.fromhex(rec["data"])]
    elif mode == "tamper-data":
        d = bytearray.fromhex(rec["data"])
        ctr = struct.unpack("<Q", d[8:16])[0] + 1000000  # a fresh counter, so no replay drop
        d[8:16] = struct.pack("<Q", ctr)
        d[-20] ^= 1
        msgs = [bytes(d)]
    elif mode == "random":
        msgs = [b"\x01\0\0\0" + os.urandom(2500) for _ in range(n)]
    elif mode == "flood-init":
        msgs = [bytes.fromhex(rec["init"])] * n
    else:
        sys.exit("unknown mode")
    for m in msgs:
        s.sendto(m, (dst, port))
    s.settimeout(0.2)
    types, end = [], time.time() + 1.0
    while time.time() < end:
        try:
            types.append(s.recv(65535)[0])
        except socket.timeout:
            pass
    print("answers %d types %s" % (len(types), ",".join(str(t) for t in sorted(set(types))) or "-"))

if sys.argv[1] == "sniff":
    sniff(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
else:
    send(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
         int(sys.argv[6]) if len(sys.argv) > 6 else 1)
