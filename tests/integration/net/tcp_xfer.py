#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tcp_xfer.py - a TCP transfer with a known content for the namespace tests.
  tcp_xfer.py serve ADDR PORT      accepts one connection, prints "got BYTES SHA256"
  tcp_xfer.py send ADDR PORT MIB MARKER   sends MIB MiB: the marker text then
                                   random bytes, repeated; prints "sent BYTES SHA256" """
import hashlib, os, socket, sys

if sys.argv[1] == "serve":
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print("got %d %s" % (n, h.hexdigest()), flush=True)
else:
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
    marker = sys.argv[5].encode()
    h, n = hashlib.sha256(), 0
    for _ in range(int(sys.argv[4]) * 16):
        chunk = (marker + os.urandom(960)) * 64  # 64 KiB-ish with the marker throughout
        c.sendall(chunk)
        h.update(chunk)
        n += len(chunk)
    c.close()
    print("sent %d %s" % (n, h.hexdigest()), flush=True)
