#!/usr/bin/env bash
# Recovery from network cuts: 200 messages of 20 KB are fetched over POP3S while a proxy cuts,
# resets or corrupts 11 POP3 connections (TLS inside: 10 at random bytes, 1 in the handshake) and
# 11 connections to the office server (10 at random bytes, 1 during EHLO).
# postbridge recovers by itself, without a restart: every message arrives intact within 5 minutes,
# nothing stays at the provider or in the queue, and duplicates come only from office-side cuts
# (a cut after the end of DATA, before the 250: at most one per cut).
#
# Why it can be this fast: complete messages received before a cut are committed, a session that
# made progress goes on after 5 s and does not count as a failure, a cut without progress waits
# 30 s (doubling), a message whose office connection broke mid-transaction is retried at once
# on a new connection, and messages taken for a session that broke are given back untouched.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 70
pb_require_postbridge

POP3_PROXY=23995
OFFICE_PROXY=23025
CUTS="${PB_CUTS:-10}"            # random cuts per side, around one early cut each
HALF=$(( CUTS / 2 ))
TOTAL_CUTS=$(( 2 * HALF + 1 ))
# A rule that did not fire goes on counting on the next connection, so all of them fire as long
# as their bytes add up to less than the traffic: ~4.2 MB of mail from the provider, ~4.1 MB to
# the office server and ~40 bytes of replies a message back from it.
POP3_MAX=$(( 3000000 / (2 * HALF) ))
OFFICE_MAX=$(( 2000000 / (2 * HALF) ))
REPLY_MAX=$(( 6000 / HALF ))
pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 200 20
pb_mailbox_msgids alice > "$PB_WORK/expected.txt"
pb_save_originals alice "$PB_WORK/originals"

pbf_proxy_start pop3 "$POP3_PROXY" "$PB_POP3S_PORT"
pbf_proxy_start office "$OFFICE_PROXY" "$PB_SINK_PORT"
# POP3 side: cuts at random bytes of the server's stream (the mail), after the TLS handshake and
# the listings, and one in the TLS handshake, where nothing can be fetched (30 s backoff).
{ pbf_random_rules "$HALF" "$PB_SEED" cut,reset,corrupt s2c 20000 "$POP3_MAX"
  echo "cut c2s_bytes=300"
  pbf_random_rules "$HALF" "$((PB_SEED + 1))" cut,reset,corrupt s2c 20000 "$POP3_MAX"
} > "$PB_WORK/pop3.rules"
# Office side: cuts at random bytes while messages are sent (client to server) or answered
# (server to client), and one during EHLO (the route pauses for 30 s).
{ pbf_random_rules "$HALF" "$((PB_SEED + 2))" cut,reset c2s 200 "$OFFICE_MAX"
  echo "cut \"c2s_line=^EHLO \""
  pbf_random_rules "$HALF" "$((PB_SEED + 3))" cut,reset s2c 300 "$REPLY_MAX"
} > "$PB_WORK/office.rules"
mapfile -t rules < "$PB_WORK/pop3.rules"; pbf_plan pop3 "${rules[@]}"
mapfile -t rules < "$PB_WORK/office.rules"; pbf_plan office "${rules[@]}"

pb_config sink
pb_local_port "$OFFICE_PROXY"
pb_account alice port="$POP3_PROXY" poll_interval=30s

started=$SECONDS
pb_start_postbridge
all_arrived() {
  pb_sink_msgids | uniq > "$PB_WORK/received-uniq.txt"
  [ -z "$(comm -23 "$PB_WORK/expected.txt" "$PB_WORK/received-uniq.txt" | head -n 1)" ]
}
done_everywhere() { all_arrived && (( $(pb_mailbox_count alice) == 0 )) && (( $(pb_queue_count queued) == 0 )); }
wait_for "all 200 delivered, the provider mailbox empty and the queue drained (target: 5 minutes)" 300 done_everywhere
took=$((SECONDS - started))
pb_log "recovered from every cut in ${took}s"
pbf_fault_lines pop3 | sed 's/^/pop3 proxy: /' >&2
pbf_fault_lines office | sed 's/^/office proxy: /' >&2

pop3_faults="$(pbf_faults pop3)"
office_faults="$(pbf_faults office)"
pb_assert_eq "POP3 connections cut" "$TOTAL_CUTS" "$pop3_faults"
pb_assert_eq "office connections cut" "$TOTAL_CUTS" "$office_faults"
wait_for "the sink to settle" 10 pb_sink_settled
pb_sink_msgids > "$PB_WORK/received.txt"
pb_assert_same_set "every message delivered" "$PB_WORK/expected.txt" "$PB_WORK/received.txt"
pb_assert_sink_has_originals "every copy arrived byte for byte" "$PB_WORK/originals" --all-copies
extra="$(pb_extra_copies "$PB_WORK/received.txt" | wc -l)"
pb_assert_le "extra copies (at most one per office-side cut)" "$office_faults" "$extra"
pb_assert_eq "left at the provider" 0 "$(pb_mailbox_count alice)"
pb_assert_eq "messages still queued" 0 "$(pb_queue_count queued)"
pb_assert_eq "messages failed" 0 "$(pb_queue_count failed)"
pb_assert_alive "postbridge still runs"
pb_assert_grep "a cut session that made progress goes on in seconds" 'continuing in [0-9]+s' "$PB_LOG"
printf 'network_cuts: messages=200 pop3_cuts=%d office_cuts=%d extra_copies=%d lost=0 seconds=%d\n' \
  "$pop3_faults" "$office_faults" "$extra" "$took" > "$PB_WORK/figures.txt"
