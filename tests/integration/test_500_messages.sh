#!/usr/bin/env bash
# Volume: 500 messages in one pass reach the office server exactly once each (500 distinct
# Message-IDs, the provider's set) and the provider mailbox ends empty.
. "$(dirname "$0")/lib.sh"
pb_init 36
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 500 8
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"
pb_assert_eq "distinct Message-IDs generated" 500 "$(sort -u "$PB_WORK/expected.txt" | wc -l)"

pb_config sink
pb_account alice
start=$(date +%s%N)
pb_run_once
pb_assert_rc "one pass over 500 messages" 0
pb_log "500 messages in $(( ($(date +%s%N) - start) / 1000000 )) ms"
wait_for "the sink to count 500" 60 pb_sink_has_at_least 500
wait_for "the sink to settle" 10 pb_sink_settled

pb_sink_msgids > "$PB_WORK/received.txt"
pb_assert_eq "messages received" 500 "$(wc -l < "$PB_WORK/received.txt")"
pb_assert_eq "distinct Message-IDs received" 500 "$(sort -u "$PB_WORK/received.txt" | wc -l)"
pb_assert_same_set "received = the provider's messages" "$PB_WORK/expected.txt" "$PB_WORK/received.txt"
pb_assert_eq "provider mailbox emptied" 0 "$(pb_mailbox_count alice)"
