#!/usr/bin/env bash
# DSN requests (RFC 3461) reach a smarthost that offers DSN: a real Postfix passes on what it got,
# so RET, ENVID, NOTIFY and ORCPT at the sink behind it prove they arrived. postbridge sends no
# notice of its own for what that smarthost took over; where it decides itself (a recipient
# refused or deferred at RCPT), the sender's NOTIFY says whether a bounce or delay notice goes out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 81
pb_require_postbridge

# For wait_for: a copy for ADDRESS at the sink; the clock past second T (a condition, not a sleep).
sink_has_to() { [ -n "$(pbo_sink_files_to "$1")" ]; }
later_than() { (( $(date +%s) > $1 )); }

pb_certs
pb_sink_start                              # behind the smarthost, offers DSN; also the office server
pbo_smarthost_start reject=fail1@example.net reject=fail2@example.net reject=fail3@example.net \
  defer=late1@example.net defer=late2@example.net defer=late3@example.net

pb_config sink log_level=debug   # the log then shows the MAIL and RCPT lines postbridge sent
pbo_relay delay_notice_after=1s
pbo_smarthost a
pbo_start_postbridge

# 1: handed to a smarthost with DSN: everything goes on, ENVID and ORCPT xtext-encoded again.
pbo_send_dsn alice@a.test "RET=HDRS ENVID=abc+2B123" "ok@example.net NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Ok+2Bsales@example.net"
wait_for "message 1 at the sink behind the smarthost" 30 sink_has_to ok@example.net
copy="$(pbo_sink_files_to ok@example.net)"
cp "$copy" "$PB_WORK/copy-1.eml"
pb_assert_grep "RET and ENVID reached the smarthost" '^X-Mail-Args: <alice@a\.test> .*RET=HDRS' "$copy"
pb_assert_grep "ENVID arrived as sent" '^X-Mail-Args: <alice@a\.test> .*ENVID=abc\+2B123' "$copy"
pb_assert_grep "NOTIFY reached the smarthost" '^X-Rcpt-Args: <ok@example\.net> .*NOTIFY=SUCCESS,FAILURE' "$copy"
pb_assert_grep "ORCPT arrived as sent" '^X-Rcpt-Args: <ok@example\.net> .*ORCPT=rfc822;Ok\+2Bsales@example\.net' "$copy"

# 2: refused at RCPT, so postbridge bounces: only the recipient whose NOTIFY names FAILURE.
pbo_send_dsn alice@a.test "ENVID=env2" "fail1@example.net NOTIFY=FAILURE ORCPT=rfc822;Fail1@example.net" \
  "fail2@example.net NOTIFY=SUCCESS" "fail3@example.net NOTIFY=NEVER"
failed_id="$PBO_ID"
wait_for "message 2 to fail" 30 pbo_queue_state_is "$failed_id" failed

# 3: deferred at RCPT, the delay notice due after 1 s: only for DELAY, and for no NOTIFY at all.
pbo_send_dsn alice@a.test "" "late1@example.net NOTIFY=DELAY,FAILURE" "late2@example.net NOTIFY=FAILURE" \
  "late3@example.net"
late_id="$PBO_ID"
t_sent="$(date +%s)"   # not before: the message was queued at this second or earlier
wait_for "message 3's first attempt" 30 pb_log_has "message $late_id via smarthost:a: .*deferred for late1" "$PBO_RUN_LOG"
wait_for "a second since message 3 was queued" 10 later_than "$t_sent"
pbo_queue retry "$late_id"
wait_for "the delay notice" 30 pb_log_has "message $late_id: delay notice" "$PBO_RUN_LOG"

# Every notice is queued when its message's outcome is recorded; all delivered: the sink has them all.
wait_for "the notices delivered" 30 pbo_queue_has queued 1   # message 3 is still being retried
wait_for "the sink to settle" 10 pb_sink_settled
dsns=()
mapfile -t dsns < <(pbo_sink_files_from "")
pb_assert_eq "notices from postbridge (a bounce for 2, a delay notice for 3; none for 1)" 2 "${#dsns[@]}"
for f in "${dsns[@]}"; do
  report="$(pbo_dsn_report "$f")" || pb_fail "$f is not a DSN: $report"
  if grep -q "Message-ID: $(pbo_msgid 2)" "$f"; then bounce="$report"; cp "$f" "$PB_WORK/bounce-2.eml"; fi
  if grep -q "Message-ID: $(pbo_msgid 3)" "$f"; then notice="$report"; cp "$f" "$PB_WORK/delay-3.eml"; fi
done
[ -n "${bounce:-}" ] && [ -n "${notice:-}" ] || pb_fail "expected one notice each for messages 2 and 3: ${dsns[*]}"
printf '%s\n' "$bounce" > "$PB_WORK/bounce-2.txt"
printf '%s\n' "$notice" > "$PB_WORK/delay-3.txt"
pb_assert_grep "the bounce names fail1 (NOTIFY=FAILURE)" \
  '^rcpt: rfc822; fail1@example\.net action=failed status=5\.1\.1 orcpt=rfc822; Fail1@example\.net ' "$PB_WORK/bounce-2.txt"
pb_assert_no_grep "nor fail2 (NOTIFY=SUCCESS only)" '^rcpt: rfc822; fail2@' "$PB_WORK/bounce-2.txt"
pb_assert_no_grep "nor fail3 (NOTIFY=NEVER)" '^rcpt: rfc822; fail3@' "$PB_WORK/bounce-2.txt"
pb_assert_grep "the bounce carries ENVID as Original-Envelope-Id" '^envid: env2$' "$PB_WORK/bounce-2.txt"
pb_assert_grep "the delay notice names late1 (DELAY), with its own reply" \
  '^rcpt: rfc822; late1@example\.net action=delayed .* diag=smtp; 451 4\.2\.0 <late1@' "$PB_WORK/delay-3.txt"
pb_assert_grep "and late3 (no NOTIFY: as always)" '^rcpt: rfc822; late3@example\.net action=delayed ' "$PB_WORK/delay-3.txt"
pb_assert_no_grep "not late2 (FAILURE only)" '^rcpt: rfc822; late2@' "$PB_WORK/delay-3.txt"
pb_assert_grep "ORCPT supplied from the recipient when the client gave none (RFC 3461 5.2.1 (b))" \
  ' C: RCPT TO:<late3@example\.net> ORCPT=rfc822;late3@example\.net$' "$PBO_RUN_LOG"
