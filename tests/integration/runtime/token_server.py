#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""token_server.py PORT KEY.pem CERT.der ISSUER - a minimal anonymous token
server for docker-registry's `auth: token` mode (Docker "Token
Authentication Specification"): GET /token?service=S&scope=repository:N:A
answers {"token": JWT} granting the requested actions. The JWT is RS256,
signed with `openssl dgst -sha256 -sign`, and carries the certificate in
its x5c header so the registry can check it against its rootcertbundle.
Logs one "token scope=..." line per request."""
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse

port, key, cert_der, issuer = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
x5c = base64.b64encode(open(cert_der, "rb").read()).decode()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path != "/token" or "Authorization" in self.headers:
            self.send_response(400 if url.path == "/token" else 404)
            self.end_headers()
            return
        access = []
        for scope in q.get("scope", []):
            typ, name, actions = scope.split(":")
            access.append({"type": typ, "name": name, "actions": actions.split(",")})
        print("token scope=" + ",".join(q.get("scope", [])), flush=True)
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
        claims = {"iss": issuer, "sub": "", "aud": q.get("service", [""])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(now), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                             capture_output=True, check=True).stdout
        body = json.dumps({"token": signing_input.decode() + "." + b64url(sig)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
