#!/usr/bin/env bash
# A provider send limit (max_per_hour = 3): three messages go out, the fourth waits in the queue
# without an error or a counted attempt, and postbridge says when it may go.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 64
pb_require_postbridge

pb_certs
pb_sink_start
pbo_smarthost_start

pb_config sink
pbo_relay
pbo_smarthost a max_per_hour=3
pbo_smarthost b                         # another route, without a limit
pbo_start_postbridge

for i in 1 2 3 4; do
  pbo_send "sender@a.test" "rcpt$i@example.net"
  ids[$i]="$PBO_ID"
done
wait_for "three messages at the sink" 30 pb_sink_has_at_least 3
wait_for "postbridge to note the send limit" 15 pb_log_has 'smarthost:a: send limit reached'
pb_assert_grep "the log says when the next message may go" \
  'smarthost:a: send limit reached \(3/hour, 0/day\); the next message may go in [0-9]+[hms]' "$PB_LOG"

# Another route is not held up by route a's limit.
pbo_send sender@b.test rcpt-b@example.net
wait_for "route b's message at the sink" 30 pbo_sink_has_from sender@b.test 1

# An observation window (not synchronisation): the fourth message stays where it is.
window_end=$(( $(date +%s) + 5 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "route a's messages at the sink" 3 "$(pbo_sink_count_from sender@a.test)"
pb_assert_eq "the fourth message is not among them" 0 "$(pbo_sink_files_to rcpt4@example.net | wc -l)"
pbo_queue
cp "$PBO_Q" "$PB_WORK/queue-limited.txt"
row="$(awk -v id="${ids[4]}" '$1 == id && $2 !~ /,$/' "$PBO_Q")"
pb_log "the fourth message in postbridge queue: $row"
pb_assert_eq "the fourth message is queued" queued "$(awk '{ print $2 }' <<< "$row")"
pb_assert_eq "no attempt was counted against it (waiting is not failing)" 0 "$(awk '{ print $9 }' <<< "$row")"
pb_assert_eq "route a: 3 delivered" 3 "$(awk '$2 == "delivered" && $3 == "smarthost:a"' "$PBO_Q" | wc -l)"
pb_assert_no_grep "no error for it in the log" "message ${ids[4]} " "$PB_LOG"
pb_assert_alive "postbridge still runs"
# The listing must not promise "now" for a message that may only go in about an hour: NEXT shows
# when the send window lets it go (the service's log says the same).
pb_assert_eq "postbridge queue: NEXT of the waiting message is when the limit lets it go" "in" \
  "$(awk '{ print $10 }' <<< "$row")"
