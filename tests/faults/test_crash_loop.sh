#!/usr/bin/env bash
# Crash loop under mixed load: postbridge fetches a provider mailbox (POP3S -> office server) that
# gets 40 new messages before every restart, while an office client trickles messages (60 per
# kill) into it for a smarthost (Dovecot submission, STARTTLS + AUTH, which hands each message to
# the sink before it answers). postbridge is killed with SIGKILL at 30 random moments in a row
# (PB_KILLS) and started again each time. At the end: nothing
# lost on either path, every copy intact, SQLite's integrity_check clean, no spool file without
# its queue entry — and every extra copy accounted for, one by one: a message whose 250 was in
# flight at a kill (the server had it, the store did not know yet), or one whose 250 to the office
# client was lost when the process died after committing it (the client sent it again).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_outbound.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 73
pb_require_postbridge

KILLS="${PB_KILLS:-30}"
INBOUND=400       # at the start; 40 more before each restart
REFILL=40
OUTBOUND=$((60 * KILLS))   # the office client trickles for about as long as the loop runs
MAX_CONNECTIONS=2
pb_certs
pb_pop3_start
pb_sink_start
pbo_submission_start
pb_fill alice "$INBOUND" 5 crash-in
pb_save_originals alice "$PB_WORK/originals-in"

pb_config sink
pb_local max_connections=$MAX_CONNECTIONS
pb_account alice poll_interval=5s
pbo_relay
pbo_smarthost a tls=starttls auth=plain max_connections=$MAX_CONNECTIONS

# The office client trickles its messages in (20 ms apart) for as long as the loop runs.
client="$PB_WORK/client"
pbo_start_postbridge
PBF_PACE=0.02 pbf_send_retrying "$client" "$OUTBOUND" "$PB_RELAY_PORT" sender@a.test rcpt@example.net crash-out \
  > "$PB_WORK/client.log" 2>&1 &
client_pid=$!
: > "$PB_WORK/inflight-local.txt"
: > "$PB_WORK/inflight-smarthost.txt"
"$PB_PY" -c "import random; r = random.Random($PB_SEED); print('\n'.join('%.2f' % r.uniform(0.2, 2.0) for _ in range($KILLS)))" \
  > "$PB_WORK/kill-delays.txt"

kills=0
while read -r delay; do
  # A random moment, counted from when the process came up (an interval, not a speed).
  sleep "$delay"
  kill -KILL "$PB_PID"
  pb_wait_exit 10
  kills=$((kills + 1))
  [ "$PB_RC" -eq 137 ] || pb_fail "kill #$kills: postbridge had already exited with $PB_RC before the kill"
  pb_inflight_delivered local "$PB_WORK/inflight-local.txt" > "$PB_WORK/now-local.txt"
  pb_inflight_delivered smarthost:a "$PB_WORK/inflight-smarthost.txt" > "$PB_WORK/now-smarthost.txt"
  pb_assert_le "kill #$kills: inbound 250s in flight (one per office session)" "$MAX_CONNECTIONS" "$(wc -l < "$PB_WORK/now-local.txt")"
  pb_assert_le "kill #$kills: outbound 250s in flight (one per smarthost session)" "$MAX_CONNECTIONS" "$(wc -l < "$PB_WORK/now-smarthost.txt")"
  cat "$PB_WORK/now-local.txt" >> "$PB_WORK/inflight-local.txt"
  cat "$PB_WORK/now-smarthost.txt" >> "$PB_WORK/inflight-smarthost.txt"
  pb_log "kill #$kills after ${delay}s: provider $(pb_mailbox_count alice), client acked $(wc -l < "$client/acked.txt" 2>/dev/null || echo 0), sink $(pb_sink_count)"
  pb_fill alice "$REFILL" 5 "crash-in-r$kills"
  pb_save_originals alice "$PB_WORK/originals-in"
  INBOUND=$((INBOUND + REFILL))
  pbo_start_postbridge
done < "$PB_WORK/kill-delays.txt"

wait_for "the office client to hand over all $OUTBOUND messages" 300 pb__exited "$client_pid"
wait "$client_pid" || pb_fail "the office client failed: $(tail -n 5 "$PB_WORK/client.log")"
all_done() {
  pb_sink_msgids > "$PB_WORK/received.tmp"
  (( $(grep -F '.crash-in' "$PB_WORK/received.tmp" | uniq | wc -l) >= INBOUND )) || return 1
  (( $(grep -F '.crash-out.' "$PB_WORK/received.tmp" | uniq | wc -l) >= OUTBOUND )) || return 1
  (( $(pb_mailbox_count alice) == 0 )) && (( $(pb_queue_count queued) == 0 ))
}
wait_for "everything delivered after the last restart" 300 all_done
kill -TERM "$PB_PID"
pb_wait_exit 15
pb_assert_eq "the last run stops cleanly" 0 "$PB_RC"
wait_for "the sink to settle" 10 pb_sink_settled

# --- accounting ---
pb_sink_msgids > "$PB_WORK/received.txt"
grep -F '.crash-in' "$PB_WORK/received.txt" > "$PB_WORK/received-in.txt" || true
pb__msgids "$PB_WORK/originals-in" | sort -u > "$PB_WORK/expected-in.txt"  # a file may be saved from new/ and cur/
pb_assert_eq "inbound: messages put into the mailbox" "$INBOUND" "$(wc -l < "$PB_WORK/expected-in.txt")"
grep -F '.crash-out.' "$PB_WORK/received.txt" > "$PB_WORK/received-out.txt" || true
awk '{ print $1 }' "$client/acked.txt" | sort > "$PB_WORK/acked-out.txt"
pb_assert_eq "outbound: messages the client got a 250 for" "$OUTBOUND" "$(sort -u "$PB_WORK/acked-out.txt" | wc -l)"
pb_assert_same_set "inbound: every message at the office server" "$PB_WORK/expected-in.txt" "$PB_WORK/received-in.txt"
pb_assert_same_set "outbound: every accepted message at the sink" "$PB_WORK/acked-out.txt" "$PB_WORK/received-out.txt"
pb_assert_sink_has_originals "inbound: every copy intact" "$PB_WORK/originals-in" --all-copies
pb_assert_sink_has_originals "outbound: every copy intact" "$client/messages" --all-copies

# Inbound extras: exactly the office 250s in flight at a kill.
pb_extra_copies "$PB_WORK/received-in.txt" > "$PB_WORK/extra-in.txt"
sort "$PB_WORK/inflight-local.txt" > "$PB_WORK/inflight-local.sorted"
pb_assert_eq "inbound: extra copies = the office 250s in flight at a kill" \
  "$(tr '\n' ' ' < "$PB_WORK/inflight-local.sorted")" "$(tr '\n' ' ' < "$PB_WORK/extra-in.txt")"
# Outbound extras: smarthost 250s in flight, or a 250 the client never saw (it sent it again).
pb_extra_copies "$PB_WORK/received-out.txt" > "$PB_WORK/extra-out.txt"
awk '{ print $1 }' "$client/broken.txt" 2>/dev/null | sort > "$PB_WORK/resent.txt" || true
sort "$PB_WORK/inflight-smarthost.txt" "$PB_WORK/resent.txt" > "$PB_WORK/allowed-out.txt"
unexplained="$(comm -23 "$PB_WORK/extra-out.txt" "$PB_WORK/allowed-out.txt" | head -n 5)"
pb_assert_eq "outbound: every extra copy had its 250 in flight at a kill" "" "$unexplained"
pb_assert_subset "outbound: each smarthost 250 in flight made its copy" "$PB_WORK/inflight-smarthost.txt" "$PB_WORK/extra-out.txt"

# --- the state folder ---
db="$PB_WORK/state/postbridge.db"
pb_assert_eq "SQLite integrity_check" ok "$(sqlite3 -readonly "$db" 'PRAGMA integrity_check')"
pb_assert_eq "SQLite foreign_key_check" "" "$(sqlite3 -readonly "$db" 'PRAGMA foreign_key_check')"
pb_assert_eq "still queued" 0 "$(pb_queue_count queued)"
pb_assert_eq "failed" 0 "$(pb_queue_count failed)"
referenced="$(sqlite3 -readonly "$db" "SELECT spool_name FROM messages WHERE state <> 'delivered'" | sort)"
on_disk="$(find "$PB_WORK/state/spool" -type f -printf '%f\n' | sort)"
pb_assert_eq "spool files without a queue entry (orphans)" "" "$(comm -13 <(echo "$referenced") <(echo "$on_disk") | grep . || true)"
pb_assert_eq "undelivered messages without a spool file" "" "$(comm -23 <(echo "$referenced") <(echo "$on_disk") | grep . || true)"

extra_in="$(wc -l < "$PB_WORK/extra-in.txt")"
extra_out="$(wc -l < "$PB_WORK/extra-out.txt")"
pb_log "$kills kills: $INBOUND inbound + $OUTBOUND outbound messages, lost 0, extra copies $extra_in inbound + $extra_out outbound (all in flight at a kill)"
printf 'crash_loop: kills=%d messages=%d lost=0 extra_copies=%d unexplained=0 integrity=ok orphans=0\n' \
  "$kills" $((INBOUND + OUTBOUND)) $((extra_in + extra_out)) > "$PB_WORK/figures.txt"
