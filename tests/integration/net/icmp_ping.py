#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""icmp_ping.py - a small ping for the namespace tests (Debian's ping is not
installed here): ICMP/ICMPv6 echo over a raw socket (root).
usage: icmp_ping.py ADDR COUNT INTERVAL_S [TIMEOUT_S]
Prints "sent N received M" (and the median round trip on stderr); exits 0 only when every echo was answered."""
import os, select, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def main():
    addr, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    wait = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    v6 = ":" in addr
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.setblocking(False)
    ident, seen, sent_at, rtts = os.getpid() & 0xFFFF, set(), {}, []
    etype, rtype = (128, 129) if v6 else (8, 0)
    payload = b"veil-ping-" + b"x" * 46

    def drain():
        while True:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                return
            icmp = data if v6 else data[(data[0] & 15) * 4:]
            if len(icmp) >= 8 and icmp[0] == rtype:
                t, _, _, i, q = struct.unpack("!BBHHH", icmp[:8])
                if i == ident and q not in seen:
                    seen.add(q)
                    rtts.append(time.time() - sent_at.get(q, time.time()))

    for seq in range(count):
        hdr = struct.pack("!BBHHH", etype, 0, 0, ident, seq)
        c = 0 if v6 else csum(hdr + payload)  # the kernel fills ICMPv6 checksums
        sent_at[seq] = time.time()
        s.sendto(struct.pack("!BBHHH", etype, 0, c, ident, seq) + payload, (addr, 0))
        end = time.time() + interval
        while time.time() < end:  # wakes as soon as a reply arrives (precise round trips)
            select.select([s], [], [], max(0.0, end - time.time()))
            drain()
    end = time.time() + wait
    while len(seen) < count and time.time() < end:
        select.select([s], [], [], max(0.0, end - time.time()))
        drain()
    print("sent %d received %d" % (count, len(seen)))
    if rtts:
        rtts.sort()
        sys.stderr.write("rtt_median_ms %.3f\n" % (1000 * rtts[len(rtts) // 2]))
    sys.exit(0 if len(seen) == count else 1)

main()
