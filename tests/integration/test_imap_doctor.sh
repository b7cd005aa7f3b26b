#!/usr/bin/env bash
# `postbridge test account` for an IMAP account against the harness's Dovecot: greeting,
# CAPABILITY (IDLE, UIDPLUS, MOVE, login methods), login, and every configured folder opened
# read-only with its message count; nothing fetched, flagged or removed. STARTTLS works the same;
# a wrong password and a folder that does not exist are named as the failing step.
. "$(dirname "$0")/lib.sh"
pb_init 53
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 3 2
pb_folder_make alice Junk 2 junk

doctor() { pb_postbridge test -c "$PB_CFG" "$@"; }
out_has() { pb_assert_grep "$1" "$2" "$PB_LOG"; }

# --- implicit TLS: every step, and nothing touched ---------------------------------------------
pb_config sink
pb_account alice protocol=imap port="$PB_IMAPS_PORT" folders='["INBOX", "Junk"]'
doctor account alice
pb_assert_rc "test account alice over IMAPS" 0
out_has "the endpoint says IMAP" "${PB_IMAPS_PORT}, IMAP, implicit TLS"
out_has "greeting" '^  ok .*greeting'
out_has "capabilities the fetcher relies on" 'IDLE: yes, UIDPLUS: yes, MOVE: yes'
out_has "login methods" 'login methods: AUTHENTICATE PLAIN'
out_has "login accepted" '^  ok .*login as alice'
out_has "INBOX count" 'INBOX: 3 messages \(UIDVALIDITY [0-9]+\)'
out_has "Junk count" 'Junk: 2 messages'
out_has "nothing touched" 'nothing was fetched, flagged or removed'
out_has "verdict" '^Result: works$'
pb_assert_eq "INBOX untouched" 3 "$(pb_folder_count alice)"
pb_assert_eq "Junk untouched" 2 "$(pb_folder_count alice Junk)"
pb_assert_eq "no message marked seen" 0 "$(find "$(pb_maildir alice)" -path '*/cur/*' -name '*:2,*S*' | wc -l)"
pb_assert_eq "nothing was delivered" 0 "$(pb_sink_count)"

# --- STARTTLS on the plain port ----------------------------------------------------------------
pb_config sink
pb_account alice protocol=imap tls=starttls port="$PB_IMAP_PORT"
doctor account alice
pb_assert_rc "test account alice over STARTTLS" 0
out_has "STARTTLS handshake step" '^  ok .*STARTTLS and TLS handshake'

# --- a wrong password and a missing folder -------------------------------------------------------
pb_config sink
pb_account alice protocol=imap port="$PB_IMAPS_PORT" password_file="$(pb_secret wrong Not-The-Password)"
doctor account alice
pb_assert_rc "a wrong password fails the test" 1
out_has "the login is the failing step" '^  FAIL .*login'
pb_assert_no_grep "the password is never shown" 'Not-The-Password' "$PB_LOG"

pb_config sink
pb_account alice protocol=imap port="$PB_IMAPS_PORT" folders='["INBOX", "Nope"]'
doctor account alice
pb_assert_rc "a missing folder fails the test" 1
out_has "the folder is named" 'folder Nope cannot be opened'
