#!/usr/bin/env bash
# Lines over 998 octets (RFC 5322 2.1.1) relayed through an Exim smarthost, which bounces any
# message with such a line ("lines too long for transport"): a 5,017-octet header line with spaces,
# a 20,000-octet body line and a 2,500-octet line of UTF-8 go in; at the sink behind Exim the
# message arrives with every line within 998 octets, the header folded at its spaces (unfolding
# gives it back unchanged), the body lines broken with CRLF SP as Postfix does (never inside a
# UTF-8 character), nothing else changed — and postbridge's log counts the broken lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
. "$(dirname "$0")/lib_exim.sh"
pb_init 85
pb_require_postbridge

pb_certs
pb_sink_start
pbx_exim_start
pb_config sink
pbo_relay
pbo_smarthost a port="$PBX_EXIM_PORT"
pbo_start_postbridge

# The message, written once, sent byte for byte with smtplib (it dot-stuffs, nothing else). It has
# a Message-ID and a Date, so the relay adds neither (RFC 6409 8) and the header arrives as sent.
"$PB_PY" - "$PB_WORK/long.eml" <<'EOF' || pb_fail "could not write the test message"
import sys
words = "".join(f" word{i:04d}" for i in range(556))                 # 5,017 octets with the name
digits = "".join(str(i % 10) for i in range(20000))                 # one 20,000-octet line
euros = "\u20ac" * 833 + "!"                                         # 2,500 octets of UTF-8
msg = ("From: <sender@a.test>\r\nTo: <rcpt@example.net>\r\nSubject: long lines\r\n"
       "Message-ID: <long.85@client.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nX-Long-Words:" + words + "\r\n"
       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
       "\r\nfirst line\r\n" + digits + "\r\n.a dot line\r\n" + euros + "\r\nlast line\r\n")
open(sys.argv[1], "wb").write(msg.encode())
EOF
"$PB_PY" - "$PB_IP" "$PB_RELAY_PORT" "$PB_WORK/long.eml" > "$PB_WORK/send.txt" 2>&1 <<'EOF' || pb_fail "sending failed: $(cat "$PB_WORK/send.txt")"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=60)
s.ehlo("client.test")
s.mail("sender@a.test")
s.rcpt("rcpt@example.net")
code, text = s.data(open(sys.argv[3], "rb").read())
print(code, text.decode())
s.quit()
EOF
pb_assert_grep "postbridge accepted the message" '^250 .*queued as [0-9]+' "$PB_WORK/send.txt"

wait_for "the message at the sink behind Exim (before: Exim bounced it)" 60 pbo_sink_has_from sender@a.test 1
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "nothing bounced by Exim" 0 "$(pbx_exim_failed)"
pb_assert_eq "no bounce at the sink" 0 "$(pbo_sink_count_from '')"

# Line by line against the original: header unfolded, body breaks undone, all else identical.
"$PB_PY" - "$PB_WORK/long.eml" "$(pbo_sink_files_from sender@a.test)" > "$PB_WORK/compare.txt" 2>&1 <<'EOF' \
  || pb_fail "the message at the sink is not the one sent: $(cat "$PB_WORK/compare.txt")"
import re, sys
sent = open(sys.argv[1], "rb").read().decode().replace("\r\n", "\n")
got = open(sys.argv[2], "rb").read().decode()   # strict UTF-8: a cut sequence fails here
assert got.endswith("\n\n")
got = got[:-1]                                   # smtp-sink's dump adds one "\n" after the message
lines = got.split("\n")
longest = max(len(l.encode()) for l in lines)
assert longest <= 998, f"a line of {longest} octets at the sink"
# The message starts at its first header line (envelope lines and Received headers come before).
got = got[got.index("From: <sender@a.test>"):]
head, body = got.split("\n\n", 1)
sent_head, sent_body = sent.split("\n\n", 1)
folds = head.count("\n ")
assert re.sub(r"\n(?=[ \t])", "", head) == sent_head, "the header differs after unfolding"
assert "\n " not in sent_body
breaks = body.count("\n ")
unbroken = body.replace("\n ", "")
at = next((i for i, (a, b) in enumerate(zip(unbroken, sent_body)) if a != b), min(len(unbroken), len(sent_body)))
assert unbroken == sent_body, f"the body differs once the breaks are undone, at {at}: {unbroken[at-40:at+40]!r} instead of {sent_body[at-40:at+40]!r}"
print(f"ok: longest line {longest} octets, header folded {folds}x, body broken {breaks}x")
EOF
cat "$PB_WORK/compare.txt" >&2
pb_assert_grep "the header was folded (5,017 octets: 6 pieces)" 'header folded 5x' "$PB_WORK/compare.txt"
pb_assert_grep "the body lines were broken (20,000 + 2,500 octets: 20 + 2 breaks)" 'body broken 22x' "$PB_WORK/compare.txt"
pb_assert_grep "the log says what was changed, once, with the count" \
  'message [0-9]+ via smarthost:a: changed to fit SMTP: 3 lines over 998 octets broken \(RFC 5322 2\.1\.1\); a DKIM signature' "$PB_LOG"
pb_assert_eq "logged once" 1 "$(grep -c 'changed to fit SMTP' "$PB_LOG")"
pb_assert_alive "postbridge still runs"
