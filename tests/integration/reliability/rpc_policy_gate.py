#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/integration/reliability/rpc_policy_gate.py - an HTTP relay in front of
# the chain RPC (owned by the reliability tests) that refuses the cluster's
# policy reads (HTTP 503 to an eth_call whose data starts with the given
# selector) while a control file exists, and relays every other request, so
# that a node's intake cannot read the policy while the rest of its chain
# works. A number N in the file lets the next N policy reads through (veild
# reads the policy once at start, for its keys: a test restarts a node
# behind the gate with "1" there). Prints one line per refused read.
# Usage: rpc_policy_gate.py LISTEN_PORT TARGET_HOST TARGET_PORT SELECTOR
#        BLOCK_FILE (127.0.0.1 only; SELECTOR as 8 hex digits).
import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, HOST, PORT, SELECTOR, BLOCK = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                       sys.argv[4].lower().encode(), sys.argv[5])


LOCK = threading.Lock()


def refused():
    """Whether a policy read is refused now (the file's allowance spent)."""
    with LOCK:
        try:
            with open(BLOCK) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return False
        if text.isdigit() and int(text) > 0:
            with open(BLOCK, "w") as f:
                f.write(str(int(text) - 1))
            return False
        return True


class Gate(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if b"0x" + SELECTOR in body.lower() and refused():
            print("refused a policy read", flush=True)
            self.reply(503, b"policy reads refused by the test\n", "text/plain")
            return
        try:
            up = http.client.HTTPConnection(HOST, PORT, timeout=30)
            up.request("POST", self.path, body, {"Content-Type": "application/json"})
            r = up.getresponse()
            data = r.read()
            up.close()
        except OSError as e:
            self.reply(502, ("upstream: %s\n" % e).encode(), "text/plain")
            return
        self.reply(r.status, data, r.getheader("Content-Type", "application/json"))

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", LISTEN), Gate)
    print("gate listening", LISTEN, flush=True)
    server.serve_forever()
