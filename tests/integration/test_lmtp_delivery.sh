#!/usr/bin/env bash
# Delivery to the office server over LMTP (RFC 2033): every deliver_to recipient's mailbox gets the
# message; an unknown recipient (550 5.1.1 for that RCPT only, RFC 2033 4.2) leaves the message
# `failed` for that recipient without holding back the others.
. "$(dirname "$0")/lib.sh"
pb_init 38
pb_require_postbridge

pb_certs
pb_pop3_start
pb_lmtp_start
pb_fill carol 5 10
pb_fill dave 4 10
pb_mailbox_msgids carol > "$PB_WORK/carol.txt"
pb_mailbox_msgids dave > "$PB_WORK/dave.txt"

pb_config lmtp
pb_account carol deliver_to='["alice@office.test", "bob@office.test"]'
pb_account dave deliver_to='["eve@office.test", "nosuchuser@office.test"]'

pb_run_once
pb_assert_not_signal "--once over LMTP"
pb_assert_rc "--once over LMTP (3 is allowed: one recipient failed)" 0 3

# --- two known recipients: each mailbox has every message ---------------------------------------
wait_for "alice's office mailbox to have 5" 30 pb_office_has_at_least alice 5
wait_for "bob's office mailbox to have 5" 30 pb_office_has_at_least bob 5
pb_office_msgids alice > "$PB_WORK/office-alice.txt"
pb_office_msgids bob > "$PB_WORK/office-bob.txt"
pb_assert_same_set "alice got carol's messages" "$PB_WORK/carol.txt" "$PB_WORK/office-alice.txt"
pb_assert_same_set "bob got carol's messages" "$PB_WORK/carol.txt" "$PB_WORK/office-bob.txt"
pb_assert_eq "alice: no duplicates" 5 "$(wc -l < "$PB_WORK/office-alice.txt")"
pb_assert_eq "bob: no duplicates" 5 "$(wc -l < "$PB_WORK/office-bob.txt")"
pb_assert_eq "carol's provider mailbox emptied" 0 "$(pb_mailbox_count carol)"

# --- an unknown recipient does not block the known one -------------------------------------------
wait_for "eve's office mailbox to have 4" 30 pb_office_has_at_least eve 4
pb_office_msgids eve > "$PB_WORK/office-eve.txt"
pb_assert_same_set "eve got dave's messages" "$PB_WORK/dave.txt" "$PB_WORK/office-eve.txt"
pb_assert_grep "the LMTP server rejected the unknown user" 'nosuchuser.*unknown user' "$PB_SRV/lmtp/dovecot.log"
pb_assert_grep "the log names the rejected recipient" 'nosuchuser@office\.test' "$PB_LOG"
pb_assert_grep "the log quotes the server's reply" "550|User doesn't exist" "$PB_LOG"

pb_postbridge queue -c "$PB_CFG"
pb_assert_rc "postbridge queue" 0
pb_assert_grep "queue lists the unknown recipient" 'nosuchuser@office\.test' "$PB_LOG"
pb_assert_grep "queue shows it failed" 'fail.*nosuchuser@office\.test|nosuchuser@office\.test.*fail' "$PB_LOG"

# --- a second pass delivers nothing twice ---------------------------------------------------------
pb_run_once
pb_assert_not_signal "second --once"
pb_assert_eq "alice after a second pass" 5 "$(pb_office_count alice)"
pb_assert_eq "bob after a second pass" 5 "$(pb_office_count bob)"
pb_assert_eq "eve after a second pass" 4 "$(pb_office_count eve)"
