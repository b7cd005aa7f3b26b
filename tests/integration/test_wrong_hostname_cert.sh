#!/usr/bin/env bash
# The provider presents a certificate, signed by the trusted CA, for ANOTHER name (wrong.example):
# postbridge refuses it before sending the password and fetches nothing, and the log says the
# certificate does not match; with tls_verify = false it connects (and warns).
. "$(dirname "$0")/lib.sh"
pb_init 35
pb_require_postbridge

pb_certs
pb_pop3_start wrong
pb_sink_start
pb_fill alice 5 5

# --- implicit TLS, verification on -----------------------------------------------------------------
pb_config sink
pb_account alice tls=implicit port="$PB_POP3S_PORT"
pb_run_once
pb_assert_rc "--once against a wrong-name certificate" 3
pb_assert_grep "log says the certificate does not match" \
  'certificate.*(match|name|host|127\.0\.35\.1)|(match|name|host).*certificate' "$PB_LOG"
pb_assert_eq "nothing delivered" 0 "$(pb_sink_count)"
pb_assert_eq "provider mailbox untouched" 5 "$(pb_mailbox_count alice)"
pb_assert_no_grep "no login reached the server" 'Login: user=<alice>|Password mismatch' "$PB_POP3_LOG"

# --- STLS, verification on: the same refusal, and no password before TLS -------------------------
pb_config sink
pb_account alice tls=starttls port="$PB_POP3_PORT"
pb_run_once
pb_assert_rc "--once with STLS against a wrong-name certificate" 3
pb_assert_grep "log says the certificate does not match (STLS)" \
  'certificate.*(match|name|host|127\.0\.35\.1)|(match|name|host).*certificate' "$PB_LOG"
pb_assert_eq "nothing delivered (STLS)" 0 "$(pb_sink_count)"
pb_assert_no_grep "no login reached the server (STLS)" 'Login: user=<alice>|Password mismatch' "$PB_POP3_LOG"

# --- tls_verify = false: works, with a warning ----------------------------------------------------
pb_config sink
pb_account alice tls=implicit port="$PB_POP3S_PORT" tls_verify=false
pb_run_once
pb_assert_rc "--once with tls_verify = false" 0
pb_assert_grep "a warning about the unverified connection" '<[0-4]>.*(verif|tls_verify)' "$PB_LOG"
wait_for "the sink to count 5" 30 pb_sink_has_at_least 5
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "delivered" 5 "$(pb_sink_count)"
pb_assert_eq "provider mailbox emptied" 0 "$(pb_mailbox_count alice)"
