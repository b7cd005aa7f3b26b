#!/usr/bin/env bash
# Inbound under faults, one protocol step at a time: for each step, 200 messages are fetched over
# POP3 and delivered to the office server (smtp-sink) through fault proxies, and the connection is
# broken exactly there — after USER, mid RETR, after DELE before QUIT, mid DATA, after the final
# ".", before the 250, during STLS, a stall longer than the timeout... Then postbridge is started
# again. After each step: every message delivered byte for byte, nothing left at the provider, in
# the queue or in the spool, and duplicates only where a 250 can be lost in flight (office side:
# at most the one message of the cut transaction; POP3 side: none, ever — UIDLs are stored first).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 71
pb_require_postbridge

POP3_PROXY=23110
OFFICE_PROXY=23025
MESSAGES="${PB_MESSAGES:-200}"
pb_certs
pb_pop3_start
pb_sink_start
pbf_proxy_start pop3 "$POP3_PROXY" "$PB_POP3_PORT"
pbf_proxy_start office "$OFFICE_PROXY" "$PB_SINK_PORT"

# Plain POP3 through the proxy, so that it sees the commands (only the STLS step uses TLS; the
# TLS-inside cuts are test_network_cuts). Short timeouts make the stall steps quick.
write_config() {
  pb_config sink
  pb_local_port "$OFFICE_PROXY"
  pb_local timeout=5s
  pb_account alice port="$POP3_PROXY" tls=none allow_plaintext=true auth=user timeout=5s poll_interval=1h "$@"
}

steps=0
faults=0
total_extra=0

# step NAME SIDE MIN_EXTRA MAX_EXTRA RULE [ACCOUNT_KEY=VALUE...]
# PB_STEPS="name1 name2" runs only those steps (when chasing one).
step() {
  local name="$1" side="$2" min_extra="$3" max_extra="$4" rule="$5"; shift 5
  [ -z "${PB_STEPS:-}" ] || [[ " $PB_STEPS " == *" $name "* ]] || return 0
  steps=$((steps + 1))
  pb_log "=== step $steps: $name ($side: $rule)"
  write_config "$@"
  pb_fill alice "$MESSAGES" 5 "$name"
  pb_mailbox_msgids alice > "$PB_WORK/expected-$name.txt"
  rm -rf "$PB_WORK/originals-$name"
  pb_save_originals alice "$PB_WORK/originals-$name"
  local before; before="$(pbf_faults "$side")"
  pbf_plan pop3 "# $name"
  pbf_plan office "# $name"
  pbf_plan "$side" "$rule"

  pb_run_once
  pb_assert_not_signal "$name: the run with the fault"
  pb_assert_eq "$name: the fault was injected" $((before + 1)) "$(pbf_faults "$side")"
  pbf_plan "$side" "# $name: done"
  pb_run_once
  pb_assert_rc "$name: the restart finishes the job" 0

  pbf_check_step "$name" "$PB_WORK/originals-$name" "$min_extra" "$max_extra"
  pb_assert_same_set "$name: every message delivered" "$PB_WORK/expected-$name.txt" "$PB_WORK/received-$name.txt"
  pb_assert_eq "$name: left at the provider" 0 "$(pb_mailbox_count alice)"
  faults=$((faults + 1))
  total_extra=$((total_extra + PBF_EXTRA))
}

# --- the provider side (POP3) ---
step greeting        pop3 0 0 'cut "s2c_line=^\+OK"'
step after-capa      pop3 0 0 'cut c2s_line=^CAPA$'
step after-user      pop3 0 0 'cut "c2s_line=^USER "'
step after-pass      pop3 0 0 'cut "c2s_line=^PASS "'
step mid-uidl        pop3 0 0 'cut c2s_line=^UIDL$ offset=1500:s2c'
step mid-retr        pop3 0 0 'reset s2c_line="^\+OK [0-9]+ octets#50" offset=2000'
step stall-mid-retr  pop3 0 0 'stall s2c_line="^\+OK [0-9]+ octets#120" offset=1000'
step before-dele     pop3 0 0 'cut "c2s_line=^DELE [0-9]+$" when=before'
step dele-not-quit   pop3 0 0 'cut c2s_line=^QUIT$ when=before'
step quit-no-reply   pop3 0 0 'cut "s2c_line=^\+OK Logging out" when=before'
step mid-stls        pop3 0 0 'cut c2s_line=^STLS$ offset=150' tls=starttls
# --- the office side (SMTP to the office server) ---
step after-ehlo      office 0 0 'cut "c2s_line=^EHLO "'
step after-mail      office 0 0 'cut "c2s_line=^MAIL FROM:<#10"'
step stall-mail      office 0 0 'stall "c2s_line=^MAIL FROM:<#15"'
step mid-data        office 0 0 'cut c2s_line=^DATA$#12 offset=3000'
step after-dot       office 0 1 'cut "c2s_line=^\.$#18"'
step before-250      office 1 1 'cut "s2c_line=^250 2\.0\.0#20" when=before'
step reset-at-250    office 1 1 'reset "s2c_line=^250 2\.0\.0#25" when=before'

pb_log "$steps steps, $faults faults, $((steps * MESSAGES)) messages, lost 0, extra copies $total_extra"
printf 'fetch_cut_steps: steps=%d faults=%d messages=%d lost=0 extra_copies=%d\n' \
  "$steps" "$faults" "$((steps * MESSAGES))" "$total_extra" > "$PB_WORK/figures.txt"
