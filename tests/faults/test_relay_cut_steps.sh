#!/usr/bin/env bash
# Outbound under faults, one protocol step at a time: for each step an office client sends 200
# messages into postbridge's listener, postbridge relays them to a smarthost, and a proxy breaks
# one connection exactly there — on the smarthost side after EHLO, after MAIL, a stall, mid DATA,
# after the final ".", with the 250 swallowed, during STARTTLS; on the listener side mid DATA,
# after the final ".", before the 250. Then postbridge is restarted. After each step: every
# message at the sink byte for byte, nothing left in the queue or the spool, and duplicates only
# where a 250 was lost in flight (at most the one message of the cut transaction).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_outbound.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 72
pb_require_postbridge

CLIENT_PROXY=23525       # office client -> proxy -> postbridge's listener
PLAIN_PROXY=23026        # postbridge -> proxy -> smtp-sink as a plain smarthost (commands visible)
TLS_PROXY=23587          # postbridge -> proxy -> the Postfix smarthost (STARTTLS + AUTH)
MESSAGES="${PB_MESSAGES:-200}"
pb_certs
pb_sink_start
pbo_smarthost_start
pbf_proxy_start client "$CLIENT_PROXY" "$PB_RELAY_PORT"
pbf_proxy_start plain "$PLAIN_PROXY" "$PB_SINK_PORT"
pbf_proxy_start tls "$TLS_PROXY" "$PB_SUBM_PORT"

write_config() {
  local smarthost="$1"
  pb_config sink
  pbo_relay
  if [ "$smarthost" = tls ]; then
    pbo_smarthost a port="$TLS_PROXY" tls=starttls auth=plain timeout=5s
  else
    pbo_smarthost a port="$PLAIN_PROXY" tls=none auth=none username= password_file= allow_plaintext=true timeout=5s
  fi
}

steps=0
total_extra=0
delivered() {
  pb_sink_msgids | grep -F ".$STEP." | uniq > "$PB_WORK/received-uniq.tmp"
  (( $(wc -l < "$PB_WORK/received-uniq.tmp") == MESSAGES ))
}
drained() { delivered && (( $(pb_queue_count queued) == 0 )); }

# step NAME SIDE MIN_EXTRA MAX_EXTRA RULE: SIDE is the proxy that breaks (client, plain or tls).
# PB_STEPS="name1 name2" runs only those steps.
step() {
  local name="$1" side="$2" min_extra="$3" max_extra="$4" rule="$5" out
  [ -z "${PB_STEPS:-}" ] || [[ " $PB_STEPS " == *" $name "* ]] || return 0
  steps=$((steps + 1))
  STEP="$name"
  out="$PB_WORK/client-$name"
  pb_log "=== step $steps: $name ($side: $rule)"
  write_config "$([ "$side" = tls ] && echo tls || echo plain)"
  local before; before="$(pbf_faults "$side")"
  pbf_plan client "# $name"; pbf_plan plain "# $name"; pbf_plan tls "# $name"
  pbf_plan "$side" "$rule"

  pbo_start_postbridge
  pbf_send_retrying "$out" "$MESSAGES" "$CLIENT_PROXY" sender@a.test rcpt@example.net "$name" \
    || pb_fail "$name: the office client could not hand over its messages"
  wait_for "$name: the fault" 60 pbf_fired "$side" $((before + 1))
  pbf_plan "$side" "# $name: done"
  # The restart: whatever the fault left behind (a paused route, a message backing off) is
  # picked up by the next process; the paused route starts fresh.
  kill -TERM "$PB_PID"
  pb_wait_exit 15
  pb_assert_eq "$name: SIGTERM ends postbridge cleanly" 0 "$PB_RC"
  pbo_start_postbridge
  wait_for "$name: all $MESSAGES at the sink and the queue drained" 120 drained
  kill -TERM "$PB_PID"
  pb_wait_exit 15

  pbf_check_step "$name" "$out/messages" "$min_extra" "$max_extra"
  pb_assert_eq "$name: messages the client got a 250 for" "$MESSAGES" "$(wc -l < "$out/acked.txt")"
  pb_assert_eq "$name: distinct messages at the sink" "$MESSAGES" "$(uniq "$PB_WORK/received-$name.txt" | wc -l)"
  total_extra=$((total_extra + PBF_EXTRA))
}

# --- postbridge -> smarthost ---
step sh-after-ehlo    plain 0 0 'cut "c2s_line=^EHLO "'
step sh-after-mail    plain 0 0 'cut "c2s_line=^MAIL FROM:<#3"'
step sh-stall-mail    plain 0 0 'stall "c2s_line=^MAIL FROM:<#4"'
step sh-mid-data      plain 0 0 'cut c2s_line=^DATA$#2 offset=2000'
step sh-after-dot     plain 0 1 'cut "c2s_line=^\.$#3"'
step sh-before-250    plain 1 1 'cut "s2c_line=^250 2\.0\.0#2" when=before'
step sh-reset-at-250  plain 1 1 'reset "s2c_line=^250 2\.0\.0#4" when=before'
step sh-mid-starttls  tls   0 0 'cut c2s_line=^STARTTLS$ offset=150'
# --- office client -> postbridge's listener ---
step in-after-mail    client 0 0 'cut "c2s_line=(?i)^MAIL FROM:<#20"'   # smtplib sends lower case
step in-mid-data      client 0 0 'cut "c2s_line=(?i)^DATA$#30" offset=1500'
step in-reset-data    client 0 0 'reset "c2s_line=(?i)^DATA$#35" offset=500'
step in-after-dot     client 0 1 'cut "c2s_line=^\.$#40"'
step in-before-250    client 1 1 'cut "s2c_line=^250 2\.0\.0 Ok: queued as#50" when=before'

pb_log "$steps steps, $steps faults, $((steps * MESSAGES)) messages, lost 0, extra copies $total_extra"
printf 'relay_cut_steps: steps=%d faults=%d messages=%d lost=0 extra_copies=%d\n' \
  "$steps" "$steps" "$((steps * MESSAGES))" "$total_extra" > "$PB_WORK/figures.txt"
