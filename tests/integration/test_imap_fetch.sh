#!/usr/bin/env bash
# Fetching over IMAP from the harness's Dovecot: implicit TLS (993-style) with keep = false removes
# exactly the delivered messages (\Deleted + UID EXPUNGE); STARTTLS (143-style) with keep = true
# leaves them and a second pass fetches nothing again; move_to moves delivered mail out of the
# folders, and two folders (INBOX and Junk) are both fetched. Every message arrives exactly once.
. "$(dirname "$0")/lib.sh"
pb_init 51
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start

# --- implicit TLS, keep = false: delivered, then expunged at the provider ----------------------
pb_fill alice 10 10
pb_mailbox_msgids alice > "$PB_WORK/alice.txt"
pb_config sink
pb_account alice protocol=imap port="$PB_IMAPS_PORT" keep=false
pb_run_once
pb_assert_rc "IMAPS pass, keep = false" 0
wait_for "the sink to count 10" 30 pb_sink_has_at_least 10
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "alice's INBOX after delivery" 0 "$(pb_folder_count alice)"
pb_assert_grep "the IMAP login used TLS" 'imap-login: Info: Login: user=<alice>.*TLS' "$PB_POP3_LOG"
pb_assert_eq "no duplicates" "" "$(pb_sink_duplicates)"

# --- STARTTLS, keep = true: two passes, one delivery, the messages stay ------------------------
pb_fill bob 10 10 bob
pb_config sink
pb_account bob protocol=imap tls=starttls port="$PB_IMAP_PORT" keep=true
pb_run_once
pb_assert_rc "first STARTTLS pass, keep = true" 0
wait_for "the sink to count 20" 30 pb_sink_has_at_least 20
pb_run_once
pb_assert_rc "second STARTTLS pass, keep = true" 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink after two passes" 20 "$(pb_sink_count)"
pb_assert_eq "bob's INBOX kept" 10 "$(pb_folder_count bob)"
pb_fill bob 1 5 late
pb_run_once
pb_assert_rc "third pass, one new message" 0
wait_for "the sink to count 21" 30 pb_sink_has_at_least 21
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "only the new message was fetched" 21 "$(pb_sink_count)"
pb_assert_eq "bob's INBOX still kept" 11 "$(pb_folder_count bob)"
pb_assert_eq "no duplicates" "" "$(pb_sink_duplicates)"

# --- two folders and move_to: both fetched, delivered mail moved into Archiv -------------------
pb_fill carol 5 10 carol
pb_folder_make carol Junk 3 junk
pb_folder_make carol Archiv 0
pb_mailbox_msgids carol > "$PB_WORK/carol.txt"
pb__msgids "$(pb_maildir carol)/.Junk/new" >> "$PB_WORK/carol.txt"
pb_config sink
pb_account carol protocol=imap port="$PB_IMAPS_PORT" folders='["INBOX", "Junk"]' move_to=Archiv
pb_run_once
pb_assert_rc "pass over two folders with move_to" 0
wait_for "the sink to count 29" 30 pb_sink_has_at_least 29
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "carol's INBOX after the move" 0 "$(pb_folder_count carol)"
pb_assert_eq "carol's Junk after the move" 0 "$(pb_folder_count carol Junk)"
pb_assert_eq "carol's Archiv holds every delivered message" 8 "$(pb_folder_count carol Archiv)"
pb_run_once
pb_assert_rc "a pass after the move" 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "moved mail is not fetched again" 29 "$(pb_sink_count)"

pb_sink_msgids > "$PB_WORK/received.txt"
cat "$PB_WORK/alice.txt" "$PB_WORK/carol.txt" > "$PB_WORK/expected-subset.txt"
pb_assert_subset "every original message arrived" "$PB_WORK/expected-subset.txt" "$PB_WORK/received.txt"
pb_assert_eq "no duplicates at all" "" "$(pb_sink_duplicates)"
