#!/usr/bin/env bash
# Outbound relay over both TLS modes: a message from each of two senders, routed by sender to two
# smarthosts (STARTTLS + AUTH PLAIN, implicit TLS + AUTH LOGIN on a strict Postfix), reaches the sink.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 60
pb_require_postbridge

pb_certs
pb_sink_start
pbo_smarthost_start

pb_config sink
pbo_relay
# Route a: port 22587, STARTTLS required, AUTH PLAIN as alice. Route b: port 22465, implicit
# TLS, AUTH LOGIN as bob. Both verify the smarthost's certificate against the test CA.
pbo_smarthost a tls=starttls auth=plain username=alice
pbo_smarthost b tls=implicit auth=login username=bob
pbo_start_postbridge

pbo_send sender@a.test rcpt-a@example.net
pbo_send sender@b.test rcpt-b@example.net

wait_for "both messages at the sink" 60 pb_sink_has_at_least 2
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink" 2 "$(pb_sink_count)"
pb_assert_eq "the message of route a, to rcpt-a" 1 "$(pbo_sink_files_to rcpt-a@example.net | wc -l)"
pb_assert_eq "the message of route b, to rcpt-b" 1 "$(pbo_sink_files_to rcpt-b@example.net | wc -l)"
pb_assert_eq "route a kept the sender" 1 "$(pbo_sink_count_from sender@a.test)"
pb_assert_eq "route b kept the sender" 1 "$(pbo_sink_count_from sender@b.test)"
f_a="$(pbo_sink_files_to rcpt-a@example.net)"
pb_assert_grep "route a's message is the one sent" "^Message-ID: $(pbo_msgid 1)" "$f_a"
pb_assert_grep "route a's message went through postbridge" '^[[:space:]]+by gw\.test \(postbridge( mark=[^)]*)?\)' "$f_a"
pb_assert_grep "and the smarthost got it over TLS, logged in as alice" '^[[:space:]]+\(Authenticated sender: alice\)' "$f_a"
f_b="$(pbo_sink_files_to rcpt-b@example.net)"
pb_assert_grep "route b's message is the one sent" "^Message-ID: $(pbo_msgid 2)" "$f_b"
pb_assert_grep "route b's message: over TLS, logged in as bob" '^[[:space:]]+\(Authenticated sender: bob\)' "$f_b"

# The smarthost's own record: who logged in how, and over which TLS.
wait_for "the smarthost logged both logins" 10 grep -q 'sasl_method=LOGIN' "$PBO_SMARTHOST_LOG"
pb_assert_eq "AUTH PLAIN as alice (route a)" 1 "$(pbo_smarthost_accepted_by PLAIN alice)"
pb_assert_eq "AUTH LOGIN as bob (route b)" 1 "$(pbo_smarthost_accepted_by LOGIN bob)"
pb_assert_eq "no login by any other mechanism or user" 2 "$(grep -c 'sasl_method=' "$PBO_SMARTHOST_LOG")"
pb_assert_grep "TLS on the STARTTLS port" 'smarthost/submission/smtpd\[[0-9]+\]: .*TLS connection established' "$PBO_SMARTHOST_LOG"
pb_assert_grep "TLS on the implicit-TLS port" 'smarthost/submissions/smtpd\[[0-9]+\]: .*TLS connection established' "$PBO_SMARTHOST_LOG"
pb_assert_no_grep "no rejected command at the smarthost" 'reject:|authentication failed|must issue a STARTTLS' "$PBO_SMARTHOST_LOG"
pb_assert_no_grep "no failed login" 'authentication failed' "$PBO_SMARTHOST_LOG"

# postbridge's side: both delivered, nothing left.
wait_for "postbridge to record both deliveries" 10 pbo_queue_has delivered 2
pb_assert_eq "queued" 0 "$(pbo_queue_count queued)"
pb_assert_eq "failed" 0 "$(pbo_queue_count failed)"
pb_assert_alive "postbridge still runs"
