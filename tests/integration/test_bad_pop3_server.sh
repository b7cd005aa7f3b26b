#!/usr/bin/env bash
# Robustness against broken POP3 servers (fake_pop3.py scenarios): postbridge never crashes (an
# ordinary exit code, never a signal or a hang), never sends DELE for a message that did not reach
# the office server, and says in its log what went wrong.
. "$(dirname "$0")/lib.sh"
pb_init 40
pb_require_postbridge

pb_sink_start

# scenario -> allowed exit codes of `run --once` (3 = a poll failed / mail left on the server)
declare -A EXPECT=(
  [normal]="0" [empty]="0"
  [bad_greeting]="3" [garbage_replies]="3" [malformed_listing]="3" [long_status_line]="3"
  [retr_no_terminator]="3" [reset_mid_retr]="3" [stall_mid_retr]="3"
  [in_use]="3" [auth_fail]="3" [silent]="3"
  # Either delivered (the tolerant choice) or refused with a reason; both are acceptable.
  [long_body_line]="0 3" [nul_bytes]="0 3" [bare_lf]="0 3" [bare_lf_all]="0 3" [no_uidl]="0 3"
  # Message 2 is far larger than LIST said (and than max_message_size): left on the server.
  [oversized_retr]="0 3"
  # No CAPA: USER/PASS and UIDL are tried all the same, and work.
  [no_capa]="0"
  [hostile_err]="3"
)
# scenario -> what the log must say (the server's own words where there are any)
declare -A SAYS=(
  [in_use]='locked by another POP3 session|IN-USE'
  [auth_fail]='Invalid login or password'
  [silent]='time|no answer|did not answer|silent'
  [stall_mid_retr]='time|no answer|did not answer|silent'
  [bad_greeting]='greeting|IMAP|\* OK'
  [oversized_retr]='message 2 in account alice \(over [0-9.]+ MB, more than the server listed\) is larger than max_message_size'
  [hostile_err]='login refused'
)

for sc in $("$PB_PY" "$PB_TESTS_DIR/fake_pop3.py" --list); do
  [ -n "${EXPECT[$sc]+set}" ] || pb_fail "no expectation for scenario $sc"
  pb_log "===== scenario $sc ====="
  pb_fake_pop3_start "$sc"
  # A state dir per scenario (numbered: a scenario name in the log would match the greps below).
  k=$(( ${k:-0} + 1 ))
  pb_config sink state_dir="state-$k"
  pb_account alice host="$PB_IP" port="$PB_FAKE_PORT" tls=none allow_plaintext=true ca_file= timeout=3s \
    max_message_size=1MB
  t0=$(date +%s)
  PB_TIMEOUT=120 pb_run_once
  elapsed=$(( $(date +%s) - t0 ))
  pb_assert_not_signal "$sc: no crash"
  # shellcheck disable=SC2086
  pb_assert_rc "$sc: exit code" ${EXPECT[$sc]}
  pb_assert_le "$sc: seconds for one pass (timeout = 3s per step)" 60 "$elapsed"

  wait_for "$sc: sink settled" 10 pb_sink_settled
  pb_sink_msgids | grep "fake\.$sc\." > "$PB_WORK/$sc-delivered.txt" || true
  pb_fake_deleted_msgids > "$PB_WORK/$sc-deleted.txt"
  pb_assert_subset "$sc: DELE only for delivered messages" "$PB_WORK/$sc-deleted.txt" "$PB_WORK/$sc-delivered.txt"
  pb_assert_eq "$sc: nothing delivered twice" "" "$(uniq -d "$PB_WORK/$sc-delivered.txt")"
  if [ "$sc" = oversized_retr ]; then
    pb_assert_eq "$sc: the oversized message is neither delivered nor deleted" "" \
      "$(grep -h 'fake\.oversized_retr\.2@' "$PB_WORK/$sc-delivered.txt" "$PB_WORK/$sc-deleted.txt")"
    pb_assert_eq "$sc: the others are delivered" 2 "$(wc -l < "$PB_WORK/$sc-delivered.txt")"
    [ -z "$(find "$PB_WORK/state-$k/spool" -type f -size +1000k)" ] || pb_fail "$sc: a spool file over the limit was kept"
  elif [ "$PB_RC" == 0 ]; then
    # Exit 0 promises nothing was left behind: every message of the mailbox arrived.
    awk '$1 == "msg" { print $3 }' "$PB_FAKE_LOG" | sort > "$PB_WORK/$sc-mailbox.txt"
    pb_assert_subset "$sc: exit 0, so every message was delivered" "$PB_WORK/$sc-mailbox.txt" "$PB_WORK/$sc-delivered.txt"
  else
    pb_assert_grep "$sc: an error line naming the account" '<[0-3]>.*alice' "$PB_LOG"
  fi
  if [ -n "${SAYS[$sc]+set}" ]; then
    pb_assert_grep "$sc: the log says why" "${SAYS[$sc]}" "$PB_LOG"
  fi
  case "$sc" in
    normal) pb_assert_eq "normal: all three deleted" 3 "$(wc -l < "$PB_WORK/$sc-deleted.txt")" ;;
    empty) pb_assert_eq "empty: no RETR" 0 "$(pb_fake_commands RETR)" ;;
    in_use|auth_fail) pb_assert_eq "$sc: no RETR after a failed login" 0 "$(pb_fake_commands RETR)" ;;
    no_capa) pb_assert_ge "no_capa: UIDL tried although CAPA failed" 1 "$(pb_fake_commands UIDL)" ;;
    hostile_err) pb_assert_eq "hostile_err: no terminal control from the server in the log" 0 \
                   "$(LC_ALL=C grep -c $'[\x07\x1b\x9b]' "$PB_LOG" || true)" ;;
  esac
  pb_fake_pop3_stop
done

# run mode: a server that resets the connection mid-RETR on every poll does not bring the
# service down.
pb_fake_pop3_start reset_mid_retr
pb_config sink state_dir=state-run
pb_account alice host="$PB_IP" port="$PB_FAKE_PORT" tls=none allow_plaintext=true ca_file= timeout=3s poll_interval=1s
pb_start_postbridge
wait_for "the first poll to hit the reset" 30 grep -q 'reset_mid_retr on RETR 2' "$PB_FAKE_LOG"
wait_for "the connection to be closed" 30 grep -q '^conn 1 closed' "$PB_FAKE_LOG"
window_end=$(( $(date +%s) + 4 ))
while (( $(date +%s) < window_end )); do
  pb_proc_running "$PB_PID" || pb_assert_alive "run mode survives a reset mid-RETR"
  sleep 0.5   # an observation window, not synchronisation
done
pb_assert_alive "run mode survives a reset mid-RETR"
pb_fake_deleted_msgids > "$PB_WORK/run-deleted.txt"
pb_sink_msgids > "$PB_WORK/run-delivered.txt"
pb_assert_subset "run mode: DELE only for delivered messages" "$PB_WORK/run-deleted.txt" "$PB_WORK/run-delivered.txt"
kill -TERM "$PB_PID"
pb_wait_exit 10
pb_assert_rc "run mode: SIGTERM ends it cleanly" 0
