#!/usr/bin/env bash
# The smarthost refuses one of two recipients with 550: the other is delivered, and the sender gets
# an RFC 3464 DSN (multipart/report) through the office server naming only the refused recipient.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 63
pb_require_postbridge

pb_certs
pb_sink_start
pb_lmtp_start                            # the office server: Dovecot LMTP, gets the bounce
pbo_smarthost_start reject=nobody@example.net

pb_config lmtp
pbo_relay
pbo_smarthost a
pbo_start_postbridge

pbo_send alice@a.test ok@example.net,nobody@example.net
id="$PBO_ID"

wait_for "the accepted recipient's copy at the sink" 30 pb_sink_has_at_least 1
wait_for "the bounce in alice's office mailbox" 30 pb_office_has_at_least alice 1
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "copies at the sink" 1 "$(pb_sink_count)"
copy="$(pbo_sink_files_to ok@example.net)"
[ -n "$copy" ] || pb_fail "the sink's copy is not addressed to ok@example.net"
pb_assert_no_grep "the refused recipient is not in the delivered envelope" '^X-Rcpt-Args: <nobody@example\.net>' "$copy"
pb_assert_grep "the smarthost refused nobody with 550" 'reject: RCPT from .*550 5\.1\.1 <nobody@example\.net>' "$PBO_SMARTHOST_LOG"

pb_assert_eq "exactly one bounce" 1 "$(pb_office_count alice)"
dsn="$(find "$(pb_office_maildir alice)/new" "$(pb_office_maildir alice)/cur" -type f | head -n 1)"
cp "$dsn" "$PB_WORK/dsn.eml"
out="$(pbo_dsn_check "$dsn" nobody@example.net ok@example.net)" || pb_fail "the bounce is not the DSN expected: $out"
pb_log "ok: $out"
pb_assert_grep "the DSN has the null sender (RFC 3464 2)" '^Return-Path: <>' "$dsn"
pb_assert_grep "the DSN goes to the original sender" '^To: .*alice@a\.test' "$dsn"
pb_assert_grep "the DSN quotes the smarthost's words" '550 5\.1\.1' "$dsn"
pb_assert_grep "the DSN carries the original headers" "^Message-ID: $(pbo_msgid 1)" "$dsn"
pb_assert_grep "the status of the refused recipient" '^Status: 5\.1\.1' "$dsn"

# postbridge's record: the message is done (one recipient delivered, one failed and bounced).
pbo_queue
cp "$PBO_Q" "$PB_WORK/queue-after.txt"
pb_assert_eq "the message is finished (failed: one recipient refused)" failed "$(pbo_queue_state "$id")"
pb_assert_grep "its last reply names both outcomes" 'delivered to ok@example\.net; refused for nobody@example\.net' "$PBO_Q"
pb_assert_eq "nothing left queued" 0 "$(pbo_queue_count queued)"
