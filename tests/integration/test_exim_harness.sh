#!/usr/bin/env bash
# Self-check of lib_exim.sh's Exim smarthost (needs no postbridge): Exim 4.96 is fetched or taken
# from its cache, starts on 127.0.N.1, offers AUTH only after STARTTLS, refuses MAIL before AUTH,
# relays a logged-in client's message to the sink, and bounces a message with a line over 998
# octets the way a real Exim does — the behaviour the relay tests hold postbridge against.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_exim.sh"
pb_init 84

pb_certs
pb_sink_start
pbx_exim_start

# Plain Python (stdlib) as the client: one session per check, results as "name: outcome" lines.
"$PB_PY" - "$PB_IP" "$PBX_EXIM_PORT" "$PB_CA" "$PB_PASSWORD" > "$PB_WORK/probe.txt" 2>&1 <<'EOF' || pb_fail "the Exim probe failed:
$(tail -n 20 "$PB_WORK/probe.txt")"
import smtplib, ssl, sys
ip, port, ca, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)

s = smtplib.SMTP(ip, port, timeout=30)
s.ehlo("probe.test")
print("auth before tls:", "offered" if s.has_extn("auth") else "not offered")
print("starttls:", "offered" if s.has_extn("starttls") else "not offered")
code, _ = s.mail("sender@a.test")
print("mail before auth:", code)
s.rset()
s.starttls(context=ctx)  # verifies the test CA's certificate for the IP
s.ehlo("probe.test")
print("auth after tls:", s.esmtp_features.get("auth", "not offered").strip())
s.login("alice", pw)
s.sendmail("sender@a.test", ["rcpt@example.net"],
           b"Subject: exim harness ok\r\nMessage-ID: <ok.84@probe.test>\r\n\r\nrelayed by Exim\r\n")
print("relayed: accepted")
long_line = b"L" * 1500
s.sendmail("longsender@a.test", ["rcpt@example.net"],
           b"Subject: exim harness long\r\nMessage-ID: <long.84@probe.test>\r\n\r\n" + long_line + b"\r\n")
print("long line: accepted at the door")
s.quit()
EOF
cat "$PB_WORK/probe.txt" >&2
pb_assert_grep "AUTH is not offered in clear text" '^auth before tls: not offered$' "$PB_WORK/probe.txt"
pb_assert_grep "STARTTLS is offered" '^starttls: offered$' "$PB_WORK/probe.txt"
pb_assert_grep "MAIL before AUTH is refused" '^mail before auth: 5[0-9][0-9]$' "$PB_WORK/probe.txt"
pb_assert_grep "AUTH PLAIN after STARTTLS" '^auth after tls: .*PLAIN' "$PB_WORK/probe.txt"
pb_assert_grep "the logged-in message was accepted" '^relayed: accepted$' "$PB_WORK/probe.txt"

# The relayed message and the bounce of the long one both reach the sink.
wait_for "Exim to deliver both messages to the sink (the long one as a bounce)" 60 pbx_exim_settled 2
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink" 2 "$(pb_sink_count)"
sink_with() { pb_sink_files | { xargs -r grep -lE -- "$1" || true; }; }
pb_assert_eq "the relayed message arrived" 1 "$(sink_with '^Message-ID: <ok\.84@probe\.test>' | wc -l)"
pb_assert_eq "the long message itself never arrived" 0 "$(sink_with '^L{1500}$' | wc -l)"
pb_assert_grep "Exim bounced the long line" '\*\* rcpt@example\.net .*lines too long for transport' "$PBX_EXIM_LOG"
bounce="$(sink_with '^X-Mail-Args: <>$' | head -n 1)"
[ -n "$bounce" ] || pb_fail "no bounce (null sender) at the sink"
pb_assert_grep "the bounce went to the long message's sender" '^X-Rcpt-Args: <longsender@a\.test>$' "$bounce"
pb_assert_grep "the bounce names the reason" 'lines too long' "$bounce"
pb_assert_grep "the message came in over TLS, logged in as alice" '<= sender@a\.test .* X=TLS.* A=plain:alice' "$PBX_EXIM_LOG"
