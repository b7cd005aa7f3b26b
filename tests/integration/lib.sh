# tests/integration/lib.sh — the integration-test harness (sourced by every test_*.sh).
# Promises: private servers bound to the test's own 127.0.N.1 only, stopped by pid file on any exit.
#
# A test does:
#   . "$(dirname "$0")/lib.sh"
#   pb_init 31                 # N=31: address 127.0.31.1, unique per script (hard-coded)
#   pb_certs; pb_pop3_start; pb_sink_start; pb_fill alice 20 20
#   pb_config sink; pb_account alice
#   pb_run_once; pb_assert_rc "one pass" 0
#
# Layout of a test's work dir ${PB_TEST_OUT:-/tmp/pb-test-out}/<test>/ (wiped at start, kept after):
#   postbridge.toml state/ secrets/    the product's config, state and password files
#   postbridge-*.log                   one log per postbridge process the test ran
#   srv/ (or a symlink to /tmp/pb-srv-*) certs, users, Maildirs, Dovecot/sink/fake-server logs
# Servers: Dovecot POP3 (plain+STLS :21110, implicit TLS :21995) and IMAP on the same mailboxes
# (plain+STARTTLS :21143, implicit TLS :21993), Dovecot LMTP :22024 (the office server), Postfix
# smtp-sink :22025, fake_pop3.py :21100, fake_smtp.py :21125 — all on 127.0.N.1 only.
# Nothing here synchronises with fixed sleeps: wait_for polls a condition until a deadline.

PB_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PB_PY=/usr/bin/python3          # Debian's python (stdlib only); never a pyenv shim
PB_POP3_PORT=21110
PB_POP3S_PORT=21995
PB_IMAP_PORT=21143              # the same Dovecot as POP3 also speaks IMAP (STARTTLS) ...
PB_IMAPS_PORT=21993             # ... and IMAP over implicit TLS
PB_LMTP_PORT=22024
PB_SINK_PORT=22025
PB_FAKE_PORT=21100
PB_FAKE_SMTP_PORT=21125
PB_MAIL_UID=8                   # Dovecot refuses to run mail processes as root: uid/gid 8 "mail"
PB_MAIL_GID=8
PB_PASSWORD=Pb-Secret-4711      # every test user's password: distinctive, so tests/scan_secrets.py can find leaks
PB_USERS="alice bob carol dave eve frank user01 user02 user03 user04 user05"
PB_REQUIRED_TOOLS="/usr/sbin/dovecot /usr/lib/dovecot/imap /usr/sbin/smtp-sink /usr/bin/openssl $PB_PY /usr/bin/timeout
  /usr/bin/setpriv /usr/bin/ps /usr/bin/find /usr/bin/awk"

# ---------------------------------------------------------------------------------------------
# Messages and failure

pb_log() { printf '[%s %s] %s\n' "${PB_NAME:-pb}" "$(date +%H:%M:%S)" "$*" >&2; }

# pb_fail MESSAGE...: the test failed. The EXIT trap prints the logs and stops the servers.
# The message is said again as the test's last line, after the logs, and kept in
# PB_WORK/FAILED.txt, so CI's summary (tests/run.sh) can name it.
pb_fail() {
  PB_FAILURE="$*"
  printf '\n[%s] FAIL: %s\n' "${PB_NAME:-pb}" "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Set-up and teardown

# pb_init N: address 127.0.N.1, fresh work dir, cleanup trap, required tools present.
pb_init() {
  set -euo pipefail
  local n="${1:?pb_init needs the test number N (1..254)}"
  [[ "$n" =~ ^[0-9]+$ ]] && (( n >= 1 && n <= 254 )) || pb_fail "pb_init: N must be 1..254, got '$n'"
  PB_N="$n"
  # PB_NET moves every address to PB_NET.N.1 (e.g. 127.1), so two checkouts can run the same
  # test side by side; CI leaves it unset.
  [[ "${PB_NET:-127.0}" =~ ^127\.[0-9]{1,3}$ ]] || pb_fail "PB_NET must look like 127.M, got '${PB_NET:-}'"
  PB_IP="${PB_NET:-127.0}.$n.1"
  PB_NAME="$(basename "$0" .sh)"
  PB_WORK="${PB_TEST_OUT:-/tmp/pb-test-out}/$PB_NAME"
  PB_CFG="$PB_WORK/postbridge.toml"
  PB_SEED="${PB_SEED:-$n}"
  PB_DAEMONS=()          # "name|pidfile" entries, stopped in reverse order on exit
  PB_AT_EXIT=()          # commands run after the daemons stopped (pb_at_exit)
  PB_RUNS=0
  PB_SRV_TMP=""
  set -E
  trap pb__on_exit EXIT
  trap 'pb_fail "interrupted"' INT TERM HUP
  # A command failing under `set -e` names itself and its line instead of ending the test silently.
  trap 'PB_FAILURE="$(printf "command failed (rc=%s) at %s:%s: %s" "$?" "${BASH_SOURCE[0]##*/}" \
        "$LINENO" "$BASH_COMMAND")"; printf "\n[%s] error: %s\n" "$PB_NAME" "$PB_FAILURE" >&2' ERR

  [ "$(id -u)" -eq 0 ] || pb_fail "the integration tests run as root (they start private Dovecot instances)"
  local t
  for t in $PB_REQUIRED_TOOLS; do
    [ -x "$t" ] || pb_fail "required tool $t is missing: run 'sudo tests/run.sh' (or packaging/install-deps.sh)"
  done
  getent passwd dovecot dovenull >/dev/null || pb_fail "users dovecot/dovenull missing: is dovecot-core installed?"

  pb__stop_leftovers
  rm -rf "$PB_WORK"
  mkdir -p "$PB_WORK"
  pb__watchdog
  # Dovecot's unprivileged processes (uid 8, dovenull, dovecot) and smtp-sink (nobody) must reach
  # their files: if a parent of the work dir is closed to others (a clone under /root), the
  # server files go to /tmp and a symlink keeps them in reach of the test. The same when the
  # work dir is so deep that Dovecot's UNIX sockets (srv/NAME/run/token-login/tokenlogin) would
  # pass the 107-byte limit of a socket path.
  if [ "${#PB_WORK}" -le 40 ] && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$PB_WORK" 2>/dev/null; then
    PB_SRV="$PB_WORK/srv"
    mkdir -p "$PB_SRV"
  else
    PB_SRV_TMP="$(mktemp -d "/tmp/pb-srv-$PB_NAME.XXXXXX")"
    PB_SRV="$PB_SRV_TMP"
    ln -s "$PB_SRV" "$PB_WORK/srv"
  fi
  chmod 755 "$PB_WORK" "$PB_SRV"
  PB_CERTS="$PB_SRV/certs"
  PB_CA="$PB_CERTS/ca.crt"
  pb_log "work dir $PB_WORK, address $PB_IP"
}

pb__register() { PB_DAEMONS+=("$1|$2"); }

# pb_at_exit COMMAND: run COMMAND (a string, eval'd) when the test ends, after every daemon
# stopped — e.g. unmounting a file system the test mounted.
pb_at_exit() { PB_AT_EXIT+=("$1"); }

# pb__stop_leftovers: a previous run of this test that was killed (SIGKILL by a CI timeout) could
# not clean up; stop what its pid files name — only if the process is one of ours (its command
# line names this test's address or directories).
pb__stop_leftovers() {
  local f p cmd
  [ -d "$PB_WORK" ] || return 0
  while IFS= read -r f; do
    p="$(tr -dc '0-9' < "$f" 2>/dev/null)"
    [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] || continue
    cmd="$(tr '\0' ' ' < "/proc/$p/cmdline")"
    if [[ "$cmd" == *"$PB_IP"* || "$cmd" == *"$PB_WORK"* || "$cmd" == *"/pb-srv-$PB_NAME."* ]]; then
      pb_log "stopping a leftover process from an earlier run: pid $p ($cmd)"
      pb_stop_pidfile "$f" leftover
    fi
  done < <(find -L "$PB_WORK" -name '*.pid' -type f 2>/dev/null)
  # File systems a killed run left mounted below the work dir (tests/faults: a small tmpfs).
  findmnt -rn -o TARGET 2>/dev/null | { grep "^$PB_WORK/" || true; } | sort -r | xargs -r -n 1 umount -l
  find "$PB_WORK" -maxdepth 1 -name srv -type l -exec readlink {} \; 2>/dev/null \
    | { grep "^/tmp/pb-srv-$PB_NAME\." || true; } | xargs -r rm -rf
}

# pb__watchdog: end the test (with cleanup) before ctest's own timeout would SIGKILL it and
# orphan its servers. PB_DEADLINE seconds, default 780 (ctest allows 900).
pb__watchdog() {
  local shell_pid=$$ limit="${PB_DEADLINE:-780}"
  ( trap - EXIT INT TERM HUP
    end=$(( SECONDS + limit ))
    while (( SECONDS < end )); do
      kill -0 "$shell_pid" 2>/dev/null || exit 0
      sleep 1
    done
    echo "[watchdog] $PB_NAME exceeded ${limit}s: stopping it" >&2
    kill -TERM "$shell_pid" 2>/dev/null ) < /dev/null &
  PB_WATCHDOG_PID=$!
}

# pb_pid_alive PIDFILE: the process named in the file runs (and is not a zombie).
pb_pid_alive() {
  local f="$1" p
  [ -s "$f" ] || return 1
  p="$(tr -dc '0-9' < "$f")"
  [ -n "$p" ] && pb_proc_running "$p"
}

# pb_proc_running PID: alive and not a zombie (an exited child we have not waited for).
pb_proc_running() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')" || return 1
  [ -n "$st" ] && [[ "$st" != Z* ]]
}

# pb_stop_pidfile PIDFILE NAME: SIGTERM the pid in the file, wait up to 10 s, then SIGKILL.
# Never by process name: other tests and the user's own daemons are not ours to stop.
pb_stop_pidfile() {
  local f="$1" name="$2" p i
  [ -s "$f" ] || return 0
  p="$(tr -dc '0-9' < "$f")"
  if [ -n "$p" ] && pb_proc_running "$p"; then
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 100); do pb_proc_running "$p" || break; sleep 0.1; done
    if pb_proc_running "$p"; then
      pb_log "$name (pid $p) ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "$p" 2>/dev/null || true
    fi
  fi
  # Reap it if it is our child, so that it does not linger as a zombie.
  wait "$p" 2>/dev/null || true
  rm -f "$f"
}

# pb_stop_all: stop every server and postbridge process this test started, newest first.
pb_stop_all() {
  local i entry
  for (( i=${#PB_DAEMONS[@]}-1; i>=0; i-- )); do
    entry="${PB_DAEMONS[$i]}"
    pb_stop_pidfile "${entry#*|}" "${entry%%|*}"
  done
  PB_DAEMONS=()
}

pb__on_exit() {
  local rc=$? f
  set +e
  trap - EXIT INT TERM HUP ERR
  [ -n "${PB_WATCHDOG_PID:-}" ] && kill "$PB_WATCHDOG_PID" 2>/dev/null
  pb_stop_all
  for f in "${PB_AT_EXIT[@]}"; do eval "$f" || true; done
  # Sanitizer reports in any postbridge log fail the test even if its assertions passed.
  for f in "$PB_WORK"/postbridge-*.log; do
    [ -f "$f" ] || continue
    if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f"; then
      printf '[%s] FAIL: sanitizer report in %s\n' "$PB_NAME" "$f" >&2
      [ "$rc" -ne 0 ] || rc=1
    fi
  done
  if [ "$rc" -ne 0 ]; then
    printf '\n[%s] ===== FAILED (rc=%s); logs under %s =====\n' "$PB_NAME" "$rc" "$PB_WORK" >&2
    while IFS= read -r f; do
      printf '\n----- tail of %s -----\n' "$f" >&2
      tail -n 40 "$f" >&2
    done < <(find -L "$PB_WORK" -name Maildir -prune -o -name '*.log' -type f -size +0 -print 2>/dev/null | sort)
    if [ -f "$PB_CFG" ]; then
      printf '\n----- %s -----\n' "$PB_CFG" >&2
      cat "$PB_CFG" >&2
    fi
    printf '%s\n' "${PB_FAILURE:-exit code $rc}" > "$PB_WORK/FAILED.txt" 2>/dev/null
    printf '\n[%s] FAIL (said again after the logs): %s\n' "$PB_NAME" "${PB_FAILURE:-exit code $rc}" >&2
  else
    # Passed: drop the bulky mailboxes and stored mail, keep every log and the state.
    rm -rf "${PB_SRV:?}/mail" "${PB_SRV:?}/office" "${PB_SRV:?}/sink/msgs"
    printf '[%s] PASS\n' "$PB_NAME" >&2
  fi
  # Server files in /tmp: keep the logs beside the test's own, drop the Maildirs.
  if [ -n "$PB_SRV_TMP" ] && [ -d "$PB_SRV_TMP" ]; then
    rm -f "$PB_WORK/srv"
    mkdir -p "$PB_WORK/srv"
    (cd "$PB_SRV_TMP" && find . -name Maildir -prune -o -name '*.log' -type f -exec cp --parents {} "$PB_WORK/srv/" \;)
    rm -rf "$PB_SRV_TMP"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# Polling and assertions

# wait_for "description" TIMEOUT_S COMMAND...: poll COMMAND (every PB_POLL s, default 0.2) until
# it succeeds; fail the test with the description if it has not within TIMEOUT_S seconds.
# COMMAND is run again each time, but its arguments are expanded once: pass a function
# (pb_sink_has_at_least 20), never `test "$(pb_sink_count)" -ge 20`.
wait_for() {
  local desc="$1" timeout="$2"; shift 2
  local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    (( $(date +%s%N) < deadline )) || pb_fail "timed out after ${timeout}s waiting for: $desc"
    sleep "${PB_POLL:-0.2}"
  done
}

pb_assert_eq() {
  local desc="$1" want="$2" got="$3"
  [ "$got" == "$want" ] || pb_fail "$desc: expected '$want', got '$got'"
  pb_log "ok: $desc ($got)"
}

pb_assert_ge() {
  local desc="$1" min="$2" got="$3"
  (( got >= min )) || pb_fail "$desc: expected at least $min, got $got"
  pb_log "ok: $desc ($got >= $min)"
}

pb_assert_le() {
  local desc="$1" max="$2" got="$3"
  (( got <= max )) || pb_fail "$desc: expected at most $max, got $got"
  pb_log "ok: $desc ($got <= $max)"
}

# pb_assert_grep DESC ERE FILE: FILE has a line matching ERE (case-insensitive).
pb_assert_grep() {
  local desc="$1" re="$2" file="$3"
  grep -qEi -- "$re" "$file" 2>/dev/null \
    || pb_fail "$desc: no line matching /$re/ in $file; its last lines:
$(tail -n 15 "$file" 2>/dev/null)"
  pb_log "ok: $desc: $(grep -Ei -m1 -- "$re" "$file" | cut -c1-160)"
}

# pb_assert_no_grep DESC ERE FILE: no line of FILE matches ERE (case-insensitive).
pb_assert_no_grep() {
  local desc="$1" re="$2" file="$3"
  if grep -qEi -- "$re" "$file" 2>/dev/null; then
    pb_fail "$desc: unexpected line(s) matching /$re/ in $file:
$(grep -Ei -m5 -- "$re" "$file")"
  fi
  pb_log "ok: $desc"
}

# pb_raw_controls FILE: how many characters of FILE a terminal would obey: C0 controls but newline,
# DEL, U+0080..U+009F (U+009B is CSI), and bytes that are not UTF-8 (a raw 0x9B is CSI to a
# Latin-1 terminal). Output shown to an admin must have none from a server or a message.
pb_raw_controls() {
  "$PB_PY" -c 'import sys
t = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
print(sum(1 for c in t if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f or 0xdc80 <= ord(c) <= 0xdcff))' "$1"
}

# pb_assert_same_set DESC FILE_EXPECTED FILE_ACTUAL: the same lines, ignoring order and repeats.
pb_assert_same_set() {
  local desc="$1" a="$2" b="$3" d
  d="$(diff <(sort -u "$a") <(sort -u "$b") | grep '^[<>]' | head -n 10 || true)"
  [ -z "$d" ] || pb_fail "$desc: sets differ (< expected only, > actual only):
$d"
  pb_log "ok: $desc ($(sort -u "$a" | wc -l) items)"
}

# pb_assert_subset DESC FILE_SMALL FILE_BIG: every line of SMALL is in BIG.
pb_assert_subset() {
  local desc="$1" small="$2" big="$3" extra
  extra="$(comm -23 <(sort -u "$small") <(sort -u "$big") | head -n 10)"
  [ -z "$extra" ] || pb_fail "$desc: not found:
$extra"
  pb_log "ok: $desc"
}

# pb_assert_rc DESC RC...: PB_RC (of the last pb_run_once/pb_postbridge/pb_wait_exit) is one of RC.
pb_assert_rc() {
  local desc="$1" r; shift
  for r in "$@"; do
    if [ "$PB_RC" == "$r" ]; then pb_log "ok: $desc: exit code $PB_RC"; return 0; fi
  done
  pb_fail "$desc: exit code $PB_RC, expected one of: $*$(pb__rc_hint)
last lines of ${PB_LOG:-?}:
$(tail -n 20 "${PB_LOG:-/dev/null}" 2>/dev/null)"
}

# pb_assert_not_signal DESC: PB_RC is an ordinary exit (no crash, no signal, no timeout kill).
pb_assert_not_signal() {
  local desc="$1"
  if (( PB_RC >= 124 )); then
    pb_fail "$desc: exit code $PB_RC$(pb__rc_hint)
last lines of ${PB_LOG:-?}:
$(tail -n 20 "${PB_LOG:-/dev/null}" 2>/dev/null)"
  fi
  pb_log "ok: $desc: exited normally with $PB_RC"
}

pb__rc_hint() {
  case "$PB_RC" in
    124|137) echo " (killed by the harness timeout: postbridge hung)" ;;
    126|127) echo " (postbridge binary missing or not executable: ${POSTBRIDGE:-unset})" ;;
    *) if (( PB_RC > 128 )); then echo " (killed by signal $((PB_RC - 128)))"; fi ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Certificates

# pb_certs: a test CA, a server cert for 127.0.N.1/localhost, and one for a WRONG name
# (wrong.example), both signed by the CA, under $PB_CERTS.
pb_certs() {
  local d="$PB_CERTS"
  mkdir -p "$d"
  chmod 755 "$d"
  ( umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 30 \
      -keyout "$d/ca.key" -out "$d/ca.crt" -subj "/O=postbridge tests/CN=postbridge test CA $PB_NAME" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" 2>"$d/openssl.err"
    pb__leaf_cert server "/O=postbridge tests/CN=localhost" "DNS:localhost,IP:$PB_IP"
    pb__leaf_cert wrong "/O=postbridge tests/CN=wrong.example" "DNS:wrong.example"
  ) || pb_fail "openssl could not create the test certificates: $(cat "$d/openssl.err" 2>/dev/null)"
  chmod 644 "$d/ca.crt" "$d/server.crt" "$d/wrong.crt"
  openssl verify -CAfile "$d/ca.crt" -verify_ip "$PB_IP" "$d/server.crt" >/dev/null \
    || pb_fail "the server certificate does not verify for $PB_IP"
}

pb__leaf_cert() {
  local name="$1" subj="$2" san="$3" d="$PB_CERTS"
  openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$d/$name.key" -out "$d/$name.csr" \
    -subj "$subj" 2>>"$d/openssl.err"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=$san" "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid,issuer" > "$d/$name.ext"
  openssl x509 -req -sha256 -days 30 -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -CAcreateserial -extfile "$d/$name.ext" -out "$d/$name.crt" 2>>"$d/openssl.err"
}

# ---------------------------------------------------------------------------------------------
# Users and mailboxes

# pb__users: the Dovecot passwd-file shared by the POP3 and LMTP instances (idempotent).
pb__users() {
  local f="$PB_SRV/users.passwd" u
  [ -s "$f" ] && return 0
  mkdir -p "$PB_SRV/mail" "$PB_SRV/office"
  chmod 755 "$PB_SRV/mail" "$PB_SRV/office"
  chown "$PB_MAIL_UID:$PB_MAIL_GID" "$PB_SRV/office"
  : > "$f.tmp"
  for u in $PB_USERS; do
    # user:password:uid:gid:(gecos):home:(shell):extra_fields
    printf '%s:{PLAIN}%s:%d:%d::%s/mail/%s::\n' "$u" "$PB_PASSWORD" "$PB_MAIL_UID" "$PB_MAIL_GID" \
      "$PB_SRV" "$u" >> "$f.tmp"
    mkdir -p "$PB_SRV/mail/$u/Maildir/"{new,cur,tmp}
    chown -R "$PB_MAIL_UID:$PB_MAIL_GID" "$PB_SRV/mail/$u"
    chmod -R u+rwX,go-rwx "$PB_SRV/mail/$u"
  done
  chgrp dovecot "$f.tmp"     # the auth worker runs as user dovecot
  chmod 640 "$f.tmp"
  mv -f "$f.tmp" "$f"
}

pb_maildir() { echo "$PB_SRV/mail/$1/Maildir"; }
pb_office_maildir() { echo "$PB_SRV/office/$1/Maildir"; }

# pb_fill USER N SIZE_KB [TAG]: N messages of about SIZE_KB into USER's provider mailbox.
# Deterministic content (seed PB_SEED); Message-IDs <pbtest.TAG.I.x@example.org>.
pb_fill() {
  local user="$1" n="$2" kb="$3" tag="${4:-}"
  pb__users
  local md; md="$(pb_maildir "$user")"
  [ -d "$md" ] || pb_fail "pb_fill: unknown user $user"
  "$PB_PY" "$PB_TESTS_DIR/mkmail.py" "$md" "$n" "$kb" "$user" --uid "$PB_MAIL_UID" --gid "$PB_MAIL_GID" \
    --seed "$PB_SEED" ${tag:+--tag "$tag"} >/dev/null || pb_fail "mkmail.py failed for $user"
  pb_log "filled $user with $n messages of ~${kb} KB (now $(pb_mailbox_count "$user"))"
}

# pb_mailbox_count USER: messages in USER's provider mailbox.
pb_mailbox_count() {
  local md; md="$(pb_maildir "$1")"
  find "$md/new" "$md/cur" -type f 2>/dev/null | wc -l
}

# pb_mailbox_msgids USER: the Message-IDs in USER's provider mailbox, sorted, one per line.
pb_mailbox_msgids() { local md; md="$(pb_maildir "$1")"; pb__msgids "$md/new" "$md/cur"; }

# pb_folder_count USER [FOLDER]: messages in an IMAP folder of USER's provider mailbox (Maildir++:
# INBOX is the Maildir itself, FOLDER is its .FOLDER).
pb_folder_count() {
  local md; md="$(pb_maildir "$1")${2:+/.$2}"
  { find "$md/new" "$md/cur" -type f 2>/dev/null || true; } | wc -l
}
# For wait_for: pb_folder_has USER FOLDER N.
pb_folder_has() { (( $(pb_folder_count "$1" "$2") == $3 )); }

# pb_folder_make USER FOLDER [N TAG]: an IMAP folder for Dovecot, owned by the mail user, with N
# messages of about 5 KB (Message-IDs <pbtest.TAG.I.x@example.org>).
pb_folder_make() {
  local md; md="$(pb_maildir "$1")/.$2"
  mkdir -p "$md/new" "$md/cur" "$md/tmp"
  if [ "${3:-0}" -gt 0 ]; then
    "$PB_PY" "$PB_TESTS_DIR/mkmail.py" "$md" "$3" 5 "$1" --uid "$PB_MAIL_UID" --gid "$PB_MAIL_GID" \
      --seed "$PB_SEED" --tag "$4" >/dev/null || pb_fail "mkmail.py failed for $1/$2"
  fi
  chown -R "$PB_MAIL_UID:$PB_MAIL_GID" "$md"
}

# For wait_for: pb_mailbox_has USER N — USER's provider mailbox holds exactly N messages.
pb_mailbox_has() { (( $(pb_mailbox_count "$1") == $2 )); }
# For wait_for: pb_office_has_at_least USER N.
pb_office_has_at_least() { (( $(pb_office_count "$1") >= $2 )); }

pb_office_count() {
  local md; md="$(pb_office_maildir "$1")"
  # Dovecot creates an office Maildir on its first delivery: none yet is zero messages.
  { find "$md/new" "$md/cur" -type f 2>/dev/null || true; } | wc -l
}
pb_office_msgids() { local md; md="$(pb_office_maildir "$1")"; pb__msgids "$md/new" "$md/cur"; }

# pb__msgids DIR...: the Message-ID header (header section only) of every file, sorted, with repeats.
pb__msgids() {
  local d
  for d in "$@"; do if [ -d "$d" ]; then find "$d" -type f -print0; fi; done \
    | xargs -0 -r awk '
        FNR == 1 { inh = 1 }
        { sub(/\r$/, "") }
        inh && $0 == "" { inh = 0; nextfile }
        inh && tolower($0) ~ /^message-id:/ { sub(/^[^:]*:[ \t]*/, ""); print; inh = 0; nextfile }' \
    | sort
}

# ---------------------------------------------------------------------------------------------
# Dovecot (private instances: own config, base_dir, log and pid file; never the system one)

pb__dovecot_common() {
  local d="$1" name="$2" cert="$3"
  cat <<EOC
# generated by tests/integration/lib.sh: a private instance for $PB_NAME, not the system Dovecot
instance_name = pb-$PB_N-$name
base_dir = $d/run
state_dir = $d/state
listen = $PB_IP
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
verbose_proctitle = yes
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = $PB_MAIL_UID
first_valid_gid = $PB_MAIL_GID
mail_location = maildir:~/Maildir
ssl_cert = <$PB_CERTS/$cert.crt
ssl_key = <$PB_CERTS/$cert.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
auth_verbose = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $PB_SRV/users.passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n $PB_SRV/users.passwd
}
EOC
}

# pb__dovecot_start DIR NAME PORT...: start Dovecot from DIR/dovecot.conf, wait for its ports.
pb__dovecot_start() {
  local d="$1" name="$2" port; shift 2
  for port in "$@"; do pb__port_free "$port"; done
  mkdir -p "$d/run" "$d/state"
  chmod 755 "$d" "$d/run"
  : > "$d/dovecot.log"
  pb__register "dovecot-$name" "$d/run/master.pid"
  # stdio detached: a daemon holding the caller's pipe would make `test | tail` hang.
  /usr/sbin/dovecot -c "$d/dovecot.conf" < /dev/null >> "$d/dovecot.log" 2>&1 \
    || pb_fail "dovecot ($name) failed to start: $(tail -n 5 "$d/dovecot.log")"
  wait_for "dovecot $name master.pid" 10 pb_pid_alive "$d/run/master.pid"
  for port in "$@"; do
    wait_for "dovecot $name listening on $PB_IP:$port" 15 pb_port_open "$port"
  done
  pb_log "dovecot $name up (pid $(cat "$d/run/master.pid"), ports $*)"
}

# pb__port_free PORT: nothing listens on PB_IP:PORT yet (else a clear failure, not a confusing one).
pb__port_free() {
  if pb_port_open "$1"; then
    pb_fail "$PB_IP:$1 is already in use (a leftover server? see: ss -ltnp | grep $PB_IP)"
  fi
}

# pb_port_open PORT [IP]: something accepts TCP connections on IP:PORT.
pb_port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${2:-$PB_IP}" "$1" 2>/dev/null
}

# pb_pop3_start [server|wrong]: Dovecot POP3 on PB_IP: plain with STLS on PB_POP3_PORT, implicit
# TLS on PB_POP3S_PORT; IMAP on the same mailboxes: plain with STARTTLS on PB_IMAP_PORT, implicit
# TLS on PB_IMAPS_PORT. "wrong" presents the certificate for wrong.example.
pb_pop3_start() {
  local cert="${1:-server}" d="$PB_SRV/pop3"
  [ -s "$PB_CA" ] || pb_certs
  pb__users
  mkdir -p "$d"
  { pb__dovecot_common "$d" pop3 "$cert"
    cat <<EOC
protocols = pop3 imap
ssl = yes
disable_plaintext_auth = no
mail_max_userip_connections = 100
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
service pop3-login {
  inet_listener pop3 {
    address = $PB_IP
    port = $PB_POP3_PORT
  }
  inet_listener pop3s {
    address = $PB_IP
    port = $PB_POP3S_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
}
service imap-login {
  inet_listener imap {
    address = $PB_IP
    port = $PB_IMAP_PORT
  }
  inet_listener imaps {
    address = $PB_IP
    port = $PB_IMAPS_PORT
    ssl = yes
  }
}
EOC
  } > "$d/dovecot.conf"
  pb__dovecot_start "$d" pop3 "$PB_POP3_PORT" "$PB_POP3S_PORT" "$PB_IMAP_PORT" "$PB_IMAPS_PORT"
  PB_POP3_LOG="$d/dovecot.log"
}

# pb_imap_sessions USER: IMAP sessions of USER that have ended so far (the pb_pop3_sessions of IMAP).
pb_imap_sessions() { grep -c "imap($1)<[0-9]*><[^>]*>: Info: \(Disconnected\|Logged out\)" "$PB_SRV/pop3/dovecot.log" || true; }

# pb_pop3_sessions USER: POP3 sessions of USER that have ended (logged out or dropped) so far.
# A test waits for this to grow to know that a poll finished, without reading postbridge's log.
pb_pop3_sessions() { grep -c "pop3($1)<[0-9]*><[^>]*>: Info: Disconnected" "$PB_SRV/pop3/dovecot.log" || true; }
pb_pop3_sessions_above() { (( $(pb_pop3_sessions "$1") > $2 )); }

pb_pop3_stop() { pb_stop_pidfile "$PB_SRV/pop3/run/master.pid" dovecot-pop3; }

# pb_pop3_auth_failures: failed POP3 logins so far (Dovecot's auth_verbose "Password mismatch").
pb_pop3_auth_failures() { grep -c 'Password mismatch' "$PB_SRV/pop3/dovecot.log" || true; }

# pb_lmtp_start: the office server as Dovecot LMTP on PB_IP:PB_LMTP_PORT. RCPT TO:<user@any.domain>
# is stored in $PB_SRV/office/USER/Maildir for the users in PB_USERS; others get 550 5.1.1.
pb_lmtp_start() {
  local d="$PB_SRV/lmtp"
  [ -s "$PB_CA" ] || pb_certs
  pb__users
  mkdir -p "$d"
  { pb__dovecot_common "$d" lmtp server | sed "s#^mail_location = .*#mail_location = maildir:$PB_SRV/office/%n/Maildir#"
    cat <<EOC
protocols = lmtp
ssl = no
auth_username_format = %Ln
lmtp_save_to_detail_mailbox = no
service lmtp {
  inet_listener lmtp {
    address = $PB_IP
    port = $PB_LMTP_PORT
  }
  process_min_avail = 1
}
EOC
  } > "$d/dovecot.conf"
  pb__dovecot_start "$d" lmtp "$PB_LMTP_PORT"
}

# ---------------------------------------------------------------------------------------------
# Postfix smtp-sink: stores every message as one file (LF line ends, dot-unstuffed, with
# X-Mail-Args / X-Rcpt-Args envelope headers prepended). Aborted transactions leave no file.

pb_sink_start() {
  local d="$PB_SRV/sink"
  pb__port_free "$PB_SINK_PORT"
  mkdir -p "$d/msgs"
  chown nobody "$d" "$d/msgs"
  pb__register sink "$d/sink.pid"
  # -4 IPv4; -a announce no AUTH; -c running counter "mesg=N" on stdout; -u drop root
  setsid /usr/sbin/smtp-sink -4 -a -c -u nobody -h "sink.$PB_NAME.test" -m 64 -d "$d/msgs/m." \
    "inet:$PB_IP:$PB_SINK_PORT" 256 > "$d/counter.txt" 2> "$d/sink.log" < /dev/null &
  echo $! > "$d/sink.pid"
  wait_for "smtp-sink listening on $PB_IP:$PB_SINK_PORT" 10 pb_port_open "$PB_SINK_PORT"
  pb_log "smtp-sink up (pid $(cat "$d/sink.pid"), port $PB_SINK_PORT)"
}

# pb_sink_count: messages the sink has completely received (end of DATA acknowledged).
pb_sink_count() {
  local last
  last="$(tail -c 300 "$PB_SRV/sink/counter.txt" 2>/dev/null | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -n 1 || true)"
  last="${last#mesg=}"
  echo "${last:-0}"
}

# For wait_for (which re-runs a COMMAND, so "$(...)" in its arguments would be expanded only once):
pb_sink_has_at_least() { (( $(pb_sink_count) >= $1 )); }
pb_sink_has_exactly() { (( $(pb_sink_count) == $1 )); }

# pb_sink_files: stored message files.
pb_sink_files() { find "$PB_SRV/sink/msgs" -type f -name 'm.*' 2>/dev/null | sort; }

# pb_sink_settled: every counted message is on disk and no transaction is half-written.
pb_sink_settled() { [ "$(pb_sink_files | wc -l)" -eq "$(pb_sink_count)" ]; }

# pb_sink_message FILE: the message as the sink received it, without the envelope headers and the
# Received header that smtp-sink prepends to its dump.
pb_sink_message() {
  awk 'done { print; next }
       /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / { next }
       /^Received: .*/ && !rcvd { rcvd = 1; inrcvd = 1; next }
       inrcvd && /^[ \t]/ { next }
       { done = 1; print }' "$1"
}

# pb_save_originals USER DIR: copy USER's provider messages to DIR (before a fetch removes them).
# A POP3 session may run meanwhile (or finish after a kill -9: Dovecot still expunges what the
# killed client had deleted): a file moved from new/ to cur/ is copied under its new name, one
# expunged is skipped (it was fetched, so an earlier call saved it; checks are by Message-ID).
# Any other copy error fails the test. A message DIR already holds (under either name) is not
# copied again: a loop that saves after every refill copies only the new ones.
pb_save_originals() {
  local md f base moved; md="$(pb_maildir "$1")"
  local -A saved=()
  mkdir -p "$2"
  for f in "$2"/*; do
    if [ -e "$f" ]; then base="${f##*/}"; saved["${base%%:*}"]=1; fi
  done
  while IFS= read -r -d '' f; do
    base="${f##*/}"
    [ -z "${saved["${base%%:*}"]:-}" ] || continue
    cp -- "$f" "$2/" 2>/dev/null && continue
    [ ! -e "$f" ] || pb_fail "pb_save_originals: cannot copy $f"
    base="${f##*/}"
    base="${base%%:*}"
    moved="$(find "$md/new" "$md/cur" -type f -name "$base*" -print -quit)"
    [ -z "$moved" ] || cp -- "$moved" "$2/" 2>/dev/null || [ ! -e "$moved" ] ||
      pb_fail "pb_save_originals: cannot copy $moved"
  done < <(find "$md/new" "$md/cur" -type f -print0)
}

# pb_assert_sink_has_originals DESC DIR [--all-copies]: every message saved in DIR arrived intact
# (byte for byte, header lines may only be prepended; with --all-copies every duplicate too); see
# sinkcheck.py.
pb_assert_sink_has_originals() {
  local desc="$1" out
  out="$("$PB_PY" "$PB_TESTS_DIR/sinkcheck.py" ${3:+"$3"} "$2" "$PB_SRV/sink/msgs")" || pb_fail "$desc:
$(head -n 20 <<< "$out")"
  pb_log "ok: $desc (${out##*$'\n'})"
}

# pb_sink_msgids: Message-IDs of every stored message, sorted, WITH repeats (uniq -d = duplicates).
pb_sink_msgids() { pb__msgids "$PB_SRV/sink/msgs"; }

# pb_sink_duplicates: the Message-IDs the sink received more than once.
pb_sink_duplicates() { pb_sink_msgids | uniq -d; }

# pb_sink_quiet: no client is connected to the sink any more (after a kill, the sink may still
# be reading what the dead process had written into the socket). CLOSE-WAIT counts: the kernel
# closed the dead process's end at once, but until the sink has read the rest (maybe a whole
# message and its final ".") and closed its own end, that copy is still on its way — counting
# only ESTABLISHED missed it, so an in-flight copy arrived after it was looked for. Only this
# test's own address: other tests' sinks listen on the same port at their own 127.0.N.1.
pb_sink_quiet() { pb_port_quiet "$PB_SINK_PORT"; }
pb_port_quiet() {
  [ -z "$(ss -Htn state established state close-wait state syn-recv src "$PB_IP:$1" 2>/dev/null)" ]
}

# pb_inflight_delivered ROUTE [EARLIER]: after a kill -9 — the Message-IDs of the messages the
# office server (the sink) received but postbridge's store still shows as being sent
# (attempt_open = 1, queued): their 250 was in flight when the process died. Each is sent once
# more after the restart, so these are exactly the duplicates the kill causes; at most one per open
# connection of the route, as a session carries one message at a time. EARLIER lists the ones of
# earlier kills (one line per copy): a copy the sink had already then is not counted again.
pb_inflight_delivered() {
  local route="$1" earlier="${2:-/dev/null}" db="$PB_WORK/state/postbridge.db"
  # A smarthost (Dovecot submission) between postbridge and the sink first finishes its own part.
  [ -z "${PB_SUBM_PORT:-}" ] || wait_for "the smarthost to finish reading from the killed process" 30 \
    pb_port_quiet "$PB_SUBM_PORT"
  wait_for "the sink to finish reading from the killed process" 30 pb_sink_quiet
  wait_for "the sink to settle" 10 pb_sink_settled
  sqlite3 -readonly "$db" "SELECT message_id FROM messages WHERE state = 'queued' AND attempt_open = 1
                           AND route = '$route'" > "$PB_WORK/sending.tmp"
  # copies at the sink now > copies in flight at earlier kills: this kill's copy arrived
  pb_sink_msgids | awk -v sending="$PB_WORK/sending.tmp" -v earlier="$earlier" '
    BEGIN { while ((getline l < sending) > 0) want[l] = 1; while ((getline l < earlier) > 0) before[l]++ }
    { sink[$0]++ }
    END { for (id in want) if (sink[id] > before[id]) print id }' | sort
  rm -f "$PB_WORK/sending.tmp"
}

# pb_extra_copies FILE: one line per extra copy (a message received 3 times: 2 lines), sorted.
pb_extra_copies() { uniq -c "$1" | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); for (i = 1; i < n; i++) print }' | sort; }

# pb_sink_files_for RCPT: stored messages whose envelope (RCPT TO) includes RCPT, with or without
# parameters after it (fetched mail comes with NOTIFY=NEVER, the sink offers DSN).
pb_sink_files_for() {
  pb_sink_files | while IFS= read -r f; do
    if awk -v r="X-Rcpt-Args: <$1>" 'tolower($0) == tolower(r) || index(tolower($0), tolower(r " ")) == 1 { found = 1; exit }
                                      /^$/ { exit }
                                      END { exit !found }' "$f"; then
      echo "$f"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# The scripted fake POP3 server

# pb_fake_pop3_start SCENARIO [PORT] [MESSAGES] [AUTH_REPLY]: fake_pop3.py on PB_IP; its log is
# PB_FAKE_LOG. AUTH_REPLY: the -ERR line of scenario auth_fail (a provider's own refusal).
pb_fake_pop3_start() {
  local sc="$1" port="${2:-$PB_FAKE_PORT}" n="${3:-3}" d="$PB_SRV/fake"
  local -a reply=()
  [ -z "${4:-}" ] || reply=(--auth-reply "$4")
  pb__port_free "$port"
  mkdir -p "$d"
  PB_FAKE_LOG="$d/fake-$sc.log"
  : > "$PB_FAKE_LOG"
  PB_FAKE_PIDFILE="$d/fake-$sc.pid"
  pb__register "fake-pop3-$sc" "$PB_FAKE_PIDFILE"
  setsid "$PB_PY" "$PB_TESTS_DIR/fake_pop3.py" --addr "$PB_IP" --port "$port" --scenario "$sc" \
    --messages "$n" --log "$PB_FAKE_LOG" "${reply[@]}" > "$d/fake-$sc.out" 2>&1 < /dev/null &
  echo $! > "$PB_FAKE_PIDFILE"
  wait_for "fake POP3 ($sc) ready" 10 grep -q '^ready' "$PB_FAKE_LOG"
}

pb_fake_pop3_stop() { pb_stop_pidfile "$PB_FAKE_PIDFILE" "fake-pop3"; }

# pb_fake_smtp_start AUTH_REPLY: fake_smtp.py on PB_IP:PB_FAKE_SMTP_PORT (plain text), refusing
# every login with AUTH_REPLY (a provider's own words); its log is PB_FAKE_SMTP_LOG.
pb_fake_smtp_start() {
  local d="$PB_SRV/fake-smtp"
  pb__port_free "$PB_FAKE_SMTP_PORT"
  mkdir -p "$d"
  PB_FAKE_SMTP_LOG="$d/fake-smtp.log"
  : > "$PB_FAKE_SMTP_LOG"
  PB_FAKE_SMTP_PIDFILE="$d/fake-smtp.pid"
  pb__register fake-smtp "$PB_FAKE_SMTP_PIDFILE"
  setsid "$PB_PY" "$PB_TESTS_DIR/fake_smtp.py" --addr "$PB_IP" --port "$PB_FAKE_SMTP_PORT" \
    --log "$PB_FAKE_SMTP_LOG" --auth-reply "$1" > "$d/fake-smtp.out" 2>&1 < /dev/null &
  echo $! > "$PB_FAKE_SMTP_PIDFILE"
  wait_for "fake SMTP ready" 10 grep -q '^ready' "$PB_FAKE_SMTP_LOG"
}

pb_fake_smtp_stop() { pb_stop_pidfile "$PB_FAKE_SMTP_PIDFILE" fake-smtp; }

# pb_fake_commands VERB: how many times clients sent VERB (e.g. DELE) to the fake server.
pb_fake_commands() { grep -cE "^conn [0-9]+ C: $1( |\$)" "$PB_FAKE_LOG" || true; }

# pb_fake_deleted_msgids: Message-IDs of the messages clients sent DELE for.
pb_fake_deleted_msgids() {
  awk '$1 == "msg" { id[$2] = $3 }
       $3 == "C:" && toupper($4) == "DELE" { print (($5 in id) ? id[$5] : "<no message " $5 ">") }' \
    "$PB_FAKE_LOG" | sort -u
}

# ---------------------------------------------------------------------------------------------
# postbridge

pb_require_postbridge() {
  [ -n "${POSTBRIDGE:-}" ] || pb_fail "POSTBRIDGE is not set (ctest sets it to the built binary)"
  [ -x "$POSTBRIDGE" ] || pb_fail "POSTBRIDGE=$POSTBRIDGE is not an executable file (did the build fail?)"
}

# pb_secret NAME [VALUE]: a password file (mode 0600) under secrets/; prints its path.
pb_secret() {
  local f="$PB_WORK/secrets/$1"
  mkdir -p "$PB_WORK/secrets"
  chmod 700 "$PB_WORK/secrets"
  ( umask 077; printf '%s\n' "${2:-$PB_PASSWORD}" > "$f" )
  echo "$f"
}

# pb__toml VALUE: VALUE as a TOML value; booleans, integers, arrays and "quoted" strings pass as is.
pb__toml() {
  local v="$1"
  if [[ "$v" =~ ^(true|false|-?[0-9]+|\[.*\]|\".*\")$ ]]; then
    printf '%s' "$v"
  else
    v="${v//\\/\\\\}"
    printf '"%s"' "${v//\"/\\\"}"
  fi
}

# pb_config TARGET [KEY=VALUE...]: write PB_CFG with [service] and [local]. TARGET: sink | lmtp.
# KEY=VALUE pairs override or add [service] keys (e.g. log_level=debug, state_dir=state2); KEY= drops one.
pb_config() {
  local target="$1" kv; shift
  local port proto
  case "$target" in
    sink) port="$PB_SINK_PORT"; proto=smtp ;;
    lmtp) port="$PB_LMTP_PORT"; proto=lmtp ;;
    *) pb_fail "pb_config: target must be sink or lmtp, not '$target'" ;;
  esac
  local -a order=(state_dir hostname postmaster)
  local -A val=([state_dir]=state [hostname]=gw.test [postmaster]=postmaster@office.test)
  for kv in "$@"; do
    [ -n "${val[${kv%%=*}]+set}" ] || order+=("${kv%%=*}")
    val[${kv%%=*}]="${kv#*=}"
  done
  {
    echo "# generated by $PB_NAME"
    echo "[service]"
    for kv in "${order[@]}"; do
      if [ -n "${val[$kv]}" ]; then echo "$kv = $(pb__toml "${val[$kv]}")"; fi
    done
    echo
    echo "[local]"
    echo "host = \"$PB_IP\""
    echo "port = $port"
    echo "protocol = \"$proto\""
    echo 'tls = "none"'
  } > "$PB_CFG"
}

# pb_local KEY=VALUE...: add keys to the [local] table that pb_config wrote (max_connections=1 ...).
pb_local() {
  local kv lines=""
  for kv in "$@"; do lines+="${kv%%=*} = $(pb__toml "${kv#*=}")"$'\n'; done
  printf '%s' "$lines" > "$PB_WORK/local.keys"
  sed -i "/^\[local\]\$/r $PB_WORK/local.keys" "$PB_CFG"
  rm -f "$PB_WORK/local.keys"
}

# pb_account NAME [KEY=VALUE...]: append an [[account]] for provider user NAME to PB_CFG.
# Defaults: POP3S on PB_IP verified with the test CA, password file, deliver_to NAME@office.test,
# keep=false, poll_interval 5m, timeout 30s. KEY=VALUE overrides or adds a key; KEY= drops it.
# Giving password or password_env drops the default password_file.
pb_account() {
  local name="$1" kv k; shift
  local -a order=(name host port tls ca_file username password_file poll_interval timeout keep deliver_to)
  local -A val=(
    [name]="$name" [host]="$PB_IP" [port]="$PB_POP3S_PORT" [tls]=implicit [ca_file]="$PB_CA"
    [username]="$name" [password_file]="$(pb_secret "$name")" [poll_interval]=5m [timeout]=30s
    [keep]=false [deliver_to]="[\"$name@office.test\"]")
  for kv in "$@"; do
    k="${kv%%=*}"
    [ -n "${val[$k]+set}" ] || order+=("$k")
    val[$k]="${kv#*=}"
    case "$k" in password|password_env) [[ " $* " == *" password_file="* ]] || val[password_file]="" ;; esac
  done
  {
    echo
    echo "[[account]]"
    for k in "${order[@]}"; do
      if [ -n "${val[$k]}" ]; then echo "$k = $(pb__toml "${val[$k]}")"; fi
    done
  } >> "$PB_CFG"
  return 0
}

# pb_postbridge ARGS...: run the binary (bounded by PB_TIMEOUT s, default 240); output (stdout and
# stderr) in PB_LOG; exit code in PB_RC. Never fails the test by itself.
pb_postbridge() {
  pb_require_postbridge
  PB_RUNS=$((PB_RUNS + 1))
  PB_LOG="$PB_WORK/postbridge-$PB_RUNS-$1.log"
  printf '$ postbridge %s\n' "$*" > "$PB_LOG.cmd"
  PB_RC=0
  timeout -k 10 "${PB_TIMEOUT:-240}" "$POSTBRIDGE" "$@" > "$PB_LOG" 2>&1 < /dev/null || PB_RC=$?
  pb_log "postbridge $* -> exit $PB_RC (log $(basename "$PB_LOG"))"
}

# pb_run_once [ARGS...]: `postbridge run -c PB_CFG --once`.
pb_run_once() { pb_postbridge run -c "$PB_CFG" --once "$@"; }

# pb_start_postbridge [ARGS...]: `postbridge run -c PB_CFG` in the background; PB_PID, PB_LOG.
pb_start_postbridge() {
  pb_require_postbridge
  # The service's defaults listen on 127.0.0.1:2525 (relay) and 127.0.0.1:8025 (status page),
  # which tests running side by side would share: a test that did not configure them gets
  # neither, so every listener of a test stays on its own address.
  grep -q '^\[relay\]' "$PB_CFG" || printf '\n[relay]\nlisten = []\n' >> "$PB_CFG"
  grep -q '^\[web\]' "$PB_CFG" || printf '\n[web]\nlisten = ""\n' >> "$PB_CFG"
  PB_RUNS=$((PB_RUNS + 1))
  PB_LOG="$PB_WORK/postbridge-$PB_RUNS-run.log"
  PB_PIDFILE="$PB_WORK/postbridge-$PB_RUNS.pid"
  "$POSTBRIDGE" run -c "$PB_CFG" "$@" > "$PB_LOG" 2>&1 < /dev/null &
  PB_PID=$!
  echo "$PB_PID" > "$PB_PIDFILE"
  pb__register postbridge "$PB_PIDFILE"
  pb_log "postbridge run started (pid $PB_PID, log $(basename "$PB_LOG"))"
}

# pb_wait_exit TIMEOUT_S [PID]: wait until postbridge exits; its exit code goes to PB_RC.
pb_wait_exit() {
  local t="$1" pid="${2:-$PB_PID}"
  wait_for "postbridge (pid $pid) to exit" "$t" pb__exited "$pid"
  PB_RC=0
  wait "$pid" 2>/dev/null || PB_RC=$?
  rm -f "$PB_PIDFILE"
}
pb__exited() { ! pb_proc_running "$1"; }

# pb_assert_alive DESC [PID]: the postbridge process still runs.
pb_assert_alive() {
  local pid="${2:-$PB_PID}"
  pb_proc_running "$pid" || pb_fail "$1: postbridge (pid $pid) is not running any more; last lines:
$(tail -n 20 "$PB_LOG" 2>/dev/null)"
  pb_log "ok: $1 (pid $pid alive)"
}

# pb_log_has ERE [FILE]: for wait_for — the (current) postbridge log has a line matching ERE.
pb_log_has() { grep -qEi -- "$1" "${2:-$PB_LOG}"; }

# =============================================================================================
# OAuth 2.0: the simulated identity provider (oauth_idp.py) and a Dovecot that accepts XOAUTH2 /
# OAUTHBEARER logins with its tokens. Everything on 127.0.N.1 only, stopped by pid file on exit.
#
#   pb_certs; pb_sink_start
#   pb_idp_start [--rotate] [--expires-in 60] ...   # oauth_idp.py on PB_IDP_PORT (plain HTTP)
#   pb_dovecot_oauth_start                           # instead of pb_pop3_start: POP3 + submission
#   pb_fill alice 5 5
#   pb_idp_issue alice                               # PB_IDP_ACCESS_TOKEN, PB_IDP_REFRESH_TOKEN
#   pb_idp_control expire-access                     # every access token issued so far is invalid
#   pb_idp_stat introspections_failed
#
# The IdP's endpoints, control calls and counters: `oauth_idp.py --help`. Its request log is
# PB_IDP_LOG (srv/idp/idp.log), one line per request, tokens shortened.

PB_IDP_PORT=22080               # oauth_idp.py (plain HTTP: postbridge allows http only to a loopback IP literal)
PB_OAUTH_SUBM_PORT=22588        # the OAuth Dovecot's submission port (STARTTLS); not lib_outbound's 22587,
PB_OAUTH_SUBMS_PORT=22466       # so a test can run both smarthosts; implicit TLS submission
PB_OAUTH_SCOPE=mail             # the scope Dovecot requires in a token (oauth_idp.py grants "mail offline_access")

# pb_idp_start [ARGS...]: oauth_idp.py on PB_IP:PB_IDP_PORT; ARGS go to it (--user, --client-id,
# --client-secret, --client ID:SECRET, --scope, --expires-in, --rotate, --interval,
# --device-expires-in, --auto-approve-device, --app ID:CERT:MAILBOX, --service-account
# EMAIL:CERT_OR_PUBKEY:KEY_ID). Log PB_IDP_LOG, pid file PB_IDP_PIDFILE.
pb_idp_start() {
  local d="$PB_SRV/idp"
  pb__port_free "$PB_IDP_PORT"
  mkdir -p "$d"
  PB_IDP_LOG="$d/idp.log"
  PB_IDP_PIDFILE="$d/idp.pid"
  # A restarted IdP (new options; its tokens are gone) appends to the same log.
  touch "$PB_IDP_LOG"
  PB__IDP_STARTS="$(grep -c '^ready ' "$PB_IDP_LOG" || true)"
  pb__register idp "$PB_IDP_PIDFILE"
  setsid "$PB_PY" "$PB_TESTS_DIR/oauth_idp.py" --addr "$PB_IP" --port "$PB_IDP_PORT" --log "$PB_IDP_LOG" \
    --pidfile "$PB_IDP_PIDFILE" "$@" > "$d/idp.out" 2>&1 < /dev/null &
  echo $! > "$PB_IDP_PIDFILE"
  wait_for "the OAuth IdP ready on $PB_IP:$PB_IDP_PORT" 10 pb__idp_ready
  pb_log "OAuth IdP up (pid $(cat "$PB_IDP_PIDFILE"), $(pb_idp_url /))"
}
pb__idp_ready() { (( $(grep -c '^ready ' "$PB_IDP_LOG") > PB__IDP_STARTS )) && pb_port_open "$PB_IDP_PORT"; }

pb_idp_stop() { pb_stop_pidfile "$PB_IDP_PIDFILE" idp; }

# pb_idp_url PATH: the IdP's URL for PATH (/token, /devicecode, /authorize, /introspect ...).
pb_idp_url() { printf 'http://%s:%s%s\n' "$PB_IP" "$PB_IDP_PORT" "$1"; }

# pb_idp_http METHOD PATH [FORM_BODY]: one request to the IdP; prints the body, returns 0 for 2xx
# (1 otherwise, the body still printed). No proxy, whatever the environment says.
pb_idp_http() {
  "$PB_PY" - "$1" "$(pb_idp_url "$2")" "${3-}" <<'PYEOF'
import sys, urllib.request, urllib.error
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(url, method=method, data=body.encode() if method == "POST" else None,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
try:
    with opener.open(req, timeout=10) as r:
        sys.stdout.write(r.read().decode()); sys.exit(0)
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode()); sys.exit(1)
PYEOF
}

# pb_idp_control NAME [QUERY]: POST /control/NAME?QUERY (issue, approve, deny, auto-approve-device,
# slow-down, expire-access, revoke-refresh, scope, expires-in, revoke-key, tokens, stats); prints
# the JSON answer; fails the test if the IdP refuses.
pb_idp_control() {
  local out
  out="$(pb_idp_http POST "/control/$1${2:+?$2}")" || pb_fail "IdP control $1${2:+?$2} failed: $out"
  printf '%s\n' "$out"
}

# pb_json KEY: the member KEY of the JSON object on stdin (strings bare, others as JSON).
pb_json() {
  "$PB_PY" -c 'import json, sys
v = json.load(sys.stdin)[sys.argv[1]]
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

# pb_idp_stat KEY: one counter of /control/stats (refresh_ok, device_polls, code_exchanges,
# introspections_ok, introspections_failed ... see oauth_idp.py STAT_KEYS).
pb_idp_stat() { pb_idp_control stats | pb_json "$1"; }
# For wait_for: pb_idp_stat_at_least KEY N.
pb_idp_stat_at_least() { (( $(pb_idp_stat "$1") >= $2 )); }

# pb_idp_issue USER [QUERY]: a fresh token pair for USER without a login flow (/control/issue);
# sets PB_IDP_ACCESS_TOKEN and PB_IDP_REFRESH_TOKEN. QUERY adds e.g. scope=... or client_id=...
pb_idp_issue() {
  local out
  out="$(pb_idp_control issue "user=$1${2:+&$2}")"
  PB_IDP_ACCESS_TOKEN="$(pb_json access_token <<< "$out")"
  PB_IDP_REFRESH_TOKEN="$(pb_json refresh_token <<< "$out")"
}

# pb_dovecot_oauth_start [KEY=VALUE...]: the provider as one private Dovecot that takes OAuth
# logins. It REPLACES pb_pop3_start (same directory srv/pop3, same PB_POP3_PORT (STLS) and
# PB_POP3S_PORT (implicit TLS), so pb_account's defaults, pb_fill, pb_mailbox_count,
# pb_pop3_sessions and pb_pop3_stop keep working) and adds submission on PB_OAUTH_SUBM_PORT
# (STARTTLS; AUTH only after it) and PB_OAUTH_SUBMS_PORT (implicit TLS), relaying every message
# to the test's smtp-sink (start it first: pb_sink_start). Start the IdP first too (pb_idp_start).
# Logins: AUTH PLAIN/LOGIN/USER+PASS with PB_PASSWORD (passwd-file passdb, as everywhere) and
# AUTH XOAUTH2/OAUTHBEARER with an access token of the IdP (oauth2 passdb): Dovecot asks the IdP's
# introspection endpoint on every login (no auth cache), wants username_attribute "username" to
# equal the login name (%Ln), "active" = true and PB_OAUTH_SCOPE in the token's "scope".
# Mail is in the users' provider Maildirs (userdb passwd-file, as pb_pop3_start).
# KEY=VALUE: cert=server|wrong, mode=post|get|auth|tokeninfo (how Dovecot validates: introspection
# by POST token=, GET ?token=, GET with Authorization: Bearer, or the /tokeninfo URL), scope=S
# (required scope; empty: none), relay_host=IP relay_port=PORT (default the sink), failure_delay=2s
# (Dovecot's auth_failure_delay). The auth penalty (anvil doubling the delay per failed login from
# one IP, up to 15 s) is off so that tests are not slowed by their own failed logins.
# Log: PB_POP3_LOG (srv/pop3/dovecot.log); the oauth2 passdb's HTTP exchanges: srv/pop3/oauth2-rawlog/.
pb_dovecot_oauth_start() {
  local d="$PB_SRV/pop3" kv
  local -A o=([cert]=server [mode]=post [scope]="$PB_OAUTH_SCOPE" [relay_host]="$PB_IP"
              [relay_port]="$PB_SINK_PORT" [failure_delay]=2s)
  for kv in "$@"; do
    [ -n "${o[${kv%%=*}]+set}" ] || pb_fail "pb_dovecot_oauth_start: unknown option '$kv'"
    o[${kv%%=*}]="${kv#*=}"
  done
  [ -s "$PB_CA" ] || pb_certs
  [ -n "${PB_IDP_LOG:-}" ] || pb_fail "pb_dovecot_oauth_start: start the IdP first (pb_idp_start)"
  pb__users
  mkdir -p "$d/oauth2-rawlog"
  chown dovecot "$d/oauth2-rawlog"     # the auth process (user dovecot) writes the HTTP rawlogs
  {
    echo "# the oauth2 passdb of $PB_NAME: tokens of the simulated IdP $(pb_idp_url /)"
    case "${o[mode]}" in
      post|auth) printf 'introspection_mode = %s\nintrospection_url = %s\n' "${o[mode]}" "$(pb_idp_url /introspect)" ;;
      get) printf 'introspection_mode = get\nintrospection_url = %s\n' "$(pb_idp_url '/introspect?token=')" ;;
      tokeninfo) printf 'tokeninfo_url = %s\nintrospection_mode = post\nintrospection_url = %s\n' \
                   "$(pb_idp_url '/tokeninfo?access_token=')" "$(pb_idp_url /introspect)" ;;
      *) pb_fail "pb_dovecot_oauth_start: mode must be post, get, auth or tokeninfo, not '${o[mode]}'" ;;
    esac
    cat <<EOC
username_attribute = username
username_format = %Ln
active_attribute = active
active_value = true
scope = ${o[scope]}
timeout_msecs = 10000
rawlog_dir = $d/oauth2-rawlog
EOC
  } > "$d/dovecot-oauth2.conf.ext"
  chgrp dovecot "$d/dovecot-oauth2.conf.ext"
  chmod 640 "$d/dovecot-oauth2.conf.ext"
  # pb__dovecot_common's passwd-file passdb serves the password mechanisms only, so a token is
  # never compared with a password (no "Password mismatch" for OAuth logins).
  { pb__dovecot_common "$d" oauth "${o[cert]}" \
      | sed -e 's#^auth_mechanisms = .*#auth_mechanisms = plain login xoauth2 oauthbearer#' \
            -e 's#^\(  args = scheme=PLAIN .*\)$#\1\n  mechanisms = plain login#'
    cat <<EOC
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $d/dovecot-oauth2.conf.ext
}
auth_failure_delay = ${o[failure_delay]}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocols = pop3 submission
hostname = provider.$PB_NAME.test
ssl = yes
disable_plaintext_auth = no
mail_max_userip_connections = 100
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
protocol submission {
  # like a provider: AUTH (plaintext and OAuth mechanisms alike) only after STARTTLS
  disable_plaintext_auth = yes
}
submission_relay_host = ${o[relay_host]}
submission_relay_port = ${o[relay_port]}
submission_relay_ssl = no
submission_relay_trusted = no
submission_max_mail_size = 200M
service pop3-login {
  inet_listener pop3 {
    address = $PB_IP
    port = $PB_POP3_PORT
  }
  inet_listener pop3s {
    address = $PB_IP
    port = $PB_POP3S_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
}
service submission-login {
  inet_listener submission {
    address = $PB_IP
    port = $PB_OAUTH_SUBM_PORT
  }
  inet_listener submissions {
    address = $PB_IP
    port = $PB_OAUTH_SUBMS_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
}
EOC
  } > "$d/dovecot.conf"
  pb__dovecot_start "$d" oauth "$PB_POP3_PORT" "$PB_POP3S_PORT" "$PB_OAUTH_SUBM_PORT" "$PB_OAUTH_SUBMS_PORT"
  PB_POP3_LOG="$d/dovecot.log"
}

# pb_oauth_auth_failures: OAuth logins the oauth2 passdb refused so far (inactive or unknown token,
# token of another user, scope missing): "auth: Info: oauth2(USER,IP,<session>): oauth2 failed: ...".
# An IdP that cannot be reached is an internal error ("auth: Error: ..."), not counted here.
pb_oauth_auth_failures() { grep -c 'auth: Info: oauth2([^)]*): oauth2 failed: ' "$PB_SRV/pop3/dovecot.log" || true; }
