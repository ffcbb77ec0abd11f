#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""dns_query.py - one DNS A query over UDP for the product tests (no resolver
library needed): dns_query.py NAME SERVER_IP [PORT]. Prints the first IPv4
address of the answer, or "NXDOMAIN"; exits 1 without an answer in 2 s."""
import random, socket, struct, sys

name, server = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else 53
qid = random.randrange(65536)
q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (server, port))
a = s.recv(512)
rid, flags, qd, an = struct.unpack("!HHHH", a[:8])
if rid != qid:
    sys.exit(1)
if flags & 0xF == 3:
    print("NXDOMAIN")
    sys.exit(0)
if an < 1 or len(a) < len(q) + 16:
    sys.exit(1)
print(socket.inet_ntoa(a[len(q) + 12:len(q) + 16]))
