#!/usr/bin/env bash
# Crash safety of the relay: 8 parallel clients push 1,000 messages; postbridge is killed with
# SIGKILL in the middle of the burst and restarted. Every message a client got "250 ... queued as"
# for arrives at the sink.
#
# Duplicates are allowed only for messages whose smarthost reply was in flight at the kill: when
# the smarthost has answered 250 to the end of DATA (RFC 5321 4.1.1.4) but postbridge dies before
# it records that, postbridge cannot know the message arrived and must send it again
# (at-least-once; losing it instead would be the real bug). A session carries one message at a
# time, so there is at most one such message per open smarthost connection: at most
# max_connections (2) extra copies for the one kill.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 66
pb_require_postbridge

TOTAL=1000
CLIENTS=8
MAX_CONNECTIONS=2
pb_certs
pb_sink_start
pbo_smarthost_start
pb_config sink
pbo_relay
pbo_smarthost a max_connections=$MAX_CONNECTIONS
pbo_start_postbridge

burst="$PB_WORK/burst"
pbo_smtp_burst "$burst" "$CLIENTS" "$TOTAL" sender@a.test rcpt@example.net
# Kill when the clients have about 40% accepted and deliveries to the smarthost are under way.
PB_POLL=0.05 wait_for "400 messages accepted" 120 pbo_burst_has_acked "$burst" 400
wait_for "deliveries under way" 30 pb_sink_has_at_least 1
kill -KILL "$PB_PID"
pb_wait_exit 10
pb_assert_eq "the kill took effect (exit status 128+9)" 137 "$PB_RC"
at_kill_acked="$(pbo_burst_acked "$burst")"
at_kill_sink="$(pb_sink_count)"
pb_log "killed with $at_kill_acked accepted and $at_kill_sink at the sink"
(( at_kill_sink < at_kill_acked )) || pb_log "note: the sink had caught up at the kill (postbridge was fast)"

pbo_start_postbridge
pbo_burst_wait 300
pb_log "burst done: $(pbo_burst_acked "$burst") accepted, $(cat "$burst"/errors-*.txt 2>/dev/null | wc -l) broken or refused"
cat "$burst"/acked-*.txt | awk '{ print $1 }' | sort > "$PB_WORK/acked.txt"
cat "$burst"/acked-*.txt "$burst"/errors-*.txt 2>/dev/null | awk '{ print $1 }' | sort -u > "$PB_WORK/attempted.txt"
pb_assert_eq "messages attempted by the clients" "$TOTAL" "$(wc -l < "$PB_WORK/attempted.txt")"
pb_assert_ge "messages accepted (250)" $((TOTAL - 50)) "$(wc -l < "$PB_WORK/acked.txt")"

# All accepted messages at the sink (each queue id once in the acked lists: no 250 was reused).
pb_assert_eq "queue ids handed out twice" "" "$(cat "$burst"/acked-*.txt | awk '{ print $2 }' | sort | uniq -d | head -n 5)"
acked_all_arrived() {
  pb_sink_msgids | uniq > "$PB_WORK/received.txt"
  [ -z "$(comm -23 "$PB_WORK/acked.txt" "$PB_WORK/received.txt" | head -n 1)" ]
}
wait_for "every accepted message at the sink" 180 acked_all_arrived
wait_for "the sink to settle" 10 pb_sink_settled
# The restart after the kill told the postmaster about it: postbridge's own notices (Message-ID
# <notice....>) are left out of the relayed mail.
pb_sink_msgids | grep -v '^<notice\.' > "$PB_WORK/received.txt"
pb_assert_subset "every message that got 250 arrived" "$PB_WORK/acked.txt" "$PB_WORK/received.txt"
pb_assert_subset "nothing foreign arrived" "$PB_WORK/received.txt" "$PB_WORK/attempted.txt"
extra="$(uniq -c "$PB_WORK/received.txt" | awk '$1 > 1 { s += $1 - 1 } END { print s + 0 }')"
uniq -d "$PB_WORK/received.txt" | sed 's/^/duplicate: /' >&2
pb_assert_le "extra copies (at most one per open smarthost connection at the kill)" "$MAX_CONNECTIONS" "$extra"

# Nothing is left behind in postbridge's queue either.
wait_for "postbridge's queue to drain" 60 pbo_queue_has queued 0
pb_assert_eq "failed" 0 "$(pbo_queue_count failed)"
pb_assert_alive "postbridge still runs after the restart"
