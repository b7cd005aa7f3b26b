#!/usr/bin/env bash
# Signals: SIGTERM in the middle of a fetch ends the service within 10 s, and no message was
# deleted at the provider that had not reached the office server. SIGHUP with a broken config
# logs the error and keeps the old config running; SIGHUP with a valid new config applies it.
. "$(dirname "$0")/lib.sh"
pb_init 41
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 300 20
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"

pb_config sink
pb_account alice poll_interval=1h

# --- SIGTERM mid-fetch ------------------------------------------------------------------------------
pb_start_postbridge
PB_POLL=0.05 wait_for "delivery to be under way" 120 pb_sink_has_at_least 20
t0=$(date +%s%N)
kill -TERM "$PB_PID"
pb_wait_exit 15
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
pb_assert_le "milliseconds from SIGTERM to exit" 10000 "$ms"
pb_assert_rc "exit status after SIGTERM" 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_log "after SIGTERM: sink $(pb_sink_count), provider mailbox $(pb_mailbox_count alice)"

# Every message gone from the provider must be at the office server (no DELE before delivery).
pb_mailbox_msgids alice > "$PB_WORK/left.txt"
comm -23 "$PB_WORK/expected.txt" "$PB_WORK/left.txt" > "$PB_WORK/gone.txt"
pb_sink_msgids > "$PB_WORK/received.txt"
pb_assert_subset "every message deleted at the provider was delivered" "$PB_WORK/gone.txt" "$PB_WORK/received.txt"

# --- SIGHUP -----------------------------------------------------------------------------------------
sessions="$(pb_pop3_sessions alice)"
pb_start_postbridge
wait_for "the first poll after the restart to finish" 180 pb_pop3_sessions_above alice "$sessions"
pb_assert_alive "postbridge runs after the restart"

# A broken config: logged, and the service keeps running with the old one.
cp "$PB_CFG" "$PB_WORK/good.toml"
printf '\n[[account]]\nname = "broken"\nport = "not a number"\n' >> "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "the reload error in the log" 30 pb_log_has 'postbridge\.toml:[0-9]+:[0-9]+'
pb_assert_grep "the reload error names the key" 'postbridge\.toml:[0-9]+:[0-9]+.*port' "$PB_LOG"
pb_assert_alive "postbridge keeps running after a bad reload"

# A valid new config: a second account (bob, polled every second) starts being served.
cp "$PB_WORK/good.toml" "$PB_CFG"
pb_account bob poll_interval=1s
pb_fill bob 5 5
pb_mailbox_msgids bob > "$PB_WORK/bob.txt"
kill -HUP "$PB_PID"
wait_for "bob's mail to be fetched after the reload" 60 pb_mailbox_has bob 0
wait_for "the sink to settle" 10 pb_sink_settled
pb_sink_msgids > "$PB_WORK/received.txt"
pb_assert_subset "bob's messages delivered" "$PB_WORK/bob.txt" "$PB_WORK/received.txt"
pb_assert_alive "postbridge runs after a good reload"

kill -TERM "$PB_PID"
pb_wait_exit 15
pb_assert_rc "exit status after the final SIGTERM" 0

# Nothing was lost along the way: every message of alice is at the office server or still at the
# provider (mail whose delivery SIGTERM interrupted may wait for its retry, but it must exist).
wait_for "the sink to settle" 10 pb_sink_settled
sort -u <(pb_sink_msgids) <(pb_mailbox_msgids alice) > "$PB_WORK/somewhere.txt"
pb_assert_subset "no message lost (each is delivered or still at the provider)" "$PB_WORK/expected.txt" "$PB_WORK/somewhere.txt"
pb_assert_eq "no duplicates" "" "$(pb_sink_duplicates)"
