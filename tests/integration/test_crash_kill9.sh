#!/usr/bin/env bash
# Crash safety: postbridge is killed with SIGKILL twice in the middle of a 500-message fetch; a
# restart with --once delivers every message, empties the provider mailbox, and duplicates only
# the messages whose "250" was in flight at a kill. Those are unavoidable: when the office server
# has accepted a message (its "250" after DATA, RFC 5321 4.1.1.4) but the process dies before it
# could record that reply, no SMTP client can know the message arrived, and the only safe choice
# is to send it again (at-least-once). Losing a message instead would be the real bug.
#
# The bound is exact, not a guess: each of the max_connections (2) office sessions carries one
# message at a time, and both may have a 250 in flight at once (one session's reply arrives while
# the other commits its own), so a kill can cost up to 2 copies. After each kill the test reads
# postbridge's store: the messages the sink has but the store still shows as being sent are the
# in-flight ones. The duplicates at the end must be exactly those — no other message twice.
. "$(dirname "$0")/lib.sh"
# test_imap_crash_kill9.sh sources this script with PB_CRASH_IMAP=1: the same crashes over IMAP.
pb_init "${PB_CRASH_INIT:-37}"
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 500 10
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"

MAX_CONNECTIONS=2
pb_config sink
pb_account alice poll_interval=1h ${PB_CRASH_IMAP:+protocol=imap port=$PB_IMAPS_PORT}
pb_local max_connections=$MAX_CONNECTIONS

kills=0
: > "$PB_WORK/inflight.txt"
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
  pb_inflight_delivered local "$PB_WORK/inflight.txt" > "$PB_WORK/inflight-$kills.txt"
  inflight="$(wc -l < "$PB_WORK/inflight-$kills.txt")"
  pb_log "killed at sink count $(pb_sink_count), provider mailbox $(pb_mailbox_count alice), 250 in flight: $inflight"
  pb_assert_le "kill #$kills: messages accepted by the sink but not yet recorded (one per office session)" \
    "$MAX_CONNECTIONS" "$inflight"
  cat "$PB_WORK/inflight-$kills.txt" >> "$PB_WORK/inflight.txt"
  [ "$(pb_mailbox_count alice)" -gt 0 ] \
    || pb_log "note: the mailbox was already empty at kill #$kills (postbridge was faster than the poll)"
done

pb_run_once
pb_assert_not_signal "--once after two crashes"
wait_for "the sink to settle" 10 pb_sink_settled

# The start after kill #1 told the postmaster about the unclean stop (postbridge's own notices
# carry Message-IDs <notice....>): the fetched mail is compared without them.
pb_assert_ge "an unclean-restart alert reached the office server" 1 \
  "$(pb_sink_files | xargs -r grep -l '^Subject: postbridge: postbridge restarted after an unclean stop' | wc -l)"

# Duplicates first (the crash-safety promise), then completeness, then the exit code.
pb_sink_msgids | grep -v '^<notice\.' > "$PB_WORK/received.txt"
pb_extra_copies "$PB_WORK/received.txt" > "$PB_WORK/extra.txt"
sed 's/^/extra copy: /' "$PB_WORK/extra.txt" >&2
sort "$PB_WORK/inflight.txt" > "$PB_WORK/inflight.sorted"
pb_assert_eq "extra copies = the messages whose 250 was in flight at a kill" \
  "$(tr '\n' ' ' < "$PB_WORK/inflight.sorted")" "$(tr '\n' ' ' < "$PB_WORK/extra.txt")"
pb_log "extra copies: $(wc -l < "$PB_WORK/extra.txt") after $kills kills (at most $MAX_CONNECTIONS each)"
pb_assert_subset "nothing foreign delivered" "$PB_WORK/received.txt" "$PB_WORK/expected.txt"
pb_assert_same_set "every message delivered by the --once after the crashes" "$PB_WORK/expected.txt" "$PB_WORK/received.txt"
pb_assert_eq "provider mailbox emptied" 0 "$(pb_mailbox_count alice)"
pb_assert_rc "--once after two crashes delivered everything" 0
