#!/usr/bin/python3
# Hostile and heavy clients for the resource tests: many connections at once, slowloris on SMTP and
# HTTP, a huge message, thousands of recipients, an endless header line. Loopback only, bounded.
"""Usage: loadclient.py MODE --host IP --port PORT [options]   (prints one JSON line of figures)

MODE
  concurrent   --clients N: N connections at once; each says EHLO, waits until all are in (or
               refused), then sends one message (Message-ID <load.I@client.test>); a client
               refused with 421 at connect tries again until it is in (max --seconds).
  slowloris    --clients N --gap S [--http]: N connections that send a command (or an HTTP
               request) one byte every S seconds; reports how long the server kept each open.
  rcpts        --count N: one message with N recipients, all RCPTs pipelined in one write.
  longline     --bytes N: one message with a header line of N bytes, then a normal message on
               the same connection.
  big          --mb N [--size]: one message of N MB (with SIZE= when --size), streamed.
Common: --from ADDR --to ADDR --seconds S (a bound for the whole run).
"""
import argparse
import json
import socket
import sys
import threading
import time


def recv_reply(f):
    """One SMTP reply (all its lines) from a file object: (code, text)."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode(errors="replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), " | ".join(lines)


def command(sock, f, line):
    sock.sendall(line.encode() + b"\r\n")
    return recv_reply(f)


def message(mid, sender, rcpt, body_lines=30, extra_header=""):
    head = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: load {mid}\r\nMessage-ID: {mid}\r\n"
            f"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n{extra_header}\r\n")
    body = "".join(f"line {i:04d} of a load test message, with some text in it\r\n" for i in range(body_lines))
    return (head + body + ".\r\n").encode()


def connect(a):
    s = socket.create_connection((a.host, a.port), timeout=a.seconds)
    return s, s.makefile("rb")


def mode_concurrent(a):
    n = a.clients
    barrier = threading.Barrier(n, timeout=a.seconds)
    stats = {"clients": n, "refused_421": 0, "accepted": 0, "errors": []}
    lock = threading.Lock()
    end = time.time() + a.seconds

    def client(i):
        mid = f"<load.{i}@client.test>"
        waited = False
        while time.time() < end:
            try:
                s, f = connect(a)
                code, text = recv_reply(f)
                if code == 421:
                    with lock:
                        stats["refused_421"] += 1
                    s.close()
                    if not waited:  # count in at the barrier once, as refused
                        waited = True
                        try:
                            barrier.wait()
                        except threading.BrokenBarrierError:
                            pass
                    time.sleep(0.2)
                    continue
                code, text = command(s, f, "EHLO load.test")
                if not waited:
                    waited = True
                    barrier.wait()  # every one of the N is connected (or was refused) now
                for line in (f"MAIL FROM:<{a.sender}>", f"RCPT TO:<{a.rcpt}>", "DATA"):
                    code, text = command(s, f, line)
                    if code >= 400:
                        raise RuntimeError(f"{line}: {text}")
                s.sendall(message(mid, a.sender, a.rcpt))
                code, text = recv_reply(f)
                if code != 250:
                    raise RuntimeError(f"end of data: {text}")
                command(s, f, "QUIT")
                s.close()
                with lock:
                    stats["accepted"] += 1
                return
            except (OSError, ConnectionError, RuntimeError, threading.BrokenBarrierError) as e:
                with lock:
                    stats["errors"].append(f"{mid}: {type(e).__name__}: {e}")
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(1, n + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats


def mode_slowloris(a):
    held = []
    lock = threading.Lock()
    if a.http:
        text = f"GET /api/status HTTP/1.1\r\nHost: {a.host}:{a.port}\r\nX-Padding: " + "x" * 200 + "\r\n\r\n"
    else:
        text = "EHLO slow.loris.example\r\nMAIL FROM:<" + "s" * 100 + "@loris.example>\r\n"

    def client(i):
        start = time.time()
        got = b""
        try:
            s = socket.create_connection((a.host, a.port), timeout=a.seconds)
            s.settimeout(a.gap)
            for ch in text.encode():
                if time.time() - start > a.seconds:
                    break
                s.sendall(bytes([ch]))
                try:
                    chunk = s.recv(4096)
                    if not chunk:
                        break  # the server closed it
                    got += chunk
                except socket.timeout:
                    pass
            s.close()
        except OSError:
            pass
        with lock:
            held.append({"seconds": round(time.time() - start, 1), "last": got.decode(errors="replace")[-60:]})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    longest = max(h["seconds"] for h in held)
    return {"clients": a.clients, "longest_held_s": longest, "held": sorted(held, key=lambda h: -h["seconds"])[:3]}


def mode_rcpts(a):
    s, f = connect(a)
    recv_reply(f)
    command(s, f, "EHLO load.test")
    lines = [f"MAIL FROM:<{a.sender}>"] + [f"RCPT TO:<r{i}@{a.rcpt.split('@')[1]}>" for i in range(a.count)]
    s.sendall(("\r\n".join(lines) + "\r\n").encode())  # RFC 2920: one write, replies in order
    mail, _text = recv_reply(f)
    codes = {}
    for _ in lines[1:]:
        code, _text = recv_reply(f)
        codes[code] = codes.get(code, 0) + 1
    code, text = command(s, f, "DATA")
    if code == 354:
        s.sendall(message("<load.rcpts@client.test>", a.sender, a.rcpt))
        code, text = recv_reply(f)
    command(s, f, "QUIT")
    return {"mail": mail, "rcpt": codes, "data": code, "data_text": text}


def mode_longline(a):
    s, f = connect(a)
    recv_reply(f)
    command(s, f, "EHLO load.test")
    out = {}
    for name, extra in (("long", "X-Long: " + "y" * a.bytes + "\r\n"), ("normal", "")):
        command(s, f, f"MAIL FROM:<{a.sender}>")
        command(s, f, f"RCPT TO:<{a.rcpt}>")
        command(s, f, "DATA")
        s.sendall(message(f"<load.{name}@client.test>", a.sender, a.rcpt, extra_header=extra))
        out[name] = recv_reply(f)
    command(s, f, "QUIT")
    return {"long": out["long"], "normal": out["normal"]}


def mode_big(a):
    s, f = connect(a)
    recv_reply(f)
    command(s, f, "EHLO load.test")
    size = a.mb * 1000 * 1000
    code, text = command(s, f, f"MAIL FROM:<{a.sender}>" + (f" SIZE={size}" if a.size else ""))
    if code != 250:
        return {"mail": [code, text]}
    command(s, f, f"RCPT TO:<{a.rcpt}>")
    code, text = command(s, f, "DATA")
    head = (f"From: <{a.sender}>\r\nTo: <{a.rcpt}>\r\nSubject: big\r\nMessage-ID: <load.big.{a.mb}@client.test>\r\n\r\n").encode()
    s.sendall(head)
    line = b"b" * 998 + b"\r\n"
    block = line * 1000  # ~1 MB
    sent = len(head)
    while sent + len(block) <= size:
        s.sendall(block)
        sent += len(block)
    s.sendall(b".\r\n")
    code, text = recv_reply(f)
    command(s, f, "QUIT")
    return {"data": [code, text], "sent": sent}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["concurrent", "slowloris", "rcpts", "longline", "big"])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--http", action="store_true")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--size", action="store_true")
    ap.add_argument("--from", dest="sender", default="sender@a.test")
    ap.add_argument("--to", dest="rcpt", default="rcpt@example.net")
    ap.add_argument("--seconds", type=float, default=120)
    a = ap.parse_args()
    if not (a.host.startswith("127.") or a.host == "::1"):
        sys.exit("loadclient: loopback only")
    print(json.dumps(globals()["mode_" + a.mode](a)))


if __name__ == "__main__":
    main()
