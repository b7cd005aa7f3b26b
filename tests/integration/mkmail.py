#!/usr/bin/python3
# Test-mail generator: writes N realistic RFC 5322 messages of about SIZE_KB into a Maildir.
# Promises: deterministic content for a given --seed, a unique Message-ID per message, Maildir-safe writes.
"""Usage: mkmail.py MAILDIR N SIZE_KB USER [--uid U --gid G --seed S --domain D --tag T]

Drops N messages of about SIZE_KB KiB each straight into MAILDIR/new (written to
MAILDIR/tmp first, then renamed, as the Maildir spec requires). Headers: Return-Path,
Delivered-To, Received, From, To, Subject, Date, Message-ID, MIME-Version, Content-Type.
Every 4th message is multipart/mixed with a base64 attachment; every 5th text body holds
lines starting with ".", ".." and "From " (dot-stuffing and mbox quirks).
The Message-ID is <pbtest.TAG.I.RANDOM@example.org>: TAG defaults to one unique per run,
so two fills of one mailbox never share an ID.
File names carry ,S=<size>,W=<CRLF size> so Dovecot need not read every file for its sizes.
Prints the number of bytes written.
"""
import argparse
import base64
import email.utils
import os
import random
import socket
import sys
import time

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam "
         "quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
         "consequat duis aute irure in reprehenderit voluptate velit esse cillum "
         "fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt "
         "culpa qui officia deserunt mollit anim id est laborum gateway relay mail "
         "message delivery queue smarthost invoice report meeting schedule project "
         "status update quarterly budget review draft attached please find below").split()
NAMES = ["Anna Schmidt", "Bernd Meyer", "Carla Rossi", "David Chen", "Emma Dubois",
         "Farid Haddad", "Greta Olsen", "Hiro Tanaka", "Ines Garcia", "Jonas Weber"]


def make_lines(rng, count=4000):
    out = []
    for _ in range(count):
        words, n = [], 0
        target = rng.randint(40, 72)
        while n < target:
            w = rng.choice(WORDS)
            words.append(w)
            n += len(w) + 1
        line = " ".join(words)
        out.append(line[0].upper() + line[1:] + ("." if rng.random() < 0.3 else ""))
    return out


def text_body(rng, pool, nbytes, quirky):
    lines, n = [], 0
    if quirky:
        for q in (".", ". a line that starts with a dot", "..two dots",
                  "From the desk of the test (mbox quirk line)"):
            lines.append(q)
            n += len(q) + 1
    while n < nbytes:
        ln = rng.choice(pool)
        if rng.random() < 0.08:
            ln = ""
        lines.append(ln)
        n += len(ln) + 1
    lines += ["", "-- ", "postbridge test generator"]
    return "\n".join(lines) + "\n"


def attachment(rng, nbytes):
    # Deterministic bytes (not os.urandom) so that --seed reproduces the whole message.
    return base64.encodebytes(rng.getrandbits(8 * nbytes).to_bytes(nbytes, "little")).decode("ascii")


def build(i, n, size, user, domain, tag, rng, pool, now):
    sender_name = rng.choice(NAMES)
    sender = sender_name.split()[0].lower() + "%d@example.org" % rng.randint(1, 999)
    rcpt = "%s@%s" % (user, domain)
    date = email.utils.formatdate(now - (n - i) * 37, localtime=True)
    msgid = "<pbtest.%s.%d.%08x@example.org>" % (tag, i + 1, rng.getrandbits(32))
    subject = "Test message %d of %d (%d KB) %s" % (i + 1, n, size // 1024,
                                                    " ".join(rng.sample(WORDS, 3)))
    hdr = [
        "Return-Path: <%s>" % sender,
        "Delivered-To: %s" % rcpt,
        "Received: from mx.example.org (localhost [127.0.0.1])\n"
        "\tby pop.%s (test) with ESMTPS id %08X\n\tfor <%s>; %s"
        % (domain, rng.getrandbits(32), rcpt, date),
        "From: \"%s\" <%s>" % (sender_name, sender),
        "To: %s <%s>" % (user.capitalize(), rcpt),
        "Subject: %s" % subject,
        "Date: %s" % date,
        "Message-ID: %s" % msgid,
        "MIME-Version: 1.0",
    ]
    quirky = (i % 5 == 0)
    if i % 4 == 3:
        boundary = "=_pbtest_%08x" % rng.getrandbits(32)
        att_raw = max(256, int(size * 0.55 * 3 / 4))
        txt_len = max(200, size - int(att_raw * 4 / 3) - 900)
        hdr.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
        body = ("This is a multi-part message in MIME format.\n\n"
                "--%s\nContent-Type: text/plain; charset=us-ascii\n"
                "Content-Transfer-Encoding: 7bit\n\n%s\n"
                "--%s\nContent-Type: application/octet-stream; name=\"report-%d.bin\"\n"
                "Content-Transfer-Encoding: base64\n"
                "Content-Disposition: attachment; filename=\"report-%d.bin\"\n\n%s\n"
                "--%s--\n") % (boundary, text_body(rng, pool, txt_len, quirky),
                              boundary, i, i, attachment(rng, att_raw), boundary)
    else:
        hdr.append("Content-Type: text/plain; charset=us-ascii")
        hdr.append("Content-Transfer-Encoding: 7bit")
        body = text_body(rng, pool, max(100, size - 700), quirky)
    return ("\n".join(hdr) + "\n\n" + body).encode("ascii")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("maildir")
    ap.add_argument("n", type=int)
    ap.add_argument("size_kb", type=float)
    ap.add_argument("user")
    ap.add_argument("--uid", type=int, default=-1)
    ap.add_argument("--gid", type=int, default=-1)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--domain", default="provider.test")
    ap.add_argument("--tag", default=None)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    pool = make_lines(rng)
    size = int(a.size_kb * 1024)
    tag = a.tag or "%s-%x" % (a.user, time.time_ns())
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(a.maildir, sub), exist_ok=True)
    host = socket.gethostname().replace("/", "_").replace(":", "_") or "test"
    pid = os.getpid()
    now = time.time()
    total = 0
    for i in range(a.n):
        data = build(i, a.n, size, a.user, a.domain, tag, rng, pool, now)
        vsize = len(data) + data.count(b"\n")
        t = time.time()
        base = "%d.M%dP%dQ%d.%s,S=%d,W=%d" % (int(t), int((t % 1) * 1e6), pid, i + 1,
                                              host, len(data), vsize)
        tmp = os.path.join(a.maildir, "tmp", base)
        with open(tmp, "wb") as f:
            f.write(data)
        if a.uid >= 0:
            os.chown(tmp, a.uid, a.gid)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(a.maildir, "new", base))
        total += len(data)
    print(total)


if __name__ == "__main__":
    sys.exit(main())
