#!/usr/bin/env bash
# Root at the command line, with a state folder that belongs to the service's user (here nobody)
# who has planted symbolic links in it: `oauth -> /etc`, `spool -> /etc`, `postbridge.db -> a
# file of root's`. Every root-run command that touches the state folder (oauth login/logout,
# test, queue, run, backup) either refuses the link in plain words or works as the folder's
# owner; what a link points at keeps its owner, mode and content; no file in the state folder
# ends up belonging to root; `run` gives up root for good (ids, groups, capabilities); and the
# service, even when started straight as its own user, is not dumpable (no core dump, no
# reading its memory through /proc), like `oauth login`, which holds tokens.
. "$(dirname "$0")/../integration/lib.sh"
pb_init 80
pb_require_postbridge

pb_certs
pb_sink_start
pb_idp_start --interval 1
pb_dovecot_oauth_start
pb_fill alice 1 5

# --- the scene: a state folder of nobody's, and a stand-in for /etc ------------------------------
NOBODY=65534
# A command, not a function: `"${AS_NOBODY[@]}" CMD &` makes $! the process that becomes CMD.
AS_NOBODY=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups)
as_nobody() { "${AS_NOBODY[@]}" "$@"; }
# PB_SRV is reachable for unprivileged users (lib.sh moves it to /tmp otherwise), so nobody can
# reach its state folder there after postbridge gave up root.
STATE="$PB_SRV/pbstate"
mkdir -m 750 "$STATE"
chown "$NOBODY:$NOBODY" "$STATE"
ETC="$PB_SRV/etc-standin"   # what an attacker would aim at: root's, 0755, with files of its own
mkdir -m 755 "$ETC"
echo "root's file" > "$ETC/keep"
echo "not a token" > "$ETC/account.alice.json"   # logout must not remove it, test must not read it
echo "root's data" > "$ETC/victim.db"
etc_state() { stat -c '%U:%G %a %n' "$ETC" "$ETC"/* | sort; md5sum "$ETC"/* | sort; }
ETC_BEFORE="$(etc_state)"
assert_etc_untouched() {
  pb_assert_eq "$1: the link's target keeps owner, mode and content" "$ETC_BEFORE" "$(etc_state)"
}
assert_no_root_files() {
  local found
  found="$(find "$STATE" \( -user root -o -group root \) -printf '%u:%g %p\n')"
  [ -z "$found" ] || pb_fail "$1: files in the state folder belong to root:
$found"
  pb_log "ok: $1: nothing in the state folder belongs to root"
}

pb_config sink state_dir="$STATE"
pb_account alice auth=xoauth2 password_file= poll_interval=1h
cat >> "$PB_CFG" <<EOF

[account.oauth2]
provider = "custom"
client_id = "pb-test-client"
token_url = "$(pb_idp_url /token)"
device_authorization_url = "$(pb_idp_url /devicecode)"
scopes = "mail offline_access"

[relay]
listen = []

[web]
listen = ""
EOF
chmod 640 "$PB_CFG"

# oauth_login DESC: `oauth login account alice` as root, its device code approved if it gets that
# far; LOGIN_RC and LOGIN_OUT afterwards.
LOGINS=0
oauth_login() {
  LOGINS=$((LOGINS + 1))
  LOGIN_OUT="$PB_WORK/oauth-login-$LOGINS.log"
  timeout -k 5 120 "$POSTBRIDGE" oauth -c "$PB_CFG" login account alice > "$LOGIN_OUT" 2>&1 < /dev/null &
  local pid=$!
  wait_for "$1: the login to show its code or to end" 30 login_code_or_exit "$pid"
  if [ -n "$(login_code)" ] && pb_proc_running "$pid"; then
    pb_idp_control approve "user_code=$(login_code)&user=alice" > /dev/null
  fi
  wait_for "$1: the login to end" 60 pb__exited "$pid"
  LOGIN_RC=0
  wait "$pid" || LOGIN_RC=$?
  pb_log "$1: oauth login exited $LOGIN_RC ($(basename "$LOGIN_OUT"))"
}
login_code() { sed -n 's/.*enter the code \([A-Z0-9-]*\) and sign in as.*/\1/p' "$LOGIN_OUT"; }
login_code_or_exit() { [ -n "$(login_code)" ] || pb__exited "$1"; }

# --- 1. oauth -> /etc: login, logout and test refuse the link, before any sign-in ----------------
as_nobody ln -s "$ETC" "$STATE/oauth"
oauth_login "login through a linked token folder"
[ "$LOGIN_RC" -eq 1 ] || pb_fail "oauth login with oauth -> $ETC exited $LOGIN_RC, expected 1:
$(cat "$LOGIN_OUT")"
pb_assert_grep "login names the link and the fix" \
  "$STATE/oauth is a symbolic link \(to $ETC\).*remove the link \(rm $STATE/oauth\)" "$LOGIN_OUT"
pb_assert_no_grep "login refused before asking for a sign-in" "enter the code" "$LOGIN_OUT"
assert_etc_untouched "oauth login"
pb_postbridge oauth -c "$PB_CFG" logout account alice
pb_assert_rc "oauth logout through a linked token folder" 1
pb_assert_grep "logout names the link" "$STATE/oauth is a symbolic link" "$PB_LOG"
assert_etc_untouched "oauth logout"
pb_postbridge test -c "$PB_CFG" account alice
pb_assert_rc "test through a linked token folder" 1
pb_assert_grep "test names the link" "$STATE/oauth is a symbolic link" "$PB_LOG"
assert_etc_untouched "test"
assert_no_root_files "after the refused OAuth commands"
rm "$STATE/oauth"

# --- 2. no links: root's commands work, as nobody ---------------------------------------------
# Access tokens live 200 s, under postbridge's 5-minute margin: `test` refreshes the stored one
# and saves the new one, as a service would.
pb_idp_control expires-in "seconds=200" > /dev/null
oauth_login "login as root"
[ "$LOGIN_RC" -eq 0 ] || pb_fail "oauth login as root exited $LOGIN_RC:
$(cat "$LOGIN_OUT")"
pb_assert_grep "signed in" "^Signed in. The tokens are stored in $STATE/oauth/" "$LOGIN_OUT"
pb_assert_eq "the token folder's owner and mode" "nobody 700" "$(stat -c '%U %a' "$STATE/oauth")"
pb_assert_eq "the token file's owner and mode" "nobody 600" "$(stat -c '%U %a' "$STATE/oauth/account.alice.json")"
# The doctor renews the token that is about to expire and stores the new one: as nobody.
refresh_before="$(pb_idp_stat refresh_ok)"
pb_postbridge test -c "$PB_CFG" account alice
pb_assert_rc "test as root with a stored login" 0
(( $(pb_idp_stat refresh_ok) > refresh_before )) || pb_fail "test did not refresh the expired token"
pb_postbridge queue -c "$PB_CFG"
pb_assert_rc "queue as root" 0
assert_no_root_files "after login, test (a token refreshed) and queue as root"

# --- 3. spool -> /etc and postbridge.db -> a file of root's: refused ---------------------------
mv "$STATE/spool" "$STATE/spool.real"
as_nobody ln -s "$ETC" "$STATE/spool"
pb_postbridge queue -c "$PB_CFG"
pb_assert_rc "queue with spool -> $ETC" 1
pb_assert_grep "queue names the linked spool" "$STATE/spool is a symbolic link \(to $ETC\)" "$PB_LOG"
pb_postbridge run -c "$PB_CFG" --once
pb_assert_rc "run --once with spool -> $ETC" 1
pb_assert_grep "run names the linked spool" "$STATE/spool is a symbolic link" "$PB_LOG"
assert_etc_untouched "spool link"
rm "$STATE/spool"
mv "$STATE/spool.real" "$STATE/spool"

mv "$STATE/postbridge.db" "$STATE/postbridge.db.real"
as_nobody ln -s "$ETC/victim.db" "$STATE/postbridge.db"
pb_postbridge queue -c "$PB_CFG"
pb_assert_rc "queue with postbridge.db -> $ETC/victim.db" 1
pb_assert_grep "queue names the linked database" "$STATE/postbridge.db is a symbolic link \(to $ETC/victim.db\)" "$PB_LOG"
assert_etc_untouched "database link"
rm "$STATE/postbridge.db"
mv "$STATE/postbridge.db.real" "$STATE/postbridge.db"
assert_no_root_files "after the refused spool and database links"

# --- 4. backup: written as nobody, who needs a place of its own; a link as DEST is refused -----
pb_postbridge backup -c "$PB_CFG" "$PB_SRV/backup-in-roots-folder"
pb_assert_rc "backup into a folder only root may write" 1
pb_assert_grep "backup says who writes it and how to make room" \
  "cannot create the backup folder $PB_SRV/backup-in-roots-folder: Permission denied; the backup is written as nobody.*install -d -o nobody" "$PB_LOG"
[ ! -e "$PB_SRV/backup-in-roots-folder" ] || pb_fail "the refused backup left $PB_SRV/backup-in-roots-folder"
install -d -o nobody -m 700 "$PB_SRV/backups"
as_nobody ln -s "$ETC" "$PB_SRV/backups/linked"
pb_postbridge backup -c "$PB_CFG" "$PB_SRV/backups/linked"
pb_assert_rc "backup into a link" 1
pb_assert_grep "backup names the linked DEST" "$PB_SRV/backups/linked is a symbolic link" "$PB_LOG"
assert_etc_untouched "backup into a link"
pb_postbridge backup -c "$PB_CFG" "$PB_SRV/backups/b1"
pb_assert_rc "backup as root into nobody's folder" 0
pb_assert_eq "the backup's owner and mode" "nobody 700" "$(stat -c '%U %a' "$PB_SRV/backups/b1")"
found="$(find "$PB_SRV/backups/b1" ! -user nobody)"
[ -z "$found" ] || pb_fail "files of the backup do not belong to nobody: $found"
assert_no_root_files "after the backups"

# --- 5. run as root: nobody for good, keeping only the right to bind port 25 -------------------
pb__register postbridge "$PB_WORK/run-root.pid"
"$POSTBRIDGE" run -c "$PB_CFG" > "$PB_WORK/run-root.log" 2>&1 < /dev/null &
RUN_PID=$!
echo "$RUN_PID" > "$PB_WORK/run-root.pid"
wait_for "run as root to give up root" 30 pb_log_has "running as nobody \(uid $NOBODY, gid $NOBODY\), not as root: the owner of the state folder $STATE" "$PB_WORK/run-root.log"
wait_for "alice's message fetched by the root-started service" 60 pb_mailbox_has alice 0
status="$(grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapInh|NoNewPrivs):' "/proc/$RUN_PID/status" | tr -s '\t ' ' ')"
pb_log "the service's ids: $(tr '\n' '|' <<< "$status")"
pb_assert_eq "real, effective, saved and file-system uid" "Uid: $NOBODY $NOBODY $NOBODY $NOBODY" "$(grep '^Uid' <<< "$status")"
pb_assert_eq "real, effective, saved and file-system gid" "Gid: $NOBODY $NOBODY $NOBODY $NOBODY" "$(grep '^Gid' <<< "$status")"
pb_assert_eq "no supplementary groups" "Groups:" "$(grep '^Groups' <<< "$status" | sed 's/ *$//')"
pb_assert_eq "permitted: only CAP_NET_BIND_SERVICE (bit 10)" "CapPrm: 0000000000000400" "$(grep '^CapPrm' <<< "$status")"
pb_assert_eq "effective: only CAP_NET_BIND_SERVICE" "CapEff: 0000000000000400" "$(grep '^CapEff' <<< "$status")"
pb_assert_eq "no new privileges through exec" "NoNewPrivs: 1" "$(grep '^NoNewPrivs' <<< "$status")"
pb_stop_pidfile "$PB_WORK/run-root.pid" postbridge
assert_no_root_files "after the service ran (database, journal, spool)"

# --- 6. not dumpable, also when started straight as its own user (as systemd's User= does) ------
# proc(5): the files in /proc/PID belong to the process's user unless it is not dumpable; then
# they belong to root (read from /proc/PID/status: the folder itself may keep its first owner). Started as nobody (no set-user-ID change that would clear dumpable by
# itself), only postbridge's own prctl can make the owner root. A sleep of nobody's shows the
# indicator is read right.
CFG_NOBODY="$PB_SRV/nobody.toml"
install -o nobody -m 600 "$PB_CFG" "$CFG_NOBODY"
# The binary as nobody can read it (one it could not read would be made non-dumpable by exec).
BIN="$POSTBRIDGE"
if ! as_nobody test -r "$BIN" -a -x "$BIN"; then
  BIN="$PB_SRV/postbridge"
  install -m 755 "$POSTBRIDGE" "$BIN"
  pb_at_exit "rm -f '$BIN'"
fi
proc_owner() { stat -c %U "/proc/$1/status"; }
# runs_as PID COMM: PID has exec'd COMM (setpriv has switched to nobody and exec'd).
runs_as() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }
"${AS_NOBODY[@]}" sleep 120 < /dev/null > /dev/null 2>&1 &
SLEEP_PID=$!
echo "$SLEEP_PID" > "$PB_WORK/sleep.pid"
pb__register sleep "$PB_WORK/sleep.pid"
wait_for "sleep to run as nobody" 10 runs_as "$SLEEP_PID" sleep
pb_assert_eq "a dumpable process of nobody's: /proc/PID/status belongs to it" nobody "$(proc_owner "$SLEEP_PID")"
pb_stop_pidfile "$PB_WORK/sleep.pid" sleep
pb__register postbridge "$PB_WORK/run-nobody.pid"
"${AS_NOBODY[@]}" "$BIN" run -c "$CFG_NOBODY" > "$PB_WORK/run-nobody.log" 2>&1 < /dev/null &
RUN_PID=$!
echo "$RUN_PID" > "$PB_WORK/run-nobody.pid"
wait_for "the service started as nobody" 30 pb_log_has "state in $STATE" "$PB_WORK/run-nobody.log"
runs_as "$RUN_PID" postbridge || pb_fail "pid $RUN_PID is not postbridge itself"
pb_assert_eq "the service (as nobody) is not dumpable: /proc/PID/status belongs to root" root "$(proc_owner "$RUN_PID")"
memory_readable() { as_nobody cat "/proc/$1/environ" > /dev/null 2>&1; }
! memory_readable "$RUN_PID" || pb_fail "nobody can read the service's environment through /proc"
pb_log "ok: the service's /proc/PID/environ is closed to its own user"
pb_stop_pidfile "$PB_WORK/run-nobody.pid" postbridge
# oauth login holds tokens too (here it waits for a code nobody enters; the IdP then denies it).
LOGIN_OUT="$PB_WORK/oauth-login-nobody.log"
"${AS_NOBODY[@]}" "$BIN" oauth -c "$CFG_NOBODY" login account alice > "$LOGIN_OUT" 2>&1 < /dev/null &
LOGIN_PID=$!
has_code() { [ -n "$(login_code)" ]; }
wait_for "the login (as nobody) to show its code" 30 has_code
runs_as "$LOGIN_PID" postbridge || pb_fail "pid $LOGIN_PID is not postbridge itself"
pb_assert_eq "oauth login (as nobody) is not dumpable" root "$(proc_owner "$LOGIN_PID")"
pb_idp_control deny "user_code=$(login_code)" > /dev/null
wait_for "the denied login to end" 30 pb__exited "$LOGIN_PID"
wait "$LOGIN_PID" || true
assert_no_root_files "at the end"
pb_log "PASS"
