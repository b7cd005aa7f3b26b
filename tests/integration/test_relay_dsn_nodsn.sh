#!/usr/bin/env bash
# A smarthost without DSN and without SMTPUTF8 (a real Postfix that does not announce them, and
# refuses their parameters). postbridge sends no DSN parameter there and answers for it itself:
# a "relayed" notice to the sender who asked for SUCCESS (RFC 3461 5.2.2), no bounce for
# NOTIFY=NEVER, RET=HDRS returns the headers and RET=FULL the whole message (RFC 3461 4.3); a
# message that needs SMTPUTF8 is bounced in words that say postbridge decided, not the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 82
pb_require_postbridge

pb_certs
pb_sink_start                              # behind the smarthost, and the office server
PBO_SMARTHOST_DISCARD="dsn, smtputf8" pbo_smarthost_start reject=nobody@example.net

pb_config sink
pbo_relay
pbo_smarthost a
pbo_start_postbridge

pbo_send_dsn alice@a.test "ENVID=abc123" "ok@example.net NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Ok+2Bsales@example.net"
pbo_send_dsn alice@a.test "" "nobody@example.net NOTIFY=NEVER"
pbo_send_dsn alice@a.test "RET=HDRS" "nobody@example.net"
pbo_send_dsn alice@a.test "RET=FULL" "nobody@example.net"
pbo_send_dsn alice@a.test "SMTPUTF8" "jörg@example.net"

# Each notice is queued when its message's outcome is recorded, so once nothing is queued any more
# every notice there will be is at the office (the sink); there are four: NEVER gives none.
wait_for "four notices at the office" 60 pbo_sink_has_from "" 4
wait_for "nothing left queued" 30 pbo_queue_has queued 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "notices from postbridge (relayed, RET=HDRS, RET=FULL, SMTPUTF8; none for NEVER)" 4 "$(pbo_sink_count_from "")"
pb_assert_eq "the smarthost's only copy (the others were refused or not sent)" 1 "$(pbo_sink_files_to ok@example.net | wc -l)"
pb_assert_no_grep "the smarthost was sent no parameter it does not know" 'Unsupported option' "$PBO_SMARTHOST_LOG"

# The notice for message K (its headers quote the Message-ID), its summary in notice-K.txt.
notice() {
  local f
  f="$(pbo_sink_files_from "" | xargs grep -l "^Message-ID: $(pbo_msgid "$1")" | head -n 1)"
  [ -n "$f" ] || pb_fail "no notice for message $1 at the office"
  cp "$f" "$PB_WORK/notice-$1.eml"
  pbo_dsn_report "$f" > "$PB_WORK/notice-$1.txt" || pb_fail "the notice for message $1 is no DSN: $(cat "$PB_WORK/notice-$1.txt")"
  echo "$PB_WORK/notice-$1.txt"
}
pb_assert_no_grep "no notice for message 2 (NOTIFY=NEVER)" "^Message-ID: $(pbo_msgid 2)" $(pbo_sink_files_from "")

n1="$(notice 1)"
pb_assert_grep "message 1: a relayed notice" '^subject: Relayed Mail' "$n1"
pb_assert_grep "for ok, with its ORCPT and the smarthost's 250" \
  '^rcpt: rfc822; ok@example\.net action=relayed status=2\.0\.0 orcpt=rfc822; Ok\+sales@example\.net remote=dns; [0-9.]* diag=smtp; 250 ' "$n1"
pb_assert_grep "ENVID as Original-Envelope-Id" '^envid: abc123$' "$n1"
pb_assert_grep "to the sender" '^To: <alice@a\.test>' "$PB_WORK/notice-1.eml"
pb_assert_grep "headers only in a success notice" '^part: text/rfc822-headers ' "$n1"

n3="$(notice 3)"
pb_assert_grep "message 3 (RET=HDRS): a bounce" '^rcpt: rfc822; nobody@example\.net action=failed status=5\.1\.1 ' "$n3"
pb_assert_grep "with the header section only" '^part: text/rfc822-headers ' "$n3"
pb_assert_no_grep "not the body" 'BODY-MARK-3' "$PB_WORK/notice-3.eml"

n4="$(notice 4)"
pb_assert_grep "message 4 (RET=FULL): a bounce" '^rcpt: rfc822; nobody@example\.net action=failed ' "$n4"
pb_assert_grep "with the whole message" '^part: message/rfc822 ' "$n4"
pb_assert_grep "body and all" '^BODY-MARK-4' "$PB_WORK/notice-4.eml"

n5="$(notice 5)"
pb_assert_grep "message 5 (SMTPUTF8): a bounce with RFC 5248's status" \
  '^rcpt: utf-8; j\\x\{F6\}rg@example\.net action=failed status=5\.6\.7 ' "$n5"
pb_assert_grep "in postbridge's words, not the server's" \
  ' remote=- diag=X-Postbridge; not sent by postbridge: [0-9.]* does not offer SMTPUTF8' "$n5"
pb_assert_no_grep "no server said anything" 'refused this message|The server .* answered' "$PB_WORK/notice-5.eml"
pbo_queue
pb_assert_grep "the queue tells the admin the same" 'not sent by postbridge: .* does not offer SMTPUTF8' "$PBO_Q"
