#!/usr/bin/env bash
# IMAP against a real Dovecot (the harness's provider; IMAP on the POP3 mailboxes): imap::Client
# logs in with STARTTLS on 143 and over implicit TLS on 993, selects INBOX, fetches every message
# intact in pipelined batches, UID EXPUNGEs exactly the messages it names, renews IDLE, is woken
# from IDLE by a new message, and logs out.
. "$(dirname "$0")/lib.sh"
pb_init 49
[ -x "${PB_IMAP_CHECK:-}" ] || pb_fail "PB_IMAP_CHECK must name the built imap_dovecot_check (run the test through ctest)"

pb_certs
pb_pop3_start
pb_fill alice 10 20
pb_save_originals alice "$PB_WORK/originals"
pw="$(pb_secret alice)"

# check NAME PORT MODE EXPUNGE IDLE_MS: one helper run; its output in $PB_WORK/NAME.out.
check() {
  mkdir -p "$PB_WORK/$1"
  "$PB_IMAP_CHECK" "$PB_IP" "$2" "$3" "$PB_CA" alice "$pw" "$PB_WORK/$1" "$4" "$5" > "$PB_WORK/$1.out" 2>&1 \
    || pb_fail "imap_dovecot_check ($1) failed: $(cat "$PB_WORK/$1.out")"
  pb_log "$1: $(tr '\n' ';' < "$PB_WORK/$1.out")"
}

# Every fetched message is one of the originals, byte for byte up to the line ends (IMAP sends CRLF).
same_messages() {
  "$PB_PY" - "$PB_WORK/originals" "$1" "$2" <<'PY'
import os, sys
orig_dir, got_dir, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
norm = lambda b: b.replace(b"\r\n", b"\n")
originals = {norm(open(os.path.join(orig_dir, f), "rb").read()) for f in os.listdir(orig_dir)}
got = [open(os.path.join(got_dir, f), "rb").read() for f in sorted(os.listdir(got_dir))]
assert len(got) == want, (len(got), want)
for g in got:
    assert b"\n" not in g.replace(b"\r\n", b""), "a bare LF in what IMAP sent"
    assert norm(g) in originals, g[:200]
print("ok:", len(got), "messages match the originals")
PY
}

# STARTTLS on 143: log in, fetch all 10, expunge 3, renew IDLE once after 300 ms.
check starttls "$PB_IMAP_PORT" starttls 3 300
pb_assert_grep "STARTTLS session" '^login AUTHENTICATE PLAIN over TLSv1' "$PB_WORK/starttls.out"
pb_assert_grep "all messages listed" '^listed 10$' "$PB_WORK/starttls.out"
pb_assert_grep "all messages fetched, sizes as listed" '^fetched 10 bytes' "$PB_WORK/starttls.out"
pb_assert_grep "three expunged, seven left" '^expunged 3 left 7 exists 7$' "$PB_WORK/starttls.out"
pb_assert_grep "IDLE renewed without new mail" '^idle new_mail 0 exists 7$' "$PB_WORK/starttls.out"
pb_assert_grep "LOGOUT confirmed" '^logout ok$' "$PB_WORK/starttls.out"
same_messages "$PB_WORK/starttls" 10 || pb_fail "the messages fetched over STARTTLS differ from the originals"
pb_assert_eq "provider mailbox after UID EXPUNGE of 3" 7 "$(pb_mailbox_count alice)"
pb_assert_grep "Dovecot saw a TLS login" 'imap-login: Info: Login: user=<alice>.*TLS' "$PB_POP3_LOG"

# Implicit TLS on 993: the same mailbox, the seven left, expunge them all.
check implicit "$PB_IMAPS_PORT" implicit 7 0
pb_assert_grep "all seven listed" '^listed 7$' "$PB_WORK/implicit.out"
pb_assert_grep "all expunged" '^expunged 7 left 0 exists 0$' "$PB_WORK/implicit.out"
same_messages "$PB_WORK/implicit" 7 || pb_fail "the messages fetched over implicit TLS differ from the originals"
pb_assert_eq "provider mailbox after UID EXPUNGE of all" 0 "$(pb_mailbox_count alice)"

# An empty mailbox is no error: nothing listed, nothing fetched. Then IDLE (renewal after 20 s)
# is woken by a message delivered meanwhile, long before the renewal.
mkdir -p "$PB_WORK/empty"
"$PB_IMAP_CHECK" "$PB_IP" "$PB_IMAPS_PORT" implicit "$PB_CA" alice "$pw" "$PB_WORK/empty" 0 -20000 \
  > "$PB_WORK/empty.out" 2>&1 &
helper=$!
wait_for "the helper to idle" 15 grep -q '^idling$' "$PB_WORK/empty.out"
idle_started=$(date +%s%N)
pb_fill alice 1 5 idle
wait "$helper" || pb_fail "imap_dovecot_check (idle) failed: $(cat "$PB_WORK/empty.out")"
idle_ms=$(( ($(date +%s%N) - idle_started) / 1000000 ))
pb_log "empty: $(tr '\n' ';' < "$PB_WORK/empty.out") (woken after ${idle_ms} ms)"
pb_assert_grep "empty mailbox" '^listed 0$' "$PB_WORK/empty.out"
pb_assert_grep "IDLE woken by the new message" '^idle new_mail 1 exists 1$' "$PB_WORK/empty.out"
pb_assert_le "ms until IDLE returned with the new message" 10000 "$idle_ms"
pb_assert_grep "LOGOUT after IDLE" '^logout ok$' "$PB_WORK/empty.out"
pb__imap_sessions_ended() { (( $(pb_imap_sessions alice) == $1 )); }
wait_for "Dovecot to log three IMAP sessions as ended" 10 pb__imap_sessions_ended 3
pb_assert_no_grep "no password in the helper's output" "$PB_PASSWORD" "$PB_WORK/starttls.out"
