#!/usr/bin/python3
# A scripted, misbehaving POP3 server for robustness tests (Python 3 stdlib only).
# Promises: it logs every line the client sent ("conn N C: ...") so tests can prove no DELE was sent.
"""Usage: fake_pop3.py --addr IP --port PORT --scenario NAME --log FILE [--messages N] [--auth-reply TEXT]
       fake_pop3.py --list

Serves every connection with the same scenario, one thread per connection, until SIGTERM.
The log gets, in order:
  msg I <message-id>          the mailbox (written at start-up)
  ready                       once the socket listens
  conn N open / conn N C: <line sent by the client> / conn N closed
Each message has Message-ID <fake.SCENARIO.I@fake.test>, so a test can map "DELE I" to a
Message-ID and check that it reached the sink first.

Scenarios (the mailbox has --messages messages, default 3, unless said otherwise):
  normal              a well-behaved server (CAPA with USER/UIDL, USER/PASS, STAT, LIST, UIDL,
                      RETR, TOP, DELE, NOOP, RSET, QUIT)
  empty               no messages
  bad_greeting        greets with an IMAP banner instead of +OK
  garbage_replies     after USER, every reply is "HELLO?" (neither +OK nor -ERR)
  malformed_listing   STAT, LIST and UIDL answer +OK but with malformed listing lines
  long_status_line    the LIST/UIDL/STAT status line is 1 MiB long
  long_body_line      message 2 contains a 200,000-byte line
  retr_no_terminator  RETR 2 sends the message but closes without the final "."
  reset_mid_retr      RETR 2 sends half the message, then resets the connection (RST)
  stall_mid_retr      RETR 2 sends half the message, then goes silent
  nul_bytes           message 2 contains NUL bytes in its body
  bare_lf             message bodies use bare LF line ends (status lines stay CRLF)
  bare_lf_all         every line the server sends ends with bare LF
  no_uidl             CAPA lacks UIDL and UIDL answers -ERR
  in_use              PASS answers "-ERR [IN-USE] Mailbox is locked by another POP3 session"
  auth_fail           PASS answers "-ERR [AUTH] Invalid login or password", or --auth-reply TEXT (a
                      provider's own refusal, e.g. "-ERR Logon failure: unknown user name or bad password.")
  silent              accepts the connection and never sends a byte
  oversized_retr      LIST says message 2 is small, RETR 2 sends 2 MB (lines of 1,000 bytes)
  no_capa             CAPA answers -ERR (RFC 2449 makes it optional), UIDL works all the same
  hostile_err         PASS answers an -ERR [AUTH] that carries terminal controls: ESC ] (window
                      title), ESC [2J (clear screen), BEL, U+009B and a raw 0x9B byte (both CSI)
"""
import argparse
import os
import signal
import socket
import socketserver
import struct
import sys
import threading

SCENARIOS = ("normal empty bad_greeting garbage_replies malformed_listing long_status_line "
             "long_body_line retr_no_terminator reset_mid_retr stall_mid_retr nul_bytes bare_lf "
             "bare_lf_all no_uidl in_use auth_fail silent oversized_retr no_capa hostile_err").split()

IN_USE_TEXT = "-ERR [IN-USE] Mailbox is locked by another POP3 session"
AUTH_TEXT = "-ERR [AUTH] Invalid login or password"
HOSTILE_ERR = b"-ERR [AUTH] \x1b]0;owned\x07\x1b[2J\xc2\x9b31mlogin refused\x9b0m"


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1, encoding="utf-8", errors="backslashreplace")
        self.lock = threading.Lock()

    def write(self, text):
        with self.lock:
            self.f.write(text + "\n")


def make_message(scenario, i):
    """Message i (1-based) as a list of lines without line ends."""
    lines = [
        "From: Fake Sender <sender%d@fake.test>" % i,
        "To: alice@provider.test",
        "Subject: fake %s message %d" % (scenario, i),
        "Date: Mon, 02 Jan 2023 10:00:0%d +0000" % (i % 10),
        "Message-ID: <fake.%s.%d@fake.test>" % (scenario, i),
        "",
        "Hello, this is message %d of the %s scenario." % (i, scenario),
        ".A line that starts with a dot (must be dot-stuffed on the wire).",
    ]
    if scenario == "long_body_line" and i == 2:
        lines.append("x" * 200_000)
    if scenario == "nul_bytes" and i == 2:
        lines.append("NUL here:\0\0 and there:\0.")
    lines += ["Regards,", "The fake server"] + ["filler line %d for a little size" % k for k in range(40)]
    return lines


class Mailbox:
    def __init__(self, scenario, count):
        self.scenario = scenario
        self.msgs = [make_message(scenario, i) for i in range(1, count + 1)]

    def wire(self, i):
        """The CRLF size of message i as RFC 1939 5 (LIST) counts it."""
        return sum(len(l.encode()) + 2 for l in self.msgs[i - 1])

    def uid(self, i):
        return "fake-%s-%04d" % (self.scenario, i)


class Handler(socketserver.StreamRequestHandler):
    server: "Server"

    def setup(self):
        super().setup()
        srv = self.server
        with srv.lock:
            srv.conns += 1
            self.id = srv.conns
        self.sc = srv.scenario
        self.box = srv.box
        self.eol = b"\n" if self.sc == "bare_lf_all" else b"\r\n"
        self.log = srv.log
        self.deleted = set()

    def send_line(self, text, eol=None):
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        self.wfile.write(data + (self.eol if eol is None else eol))

    def send_multiline(self, lines, eol=None):
        for l in lines:
            self.send_line(("." + l) if l.startswith(".") else l, eol)  # RFC 1939 3 byte-stuffing
        self.send_line(".")

    def handle(self):
        self.log.write("conn %d open" % self.id)
        try:
            self.session()
        except (ConnectionError, BrokenPipeError, OSError) as e:
            self.log.write("conn %d error %s" % (self.id, e.__class__.__name__))
        finally:
            self.log.write("conn %d closed" % self.id)

    def session(self):
        if self.sc == "silent":
            # Read (and log) whatever comes, answer nothing, until the client gives up.
            while True:
                line = self.rfile.readline(65536)
                if not line:
                    return
                self.log.write("conn %d C: %s" % (self.id, line.rstrip(b"\r\n").decode("latin-1")))
        if self.sc == "bad_greeting":
            self.send_line("* OK [CAPABILITY IMAP4rev1] fake IMAP server ready")
        else:
            # No <timestamp> in the greeting: that would promise APOP (RFC 1939 7), most
            # providers do not offer it, and the USER/PASS path is the one worth exercising.
            self.send_line("+OK fake POP3 server ready")
        self.wfile.flush()
        authed = False
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            line = raw.rstrip(b"\r\n").decode("latin-1")
            self.log.write("conn %d C: %s" % (self.id, line))
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if self.sc == "garbage_replies" and verb not in ("USER", "CAPA"):
                self.send_line("HELLO?")
            elif verb == "QUIT":
                self.send_line("+OK bye (%d deleted)" % len(self.deleted))
                self.wfile.flush()
                return
            elif not self.dispatch(verb, arg, authed):
                self.wfile.flush()
                return
            if verb in ("PASS", "AUTH", "APOP"):
                authed = self.sc not in ("in_use", "auth_fail", "hostile_err")
            self.wfile.flush()

    def dispatch(self, verb, arg, authed):
        """Answers one command; returns False when the scenario ends the connection."""
        sc, box = self.sc, self.box
        if verb == "CAPA" and sc == "no_capa":
            self.send_line("-ERR unknown command")
        elif verb == "CAPA":
            caps = ["USER", "TOP", "RESP-CODES", "AUTH-RESP-CODE"]
            if sc != "no_uidl":
                caps.append("UIDL")
            self.send_line("+OK capability list follows")
            self.send_multiline(caps)
        elif verb == "USER":
            self.send_line("+OK send PASS")
        elif verb in ("PASS", "AUTH", "APOP"):
            if sc == "in_use":
                self.send_line(IN_USE_TEXT)
            elif sc == "auth_fail":
                self.send_line(self.server.auth_reply)
            elif sc == "hostile_err":
                self.send_line(HOSTILE_ERR)
            elif verb == "AUTH" and arg.upper().startswith("PLAIN") and " " not in arg.strip():
                self.send_line("+ ")
                self.wfile.flush()
                resp = self.rfile.readline(65536)
                self.log.write("conn %d C: %s" % (self.id, resp.rstrip(b"\r\n").decode("latin-1")))
                self.send_line("+OK logged in")
            else:
                self.send_line("+OK logged in")
        elif not authed:
            self.send_line("-ERR not logged in")
        elif verb in ("STAT", "LIST", "UIDL") and sc == "long_status_line":
            self.send_line("+OK " + "9" * (1 << 20))
        elif verb == "STAT":
            if sc == "malformed_listing":
                self.send_line("+OK several messages")
            else:
                live = [i for i in range(1, len(box.msgs) + 1) if i not in self.deleted]
                self.send_line("+OK %d %d" % (len(live), sum(box.wire(i) for i in live)))
        elif verb == "LIST":
            self.listing(arg, lambda i: str(box.wire(i)), "scan listing follows")
        elif verb == "UIDL":
            if sc == "no_uidl":
                self.send_line("-ERR unknown command")
            else:
                self.listing(arg, box.uid, "unique-id listing follows")
        elif verb in ("RETR", "TOP"):
            return self.retr(verb, arg)
        elif verb == "DELE":
            i = self.msg_number(arg)
            if i is None:
                self.send_line("-ERR no such message")
            else:
                self.deleted.add(i)
                self.send_line("+OK message %d deleted" % i)
        elif verb == "NOOP":
            self.send_line("+OK")
        elif verb == "RSET":
            self.deleted.clear()
            self.send_line("+OK")
        else:
            self.send_line("-ERR unknown command")
        return True

    def msg_number(self, arg):
        try:
            i = int(arg.split()[0])
        except (ValueError, IndexError):
            return None
        return i if 1 <= i <= len(self.box.msgs) and i not in self.deleted else None

    def listing(self, arg, value, title):
        if arg.strip():
            i = self.msg_number(arg)
            if i is None:
                self.send_line("-ERR no such message")
            elif self.sc == "malformed_listing":
                self.send_line("+OK %d" % i)
            else:
                self.send_line("+OK %d %s" % (i, value(i)))
            return
        self.send_line("+OK " + title)
        if self.sc == "malformed_listing":
            self.send_multiline(["1", "two 300", "3 4 5 6", "-1 -1"])
            return
        self.send_multiline(["%d %s" % (i, value(i)) for i in range(1, len(self.box.msgs) + 1)
                             if i not in self.deleted])

    def retr(self, verb, arg):
        i = self.msg_number(arg)
        if i is None:
            self.send_line("-ERR no such message")
            return True
        lines = self.box.msgs[i - 1]
        if verb == "TOP":
            lines = lines[:lines.index("") + 1]
        sc = self.sc
        self.send_line("+OK %d octets" % self.box.wire(i))
        if i == 2 and sc in ("reset_mid_retr", "stall_mid_retr", "retr_no_terminator"):
            part = lines if sc == "retr_no_terminator" else lines[:len(lines) // 2]
            for l in part:
                self.send_line(("." + l) if l.startswith(".") else l)
            self.wfile.flush()
            self.log.write("conn %d S: (%s on RETR %d)" % (self.id, sc, i))
            if sc == "reset_mid_retr":
                # SO_LINGER 0 turns close() into a TCP RST.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            elif sc == "stall_mid_retr":
                while self.rfile.readline(65536):
                    pass
            return False
        body_eol = b"\n" if sc in ("bare_lf", "bare_lf_all") else None
        if sc == "oversized_retr" and i == 2 and verb == "RETR":
            lines = lines + ["y" * 998] * 2000  # what LIST did not announce
        for l in lines:
            self.send_line(("." + l) if l.startswith(".") else l, body_eol)
        self.send_line(".")
        return True


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--scenario", choices=SCENARIOS)
    ap.add_argument("--log")
    ap.add_argument("--messages", type=int, default=3)
    ap.add_argument("--auth-reply", default=AUTH_TEXT, help="auth_fail: the -ERR line PASS/AUTH get")
    ap.add_argument("--list", action="store_true", help="print the scenario names")
    a = ap.parse_args()
    if a.list:
        print("\n".join(SCENARIOS))
        return 0
    if not (a.port and a.scenario and a.log):
        ap.error("--port, --scenario and --log are required")
    if not a.addr.startswith("127."):
        ap.error("loopback addresses only")
    if not a.auth_reply.startswith("-ERR"):
        ap.error("--auth-reply must be an -ERR line")

    log = Log(a.log)
    box = Mailbox(a.scenario, 0 if a.scenario == "empty" else a.messages)
    for i in range(1, len(box.msgs) + 1):
        log.write("msg %d <fake.%s.%d@fake.test>" % (i, a.scenario, i))
    srv = Server((a.addr, a.port), Handler)
    srv.scenario, srv.box, srv.log, srv.auth_reply = a.scenario, box, log, a.auth_reply
    return serve(srv, log, " scenario " + a.scenario)


def serve(srv, log, ready_words=""):
    """Serves until SIGTERM; the log says "ready pid P IP:PORT..." once it listens, "stopped" at the end."""
    srv.lock, srv.conns = threading.Lock(), 0
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    host, port = srv.server_address[:2]
    log.write("ready pid %d %s:%d%s" % (os.getpid(), host, port, ready_words))
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    log.write("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
