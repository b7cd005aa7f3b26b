#!/usr/bin/env bash
# Implicit TLS on the relay (RFC 8314, "SSL" / port 465 style, what many scanners and printers
# offer): [relay] listen_tls. swaks --tls-on-connect and Python's SMTP_SSL talk to it: the TLS
# handshake comes first, then the greeting; AUTH is offered at once and STARTTLS not; a client
# outside allow_networks must log in, one inside need not; the messages go through the Postfix
# smarthost to the sink with our Received: saying ESMTPSA, ESMTPS or UTF8SMTPS. A plain-text client
# is cut off without a word; the per-address cap counts plain and TLS connections together; a
# reload moves the address; `postbridge check` shows it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 92
pb_require_postbridge

TLS_PORT=22468
NEW_TLS_PORT=22469
OUTSIDE="${PB_IP%.1}.3"   # a scanner outside allow_networks: must log in, held to the per-address cap
RELAY_PW=Pb-Scan-4711
pb_certs
pb_sink_start
pbo_smarthost_start
relay_hash="$(printf '%s\n' "$RELAY_PW" | "$POSTBRIDGE" hash-password)"

# write_config TLS_PORT: the whole file, so a reload sees only what it says.
write_config() {
  pb_config sink
  pbo_relay listen="[\"$PB_IP:$PB_RELAY_PORT\"]" listen_tls="[\"$PB_IP:$1\"]" allow_networks="[\"$PB_IP/32\"]" \
    tls_cert_file="$PB_CERTS/server.crt" tls_key_file="$PB_CERTS/server.key" max_connections_per_address=2
  printf '\n[[relay.user]]\nname = "scanner"\npassword_hash = "%s"\n' "$relay_hash" >> "$PB_CFG"
  pbo_smarthost a
}
reloaded() { [ "$(grep -c 'configuration reloaded from' "$PBO_RUN_LOG")" -ge "$1" ]; }
port_closed() { ! pb_port_open "$1" "$PB_IP"; }

# protocol_of SENDER: the "with" of postbridge's own Received: line in SENDER's message at the sink.
protocol_of() {
  local f
  f="$(pbo_sink_files_from "$1" | head -n 1)"
  [ -n "$f" ] || pb_fail "no message from $1 at the sink"
  "$PB_PY" - "$f" <<'EOF'
import email, email.policy, re, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
ours = [" ".join(r.split()) for r in msg.get_all("Received", []) if "(postbridge" in r]
m = re.search(r"\bwith (\S+)", ours[0]) if ours else None
print(m.group(1) if m else "none: " + repr(ours))
EOF
}

write_config "$TLS_PORT"
pb_postbridge check -c "$PB_CFG"
pb_assert_rc "the configuration is valid" 0
pb_assert_grep "check shows listen_tls" "^listen_tls = \[\"$PB_IP:$TLS_PORT\"\]" "$PB_LOG"
pbo_start_postbridge
wait_for "the implicit-TLS address" 15 pb_port_open "$TLS_PORT" "$PB_IP"
pb_assert_grep "the log names the implicit-TLS address" "relay: listening on $PB_IP:$TLS_PORT \(implicit TLS\)" "$PBO_RUN_LOG"

# 1. A scanner outside allow_networks logs in over implicit TLS and relays.
pbo_send scanner@a.test rcpt@example.net --port "$TLS_PORT" --tls-on-connect --local-interface "$OUTSIDE" \
  --auth PLAIN --auth-user scanner --auth-password "$RELAY_PW"
cp "$PBO_SWAKS_LOG" "$PB_WORK/swaks-login.log"
tls_at="$(grep -n 'TLS started' "$PB_WORK/swaks-login.log" | head -n 1 | cut -d: -f1)"
greeting_at="$(grep -n '<~  220 ' "$PB_WORK/swaks-login.log" | head -n 1 | cut -d: -f1)"
[ -n "$tls_at" ] && [ -n "$greeting_at" ] && (( tls_at < greeting_at )) \
  || pb_fail "the greeting did not come over TLS after the handshake (TLS at line '$tls_at', 220 at '$greeting_at')"
pb_assert_grep "AUTH is offered at once" '^<~  250[- ]AUTH PLAIN LOGIN' "$PB_WORK/swaks-login.log"
pb_assert_no_grep "STARTTLS is not offered" '^<~  250[- ]STARTTLS' "$PB_WORK/swaks-login.log"
wait_for "the scanner's message at the sink behind the smarthost" 30 pbo_sink_has_from scanner@a.test 1
pb_assert_eq "Received: says TLS and login" ESMTPSA "$(protocol_of scanner@a.test)"

# 2. The same address without a login: relay access denied, as on listen.
pbo_swaks stranger@a.test rcpt@example.net --port "$TLS_PORT" --tls-on-connect --local-interface "$OUTSIDE"
pb_assert_grep "no login, no relay" '^<[~*]\* +554 5\.7\.1 <rcpt@example\.net>: relay access denied' "$PBO_SWAKS_LOG"

# 3. A client in allow_networks needs no login.
pbo_send office@a.test rcpt@example.net --port "$TLS_PORT" --tls-on-connect --local-interface "$PB_IP"
wait_for "the office message at the sink" 30 pbo_sink_has_from office@a.test 1
pb_assert_eq "Received: says TLS" ESMTPS "$(protocol_of office@a.test)"

# 4. SMTPUTF8 over implicit TLS (Python's SMTP_SSL): the UTF8SMTP family (RFC 6531 3.7.3). The
#    message itself is ASCII: the sink (smtp-sink) offers no SMTPUTF8, so the smarthost could not
#    pass on a UTF-8 address; the transaction asked for SMTPUTF8 all the same.
"$PB_PY" - "$PB_IP" "$TLS_PORT" "$PB_CA" > "$PB_WORK/utf8.txt" 2>&1 <<'EOF' || pb_fail "the SMTPUTF8 client failed: $(cat "$PB_WORK/utf8.txt")"
import smtplib, ssl, sys
host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP_SSL(host, port, local_hostname="utf8.test", timeout=30,
                     context=ssl.create_default_context(cafile=ca), source_address=(host, 0))
s.ehlo("utf8.test")
msg = ("From: <utf8@a.test>\r\nTo: <rcpt@example.net>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
       "Message-ID: <utf8.92@client.test>\r\n\r\nhello\r\n").encode()
s.sendmail("utf8@a.test", ["rcpt@example.net"], msg, mail_options=["SMTPUTF8"])
print("accepted")
s.quit()
EOF
pb_assert_grep "the SMTPUTF8 message was accepted" '^accepted$' "$PB_WORK/utf8.txt"
wait_for "the SMTPUTF8 message at the sink" 30 pbo_sink_has_from utf8@a.test 1
pb_assert_eq "Received: says UTF8SMTPS" UTF8SMTPS "$(protocol_of utf8@a.test)"

# 5. A client that speaks plain SMTP at once is cut off without a reply (never a plain 421).
"$PB_PY" - "$PB_IP" "$TLS_PORT" > "$PB_WORK/plain.txt" 2>&1 <<'EOF' || pb_fail "the plain-text client failed: $(cat "$PB_WORK/plain.txt")"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(b"EHLO plain.test\r\n")
got = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
print(f"received {len(got)} octets before the close")
EOF
pb_assert_grep "closed without a word" '^received 0 octets before the close$' "$PB_WORK/plain.txt"
wait_for "the log to say why" 10 pb_log_has \
  'TLS handshake with [0-9.]+:[0-9]+ failed: .*: this address expects implicit TLS, the client may be set up for plain SMTP or STARTTLS; closing' \
  "$PBO_RUN_LOG"

# 6. max_connections_per_address (2) counts plain and TLS connections together; over it, a TLS
#    connection is closed without a reply, a plain one gets 421.
"$PB_PY" - "$PB_IP" "$PB_RELAY_PORT" "$TLS_PORT" "$OUTSIDE" "$PB_CA" > "$PB_WORK/caps.txt" 2>&1 <<'EOF' || pb_fail "the caps client failed: $(cat "$PB_WORK/caps.txt")"
import socket, ssl, sys
host, plain_port, tls_port, src, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
def plain():
    return socket.create_connection((host, plain_port), timeout=30, source_address=(src, 0))
def tls():
    return ctx.wrap_socket(socket.create_connection((host, tls_port), timeout=30, source_address=(src, 0)),
                           server_hostname=host)
def first_line(s):
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = s.recv(1)
        except (ssl.SSLError, ConnectionResetError) as e:
            return f"<closed: {type(e).__name__}>"
        if not chunk:
            return "<closed>" if not data else data.decode()
        data += chunk
    return data.decode().rstrip("\r\n")
held = [plain(), tls()]
print("held plain:", first_line(held[0]))
print("held tls:", first_line(held[1]))
try:
    third = tls()
    print("third tls:", first_line(third))
except (ssl.SSLError, ConnectionResetError, OSError) as e:
    print("third tls: <closed during the handshake:", type(e).__name__ + ">")
print("fourth plain:", first_line(plain()))
EOF
cat "$PB_WORK/caps.txt" >&2
pb_assert_grep "the plain connection is held" '^held plain: 220 ' "$PB_WORK/caps.txt"
pb_assert_grep "the TLS connection is held" '^held tls: 220 ' "$PB_WORK/caps.txt"
pb_assert_grep "a third (TLS) connection is closed without a reply" '^third tls: <closed' "$PB_WORK/caps.txt"
pb_assert_grep "a fourth (plain) one is told why" '^fourth plain: 421 4\.7\.0 too many connections from your address' \
  "$PB_WORK/caps.txt"
pb_assert_grep "the log names the refused TLS connection" \
  "refused a connection from $OUTSIDE: it holds 2 already \(\[relay\] max_connections_per_address\) \(implicit TLS: closed without a reply\)" \
  "$PBO_RUN_LOG"

# 7. A reload moves the implicit-TLS address.
write_config "$NEW_TLS_PORT"
kill -HUP "$PB_PID"
wait_for "the reload" 30 reloaded 1
wait_for "the new implicit-TLS address" 15 pb_port_open "$NEW_TLS_PORT" "$PB_IP"
wait_for "the old implicit-TLS address to close" 15 port_closed "$TLS_PORT"
pbo_send moved@a.test rcpt@example.net --port "$NEW_TLS_PORT" --tls-on-connect --local-interface "$OUTSIDE" \
  --auth PLAIN --auth-user scanner --auth-password "$RELAY_PW"
wait_for "the message over the moved address at the sink" 30 pbo_sink_has_from moved@a.test 1
pb_assert_alive "postbridge still runs"
