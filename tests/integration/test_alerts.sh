#!/usr/bin/env bash
# Alerts reach the admin through the office server: a refused mailbox login gives exactly one
# alert, however many polls and evaluations follow; fixing the password gives exactly one
# "resolved"; a kill -9 then a start gives one unclean-restart alert, a clean stop then a start
# none. No alert carries a password.
. "$(dirname "$0")/lib.sh"
pb_init 98
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 2 2

WRONG=not-the-password-4711
secret="$(pb_secret alice-alert "$WRONG")"
pb_config sink
pb_account alice password_file="$secret" poll_interval=1s
printf '\n[alerts]\nrecipients = ["admin@office.test"]\nresolve_after = "2s"\n' >> "$PB_CFG"

# Sink files whose Subject starts with $1 (an ERE after "Subject: postbridge: ").
alert_files() { pb_sink_files | xargs -r grep -lE "^Subject: postbridge: $1" 2>/dev/null || true; }
alert_count() { alert_files "$1" | wc -l; }
alert_count_is() { (( $(alert_count "$1") == $2 )); }

pb_start_postbridge
wait_for "the login alert at the office server" 30 alert_count_is 'mailbox alice cannot log in' 1
# Several evaluations and every poll the scheduler allows: count what arrives within the window.
window_end=$(( $(date +%s) + 6 ))
while (( $(date +%s) < window_end )); do
  pb_proc_running "$PB_PID" || pb_assert_alive "postbridge keeps running with a refused login"
  sleep 0.5   # an observation window, not synchronisation
done
pb_assert_eq "exactly one alert for the refused login" 1 "$(alert_count '')"
login_alert="$(alert_files 'mailbox alice cannot log in')"
pb_assert_grep "the alert goes to the [alerts] recipient" '^To: <admin@office.test>' "$login_alert"
pb_assert_grep "the alert is marked automatic" '^Auto-Submitted: auto-generated' "$login_alert"
pb_assert_grep "the alert names the mailbox" 'the mailbox alice at' "$login_alert"
pb_assert_grep "the alert says what to do" 'What to do: check the password' "$login_alert"
pb_assert_grep "the alert names the password file, not the password" "$secret" "$login_alert"
pb_assert_grep "the alert is an event in the log" 'alert raised: mailbox alice cannot log in' "$PB_LOG"

# The fix: the right password in the same file, then a reload.
pb_secret alice-alert "$PB_PASSWORD" > /dev/null
kill -HUP "$PB_PID"
wait_for "the mailbox's mail at the office server" 30 pb_sink_has_at_least 3
wait_for "one resolved alert" 30 alert_count_is 'resolved: mailbox alice cannot log in' 1
window_end=$(( $(date +%s) + 4 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done   # an observation window
pb_assert_eq "exactly one resolved alert" 1 "$(alert_count 'resolved: ')"
pb_assert_eq "two alerts in all" 2 "$(alert_count '')"

# A kill -9 leaves the marker: the next start tells it, once.
kill -KILL "$PB_PID"
pb_wait_exit 10
pb_assert_eq "kill -9 took effect" 137 "$PB_RC"
pb_start_postbridge
wait_for "the unclean-restart alert" 30 alert_count_is 'postbridge restarted after an unclean stop' 1
restart_alert="$(alert_files 'postbridge restarted after an unclean stop')"
pb_assert_grep "the restart alert says no mail is lost" 'No mail is lost' "$restart_alert"

# A clean stop removes the marker: the next start tells nothing.
kill -TERM "$PB_PID"
pb_wait_exit 15
pb_assert_eq "clean stop" 0 "$PB_RC"
pb_assert_eq "no marker after a clean stop" 0 "$(find "$PB_WORK/state" -maxdepth 1 -name running | wc -l)"
pb_start_postbridge
wait_for "postbridge marks itself running" 30 test -f "$PB_WORK/state/running"
window_end=$(( $(date +%s) + 3 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done   # an observation window
pb_assert_eq "no restart alert after a clean stop" 1 "$(alert_count 'postbridge restarted')"
pb_assert_eq "three alerts in all" 3 "$(alert_count '')"

# The test alert of the command line goes the same way.
pb_postbridge test -c "$PB_CFG" alerts
pb_assert_rc "postbridge test alerts" 0
pb_assert_grep "test alerts says where it went" 'admin@office.test' "$PB_LOG"
wait_for "the test alert at the office server" 30 alert_count_is 'test alert' 1

for f in $(alert_files ''); do
  pb_assert_no_grep "no password in $(basename "$f")" "$WRONG|$PB_PASSWORD" "$f"
done
