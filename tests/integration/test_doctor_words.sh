#!/usr/bin/env bash
# The connection doctor's words against servers it was not written with: a POP3 server that speaks
# only TLS 1.0 (openssl s_server), one without CAPA but with UIDL and one whose -ERR carries
# terminal controls (fake_pop3.py), and --ports where only the configured, unusual port is open.
# It must: name the TLS version the server speaks and what the admin can do (never "no
# certificate"), and the service must log it as clearly; report UIDL as the fetcher finds it; keep
# a configured port that works; never let a server's ESC, BEL or C1 bytes reach the terminal; and
# explain a provider's own refusal (Microsoft's POP3 "Logon failure", Microsoft 365's SMTP
# "535 5.7.139", served by fake_pop3.py / fake_smtp.py) instead of the general login advice.
. "$(dirname "$0")/lib.sh"
pb_init 87
pb_require_postbridge
PB_TLS1_PORT=21996

pb_certs
doctor() { pb_postbridge test -c "$PB_CFG" "$@"; }
out_has() { pb_assert_grep "$1" "$2" "$PB_LOG"; }
out_lacks() { pb_assert_no_grep "$1" "$2" "$PB_LOG"; }

# --- a server that speaks only TLS 1.0 -----------------------------------------------------------
# Debian 12's OpenSSL allows TLS 1.0 only at security level 0; s_server stands for an old POP3
# server (or popa3d behind an old stunnel): the doctor's handshake fails before any POP3.
tls1_dir="$PB_SRV/tls1"
mkdir -p "$tls1_dir"
pb__port_free "$PB_TLS1_PORT"
pb__register openssl-tls1 "$tls1_dir/s_server.pid"
setsid openssl s_server -quiet -tls1 -cipher 'DEFAULT:@SECLEVEL=0' -accept "$PB_IP:$PB_TLS1_PORT" \
  -cert "$PB_CERTS/server.crt" -key "$PB_CERTS/server.key" < /dev/null > "$tls1_dir/s_server.log" 2>&1 &
echo $! > "$tls1_dir/s_server.pid"
wait_for "openssl s_server (TLS 1.0 only) on $PB_IP:$PB_TLS1_PORT" 10 pb_port_open "$PB_TLS1_PORT"
# The server must really be TLS 1.0 only, or the test proves nothing: a TLS 1.0 client gets in, a
# TLS 1.2 client does not.
timeout 10 openssl s_client -connect "$PB_IP:$PB_TLS1_PORT" -tls1 -cipher 'DEFAULT:@SECLEVEL=0' < /dev/null \
  > "$tls1_dir/client-tls1.log" 2>&1 || true
pb_assert_grep "the test server speaks TLS 1.0" 'Protocol *: TLSv1$' "$tls1_dir/client-tls1.log"
timeout 10 openssl s_client -connect "$PB_IP:$PB_TLS1_PORT" -tls1_2 < /dev/null > "$tls1_dir/client-tls12.log" 2>&1 || true
pb_assert_no_grep "the test server refuses TLS 1.2" '^New, TLSv1\.2' "$tls1_dir/client-tls12.log"

pb_sink_start
pb_config sink
pb_account alice port="$PB_TLS1_PORT" timeout=10s
doctor account alice
pb_assert_rc "test against a TLS 1.0-only server" 1
out_has "the TLS step fails" '^  FAIL .*TLS handshake'
out_has "names the version the server speaks" 'the server speaks only TLS 1\.0 \(postbridge requires 1\.2 or later\)'
out_has "what the second handshake saw" 'allowing every version and cipher, got TLSv1 '
out_has "what the admin can do" 'What to do: ask whoever runs 127\.[0-9.]+ to switch on TLS 1\.2 or 1\.3'
out_has "and that no setting allows it" 'no setting to allow them'
out_lacks "not a certificate problem" 'no certificate|sent no cert'
out_lacks "not a TLS mode problem" 'set tls = "starttls"'
pb_assert_eq "no login was tried" "" "$(grep -E 'USER|PASS|AUTH' "$tls1_dir/s_server.log" || true)"

# The service says the same in its log (and so on the status page, which shows this error).
pb_run_once
pb_assert_rc "a poll of the TLS 1.0-only server fails" 3
out_has "the service's words" 'speaks only TLS versions older than 1\.2, and postbridge requires TLS 1\.2 or later'
out_has "with OpenSSL's own words for searching" '\(OpenSSL: (unsupported protocol|tlsv1 alert protocol version)'
pb_stop_pidfile "$tls1_dir/s_server.pid" openssl-tls1

# --- no CAPA, but UIDL: keep = true works, and the doctor says so -------------------------------
pb_fake_pop3_start no_capa
pb_config sink
pb_account alice port="$PB_FAKE_PORT" tls=none allow_plaintext=true ca_file= keep=true
doctor account alice
pb_assert_rc "test a server without CAPA, keep = true" 0
out_has "CAPA is missing, and that is allowed" 'no CAPA \(it is optional, RFC 2449\)'
out_has "UIDL not announced before the login" 'UIDL: not announced \(tried after the login\)'
out_has "UIDL found by trying it" 'UIDL: yes \(not announced, but the server answers it'
out_lacks "never 'UIDL: no'" 'UIDL: no([^t]|$)'
pb_assert_ge "the doctor sent UIDL" 1 "$(pb_fake_commands UIDL)"
pb_assert_eq "and fetched and deleted nothing" 0 "$(( $(pb_fake_commands RETR) + $(pb_fake_commands DELE) ))"
pb_fake_pop3_stop

# --- a hostile -ERR: its controls never reach the terminal ---------------------------------------
pb_fake_pop3_start hostile_err
pb_config sink
pb_account alice port="$PB_FAKE_PORT" tls=none allow_plaintext=true ca_file=
doctor account alice
pb_assert_rc "test against a server with a hostile -ERR" 1
out_has "the server's words are shown" 'login refused'
pb_assert_eq "no ESC, BEL or C1 byte from the server in the text report" 0 "$(pb_raw_controls "$PB_LOG")"
doctor account alice --json
pb_assert_eq "none in the JSON report either" 0 "$(pb_raw_controls "$PB_LOG")"
pb_fake_pop3_stop

# --- a provider's own POP3 refusal: Microsoft's words for a password login -------------------------
pb_fake_pop3_start auth_fail "$PB_FAKE_PORT" 3 "-ERR Logon failure: unknown user name or bad password."
pb_config sink
pb_account alice port="$PB_FAKE_PORT" tls=none allow_plaintext=true ca_file=
doctor account alice
pb_assert_rc "test against a server refusing with Microsoft's POP3 words" 1
out_has "the server's own words are shown" 'Logon failure: unknown user name or bad password'
out_has "what they mean" '^What to do: .*Microsoft has switched Basic Auth for POP and IMAP off'
out_has "and what to change" 'set \[account\.oauth2\] for this account and run postbridge oauth login'
out_lacks "instead of the general login advice" 'most providers want the full e-mail address'
doctor account alice --json
out_has "the JSON report carries the same advice" '"advice":\[[^]]*Basic Auth for POP and IMAP off'
# The service's poll says the same: its error is what the status page shows for the account.
pb_run_once
pb_assert_rc "a poll refused with Microsoft's words" 3
out_has "the service quotes the server" 'Logon failure: unknown user name or bad password\. — '
out_has "and explains it" 'Basic Auth for POP and IMAP off.*\[account\.oauth2\]'
out_lacks "without the general advice beside it" 'was the password changed at the provider'
pb_fake_pop3_stop

# --- a provider's own SMTP refusal: Microsoft 365 with SMTP AUTH off for the tenant ---------------
pb_fake_smtp_start "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."
pb_config sink
cat >> "$PB_CFG" <<EOF_SMARTHOST

[[smarthost]]
name = "m365"
host = "$PB_IP"
port = $PB_FAKE_SMTP_PORT
tls = "none"
allow_plaintext = true
username = "alice@m365.test"
password_file = "$(pb_secret smarthost-m365)"
senders = ["*@m365.test"]
timeout = "10s"
EOF_SMARTHOST
doctor smarthost m365
pb_assert_rc "test a smarthost refusing with Microsoft 365's 535 5.7.139" 1
out_has "the server's own words are shown" '535 5\.7\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant'
out_has "what they mean" '^What to do: .*SMTP AUTH switched off for the whole tenant'
out_has "and what to change" 'switch this smarthost to OAuth \(\[smarthost\.oauth2\]'
out_has "and when Basic Auth ends" 'end of December 2026'
out_lacks "instead of the general login advice" 'most providers want the full e-mail address'
pb_assert_eq "one login was tried" 1 "$(grep -c ' C: AUTH ' "$PB_FAKE_SMTP_LOG" || true)"
pb_assert_no_grep "the password never reaches the fake server's log" "$PB_PASSWORD" "$PB_FAKE_SMTP_LOG"
pb_fake_smtp_stop

# --- --ports: only the configured port is open --------------------------------------------------
# Dovecot listens on the harness's own ports (21995, 21110) only: 995 and 110 are closed here.
pb_fill alice 2 2
pb_pop3_start
pb_config sink
pb_account alice
doctor account alice --ports
pb_assert_rc "test --ports with only the configured port open" 0
out_has "the configured port is tried and works" '^  ok +21995 implicit +TLSv1\.[23] '
out_has "the usual ones are refused" '^  FAIL +995 implicit'
out_has "the configured port is kept" 'the configured port 21995 \(tls = "implicit"\) works'
out_lacks "never 'none of the usual ports works'" 'none of the usual ports works'
pb_assert_eq "the mailbox is untouched" 2 "$(pb_mailbox_count alice)"
