#!/usr/bin/env bash
# Fetch over POP3S (implicit TLS, certificate verified with the test CA) into the office server:
# 20 messages arrive exactly once, with the provider's Message-IDs, and the provider mailbox is empty.
. "$(dirname "$0")/lib.sh"
pb_init 31
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 20 20
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"
pb_save_originals alice "$PB_WORK/originals"

pb_config sink
pb_account alice tls=implicit port="$PB_POP3S_PORT"

pb_run_once
pb_assert_rc "one pass over POP3S" 0
wait_for "the sink to count 20 messages" 30 pb_sink_has_at_least 20
wait_for "the sink to settle" 10 pb_sink_settled

pb_sink_msgids > "$PB_WORK/received.txt"
pb_assert_eq "messages at the office server" 20 "$(wc -l < "$PB_WORK/received.txt")"
pb_assert_eq "duplicates at the office server" "" "$(pb_sink_duplicates)"
pb_assert_same_set "delivered Message-IDs = the provider's" "$PB_WORK/expected.txt" "$PB_WORK/received.txt"
pb_assert_eq "envelope recipient is deliver_to" 20 "$(pb_sink_files_for alice@office.test | wc -l)"
pb_assert_sink_has_originals "every message arrived byte for byte" "$PB_WORK/originals"
pb_assert_eq "provider mailbox after the pass" 0 "$(pb_mailbox_count alice)"
pb_assert_grep "the POP3 login used TLS" 'Login: user=<alice>.*TLS' "$PB_POP3_LOG"
