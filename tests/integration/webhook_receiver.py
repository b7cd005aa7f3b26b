#!/usr/bin/env python3
"""A tiny alert-webhook receiver for the integration tests: listens on IP PORT, answers every POST
with STATUS (default 200), and writes each request as DIR/hook.N (first line the Authorization
header, or "-", then the body). Usage: webhook_receiver.py IP PORT DIR [STATUS]"""
import http.server
import os
import sys

IP, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]
STATUS = int(sys.argv[4]) if len(sys.argv) > 4 else 200


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        n = len([f for f in os.listdir(DIR) if f.startswith("hook.")]) + 1
        tmp = os.path.join(DIR, ".tmp")
        with open(tmp, "wb") as f:
            f.write((self.headers.get("Authorization", "-") + "\n").encode())
            f.write(self.path.encode() + b"\n")
            f.write(body)
        os.rename(tmp, os.path.join(DIR, "hook.%d" % n))
        self.send_response(STATUS)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))


os.makedirs(DIR, exist_ok=True)
http.server.HTTPServer((IP, PORT), Hook).serve_forever()
