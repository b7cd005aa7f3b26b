#!/usr/bin/python3
# Multidrop test mail: writes the header sets of a catch-all mailbox (Bcc via Delivered-To,
# forwarding chains, forged headers, groups, encoded words, IDN, garbage, a loop, per-recipient
# provider copies) into a Maildir, and a manifest of which office user must get which message.
"""Usage: mkmultidrop.py MAILDIR MANIFEST HOSTNAME --loop-key FILE [--uid U --gid G]

The domains are firma.test and müller.test (xn--mller-kva.test); the test's config maps
info@ to alice and bob, chef@ to dave, rewrites everything else to @office.test, and sends the
rest to the default recipient eve. MANIFEST gets one line per expected delivery:
"USER<TAB>MESSAGE-ID" (a user that must not get a message simply has no line for it), plus
"held<TAB>MESSAGE-ID" for the loop and "redirected<TAB>MESSAGE-ID" for the unknown user.
HOSTNAME is postbridge's [service] hostname (its loop header names it); FILE is the loop key the
test gives postbridge's state folder, so the loop message carries a mark postbridge recognises.
"""
import argparse
import base64
import hashlib
import hmac
import os
import sys
import time
import zlib

TRACE = ("Received: from mx1.provider.test (mx1.provider.test [192.0.2.10])\n"
         "\tby mailin.provider.test (Postfix) with ESMTPS id {qid}\n"
         "\tfor <info@firma.test>; Tue, 1 Dec 2026 08:00:00 +0100")


def loop_mark(key, host):
    """A mark as postbridge's routing/loop_mark.cpp makes it: NONCE.MAC, base64url, no padding."""
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")
    nonce = b64(os.urandom(12))
    mac = hmac.new(key, (host.lower() + "\n" + nonce).encode(), hashlib.sha256).digest()[:16]
    return nonce + "." + b64(mac)


def cases(host, key):
    """(name, header lines, expected office users); the Message-ID is added from the name."""
    t = TRACE
    return [
        ("bcc", ["Delivered-To: alice@firma.test", t, "To: info@firma.test"], ["alice"]),
        ("map", ["Delivered-To: info@firma.test", t, "To: info@firma.test"], ["alice", "bob"]),
        ("forged", ["Delivered-To: chef@firma.test", t, "Delivered-To: alice@firma.test",
                    "To: chef@firma.test"], ["dave"]),
        ("chain", ["Delivered-To: bob@firma.test", t, "Delivered-To: bob.old@gmx.test",
                   "Received: by mx.gmx.test; Tue, 1 Dec 2026 07:59:00 +0100",
                   "To: bob.old@gmx.test"], ["bob"]),
        ("case", ["Delivered-To: BOB@Firma.Test", t, "To: Bob <BOB@FIRMA.TEST>"], ["bob"]),
        ("idn-alabel", ["Delivered-To: frank@xn--mller-kva.test", t, "To: frank@müller.test"], ["frank"]),
        ("list", ["Delivered-To: bob@firma.test", t, "List-Id: <team.lists.example.org>",
                  "To: team@lists.example.org"], ["bob"]),
        # Relay tricks of our domain (Postfix's allow_percent_hack / swap_bangpath would pass
        # them on to target.example): kept from the office server, the default recipient gets them.
        ("percent-hack", ["Delivered-To: victim%target.example@firma.test", t,
                          "To: victim%target.example@firma.test"], ["eve"]),
        ("bang-path", ["Delivered-To: target.example!victim@firma.test", t,
                       "To: target.example!victim@firma.test"], ["eve"]),
        ("unknown-user", ["Delivered-To: nosuchuser@firma.test", t, "To: nosuchuser@firma.test"],
         ["redirected:eve"]),
        # No envelope header: the provider's Received "for", then To/Cc.
        ("received-for", ["Received: from a.example by mx.provider.test with ESMTP id 9\n"
                          "\tfor <dave@firma.test>; Tue, 1 Dec 2026 08:00:00 +0100",
                          "To: info@firma.test"], ["dave"]),
        ("to-cc", ['To: "Schmidt, Alice" <ALICE@FIRMA.TEST>, kunde@example.com',
                   "Cc: partner@example.org, Bob (the boss) <bob@firma.test>"], ["alice", "bob"]),
        ("group", ["To: Team: alice@firma.test, bob@firma.test;, kunde@example.com"], ["alice", "bob"]),
        ("encoded-idn", ["To: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller=2C_Chef?= <dave@müller.test>"], ["dave"]),
        ("repeats", ["To: alice@firma.test, ALICE@firma.test", "Cc: Alice@FIRMA.test, info@firma.test"],
         ["alice", "bob"]),
        ("nobody", ["To: undisclosed-recipients:;"], ["eve"]),
        ("garbage", ["To: <<<>>> ;;; @@ \"unclosed", "Cc: (unclosed comment"], ["eve"]),
        ("foreign-only", ["Delivered-To: someone@other.test", t, "To: alice@firma.test"], ["eve"]),
        # Our loop header: held at postbridge, nobody gets it, it stays at the provider.
        ("loop", ["Delivered-To: alice@firma.test", t,
                  "X-Postbridge-Loop: %s mark=%s" % (host, loop_mark(key, host))], ["held"]),
        # A sender who writes our host name without our mark, header and stamps: not a loop.
        ("forged-loop", ["Delivered-To: alice@firma.test", t, "X-Postbridge-Loop: %s" % host]
         + ["Received: from office by %s (postbridge) with ESMTP id %d; Tue, 1 Dec 2026 07:0%d:00 +0100"
            % (host, k, k) for k in range(1, 4)], ["alice"]),
    ]


# The provider keeps one copy per recipient and names none of them: same Message-ID, same body.
DUPLICATE_COPIES = 3


def message(name, headers, msgid, body_tag):
    lines = ["Return-Path: <kunde@example.com>"] + [h.format(qid="%08X" % zlib.crc32(name.encode()))
                                                    for h in headers]
    lines += ["From: Kunde <kunde@example.com>",
              "Subject: multidrop case %s" % name,
              "Date: Tue, 1 Dec 2026 08:00:00 +0100",
              "Message-ID: %s" % msgid,
              "MIME-Version: 1.0",
              "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: 8bit"]
    body = "Case %s.\nGrüße aus dem Test (%s).\n" % (name, body_tag)
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def deliver(maildir, data, i, uid, gid):
    t = time.time()
    base = "%d.M%dP%dQ%d.multidrop,S=%d,W=%d" % (int(t), int((t % 1) * 1e6), os.getpid(), i,
                                                 len(data), len(data) + data.count(b"\n"))
    tmp = os.path.join(maildir, "tmp", base)
    with open(tmp, "wb") as f:
        f.write(data)
    if uid >= 0:
        os.chown(tmp, uid, gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(maildir, "new", base))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("maildir")
    ap.add_argument("manifest")
    ap.add_argument("hostname")
    ap.add_argument("--uid", type=int, default=-1)
    ap.add_argument("--gid", type=int, default=-1)
    ap.add_argument("--loop-key", required=True, help="postbridge's STATE_DIR/loop.key (32 bytes)")
    a = ap.parse_args()
    with open(a.loop_key, "rb") as f:
        key = f.read()
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(a.maildir, sub), exist_ok=True)
    manifest = []
    i = 0
    for name, headers, users in cases(a.hostname, key):
        msgid = "<multidrop.%s@example.com>" % name
        i += 1
        deliver(a.maildir, message(name, headers, msgid, name), i, a.uid, a.gid)
        for u in users:
            if u.startswith("redirected:"):
                manifest.append(("redirected", msgid))
                u = u.split(":", 1)[1]
            manifest.append((u, msgid))
    # Per-recipient provider copies without an envelope header: alice must get one, not three.
    msgid = "<multidrop.copies@example.com>"
    for k in range(DUPLICATE_COPIES):
        i += 1
        deliver(a.maildir, message("copies", ["To: alice@firma.test, kunde@example.com"], msgid, "same body"),
                i, a.uid, a.gid)
    manifest.append(("alice", msgid))
    # A different message that reuses that Message-ID (broken generators do): not a duplicate.
    i += 1
    deliver(a.maildir, message("copies", ["To: alice@firma.test"], msgid, "another body"), i, a.uid, a.gid)
    manifest.append(("alice", msgid))
    with open(a.manifest, "w") as f:
        for user, mid in manifest:
            f.write("%s\t%s\n" % (user, mid))
    print(i)


if __name__ == "__main__":
    sys.exit(main())
