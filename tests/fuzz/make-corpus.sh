#!/usr/bin/env bash
# tests/fuzz/make-corpus.sh — regenerates the transcript-derived seeds of tests/fuzz/corpus/.
# Promises: rewrites only files named t-* (hand-written seeds and regressions are left alone);
# the same sources give byte-identical seeds, so a rerun shows up in git only when a source changed.
#
# Usage: tests/fuzz/make-corpus.sh      (needs python3; run after changing tests/transcripts/,
#        config/postbridge.toml, tests/unit/config/ or tests/net/http_api_test.cpp)
# Sources: tests/transcripts/{pop3,imap,smtp,smtp_server}/*.txt (C:/S: lines, see
# tests/net/script_transport.hpp), the example config and the config tests' TOML texts, and the
# request targets named in the status page's API test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec python3 - "$root" <<'PYTHON'
import glob, os, re, sys

root = sys.argv[1]
corpus = os.path.join(root, "tests/fuzz/corpus")
out = {}  # (target, name) -> bytes

def add(target, name, data):
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    out[(target, "t-" + name)] = data

def unescape(s):
    """The S~/C~ escapes of script_transport.hpp: \\r \\n \\t \\\\ \\xNN."""
    b, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            c = s[i + 1]
            if c == "x":
                b.append(int(s[i + 2:i + 4], 16)); i += 4; continue
            b += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}.get(c, c.encode()); i += 2; continue
        b += s[i].encode(); i += 1
    return bytes(b)

EHLO = b"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"

def sides(path, flipped):
    """(client bytes, server bytes) of a transcript; blocks <NAME> become a canned EHLO reply."""
    client, server = bytearray(), bytearray()
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = re.match(r"^([CS])([:~]) ?(.*)$", line)
        if not m:
            continue
        who, kind, text = m.groups()
        if re.fullmatch(r"<[A-Z0-9_]+>", text):
            data = EHLO if "EHLO" in text else b""
        else:
            data = unescape(text) if kind == "~" else text.encode() + b"\r\n"
        is_client = (who == "C") != flipped
        (client if is_client else server).extend(data)
    return bytes(client), bytes(server)

def data_part(client):
    """What follows the first DATA command: the message stream up to and after its end."""
    m = re.search(rb"(?im)^DATA\r?\n", client)
    return client[m.end():] if m else None

def header_block(message):
    end = re.search(rb"\r?\n\r?\n", message)
    return message[:end.start() + 2] if end else None

def negative_replies(server):
    """Each complete 4xx/5xx reply (multi-line joined with CRLF)."""
    replies, cur = [], []
    for line in server.split(b"\r\n"):
        if not re.match(rb"^[2-5]\d\d[ -]?", line):
            cur = []; continue
        cur.append(line)
        if len(line) == 3 or line[3:4] == b" ":
            if line[:1] in (b"4", b"5"):
                replies.append(b"\r\n".join(cur))
            cur = []
    return replies

for path in sorted(glob.glob(os.path.join(root, "tests/transcripts/*/*.txt"))):
    kind = os.path.basename(os.path.dirname(path))
    name = kind + "-" + os.path.splitext(os.path.basename(path))[0]
    client, server = sides(path, flipped=(kind == "smtp_server"))
    if kind == "pop3":
        add("pop3_reply", name, server)
        continue
    if kind == "imap":  # first byte: the read size (0: all at once; 3: three bytes per read)
        add("imap_response", name, b"\x00" + server)
        add("imap_response", name + "-cut3", b"\x03" + server)
        continue
    add("smtp_reply", name, server)
    add("smtp_command", name, client)
    body = data_part(client)
    if body:
        add("smtp_data", name, b"\x00" + body)
        head = header_block(body)
        if head:
            add("headers_address", name, head)
    for i, reply in enumerate(negative_replies(server)[:3]):
        fields = [b"gw.firma.local", b"postmaster@gw.firma.local", b"boss@office.example", b"ENV+2B1",
                  b"From: Boss <boss@office.example>\r\nTo: bob@office.test\r\nSubject: Angebot\r\n",
                  b"", b"1764000000", b"1764003600",
                  b"rfc822;bob@office.test", b"bob@office.test", b"failed" if reply[:1] == b"5" else b"delayed",
                  b"", b"mx.test", reply, b"1764400000"]
        add("dsn_received", "%s-%d" % (name, i), b"\x00".join(fields))

# config: the example as shipped, and with every example block switched on; the tests' TOML texts.
example = open(os.path.join(root, "config/postbridge.toml"), "rb").read()
add("config", "example", example)
on = re.sub(rb"(?m)^# (\[\[?[a-z.]+\]\]?(?:\s+#.*)?|[a-z_]+ = .*)$", rb"\1", example)
on = re.sub(rb'(password_file = )"[^"]*"', rb'\1"pw.secret"', on)
on = re.sub(rb'(tls_cert_file = )"[^"]*"', rb'\1"cert.pem"', on)
on = re.sub(rb'(tls_key_file = )"[^"]*"', rb'\1"key.pem"', on)
on = re.sub(rb'(password_hash = )"[^"]*"', rb'\1"$6$saltsalt$' + b"x" * 86 + rb'"', on)
add("config", "example-all-on", on)
for path in sorted(glob.glob(os.path.join(root, "tests/unit/config/data/*.toml"))):
    add("config", "data-" + os.path.basename(path), open(path, "rb").read())
for path in sorted(glob.glob(os.path.join(root, "tests/unit/config/*.cpp"))):
    for i, m in enumerate(re.finditer(rb'R"\((.*?)\)"', open(path, "rb").read(), re.S)):
        add("config", "%s-%d" % (os.path.splitext(os.path.basename(path))[0], i), m.group(1))

# http_api: every request target the API test names, as the page would send it.
api_test = open(os.path.join(root, "tests/net/http_api_test.cpp"), encoding="utf-8").read()
for i, target in enumerate(sorted(set(re.findall(r'"(/[^"\s]*)"', api_test)))):
    action = re.search(r"/(poll|resume|retry|hold|release|bounce|delete)$", target)
    if action:
        req = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:8025\r\nSec-Fetch-Site: same-origin\r\n"
               "X-Postbridge: 1\r\nContent-Length: 0\r\n\r\n" % target)
    else:
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:8025\r\n\r\n" % target
    add("http_api", "api-test-%02d" % i, req.encode())

for target in sorted({t for t, _ in out}):
    folder = os.path.join(corpus, target)
    os.makedirs(folder, exist_ok=True)
    for old in glob.glob(os.path.join(folder, "t-*")):
        os.remove(old)
seen = set()
for (target, name), data in sorted(out.items()):
    if (target, data) in seen:  # one file per distinct input
        continue
    seen.add((target, data))
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)
counts = {}
for target, _ in seen:
    counts[target] = counts.get(target, 0) + 1
print("make-corpus: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
PYTHON
