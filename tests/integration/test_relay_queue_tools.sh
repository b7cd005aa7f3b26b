#!/usr/bin/env bash
# The queue tools while the service runs: hold, release, delete, bounce and retry (one message and
# --all), each with its visible effect — in the listing, at the sink, in the office mailbox.
# Part 1: the smarthost is down (route paused). Part 2: a deferred message is retried at once.
# Part 3: the smarthost is slow, so the messages held or deleted are already in the hands of the
# route's session (picked up, not yet sent): they must not be sent either.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 68
pb_require_postbridge

pb_certs
pb_sink_start
pb_lmtp_start                             # the office server: receives the bounce
pb_config lmtp
pbo_relay
pbo_smarthost a                           # alice@a.test: part 1 and 2
pbo_smarthost b max_connections=1         # bob@b.test: part 3
pbo_start_postbridge

# assert_state DESC ID STATE: the listing shows message ID in STATE.
assert_state() { pb_assert_eq "$1" "$3" "$(pbo_queue_state "$2")"; }
msg_at_sink() { [ -n "$(pbo_sink_files_to "$1")" ]; }

# ---- Part 1: the smarthost is not running yet: the route pauses, mail stays queued ----------
for i in 1 2 3 4; do pbo_send alice@a.test "rcpt$i@example.net"; m[$i]="$PBO_ID"; done
wait_for "route a to pause (smarthost down)" 30 pb_log_has 'smarthost:a paused'
pb_assert_eq "queued while the smarthost is down" 4 "$(pbo_queue_count queued)"

pbo_queue hold "${m[1]}"
pb_assert_eq "queue hold: exit code" 0 "$PBO_QRC"
assert_state "queue hold: the listing shows it held" "${m[1]}" held

spool_before="$(find "$PB_WORK/state" -type f -path '*spool*' | wc -l)"
pbo_queue delete "${m[2]}"
pb_assert_eq "queue delete: exit code" 0 "$PBO_QRC"
pb_assert_eq "queue delete: gone from the listing" "" "$(pbo_queue_row "${m[2]}")"
pb_assert_eq "queue delete: its spool file is gone" $((spool_before - 1)) \
  "$(find "$PB_WORK/state" -type f -path '*spool*' | wc -l)"

pbo_queue bounce "${m[3]}"
pb_assert_eq "queue bounce: exit code" 0 "$PBO_QRC"
assert_state "queue bounce: the listing shows it failed" "${m[3]}" failed
wait_for "the bounce in alice's office mailbox" 30 pb_office_has_at_least alice 1
dsn="$(find "$(pb_office_maildir alice)/new" "$(pb_office_maildir alice)/cur" -type f | head -n 1)"
cp "$dsn" "$PB_WORK/dsn-bounce.eml"
out="$(pbo_dsn_check "$dsn" rcpt3@example.net)" || pb_fail "queue bounce: not the DSN expected: $out"
pb_log "ok: queue bounce: $out"
pb_assert_grep "queue bounce: the DSN says the administrator returned it" 'returned by the administrator' "$dsn"

pbo_queue delete 999999
pb_assert_eq "queue delete of an unknown id fails (exit 1)" 1 "$PBO_QRC"
pb_assert_grep "and says so" 'not found' "$PBO_Q"

# The smarthost comes back; `retry --all` sends what waits now instead of after the route's
# pause (a minute or more). The held message stays.
pbo_smarthost_start
pbo_queue retry --all
pb_assert_eq "queue retry --all: exit code" 0 "$PBO_QRC"
wait_for "queue retry --all: message ${m[4]} at the sink" 15 msg_at_sink rcpt4@example.net
wait_for "queue retry --all: the listing shows it delivered" 10 pbo_queue_state_is "${m[4]}" delivered
assert_state "the held message is still held" "${m[1]}" held
pb_assert_eq "the held message was not sent" 0 "$(pbo_sink_files_to rcpt1@example.net | wc -l)"

pbo_queue release "${m[1]}"
pb_assert_eq "queue release: exit code" 0 "$PBO_QRC"
wait_for "queue release: the released message at the sink" 15 msg_at_sink rcpt1@example.net
wait_for "queue release: the listing shows it delivered" 10 pbo_queue_state_is "${m[1]}" delivered
pb_assert_eq "the deleted message never arrived" 0 "$(pbo_sink_files_to rcpt2@example.net | wc -l)"
pb_assert_eq "the bounced message never arrived" 0 "$(pbo_sink_files_to rcpt3@example.net | wc -l)"

# ---- Part 2: retry ID — a message deferred by the smarthost (451) goes at once when asked ----
pbo_smarthost_policy defer=later@example.net
pbo_send alice@a.test later@example.net
m[5]="$PBO_ID"
wait_for "the smarthost's 451 recorded" 30 pb_log_has "message ${m[5]} via smarthost:a: deferred"
row="$(pbo_queue_row "${m[5]}")"
pb_log "deferred: $row"
pb_assert_eq "deferred: still queued" queued "$(awk '{ print $2 }' <<< "$row")"
pb_assert_eq "deferred: next try in some minutes" in "$(awk '{ print $10 }' <<< "$row")"
pbo_smarthost_policy                      # the mailbox is free again
pbo_queue retry "${m[5]}"
pb_assert_eq "queue retry ID: exit code" 0 "$PBO_QRC"
wait_for "queue retry ID: the deferred message at the sink" 15 msg_at_sink later@example.net
wait_for "queue retry ID: the listing shows it delivered" 10 pbo_queue_state_is "${m[5]}" delivered

# ---- Part 3: hold and delete reach messages the route's session has already picked up -------
# Each end of DATA takes 3 s now; route b has one connection. Its session picks the waiting
# messages up as they arrive; b5 and b6 are held / deleted while b1 or b2 is being sent, seconds
# before their turn.
pbo_smarthost_policy delay=3
for i in 1 2 3 4 5 6; do pbo_send bob@b.test "b$i@example.net"; b[$i]="$PBO_ID"; done
pbo_queue hold "${b[5]}"
pb_assert_eq "queue hold (picked-up message): exit code" 0 "$PBO_QRC"
pbo_queue delete "${b[6]}"
pb_assert_eq "queue delete (picked-up message): exit code" 0 "$PBO_QRC"
pb_assert_le "route b's messages sent when b5/b6 were held/deleted" 1 "$(pbo_sink_count_from bob@b.test)"
wait_for "b1..b4 at the sink" 60 msg_at_sink b4@example.net
# An observation window (not synchronisation): b5 would have gone 3 s after b4.
window_end=$(( $(date +%s) + 8 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done
pb_assert_eq "the held message (already picked up) was not sent" 0 "$(pbo_sink_files_to b5@example.net | wc -l)"
pb_assert_eq "the deleted message (already picked up) was not sent" 0 "$(pbo_sink_files_to b6@example.net | wc -l)"
assert_state "the held message is still held" "${b[5]}" held
pb_assert_eq "the deleted message is not listed" "" "$(pbo_queue_row "${b[6]}")"
pbo_queue release "${b[5]}"
wait_for "the released message at the sink" 30 msg_at_sink b5@example.net
pbo_send bob@b.test b7@example.net
wait_for "route b still delivers new mail" 30 msg_at_sink b7@example.net
pb_assert_alive "postbridge still runs"
