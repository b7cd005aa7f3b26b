#!/usr/bin/python3
# A loopback TCP proxy that breaks connections on command, for the fault-injection tests.
# Promises: every fault it injects is logged ("conn N fault: ..."); without a rule it forwards bytes unchanged.
"""Usage: faultproxy.py --listen IP:PORT --upstream IP:PORT --plan FILE --log FILE

Forwards every connection to the upstream server. The plan file holds one rule per line; the
rules are taken in order, one per connection: connection 1 gets the first rule, and so on. A
rule that did not fire before its connection closed (the trigger never came) stays for the next
connection, and its count goes on there: "after 150000 bytes" or "the 3rd MAIL" counts from when
the rule first applied, however the client spreads its traffic over connections. When the plan
file changes, its rules start again from the first. `pass` gives one
connection no fault; with no rule left, connections pass unchanged.

Rule:  ACTION TRIGGER [offset=N[:DIR]] [seconds=S]
  Words are split like a shell would (quote a pattern with spaces or backslashes); " #" starts
  a comment.
  ACTION   cut      end both directions (FIN) at the trigger point: each side reads what was
                    forwarded, then end of file; what arrives later is dropped
           reset    close both sides with RST (a peer loses what it had not read yet)
           stall    stop forwarding in both directions for S seconds (default 3600), then cut
           corrupt  flip one bit of the byte at the trigger point, then forward normally
  TRIGGER  c2s_bytes=N / s2c_bytes=N   after N bytes client->server / server->client
           c2s_line=RE[#K] / s2c_line=RE[#K]
                    after the K-th (default 1st) line matching the regular expression RE
                    (case-sensitive, from the start of the line, no line end) was forwarded;
                    mind that message bodies are lines too: "^MAIL FROM:<", not "^MAIL";
                    with when=before, the line itself is not forwarded (a swallowed reply)
           accept   as soon as the connection is accepted (before any byte)
  offset=N[:DIR]    after the trigger, forward N more bytes in direction DIR (c2s or s2c,
                    default: the trigger's direction), then act: "mid DATA" is
                    `cut c2s_line=^DATA offset=5000`
Example plan: "pass", "cut c2s_line=^USER", "reset s2c_bytes=20000", "cut s2c_line=^250#3 when=before".

The log gets "ready", then per connection "conn N open", "conn N rule: ...", "conn N fault: ..."
and "conn N closed c2s=BYTES s2c=BYTES".
"""
import argparse
import asyncio
import os
import re
import shlex
import signal
import socket
import struct
import sys

DIRS = ("c2s", "s2c")


class Rule:
    def __init__(self, text):
        self.text = text.strip()
        words = shlex.split(self.text)  # quotes allow spaces in a pattern
        if not words:
            raise ValueError("empty rule")
        self.action = words[0]
        self.pass_only = self.action == "pass"
        if self.pass_only:
            return
        if self.action not in ("cut", "reset", "stall", "corrupt"):
            raise ValueError("unknown action %r in %r" % (self.action, text))
        self.dir = None          # trigger direction
        self.nbytes = None       # byte trigger
        self.bytes_before = 0    # bytes seen in `dir` on earlier connections, while the rule waited
        self.matches = 0         # matching lines seen so far (on this and earlier connections)
        self.pattern = None      # line trigger
        self.occurrence = 1
        self.before = False
        self.at_accept = False
        self.offset = 0
        self.offset_dir = None
        self.seconds = 3600.0
        for w in words[1:]:
            key, _, value = w.partition("=")
            if key in ("c2s_bytes", "s2c_bytes"):
                self.dir, self.nbytes = key[:3], int(value)
            elif key in ("c2s_line", "s2c_line"):
                self.dir = key[:3]
                pat, _, k = value.rpartition("#") if "#" in value else (value, "", "1")
                self.pattern = re.compile(pat.encode())
                self.occurrence = int(k)
            elif key == "accept":
                self.at_accept = True
            elif key == "when":
                if value not in ("before", "after"):
                    raise ValueError("when= must be before or after in %r" % text)
                self.before = value == "before"
            elif key == "offset":
                n, _, d = value.partition(":")
                self.offset = int(n)
                self.offset_dir = d or None
                if self.offset_dir and self.offset_dir not in DIRS:
                    raise ValueError("offset direction must be c2s or s2c in %r" % text)
            elif key == "seconds":
                self.seconds = float(value)
            else:
                raise ValueError("unknown word %r in rule %r" % (w, text))
        if not self.at_accept and self.dir is None:
            raise ValueError("rule %r has no trigger" % text)
        if self.offset_dir is None:
            self.offset_dir = self.dir or "s2c"


class Plan:
    """The plan file, re-read at each new connection; rules are handed out in order."""

    def __init__(self, path):
        self.path = path
        self.content = None
        self.rules = []
        self.next = 0

    def take(self, log):
        try:
            with open(self.path, encoding="utf-8") as f:
                content = f.read()
        except FileNotFoundError:
            content = ""
        if content != self.content:
            self.content = content
            self.rules = []
            for line in content.splitlines():
                line = re.split(r"\s#", line, maxsplit=1)[0]  # "#K" inside a pattern has no space
                if line.strip() and not line.lstrip().startswith("#"):
                    try:
                        self.rules.append(Rule(line))
                    except ValueError as e:
                        log("plan error: %s" % e)
            self.next = 0
        if self.next >= len(self.rules):
            return None
        rule = self.rules[self.next]
        self.next += 1
        return rule

    def give_back(self, rule):
        """An unfired rule stays for the next connection."""
        if self.next > 0 and self.rules[self.next - 1] is rule:
            self.next -= 1


class Connection:
    def __init__(self, proxy, number, creader, cwriter):
        self.proxy = proxy
        self.n = number
        self.creader, self.cwriter = creader, cwriter
        self.ureader = self.uwriter = None
        self.count = {"c2s": 0, "s2c": 0}
        self.partial = {"c2s": b"", "s2c": b""}
        self.rule = None
        self.stage = "wait"       # wait -> offset -> fired
        self.left = 0             # offset bytes still to forward
        self.closed = False
        self.stalled = False      # stall or cut: read and drop, forward nothing

    def log(self, text):
        self.proxy.log("conn %d %s" % (self.n, text))

    async def run(self):
        self.log("open")
        self.rule = self.proxy.plan.take(self.proxy.log)
        if self.rule is not None:
            self.log("rule: " + self.rule.text)
        try:
            host, port = self.proxy.upstream
            self.ureader, self.uwriter = await asyncio.open_connection(host, port)
        except OSError as e:
            self.log("upstream connect failed: %s" % e)
            self.close(reset=False)
            return
        if self.rule is not None and not self.rule.pass_only and self.rule.at_accept:
            await self.fire("at accept")
        await asyncio.gather(self.pump("c2s", self.creader, self.uwriter),
                             self.pump("s2c", self.ureader, self.cwriter))
        if self.rule is not None and not self.rule.pass_only and self.stage != "fired":
            if self.rule.dir:
                self.rule.bytes_before += self.count[self.rule.dir]
            self.proxy.plan.give_back(self.rule)
            self.log("rule did not fire; it stays for the next connection")
        self.close(reset=False)
        self.log("closed c2s=%d s2c=%d" % (self.count["c2s"], self.count["s2c"]))

    async def pump(self, d, reader, writer):
        try:
            while not self.closed:
                data = await reader.read(65536)
                if not data:
                    break
                while data and not self.closed:
                    if self.stalled:  # read and drop: the peers see silence or EOF, not a full buffer
                        break
                    n, act = self.split(d, data)
                    chunk, data = data[:n], data[n:]
                    if act == "corrupt" and chunk:
                        chunk = chunk[:-1] + bytes([chunk[-1] ^ 0x01])
                    if chunk:
                        writer.write(chunk)
                        self.count[d] += len(chunk)
                        await writer.drain()
                    if act:
                        await self.fire("after %d %s bytes" % (self.count[d], d))
                        if act == "swallow":
                            data = b""
            # an EOF from one side is passed on (the other may still answer), except in a stall
            if self.stalled:
                self.close(reset=False)
            elif not self.closed:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
        except (ConnectionError, OSError):
            self.close(reset=False)

    def split(self, d, data):
        """How many bytes of `data` to forward before the fault acts, and whether it acts."""
        r = self.rule
        if r is None or r.pass_only or self.stage == "fired":
            return len(data), None
        if self.stage == "offset":
            if d != r.offset_dir:
                return len(data), None
            if self.left >= len(data):
                self.left -= len(data)
                return len(data), None if self.left > 0 else self.final()
            n, self.left = self.left, 0
            return n, self.final()
        if d != r.dir:
            return len(data), None
        if r.nbytes is not None:
            room = r.nbytes - r.bytes_before - self.count[d]
            if room > len(data):
                return len(data), None
            return self.triggered(max(room, 0), len(data))
        # line trigger: scan complete lines, keeping a partial line from the last chunk
        buf = self.partial[d] + data
        start = 0
        base = len(self.partial[d])
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                self.partial[d] = buf[start:][-4096:]
                return len(data), None
            line = buf[start:nl].rstrip(b"\r")
            if r.pattern.match(line):
                r.matches += 1
                if r.matches == r.occurrence:
                    self.partial[d] = b""
                    end = (start if r.before else nl + 1) - base
                    end = max(0, min(end, len(data)))
                    if r.before:
                        return end, "swallow"
                    return self.triggered(end, len(data))
            start = nl + 1

    def triggered(self, n, available):
        r = self.rule
        if r.offset <= 0:
            return n, self.final()
        self.stage = "offset"
        self.left = r.offset
        if r.offset_dir == r.dir:  # the offset continues in this very chunk
            extra = min(self.left, available - n)
            self.left -= extra
            return n + extra, None if self.left > 0 else self.final()
        return n, None

    def final(self):
        self.stage = "fired"
        return "corrupt" if self.rule.action == "corrupt" else "act"

    async def fire(self, where):
        r = self.rule
        self.stage = "fired"
        self.proxy.faults += 1
        self.log("fault: %s %s (rule: %s)" % (r.action, where, r.text))
        if r.action == "reset":
            self.close(reset=True)
        elif r.action == "cut":
            # FIN both ways, but keep reading: closing a socket with unread data would send RST.
            self.stalled = True
            for w in (self.cwriter, self.uwriter):
                try:
                    w.write_eof()
                except (OSError, RuntimeError):
                    pass
            asyncio.get_running_loop().call_later(10, self.close, False)
        elif r.action == "stall":
            self.stalled = True
            asyncio.get_running_loop().call_later(r.seconds, self.close, False)

    def close(self, reset):
        if self.closed:
            return
        self.closed = True
        for w in (self.cwriter, self.uwriter):
            if w is None:
                continue
            try:
                if reset:
                    sock = w.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                w.close()
            except OSError:
                pass


class Proxy:
    def __init__(self, args):
        self.upstream = parse_addr(args.upstream)
        self.plan = Plan(args.plan)
        self.logf = open(args.log, "a", buffering=1, encoding="utf-8")
        self.connections = 0
        self.faults = 0

    def log(self, text):
        self.logf.write(text + "\n")

    async def handle(self, reader, writer):
        self.connections += 1
        await Connection(self, self.connections, reader, writer).run()


def parse_addr(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    if not (host.startswith("127.") or host == "::1"):
        sys.exit("faultproxy: %s is not a loopback address (tests stay on loopback)" % host)
    return host, int(port)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    proxy = Proxy(args)
    host, port = parse_addr(args.listen)
    server = await asyncio.start_server(proxy.handle, host, port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    proxy.log("ready")
    async with server:
        await stop.wait()
    proxy.log("stopped after %d connections, %d faults" % (proxy.connections, proxy.faults))
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
