#!/usr/bin/python3
# Fidelity check for the integration tests: did every original message reach smtp-sink intact?
# Promises: exit 0 only if each original's bytes end some stored message with the same Message-ID.
"""Usage: sinkcheck.py [--all-copies] ORIGINALS_DIR SINK_MSGS_DIR

ORIGINALS_DIR holds copies of the provider's Maildir files (LF line ends). smtp-sink stores each
message LF-only and dot-unstuffed, after its own X-Client-Addr/X-Mail-Args/X-Rcpt-Args/... and
Received header lines, and adds one "\n" at the end. A message is intact when, with those removed, it ENDS with the original:
the only change a gateway may make is to prepend header lines (Received:, RFC 5321 4.4).
With --all-copies every stored copy of a message must be intact (after faults, a duplicate
must be as whole as the first copy); otherwise one intact copy is enough.
Prints one line per missing or changed message and a final "checked N" line.
"""
import os
import re
import sys

SINK_HDR = re.compile(rb"^(X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): .*\n)*"
                      rb"Received: .*\n([ \t].*\n)*")


def msgid(data):
    head = data.split(b"\n\n", 1)[0]
    m = re.search(rb"(?im)^message-id:[ \t]*(\S+)", head)
    return m.group(1).decode("ascii", "replace") if m else None


def first_difference_from_end(a, b):
    n = min(len(a), len(b))
    for k in range(n):
        if a[-1 - k] != b[-1 - k]:
            return k
    return n


def main():
    args = sys.argv[1:]
    all_copies = bool(args) and args[0] == "--all-copies"
    if all_copies:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    orig_dir, sink_dir = args
    sink = {}
    for f in os.listdir(sink_dir):
        with open(os.path.join(sink_dir, f), "rb") as fh:
            data = SINK_HDR.sub(b"", fh.read(), count=1)
        if data.endswith(b"\n\n"):
            data = data[:-1]    # smtp-sink's dump adds one "\n" after the message
        sink.setdefault(msgid(data), []).append(data)
    bad = 0
    names = sorted(os.listdir(orig_dir))
    for f in names:
        with open(os.path.join(orig_dir, f), "rb") as fh:
            o = fh.read()
        got = sink.get(msgid(o))
        if not got:
            print("missing: %s %s" % (msgid(o), f))
            bad += 1
        elif not (all if all_copies else any)(g.endswith(o) for g in got):
            g = next(g for g in got if not g.endswith(o))
            k = first_difference_from_end(o, g)
            print("changed: %s: original %d bytes, received %d; they differ %d bytes from the end:\n"
                  "  original: %r\n  received: %r" % (msgid(o), len(o), len(g), k,
                                                     o[max(0, len(o) - k - 40):len(o) - k + 10],
                                                     g[max(0, len(g) - k - 40):len(g) - k + 10]))
            bad += 1
    print("checked %d%s" % (len(names), ", every copy" if all_copies else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
