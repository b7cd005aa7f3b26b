#!/usr/bin/env bash
# A full disk: postbridge's state folder is a 48 MB tmpfs that the test fills up. The listener
# answers 452 4.3.1 — at MAIL once the free space is below min_free_space, and after the data
# when the disk fills in the middle of a message — and keeps nothing half-written; fetching
# pauses without logging in, so nothing is fetched or deleted at the provider; the status page
# says why. When space returns, both resume by themselves: every message arrives, none twice.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_outbound.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 74
pb_require_postbridge

WEB_PORT=28025
state="$PB_WORK/state"
mkdir -p "$state"
mount -t tmpfs -o size=48m,mode=0700 pb-disk-full "$state" || pb_fail "cannot mount a tmpfs on $state"
pb_at_exit "umount -l '$state'"
pb_certs
pb_pop3_start
pb_sink_start
pb_config sink min_free_space=4MB
pb_account alice poll_interval=10m
pbo_relay
pbo_smarthost a port="$PB_SINK_PORT" tls=none auth=none username= password_file= allow_plaintext=true
printf '\n[web]\nlisten = "%s:%d"\n' "$PB_IP" "$WEB_PORT" >> "$PB_CFG"
free_kb() { df -k --output=avail "$state" | tail -n 1 | tr -d ' '; }
# fill_to KB: a filler file leaves about KB kilobytes free.
fill_to() {
  local grow=$(( $(free_kb) - $1 ))
  (( grow > 0 )) || return 0
  fallocate -l "$(( grow + $(stat -c %s "$state/filler" 2>/dev/null || echo 0) / 1024 ))k" "$state/filler" \
    || dd if=/dev/zero of="$state/filler" bs=1k count="$grow" oflag=append conv=notrunc status=none
}
api_status() { curl -fsS "http://$PB_IP:$WEB_PORT/api/status"; }

# 1. Space: mail flows both ways.
pb_fill alice 20 20 before
pbo_start_postbridge
PBF_RETRY_4XX=1 pbf_send_retrying "$PB_WORK/out-before" 10 "$PB_RELAY_PORT" sender@a.test rcpt@example.net before
wait_for "the first 20 fetched and deleted" 60 pb_mailbox_has alice 0
wait_for "the first 30 at the sink" 60 pb_sink_has_at_least 30

# 2. The disk fills in the middle of a message: 6 MB free passes the check at MAIL (the client
#    sends no SIZE=), then the 10 MB message runs out of space half-way.
fill_to 6144
pb_log "free: $(free_kb) KB; a 10 MB message (without SIZE=) fills the disk in the middle of DATA"
PBF_BODY_KB=10240 PBF_GIVE_UP=3 PBF_RETRY_4XX=1 pbf_send_retrying "$PB_WORK/out-big" 1 "$PB_RELAY_PORT" \
  sender@a.test rcpt@example.net big > "$PB_WORK/out-big.log" 2>&1 || true
pb_assert_grep "the message that did not fit got 452 4.3.1" '452 .*4\.3\.1' "$PB_WORK/out-big/deferred.txt"
pb_assert_eq "the big message was not accepted" 0 "$(cat "$PB_WORK/out-big/acked.txt" 2>/dev/null | wc -l)"
pb_assert_eq "no half-written spool file left" "" "$(find "$state/spool" -type f -size +1M)"
pb_assert_alive "postbridge runs on after a write failed for lack of space"

# 3. Below the reserve: refused at MAIL, fetching paused without a login.
fill_to 1024
pb_log "free: $(free_kb) KB, below min_free_space (4 MB)"
pb_fill alice 30 20 during
logins_before="$(pb_pop3_sessions alice)"
PBF_RETRY_4XX=1 PBF_GIVE_UP=600 pbf_send_retrying "$PB_WORK/out-during" 5 "$PB_RELAY_PORT" sender@a.test rcpt@example.net during \
  > "$PB_WORK/out-during.log" 2>&1 &
client_pid=$!
curl -fsS -X POST -H 'X-Postbridge: 1' -H "Origin: http://$PB_IP:$WEB_PORT" "http://$PB_IP:$WEB_PORT/api/accounts/alice/poll" >/dev/null
wait_for "the account to report the full disk" 30 pb_log_has 'account alice: .*free'
wait_for "the client to be told 452 4.3.1" 30 grep -q '452 .*4\.3\.1' "$PB_WORK/out-during/deferred.txt"
pb_assert_eq "no login at the provider while the disk is full" "$logins_before" "$(pb_pop3_sessions alice)"
pb_assert_eq "nothing fetched or deleted at the provider" 30 "$(pb_mailbox_count alice)"
api_status > "$PB_WORK/status-full.json"
pb_assert_eq "the status page names the full disk" "false: the state folder" \
  "$("$PB_PY" -c 'import json, sys; s = json.load(sys.stdin)["storage"]; print(str(s["ok"]).lower() + ": " + s["problem"][:16])' \
     < "$PB_WORK/status-full.json")"
pb_assert_alive "postbridge runs on with a full disk"

# 4. Space returns: both resume by themselves.
rm -f "$state/filler"
pb_log "free: $(free_kb) KB again"
wait_for "the client's messages accepted once space returned" 120 pb__exited "$client_pid"
wait "$client_pid" || pb_fail "the client gave up: $(tail -n 3 "$PB_WORK/out-during.log")"
wait_for "fetching resumed by itself: the provider mailbox empty" 120 pb_mailbox_has alice 0
PBF_RETRY_4XX=1 pbf_send_retrying "$PB_WORK/out-after" 1 "$PB_RELAY_PORT" sender@a.test rcpt@example.net big-again
wait_for "everything at the sink" 60 pb_sink_has_at_least 66
wait_for "the sink to settle" 10 pb_sink_settled
# postbridge's own notices (an alert about the full disk, when it lasted past its grace) are not
# the mail flow counted here.
pb_sink_msgids | grep -v '^<notice\.' > "$PB_WORK/received.txt" || true
pb_assert_eq "messages at the sink (20 + 30 fetched, 10 + 5 + 1 relayed)" 66 "$(wc -l < "$PB_WORK/received.txt")"
pb_assert_eq "duplicates" "" "$(pb_sink_duplicates)"
pb_assert_eq "still queued" 0 "$(pb_queue_count queued)"
pb_assert_alive "postbridge still runs"
