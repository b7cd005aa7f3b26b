#!/usr/bin/env bash
# `postbridge test`, the connection doctor, against real servers on the usual ports of 127.0.45.1
# (PB_NET.45.1):
# Dovecot POP3 (995 implicit TLS, 110 STLS), a strict Postfix smarthost (587 STARTTLS, 465
# implicit) and smtp-sink on 25 (no STARTTLS, no AUTH: like a provider's inbound MX).
# It must: say what works, each step timed; name the step that fails and the fix in plain words
# (wrong password, wrong port, wrong TLS mode, unknown host, a certificate for another name);
# exit 0 only when everything works; fetch, delete and send nothing unless --send-to is given;
# and never show a password.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 45
pb_require_postbridge
ip_re="${PB_IP//./\\.}"  # the test's own address as an ERE: it follows PB_NET
# The standard ports, so that --ports finds what it looks for. The address is this test's own.
PB_POP3_PORT=110
PB_POP3S_PORT=995
PB_SUBM_PORT=587
PB_SUBMS_PORT=465
PB_SINK_PORT=25

pb_certs
pb_pop3_start
pb_sink_start
pbo_smarthost_start
pb_fill alice 3 2

doctor() { pb_postbridge test -c "$PB_CFG" "$@"; }
out_has() { pb_assert_grep "$1" "$2" "$PB_LOG"; }
out_lacks() { pb_assert_no_grep "$1" "$2" "$PB_LOG"; }
base_config() { pb_config sink; pbo_smarthost a; }

# --- a working POP3 account: every step, and nothing touched -------------------------------------
base_config
pb_account alice
doctor account alice
pb_assert_rc "test account alice" 0
out_has "DNS step" "^  ok .*${ip_re} is an IP address"
out_has "TCP step with timing" "^  ok +<?[0-9.]+ m?s  TCP to ${ip_re}:995"
out_has "TLS protocol and cipher" 'TLSv1\.[23] '
out_has "certificate names" "certificate for localhost, ${ip_re}"
out_has "issuer" 'issued by .*postbridge test CA'
out_has "expiry date" 'valid until 20[0-9-]+ \([0-9]+ days left\)'
out_has "host name check" "host name ${ip_re} matches"
out_has "greeting" '^  ok .*greeting'
out_has "login methods from CAPA" 'login methods: USER, SASL PLAIN'
out_has "UIDL announced" 'UIDL: yes'
out_has "login accepted" '^  ok .*login as alice'
out_has "mailbox size, nothing fetched" '3 messages \(.*\) waiting at the provider; nothing was fetched or deleted'
out_has "verdict" '^Result: works$'
pb_assert_eq "the mailbox is untouched" 3 "$(pb_mailbox_count alice)"
pb_assert_eq "nothing was delivered" 0 "$(pb_sink_count)"
pb_assert_eq "the doctor leaves no state behind" "" "$(ls "$PB_WORK/state" 2>/dev/null || true)"

# --- STLS on 110 ---------------------------------------------------------------------------------
base_config
pb_account alice tls=starttls port=110
doctor account alice
pb_assert_rc "test account alice over STLS" 0
out_has "STLS handshake step" '^  ok .*STARTTLS and TLS handshake'

# --- wrong password: the login step fails, and says what to check ---------------------------------
base_config
pb_account alice password_file="$(pb_secret wrong Not-The-Password)"
doctor account alice
pb_assert_rc "test with a wrong password" 1
out_has "the failing step" '^  FAIL .*login as alice'
out_has "the steps before it worked" '^  ok .*TLS handshake'
out_has "plain words" 'was it changed'
out_has "verdict" '^Result: does not work: '

# --- wrong port: refused, and the usual ports named -----------------------------------------------
base_config
pb_account alice port=1
doctor account alice
pb_assert_rc "test with a closed port" 1
out_has "refused" "^  FAIL .*TCP to ${ip_re}:1\$"
out_has "the usual POP3 ports" '995 with tls = "implicit" or 110 with tls = "starttls"'

# --- implicit TLS on the plain port: the server answers in plain text ------------------------------
base_config
pb_account alice port=110 tls=implicit
doctor account alice
pb_assert_rc "implicit TLS on the STLS port" 1
out_has "TLS fails" '^  FAIL .*TLS'
out_has "says which mode the port wants" 'plain text.*tls = "starttls"'

# --- STARTTLS on the implicit port: no greeting ---------------------------------------------------
base_config
pb_account alice port=995 tls=starttls timeout=3s
doctor account alice
pb_assert_rc "STLS on the implicit-TLS port" 1
out_has "the greeting never comes" '^  FAIL .*greeting'
out_has "says which mode the port wants" 'tls = "implicit"'

# --- a host name that does not exist ---------------------------------------------------------------
base_config
pb_account alice host=no-such-host.invalid
doctor account alice
pb_assert_rc "unknown host" 1
out_has "DNS fails" '^  FAIL .*DNS lookup of no-such-host\.invalid'
out_has "plain words" 'was not found'
out_lacks "no TCP attempt after a failed lookup" 'TCP to'

# --- the smarthost: STARTTLS, AUTH after TLS only, a login -----------------------------------------
base_config
doctor smarthost a
pb_assert_rc "test smarthost a" 0
out_has "STARTTLS step" '^  ok .*STARTTLS and TLS handshake'
out_has "EHLO capabilities after TLS" 'login methods: PLAIN LOGIN'
out_has "SIZE limit in words" 'the server accepts at most .* per message|SIZE announced'
out_has "login" '^  ok .*login as alice'
pb_assert_eq "nothing was sent" 0 "$(pb_sink_count)"

pb_config sink
pbo_smarthost a tls=implicit
doctor smarthost a
pb_assert_rc "test smarthost a on 465" 0

pb_config sink
pbo_smarthost a password_file="$(pb_secret wrong2 Not-The-Password)"
doctor smarthost a
pb_assert_rc "smarthost with a wrong password" 1
out_has "the login fails" '^  FAIL .*login as alice'
out_has "the provider's words" '535'

# --- --send-to: one message, and the server's queue id -------------------------------------------
base_config
doctor smarthost a --send-to someone@example.net
pb_assert_rc "test smarthost a --send-to" 0
out_has "the send step" '^  ok .*test message from postmaster@a\.test to someone@example\.net'
out_has "the queue id" 'test message queued at the server as [0-9A-Za-z]+'
wait_for "the test message at the sink" 30 pb_sink_has_at_least 1
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "exactly one message sent" 1 "$(pb_sink_count)"
pb_assert_grep "it is the test message" '^Subject: postbridge test message' "$(pb_sink_files | head -n 1)"

# --- the office server and --json ------------------------------------------------------------------
base_config
pb_account alice
doctor local
pb_assert_rc "test local (smtp-sink)" 0
out_has "no TLS is fine on the LAN without a login" '^  ok .*TLS'

doctor all --json
pb_assert_rc "test all --json" 0
pb_assert_eq "JSON: ok, and one report per target in order" "True local,account,smarthost" \
  "$("$PB_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], ",".join(r["kind"] for r in d["reports"]))' "$PB_LOG")"
pb_assert_eq "JSON: the account's steps" "dns,tcp,tls,greeting,capabilities,login,mailbox" \
  "$("$PB_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(s["name"] for s in d["reports"][1]["steps"]))' "$PB_LOG")"

# --- --ports: which ports get through, and which to configure --------------------------------------
base_config
doctor smarthost a --ports
pb_assert_rc "test smarthost a --ports" 0
out_has "465 works" '^  ok +465 implicit +TLSv1\.[23] .*login: PLAIN LOGIN'
out_has "587 works" '^  ok +587 starttls +TLSv1\.[23] .*login: PLAIN LOGIN'
out_has "25 has no STARTTLS" '^  FAIL +25 starttls .*STARTTLS'
out_has "the configured port is fine" 'the configured port 587 \(tls = "starttls"\) works'

pb_config sink
pbo_smarthost a port=25 tls=starttls
doctor smarthost a --ports
pb_assert_rc "smarthost on port 25 without STARTTLS" 1
out_has "recommends the implicit-TLS port" 'configure port = 465 and tls = "implicit"'

base_config
pb_account alice
doctor account alice --ports
pb_assert_rc "test account alice --ports" 0
out_has "995 works" '^  ok +995 implicit'
out_has "110 works" '^  ok +110 starttls'

# --- a certificate for another name ---------------------------------------------------------------
pb_pop3_stop
pb_pop3_start wrong
base_config
pb_account alice
doctor account alice
pb_assert_rc "a certificate for another name" 1
out_has "names what the certificate is for" "the certificate is for wrong\.example, not ${ip_re}"
out_has "no login was tried" '^  FAIL .*TLS handshake'
out_lacks "no login step" 'login as alice'
pb_assert_no_grep "no password reached the server" 'Login: user=<alice>|Password mismatch' "$PB_POP3_LOG"

base_config
pb_account alice tls_verify=false
doctor account alice
pb_assert_rc "the same with tls_verify = false" 0
out_has "a warning, not a failure" '^  WARN .*TLS handshake'
out_has "and why" 'anyone on the path'

# --- no secret in any output -----------------------------------------------------------------------
pb_assert_eq "the password appears in no output" "" \
  "$(grep -rlF -e "$PB_PASSWORD" -e "$(printf '\0alice\0%s' "$PB_PASSWORD" | base64)" "$PB_WORK"/postbridge-*.log || true)"
pb_assert_eq "the mailbox was never emptied" 3 "$(pb_mailbox_count alice)"
