#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""range_proxy.py PORT UPSTREAM_URL MAX_RANGE - a JSON-RPC proxy in front of
anvil that behaves like a public provider: eth_getLogs over more than
MAX_RANGE blocks is refused with error -32005 (as Infura/Alchemy do);
everything else is forwarded. Prints "refused FROM TO" for each refusal."""
import http.server
import json
import sys
import urllib.request

port, upstream, max_range = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


def block(v, head):
    if isinstance(v, str) and v.startswith("0x"):
        return int(v, 16)
    return head


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self, body):
        req = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return r.read()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg = json.loads(body)
        out = None
        if isinstance(msg, dict) and msg.get("method") == "eth_getLogs":
            f = msg["params"][0]
            lo, hi = block(f.get("fromBlock"), 0), block(f.get("toBlock"), 1 << 62)
            if hi - lo + 1 > max_range:
                print("refused", lo, hi, flush=True)
                out = json.dumps({"jsonrpc": "2.0", "id": msg.get("id"), "error": {
                    "code": -32005, "message": "query exceeds max block range %d" % max_range}}).encode()
        if out is None:
            out = self.forward(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
