#!/usr/bin/env bash
# Fetch over plain POP3 upgraded with STLS (tls = "starttls", RFC 2595 4) into the office server:
# 20 messages arrive exactly once, with the provider's Message-IDs, and the provider mailbox is empty.
. "$(dirname "$0")/lib.sh"
pb_init 32
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 20 20
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"
pb_save_originals alice "$PB_WORK/originals"

pb_config sink
pb_account alice tls=starttls port="$PB_POP3_PORT"

pb_run_once
pb_assert_rc "one pass over POP3 + STLS" 0
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
# The password must only have crossed the wire after STLS: Dovecot logs "TLS" on the login line,
# and no plaintext login (rip/lip without TLS) appears.
pb_assert_no_grep "no login without TLS" 'Login: user=<alice>, method=[A-Z]+, rip=[0-9.]+, lip=[0-9.]+, mpid=[0-9]+, session' "$PB_POP3_LOG"
