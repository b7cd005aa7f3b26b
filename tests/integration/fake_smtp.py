#!/usr/bin/python3
# A scripted submission server that refuses every login with a given reply (Python 3 stdlib only).
# Promises: loopback only; it logs what clients sent, credentials as "****", and accepts no login.
"""Usage: fake_smtp.py --addr IP --port PORT --log FILE --auth-reply "535 5.7.139 ..."

Greets with 220, answers EHLO with PIPELINING, ENHANCEDSTATUSCODES and AUTH PLAIN LOGIN, and
answers AUTH (after the LOGIN challenges, or at once for PLAIN with an initial response) with
--auth-reply, a provider's own refusal such as Microsoft 365's
"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.".
Every other command gets 530 5.7.0 Authentication required; QUIT gets 221. The log gets "ready"
once the socket listens, then "conn N open", "conn N C: <line>", "conn N closed".
"""
import argparse
import re
import socketserver
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the tests
from fake_pop3 import Log, Server, serve  # noqa: E402 (the same log format and threaded server)


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.conns += 1
            self.id = self.server.conns

    def send(self, text):
        self.wfile.write(text.encode("utf-8") + b"\r\n")
        self.wfile.flush()

    def read(self, secret=False):
        line = self.rfile.readline(4096)
        if not line:
            return None
        text = line.rstrip(b"\r\n").decode("latin-1")
        shown = "****" if secret else re.sub(r"(?i)^(AUTH \S+) \S+$", r"\1 ****", text)  # initial responses
        self.server.log.write("conn %d C: %s" % (self.id, shown))
        return text

    def handle(self):
        log = self.server.log
        log.write("conn %d open" % self.id)
        try:
            self.send("220 fake-smtp.test ESMTP ready")
            while True:
                line = self.read()
                if line is None:
                    return
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.send("250-fake-smtp.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
                              "250 AUTH PLAIN LOGIN")
                elif verb == "AUTH":
                    self.refuse_login(line)
                elif verb == "QUIT":
                    self.send("221 2.0.0 bye")
                    return
                else:
                    self.send("530 5.7.0 Authentication required")
        except OSError as e:
            log.write("conn %d error %s" % (self.id, e.__class__.__name__))
        finally:
            log.write("conn %d closed" % self.id)

    def refuse_login(self, line):
        parts = line.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "LOGIN":  # RFC 4954 4 challenges: "Username:", "Password:" in base64
            challenges = ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"][len(parts) - 2:]
            for c in challenges:
                self.send("334 " + c)
                if self.read(secret=True) is None:
                    return
        elif mech == "PLAIN" and len(parts) == 2:
            self.send("334 ")
            if self.read(secret=True) is None:
                return
        self.send(self.server.auth_reply)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--auth-reply", required=True, help='the reply to AUTH, e.g. "535 5.7.139 ..."')
    a = ap.parse_args()
    if not a.addr.startswith("127."):
        ap.error("loopback addresses only")
    if not re.match(r"^[45][0-9][0-9] ", a.auth_reply):
        ap.error("--auth-reply must be a one-line 4xx or 5xx reply")
    log = Log(a.log)
    srv = Server((a.addr, a.port), Handler)
    srv.log, srv.auth_reply = log, a.auth_reply
    return serve(srv, log)


if __name__ == "__main__":
    sys.exit(main())
