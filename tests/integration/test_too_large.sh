#!/usr/bin/env bash
# max_message_size: a message over the limit (its size from LIST, RFC 1939 5) stays on the
# provider, every other message is delivered, and the postmaster gets exactly one notice about it
# — not one per poll.
. "$(dirname "$0")/lib.sh"
pb_init 42
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 3 10 small1
pb_fill alice 1 300 big
pb_fill alice 3 10 small2
pb_mailbox_msgids alice > "$PB_WORK/all.txt"
grep -v '\.big\.' "$PB_WORK/all.txt" > "$PB_WORK/small.txt"
grep '\.big\.' "$PB_WORK/all.txt" > "$PB_WORK/big.txt"
pb_assert_eq "messages prepared" "7 6 1" "$(wc -l < "$PB_WORK/all.txt") $(wc -l < "$PB_WORK/small.txt") $(wc -l < "$PB_WORK/big.txt")"

pb_config sink
pb_account alice max_message_size=100KB

for pass in 1 2; do
  pb_run_once
  pb_assert_not_signal "pass $pass"
  pb_assert_rc "pass $pass (3 allowed: a message was left on the server)" 0 3
  wait_for "the sink to settle" 10 pb_sink_settled
  pb_sink_msgids > "$PB_WORK/received.txt"
  pb_assert_subset "pass $pass: the small messages delivered" "$PB_WORK/small.txt" "$PB_WORK/received.txt"
  pb_assert_eq "pass $pass: the big message not delivered" "" "$(comm -12 "$PB_WORK/big.txt" <(sort -u "$PB_WORK/received.txt"))"
  pb_mailbox_msgids alice > "$PB_WORK/left.txt"
  pb_assert_same_set "pass $pass: only the big message left at the provider" "$PB_WORK/big.txt" "$PB_WORK/left.txt"
  if [ "$pass" = 1 ]; then   # later passes may stay quiet about a message already reported
    pb_assert_grep "the log says why" '<[0-4]>.*(max_message_size|too large|larger than|size limit)' "$PB_LOG"
  fi
  pb_assert_eq "pass $pass: notices to the postmaster" 1 "$(pb_sink_files_for postmaster@office.test | wc -l)"
  pb_assert_eq "pass $pass: total messages at the sink (6 + 1 notice)" 7 "$(pb_sink_count)"
done

# The notice tells the postmaster which message and why.
pb_sink_message "$(pb_sink_files_for postmaster@office.test)" > "$PB_WORK/notice.txt"
pb_assert_grep "the notice names the account" 'alice' "$PB_WORK/notice.txt"
pb_assert_grep "the notice mentions the size limit" 'max_message_size|too large|larger than|size limit|exceeds' "$PB_WORK/notice.txt"
