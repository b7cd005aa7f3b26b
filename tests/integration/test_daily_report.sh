#!/usr/bin/env bash
# The daily report: with daily_report at 00:00 the service sends yesterday's report at its start,
# once — a restart the same day sends no second one (the day is kept in the state folder).
# `postbridge test daily-report` queues today's report so far, and after a fetch it counts the
# mailbox's messages and what the office server accepted.
. "$(dirname "$0")/lib.sh"
pb_init 100
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 3 2

pb_config sink
pb_account alice
printf '\n[alerts]\nrecipients = ["admin@office.test"]\ndaily_report = "00:00"\n' >> "$PB_CFG"

# Sink files whose Subject starts with "postbridge daily report gw.test, $1".
report_files() { pb_sink_files | xargs -r grep -lF "Subject: postbridge daily report gw.test, $1" 2>/dev/null || true; }
report_count() { report_files "$1" | wc -l; }
report_count_is() { (( $(report_count "$1") == $2 )); }
YESTERDAY="$(date -d yesterday +%Y-%m-%d)"
TODAY="$(date +%Y-%m-%d)"

pb_start_postbridge
wait_for "yesterday's report at the office server" 30 report_count_is "$YESTERDAY:" 1
wait_for "the mailbox's 3 messages and the report at the office server" 30 pb_sink_has_at_least 4
wait_for "postbridge remembers the report's day" 30 grep -qx "$TODAY" "$PB_WORK/state/daily-report"
daily="$(report_files "$YESTERDAY:")"
pb_assert_grep "the report goes to the [alerts] recipient" '^To: <admin@office.test>' "$daily"
pb_assert_grep "the report is marked automatic" '^Auto-Submitted: auto-generated' "$daily"
pb_assert_grep "the report lists the mailbox" '^  alice: 0 fetched, 0 bounced' "$daily"
pb_assert_grep "the report lists the office route" '^  local: 0 sent, 0 bounced' "$daily"
pb_assert_grep "the report names its setting" 'daily_report in' "$daily"
kill -TERM "$PB_PID"
pb_wait_exit 15
pb_assert_eq "clean stop" 0 "$PB_RC"

# Today so far, while the service is stopped: queued now, delivered at the next start.
pb_postbridge test -c "$PB_CFG" daily-report
pb_assert_rc "postbridge test daily-report" 0
pb_assert_grep "test daily-report says where it went" 'admin@office.test' "$PB_LOG"

pb_start_postbridge
wait_for "today's report at the office server" 30 report_count_is "$TODAY (today until" 1
today="$(report_files "$TODAY (today until")"
pb_assert_grep "today's report counts the fetched messages" '^  alice: 3 fetched, 0 bounced' "$today"
pb_assert_grep "today's report counts what the office server accepted" '^  local: 4 sent, 0 bounced' "$today"
pb_assert_grep "today's report has the totals in its subject" \
  "^Subject: postbridge daily report gw.test, $TODAY \\(today until [0-9:]*\\): 3 fetched, 4 sent, 0 bounced, 0 open problems" "$today"
pb_assert_grep "nothing is open" '^Open problems:' "$today"
# The restart's check at start has run once the page of reports settled: an observation window.
window_end=$(( $(date +%s) + 3 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done
pb_assert_eq "a restart sends no second report for the day" 1 "$(report_count "$YESTERDAY:")"
