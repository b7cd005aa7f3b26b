#!/usr/bin/env bash
# A wrong provider password: `--once` exits 3 and the log carries the server's own words; the
# mailbox is untouched; in `run` mode a rejected login is not retried on every poll, and the
# postmaster gets one alert.
. "$(dirname "$0")/lib.sh"
pb_init 33
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 5 5
find "$(pb_maildir alice)" -type f -path '*/new/*' | sort > "$PB_WORK/files-before.txt"

pb_config sink
pb_account alice password_file="$(pb_secret alice-wrong not-the-password)" poll_interval=1s

pb_run_once
pb_assert_rc "--once with a rejected login" 3
# Dovecot answers "-ERR [AUTH] Authentication failed." — the user must see those words.
pb_assert_grep "log quotes the server's rejection" 'Authentication failed' "$PB_LOG"
pb_assert_grep "log names the account" 'alice' "$PB_LOG"
pb_assert_no_grep "the secret is not logged" 'not-the-password' "$PB_LOG"
pb_assert_eq "auth failures at the server after --once" 1 "$(pb_pop3_auth_failures)"

find "$(pb_maildir alice)" -type f -path '*/new/*' | sort > "$PB_WORK/files-after.txt"
pb_assert_same_set "mailbox untouched (same files, still unread in new/)" "$PB_WORK/files-before.txt" "$PB_WORK/files-after.txt"
pb_assert_eq "nothing delivered" 0 "$(pb_sink_count)"

# run mode with poll_interval = 1s: a rejected password does not fix itself, so hammering the
# provider (and tripping its lockout) is wrong. Observe a window of several poll intervals.
before="$(pb_pop3_auth_failures)"
pb_start_postbridge
window_end=$(( $(date +%s) + 7 ))
while (( $(date +%s) < window_end )); do
  pb_proc_running "$PB_PID" || pb_assert_alive "postbridge keeps running after a rejected login"
  sleep 0.5   # an observation window, not synchronisation: we count what happens within it
done
attempts=$(( $(pb_pop3_auth_failures) - before ))
pb_assert_le "login attempts during 7 s of run mode with poll_interval 1s" 1 "$attempts"
pb_assert_alive "postbridge still runs"
# Only the alert to the postmaster reaches the office server (test_alerts.sh tests it in full).
wait_for "the login alert at the office server" 30 pb_sink_has_exactly 1
pb_assert_grep "the one message delivered is the login alert" '^Subject: postbridge: mailbox alice cannot log in' \
  "$(pb_sink_files)"
pb_assert_eq "still nothing else delivered" 1 "$(pb_sink_count)"
pb_assert_eq "mailbox still full" 5 "$(pb_mailbox_count alice)"
