#!/usr/bin/python3
# Leak scan over everything postbridge wrote during the tests: its logs, saved API answers and
# state databases must not contain any password the tests gave it, in clear or as SASL base64,
# nor a private key, a signed JWT (a client assertion) or an access or refresh token.
"""Usage: scan_secrets.py DIR...

Looks at every file under DIR named postbridge-*.log, *.json, *.txt written from API answers
(api-*.txt), metrics-*.txt, check-*.txt, and every postbridge.db (with its -wal), for:
  - the passwords the test suite uses (tests/integration/lib.sh's PB_PASSWORD, the wrong ones
    some tests use on purpose, the relay and status page logins of tests/faults),
  - their base64 forms as AUTH PLAIN ("\\0user\\0password"), AUTH LOGIN (base64(password)) and
    HTTP Basic ("user:password") would send them, for every test user name,
  - shapes no output may hold whatever the test: a PEM private key, a signed JWT (the client
    assertions of app-only logins, id_tokens) and the simulated IdP's tokens (oauth_idp.py's
    "at-"/"rt-" followed by 32 random characters).
Servers' own logs (srv/), config files, password files, the token store (state/oauth/) and the
harness's own check of the IdP (test_oauth_harness/, which mints tokens itself, no postbridge
involved) are not postbridge's output and are skipped. Exit 0 when nothing is found; 1 with one line per finding ("FILE: SECRET-NAME").
"""
import base64
import fnmatch
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def lib_value(name):
    with open(os.path.join(HERE, "integration", "lib.sh"), encoding="utf-8") as f:
        m = re.search(r"^%s=(\"?)([^\"\n#]*)\1" % name, f.read(), re.M)
    return m.group(2).strip() if m else None


PASSWORDS = {
    "PB_PASSWORD": lib_value("PB_PASSWORD"),
    "wrong password": "not-the-password",
    "wrong password 2": "Pb-Wrong-0815",
    "relay login": "Pb-Relay-2342",
    "web login": "Pb-Web-1337",
}
USERS = (lib_value("PB_USERS") or "").split() + ["scanner", "admin", "acct01"]
SHAPES = [
    ("a PEM private key", re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a signed JWT", re.compile(rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}")),
    ("an OAuth access or refresh token", re.compile(rb"(?<![A-Za-z0-9_-])[ar]t-[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")),
]
PATTERNS = ["postbridge-*.log", "*.json", "api-*.txt", "metrics-*.txt", "check-*.txt", "postbridge.db",
            "postbridge.db-wal"]


def needles():
    out = []
    for what, pw in PASSWORDS.items():
        if not pw:
            continue
        b = pw.encode()
        out.append((what, b))
        out.append((what + " as base64 (AUTH LOGIN)", base64.b64encode(b)))
        for u in USERS:
            ub = u.encode()
            out.append((f"{what} as AUTH PLAIN for {u}", base64.b64encode(b"\0" + ub + b"\0" + b)))
            out.append((f"{what} as AUTH PLAIN for {u} (authzid)", base64.b64encode(ub + b"\0" + ub + b"\0" + b)))
            out.append((f"{what} as HTTP Basic for {u}", base64.b64encode(ub + b":" + b)))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if not PASSWORDS["PB_PASSWORD"] or len(PASSWORDS["PB_PASSWORD"]) < 8:
        sys.exit("scan_secrets: PB_PASSWORD in lib.sh must be a distinctive word, not %r" % PASSWORDS["PB_PASSWORD"])
    ns = needles()
    found = scanned = 0
    for top in sys.argv[1:]:
        for root, dirs, files in os.walk(top):
            # state/oauth is the token store: tokens belong there (0600), nowhere else.
            dirs[:] = [d for d in dirs
                       if d not in ("srv", "secrets", "mail", "office", "msgs", "oauth", "test_oauth_harness")]
            for name in files:
                if not any(fnmatch.fnmatch(name, p) for p in PATTERNS):
                    continue
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                scanned += 1
                for what, needle in ns:
                    if needle in data:
                        print(f"{path}: {what}")
                        found += 1
                for what, shape in SHAPES:
                    if shape.search(data):
                        print(f"{path}: {what}")
                        found += 1
    print(f"scan_secrets: {scanned} files, {len(ns)} forms of {len([p for p in PASSWORDS.values() if p])} passwords, "
          f"{found} found", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
