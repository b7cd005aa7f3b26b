#!/usr/bin/env bash
# A storm of failures gives one alert, not hundreds: six mailboxes whose server refuses every
# connection fail poll after poll, and the admin gets exactly one alert mail naming all six (and,
# once the server answers again, one "resolved" for all six, though their polls end apart). Then the state disk below min_free_space: one
# alert at once, and one "resolved" when the space is back.
. "$(dirname "$0")/lib.sh"
pb_init 57
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start

MAILBOXES=(alice bob carol dave eve frank)
pb_config sink
for m in "${MAILBOXES[@]}"; do
  # A port on our address where nothing listens: every poll fails with "connection refused".
  pb_account "$m" port=21109 poll_interval=1s
done
printf '\n[alerts]\nrecipients = ["admin@office.test"]\nafter = "1m"\nresolve_after = "2s"\n' >> "$PB_CFG"

alert_files() { pb_sink_files | xargs -r grep -lE "^Subject: postbridge: $1" 2>/dev/null || true; }
alert_count() { alert_files "$1" | wc -l; }
alert_count_is() { (( $(alert_count "$1") == $2 )); }
failed_polls() { grep -c 'connection refused\|Connection refused' "$PB_LOG" || true; }
failed_polls_at_least() { (( $(failed_polls) >= $1 )); }

pb_start_postbridge
wait_for "the storm's alert" 150 alert_count_is '' 1
# Every mailbox fails poll after poll (30 s, then backing off): the alert waited for at least two
# rounds of six (its grace of a minute), and none of them sent a mail of its own.
wait_for "12 failing polls" 120 failed_polls_at_least 12
pb_assert_eq "exactly one alert mail for the whole storm" 1 "$(alert_count '')"
storm="$(alert_files '')"
pb_assert_grep "one subject for six problems" '^Subject: postbridge: 6 problems' "$storm"
for m in "${MAILBOXES[@]}"; do
  pb_assert_grep "the alert names mailbox $m" "PROBLEM: mailbox $m cannot be reached" "$storm"
done
pb_log "failing polls logged: $(failed_polls)"

# The mailboxes' server answers again: one "resolved" message for all of them.
sed -i 's/^port = 21109$/port = '"$PB_POP3S_PORT"'/' "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "one resolved message" 120 alert_count_is 'resolved: 6 problems' 1
pb_assert_eq "two alert mails in all" 2 "$(alert_count '')"

# The state folder below min_free_space (nobody has a petabyte free): told after its 2-minute
# grace, once.
sed -i 's/^\[service\]$/[service]\nmin_free_space = "1000000GB"/' "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "the disk alert" 240 alert_count_is 'the state folder is almost full' 1
disk="$(alert_files 'the state folder is almost full')"
pb_assert_grep "the disk alert says what to do" 'What to do: free up space in' "$disk"
pb_assert_grep "the disk alert names min_free_space" 'min_free_space' "$disk"
sed -i '/^min_free_space = "1000000GB"$/d' "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "the disk resolved" 60 alert_count_is 'resolved: the state folder is almost full' 1
window_end=$(( $(date +%s) + 4 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done   # an observation window
pb_assert_eq "four alert mails in all" 4 "$(alert_count '')"
