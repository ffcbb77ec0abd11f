#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""udp_order.py - a numbered UDP stream for overlay_order_netns.sh: checks
that what arrives keeps the order it was sent in (losses are allowed).
usage:
  udp_order.py recv ADDR PORT   binds, prints "listening", then reads until
                                the sender's end mark or 5 s without a
                                datagram (60 s at most) and prints
                                "got N inversions I duplicates D"
  udp_order.py send ADDR PORT COUNT   COUNT datagrams numbered 0..COUNT-1,
                                then end marks
  udp_order.py flood ADDR PORT SECONDS   unnumbered datagrams for SECONDS"""
import select, socket, struct, sys, time

SIZE = 512


def recv(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port))
    print("listening", flush=True)
    got = inversions = dups = 0
    last = -1
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not select.select([s], [], [], 5 if got else 30)[0]:
            break
        data = s.recv(65536)
        if data == b"END":
            break
        if len(data) < 8 or data[:4] != b"SEQ:":
            continue
        (seq,) = struct.unpack("!I", data[4:8])
        got += 1
        if seq in seen:
            dups += 1
        seen.add(seq)
        if seq < last:
            inversions += 1
        last = max(last, seq)
    print("got %d inversions %d duplicates %d" % (got, inversions, dups), flush=True)


def send(addr, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"x" * (SIZE - 8)
    for seq in range(count):
        while True:
            try:
                s.sendto(b"SEQ:" + struct.pack("!I", seq) + pad, (addr, port))
                break
            except (BlockingIOError, ConnectionRefusedError):
                pass
    for _ in range(5):  # any one of them ends the receiver
        s.sendto(b"END", (addr, port))
        time.sleep(0.05)
    print("sent %d" % count, flush=True)


def flood(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"f" * SIZE
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(256):
            try:
                s.sendto(pad, (addr, port))
            except OSError:
                pass


if __name__ == "__main__":
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "recv":
        recv(addr, port)
    elif mode == "send":
        send(addr, port, int(sys.argv[4]))
    else:
        flood(addr, port, float(sys.argv[4]))
