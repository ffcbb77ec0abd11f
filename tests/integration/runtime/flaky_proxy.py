#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""flaky_proxy.py PORT UPSTREAM - an HTTP proxy in front of a registry that
cuts the first download of every blob halfway (after sending the full
Content-Length header), and passes Range requests through, so a client must
resume with Range to finish. Logs "range <value>" lines to stdout."""
import http.client
import http.server
import sys

port, upstream = int(sys.argv[1]), sys.argv[2]
cut = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        host, _, p = upstream.partition(":")
        conn = http.client.HTTPConnection(host, int(p))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range", "authorization")}
        if "Range" in self.headers:
            print("range", self.headers["Range"], flush=True)
        conn.request("GET", self.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        first_blob_get = "/blobs/" in self.path and resp.status == 200 and self.path not in cut
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if first_blob_get and len(body) > 1:
            cut.add(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
