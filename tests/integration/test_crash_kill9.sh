#!/usr/bin/env bash
# Crash safety: postbridge is killed with SIGKILL twice in the middle of a 500-message fetch; a
# restart with --once delivers every message, empties the provider mailbox, and duplicates nothing
# — except at most ONE message per kill. That one is unavoidable: when the office server has
# accepted a message (its "250" after DATA, RFC 5321 4.1.1.4) but the process dies before it could
# record that reply, no SMTP client can know the message arrived, and the only safe choice is to
# send it again (at-least-once). Losing a message instead would be the real bug.
. "$(dirname "$0")/lib.sh"
pb_init 37
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 500 10
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"

pb_config sink
pb_account alice poll_interval=1h

kills=0
for round in 1 2; do
  # Kill when this run has delivered about half of what is left (at most 100 more messages).
  delivered="$(pb_sink_msgids | uniq | wc -l)"
  step=$(( (500 - delivered) / 2 ))
  (( step <= 100 )) || step=100
  (( step >= 1 )) || pb_fail "nothing left to interrupt in round $round (delivered $delivered)"
  target=$(( $(pb_sink_count) + step ))
  pb_start_postbridge
  PB_POLL=0.05 wait_for "the sink to reach $target messages" 180 pb_sink_has_at_least $target
  kill -KILL "$PB_PID"
  pb_wait_exit 10
  kills=$((kills + 1))
  pb_assert_eq "kill #$kills took effect (exit status 128+9)" 137 "$PB_RC"
  pb_log "killed at sink count $(pb_sink_count), provider mailbox $(pb_mailbox_count alice)"
  [ "$(pb_mailbox_count alice)" -gt 0 ] \
    || pb_log "note: the mailbox was already empty at kill #$kills (postbridge was faster than the poll)"
done

pb_run_once
pb_assert_not_signal "--once after two crashes"
wait_for "the sink to settle" 10 pb_sink_settled

# Duplicates first (the crash-safety promise), then completeness, then the exit code.
pb_sink_msgids > "$PB_WORK/received.txt"
extra="$(uniq -c "$PB_WORK/received.txt" | awk '$1 > 1 { s += $1 - 1 } END { print s + 0 }')"
uniq -d "$PB_WORK/received.txt" | sed 's/^/duplicate: /' >&2
pb_assert_le "extra copies (at most one per kill)" "$kills" "$extra"
pb_assert_subset "nothing foreign delivered" "$PB_WORK/received.txt" "$PB_WORK/expected.txt"
pb_assert_same_set "every message delivered by the --once after the crashes" "$PB_WORK/expected.txt" "$PB_WORK/received.txt"
pb_assert_eq "provider mailbox emptied" 0 "$(pb_mailbox_count alice)"
pb_assert_rc "--once after two crashes delivered everything" 0
