#!/usr/bin/env bash
# tls = "starttls" means STARTTLS is required: a smarthost that does not offer it (here smtp-sink,
# which has no TLS at all) gets no MAIL, no AUTH, no message; the route waits and the log says why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 62
pb_require_postbridge

PLAIN_PORT=22125
pb_certs
pbo_sink_start plain "$PLAIN_PORT"     # the "smarthost": plain SMTP, no STARTTLS, no AUTH
pb_config sink
pbo_relay
pbo_smarthost a port="$PLAIN_PORT" tls=starttls auth=plain username=alice
pbo_start_postbridge

pbo_send sender@a.test rcpt@example.net
id="$PBO_ID"
wait_for "postbridge to pause the route" 30 pb_log_has 'smarthost:a paused'
pb_assert_grep "the log says why in plain words" 'does not offer STARTTLS; refusing to send in clear text' "$PB_LOG"

sink_log="$PB_SRV/plain/sink.log"
pb_assert_grep "postbridge did talk to the server (EHLO)" 'EHLO' "$sink_log"
pb_assert_no_grep "no MAIL FROM in clear text" 'MAIL FROM' "$sink_log"
pb_assert_no_grep "no AUTH in clear text (the password stays secret)" 'AUTH' "$sink_log"
pb_assert_no_grep "no STARTTLS sent to a server that does not offer it" 'STARTTLS' "$sink_log"
pb_assert_eq "the sink received nothing" 0 "$(pbo_sink_count plain)"
pb_assert_eq "the message is still queued" queued "$(pbo_queue_state "$id")"
pb_assert_alive "postbridge still runs"

# The route waits: no reconnect storm (its backoff starts at a minute). An observation window,
# not synchronisation.
sessions="$(grep -c 'EHLO' "$sink_log" || true)"
window_end=$(( $(date +%s) + 5 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done
pb_assert_eq "sessions with the server after a 5 s window" "$sessions" "$(grep -c 'EHLO' "$sink_log" || true)"
pb_assert_eq "still nothing at the sink" 0 "$(pbo_sink_count plain)"
