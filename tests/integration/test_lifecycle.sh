#!/usr/bin/env bash
# The service's life under systemd, without systemd: a stand-in NOTIFY_SOCKET receives what
# `Type=notify` relies on (READY=1 once listening, RELOADING=1/READY=1 around SIGHUP, STOPPING=1,
# STATUS= lines that say what is queued and what is wrong). Around it: `postbridge backup` while
# the service runs with mail in the queue (a consistent copy that a postbridge can read again),
# a reload with a broken file (the old configuration keeps running, and says so), and a database
# from a newer postbridge (refused in plain words, nothing changed).
. "$(dirname "$0")/lib.sh"
pb_init 46
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pb_fill alice 20 5

# --- a stand-in for systemd's notify socket -------------------------------------------------------
NOTIFY_SOCK="$PB_WORK/notify.sock"
NOTIFY_LOG="$PB_WORK/notify.log"
: > "$NOTIFY_LOG"
"$PB_PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").replace("\n", "|") + "\n")
' "$NOTIFY_SOCK" "$NOTIFY_LOG" < /dev/null > /dev/null 2>&1 &
echo $! > "$PB_WORK/notify.pid"
pb__register notify-listener "$PB_WORK/notify.pid"
wait_for "the notify socket" 10 test -S "$NOTIFY_SOCK"

notified() { grep -qE -- "$1" "$NOTIFY_LOG"; }
# notified_after N ERE: a message after the first N lines matches ERE.
notified_after() { tail -n "+$(( $1 + 1 ))" "$NOTIFY_LOG" | grep -qE -- "$2"; }
lines() { wc -l < "$NOTIFY_LOG"; }

# The office server is down (nothing on port 9): fetched mail waits in the queue.
pb_config sink
sed -i "s/^port = $PB_SINK_PORT\$/port = 9/" "$PB_CFG"
pb_account alice poll_interval=1h
printf '\n[web]\nlisten = "%s:28046"\n' "$PB_IP" >> "$PB_CFG"
cp "$PB_CFG" "$PB_WORK/office-down.toml"

NOTIFY_SOCKET="$NOTIFY_SOCK" pb_start_postbridge
wait_for "READY=1" 30 notified '^READY=1\|STATUS=1 mailbox\(es\)'
pb_assert_grep "READY comes once the status page listens" 'status page: http' "$PB_LOG"
# (They stay at the provider too: no DELE before the office server has them.)
wait_for "STATUS to count the 20 queued messages" 60 notified 'STATUS=1 mailbox\(es\), 20 fetched today, 20 queued'
pb_assert_grep "STATUS says what is wrong" 'STATUS=.*20 queued — local: paused' "$NOTIFY_LOG"
pb_assert_eq "nothing reached the office" 0 "$(pb_sink_count)"

# --- backup while the service runs ----------------------------------------------------------------
pb_postbridge backup -c "$PB_CFG" "$PB_WORK/backup"
pb_assert_rc "postbridge backup while running" 0
pb_assert_grep "it says what it copied" 'database, 20 spool file\(s\) of undelivered mail and 1 key file' "$PB_LOG"
pb_assert_eq "the backup folder is private" 700 "$(stat -c %a "$PB_WORK/backup")"
pb_assert_eq "one spool file per queued message" 20 "$(find "$PB_WORK/backup/spool" -type f | wc -l)"
pb_assert_eq "the loop key is in the backup, private" 600 "$(stat -c %a "$PB_WORK/backup/loop.key")"
cmp -s "$PB_WORK/backup/loop.key" "$PB_WORK/state/loop.key" || pb_fail "the backup's loop key differs from the service's"
pb_assert_eq "the copied database is sound" ok "$(sqlite3 "$PB_WORK/backup/postbridge.db" 'PRAGMA integrity_check')"
pb_assert_eq "it names exactly those files" \
  "$(sqlite3 "$PB_WORK/backup/postbridge.db" "SELECT spool_name FROM messages WHERE state <> 'delivered' ORDER BY 1")" \
  "$(cd "$PB_WORK/backup/spool" && ls | sort)"
for f in "$PB_WORK"/backup/spool/*; do
  cmp -s "$f" "$PB_WORK/state/spool/$(basename "$f")" || pb_fail "backup spool file $(basename "$f") differs from the original"
done
pb_log "ok: every backed-up spool file equals its original"
pb_postbridge backup -c "$PB_CFG" "$PB_WORK/backup"
pb_assert_rc "a second backup into the same folder is refused" 1
pb_assert_grep "in plain words" 'exists and is not an empty folder' "$PB_LOG"

# A postbridge pointed at the copy sees the same queue.
sed "s#^state_dir = .*#state_dir = \"$PB_WORK/restored\"#" "$PB_CFG" > "$PB_WORK/restored.toml"
cp -a "$PB_WORK/backup" "$PB_WORK/restored"
pb_postbridge queue -c "$PB_WORK/restored.toml"
pb_assert_rc "postbridge queue on the restored copy" 0
pb_assert_grep "the restored queue has the 20 messages" '^20 queued, 0 failed, 0 held' "$PB_LOG"

# --- a reload with a broken file: RELOADING, then READY with the reason; the old config runs ------
n="$(lines)"
printf '\n[[account]]\nname = "broken"\nport = "not a number"\n' >> "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "READY after the failed reload" 30 notified_after "$n" '^READY=1\|STATUS=configuration reload failed'
notified_after "$n" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|' || pb_fail "no RELOADING=1 before the READY"
pb_assert_grep "the STATUS names file and line" 'STATUS=configuration reload failed.*postbridge\.toml:[0-9]+:[0-9]+' "$NOTIFY_LOG"
pb_assert_alive "postbridge keeps running after the failed reload"
curl -s --max-time 10 "http://$PB_IP:28046/api/status" > "$PB_WORK/status.json"
pb_assert_eq "the status page reports the failed reload" "True" \
  "$("$PB_PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; print(c["reload_failed_at"] > 0 and any("port" in p for p in c["reload_problems"]))' "$PB_WORK/status.json")"

# --- a good reload brings the office server back: the queue drains --------------------------------
sed "s/^port = 9\$/port = $PB_SINK_PORT/" "$PB_WORK/office-down.toml" > "$PB_CFG"
n="$(lines)"
kill -HUP "$PB_PID"
wait_for "READY after the good reload" 30 notified_after "$n" '^RELOADING=1'
wait_for "READY after the good reload" 30 notified_after "$n" '^READY=1\|STATUS=1 mailbox'
wait_for "the queue to reach the office" 120 pb_sink_has_at_least 20
wait_for "STATUS to show the empty queue" 60 notified 'STATUS=1 mailbox\(es\), 20 fetched today, 0 queued$'
curl -s --max-time 10 "http://$PB_IP:28046/api/status" > "$PB_WORK/status.json"
pb_assert_eq "the failed reload is no longer reported" "0 0" \
  "$("$PB_PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; print(c["reload_failed_at"], len(c["reload_problems"]))' "$PB_WORK/status.json")"

# --- SIGTERM: STOPPING=1, out within 10 s ------------------------------------------------------------
t0=$(date +%s%N)
kill -TERM "$PB_PID"
pb_wait_exit 15
pb_assert_le "milliseconds from SIGTERM to exit" 10000 $(( ($(date +%s%N) - t0) / 1000000 ))
pb_assert_rc "exit status after SIGTERM" 0
pb_assert_grep "STOPPING=1 was sent" '^STOPPING=1' "$NOTIFY_LOG"

# --- a database from a newer postbridge: refused, untouched ---------------------------------------
sqlite3 "$PB_WORK/state/postbridge.db" 'PRAGMA user_version = 99'
sum_before="$(sha256sum < "$PB_WORK/state/postbridge.db")"
pb_run_once
pb_assert_rc "run on a newer schema" 1
pb_assert_grep "the reason in plain words" 'schema version 99 but this postbridge knows only up to [0-9]+; use the newer postbridge or restore a backup' "$PB_LOG"
pb_assert_eq "the database is unchanged" "$sum_before" "$(sha256sum < "$PB_WORK/state/postbridge.db")"
pb_assert_eq "no message was lost or doubled" "" "$(pb_sink_duplicates)"
