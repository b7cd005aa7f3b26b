#!/usr/bin/env bash
# Fetched mail with bare CRs and a line over 998 octets, from a real Dovecot POP3 to the office's
# Dovecot LMTP: the office gets the message with exactly the documented changes and no other —
# a CR inside a line sent as a space (one line stays one line, even in the Subject), the CRs of
# "CR CR CR LF" dropped, the 20,000-octet line broken with CRLF SP — and the log counts each
# kind correctly: what the provider sent at the fetch, what was changed at the delivery.
. "$(dirname "$0")/lib.sh"
pb_init 86
pb_require_postbridge

pb_certs
pb_pop3_start
pb_lmtp_start
pb__users
# Maildir files have LF line ends; Dovecot's POP3 sends each LF as CRLF, so "c\r\r\r\n" arrives
# as it is and a CR inside a line as a bare CR.
"$PB_PY" - "$(pb_maildir alice)/new/1765000000.M86P1.provider" "$PB_WORK/original.eml" <<'EOF' || pb_fail "could not write the provider's message"
import os, sys
msg = (b"From: <sender@a.test>\nTo: <alice@office.test>\nSubject: one\rtwo\n"
       b"Message-ID: <barecr.86@provider.test>\n\n"
       b"a\rb\nc\r\r\r\n" + b"x" * 20000 + b"\nx\r.\ry\nlast line\n")
for path in sys.argv[1:]:
    open(path, "wb").write(msg)
os.chown(sys.argv[1], 8, 8)
os.chmod(sys.argv[1], 0o600)
EOF
pb_config lmtp
pb_account alice
pb_run_once
pb_assert_rc "one pass" 0
pb_assert_eq "the provider's mailbox is empty (delivered, then deleted)" 0 "$(pb_mailbox_count alice)"
pb_assert_eq "one message at the office" 1 "$(pb_office_count alice)"

office="$(find "$(pb_office_maildir alice)/new" "$(pb_office_maildir alice)/cur" -type f | head -n 1)"
"$PB_PY" - "$office" > "$PB_WORK/compare.txt" 2>&1 <<'EOF' || pb_fail "the office did not get the documented bytes: $(cat "$PB_WORK/compare.txt")"
import sys
got = open(sys.argv[1], "rb").read()
got = got[got.index(b"From: <sender@a.test>\n"):]   # Dovecot's and postbridge's trace headers come first
long_line = b"x" * 998 + (b"\n " + b"x" * 997) * 19 + b"\n " + b"x" * 59
want = (b"From: <sender@a.test>\nTo: <alice@office.test>\nSubject: one two\n"
        b"Message-ID: <barecr.86@provider.test>\n\n"
        b"a b\nc\n" + long_line + b"\nx . y\nlast line\n")
if got != want:
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    sys.exit(f"first difference at octet {at}: {got[at-30:at+30]!r} instead of {want[at-30:at+30]!r}")
print("ok: exactly the documented changes")
EOF
cat "$PB_WORK/compare.txt" >&2
pb_assert_grep "the fetch counts what the provider sent, per kind" \
  'account alice: the server sent 2 CRs right before a line end \(dropped, as Postfix does\) and 4 CRs inside lines \(stored as sent; sent on as a space each, RFC 5321 2\.3\.8\)$' "$PB_LOG"
pb_assert_no_grep "no bare LF or NUL is claimed" 'bare LF \(|NUL byte' "$PB_LOG"
pb_assert_grep "the delivery counts what it changed" \
  'message 1 via local: changed to fit SMTP: 1 line over 998 octets broken \(RFC 5322 2\.1\.1\), 4 bare CRs sent as spaces \(RFC 5321 2\.3\.8\); a DKIM signature' "$PB_LOG"
