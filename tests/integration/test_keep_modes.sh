#!/usr/bin/env bash
# keep = true leaves the messages on the provider and a second pass does not deliver them again
# (UIDL bookkeeping, RFC 1939 7); keep = false deletes them after delivery.
. "$(dirname "$0")/lib.sh"
pb_init 34
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 10 10
pb_mailbox_msgids alice > "$PB_WORK/alice.txt"

# --- keep = true: two passes, one delivery ------------------------------------------------------
pb_config sink
pb_account alice keep=true
pb_run_once
pb_assert_rc "first pass, keep = true" 0
wait_for "the sink to count 10" 30 pb_sink_has_at_least 10
pb_assert_eq "provider mailbox kept" 10 "$(pb_mailbox_count alice)"

pb_run_once
pb_assert_rc "second pass, keep = true" 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink after two passes" 10 "$(pb_sink_count)"
pb_assert_eq "no duplicates" "" "$(pb_sink_duplicates)"
pb_assert_eq "provider mailbox still kept" 10 "$(pb_mailbox_count alice)"

# A new message arriving between passes is the only one delivered by the third pass.
pb_fill alice 1 5 late
pb_run_once
pb_assert_rc "third pass, one new message" 0
wait_for "the sink to count 11" 30 pb_sink_has_at_least 11
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink" 11 "$(pb_sink_count)"
pb_assert_eq "no duplicates" "" "$(pb_sink_duplicates)"
pb_assert_eq "provider mailbox" 11 "$(pb_mailbox_count alice)"

# --- switching to keep = false: the delivered messages are deleted, not delivered again --------
pb_config sink
pb_account alice keep=false
pb_run_once
pb_assert_rc "pass with keep = false" 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "no redelivery after switching keep off" 11 "$(pb_sink_count)"
pb_assert_eq "provider mailbox emptied" 0 "$(pb_mailbox_count alice)"

# --- keep = false from the start: delivered once, deleted -----------------------------------------
pb_fill bob 10 10
pb_mailbox_msgids bob > "$PB_WORK/bob.txt"
pb_config sink
pb_account bob keep=false
pb_run_once
pb_assert_rc "pass for bob, keep = false" 0
wait_for "the sink to count 21" 30 pb_sink_has_at_least 21
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "bob's mailbox emptied" 0 "$(pb_mailbox_count bob)"
pb_sink_msgids > "$PB_WORK/received.txt"
cat "$PB_WORK/alice.txt" "$PB_WORK/bob.txt" > "$PB_WORK/expected-subset.txt"
pb_assert_subset "every original message arrived" "$PB_WORK/expected-subset.txt" "$PB_WORK/received.txt"
pb_assert_eq "no duplicates at all" "" "$(pb_sink_duplicates)"
