#!/usr/bin/env bash
# Multidrop: a catch-all provider mailbox filled with the header sets of
# mkmultidrop.py is fetched into Dovecot LMTP with several office users; each user's mailbox
# holds exactly what the table says (no copy missing, none twice), the unknown user's mail is
# redirected to the default recipient with a note, the loop is held and stays at the provider,
# the dry run predicts it all without touching anything, and the log and the status-page events
# carry each decision's reason.
. "$(dirname "$0")/lib.sh"
pb_init 43
pb_require_postbridge

pb_certs
pb_pop3_start
pb_lmtp_start
# The loop key postbridge will find in its state folder, so the test can write a real loop mark.
mkdir -p "$PB_WORK/state"
head -c 32 /dev/urandom > "$PB_WORK/state/loop.key"
chmod 600 "$PB_WORK/state/loop.key"
"$PB_PY" "$PB_TESTS_DIR/mkmultidrop.py" "$(pb_maildir carol)" "$PB_WORK/manifest.tsv" gw.test \
  --loop-key "$PB_WORK/state/loop.key" --uid "$PB_MAIL_UID" --gid "$PB_MAIL_GID" > "$PB_WORK/count.txt" \
  || pb_fail "mkmultidrop.py failed"
total="$(cat "$PB_WORK/count.txt")"
pb_assert_eq "messages in the catch-all mailbox" "$total" "$(pb_mailbox_count carol)"
pb_save_originals carol "$PB_WORK/originals"
loop_id='<multidrop.loop@example.com>'

pb_config lmtp
pb_account carol deliver_to=
cat >> "$PB_CFG" <<'EOC'

[account.multidrop]
domains = ["firma.test", "müller.test"]
rewrite_domain = "office.test"
map = { "info@firma.test" = ["alice@office.test", "bob@office.test"], "chef@firma.test" = ["dave@office.test"] }
default_recipient = "eve@office.test"
EOC

# --- the dry run predicts without delivering or storing anything -----------------------------------
file_of() { grep -l -- "^Message-ID: $1" "$PB_WORK"/originals/* | head -n 1; }
pb_postbridge route -c "$PB_CFG" --account carol "$(file_of '<multidrop.map@example.com>')" \
  "$(file_of '<multidrop.forged@example.com>')" "$(file_of "$loop_id")" \
  "$(file_of '<multidrop.forged-loop@example.com>')"
pb_assert_rc "postbridge route" 0
pb_assert_grep "dry run: the map fans out" 'alice@office\.test +via Delivered-To \(info@firma\.test, map\)' "$PB_LOG"
pb_assert_grep "dry run: the second map target" 'bob@office\.test +via Delivered-To \(info@firma\.test, map\)' "$PB_LOG"
pb_assert_grep "dry run: the forged lower Delivered-To is ignored" 'ignored 1 lower Delivered-To' "$PB_LOG"
pb_assert_grep "dry run: the loop is held" 'HELD, not delivered: mail loop' "$PB_LOG"
pb_assert_grep "dry run: a forged loop header is not a loop" 'without a valid mark: ignored' "$PB_LOG"
[ "$(ls "$PB_WORK/state")" = loop.key ] || pb_fail "the dry run wrote to the state folder: $(ls "$PB_WORK/state")"
for u in alice bob dave eve frank; do pb_assert_eq "dry run delivered nothing to $u" 0 "$(pb_office_count "$u")"; done

# --- one pass ------------------------------------------------------------------------------------------
pb_run_once
pb_assert_rc "--once (the held loop is not an error)" 0
run_log="$PB_LOG"

# Each office user holds exactly the Message-IDs the table names for them, repeats included.
check_user() {
  local u="$1" want got
  want="$(awk -F'\t' -v u="$u" '$1 == u { print $2 }' "$PB_WORK/manifest.tsv" | sort)"
  got="$(pb_office_msgids "$u")"
  if [ "$want" != "$got" ]; then
    pb_fail "office mailbox of $u differs from the table (< expected, > got):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
  fi
  pb_log "ok: $u got exactly its $(echo "$want" | grep -c . ) message(s)"
}
for u in alice bob dave eve frank; do check_user "$u"; done
for u in carol user01 user02; do pb_assert_eq "nothing for $u" 0 "$(pb_office_count "$u")"; done

# The unknown user: Dovecot refused it, eve got a copy that says why.
pb_assert_grep "the office server refused the unknown user" 'nosuchuser.*(unknown user|doesn.t exist)' \
  "$PB_SRV/lmtp/dovecot.log"
redirected="$(grep -l 'multidrop.unknown-user' "$(pb_office_maildir eve)"/*/* | head -n 1)"
[ -n "$redirected" ] || pb_fail "eve has no copy of the unknown user's message"
pb_assert_grep "the copy says why it was redirected" \
  '^X-Postbridge-Redirected: for <nosuchuser@office\.test>, refused by the office server \(550' "$redirected"
pb_assert_grep "the log tells the admin" 'redirected to eve@office\.test as message [0-9]+' "$run_log"

# Relay tricks of our domain never reach the office server as written (an open relay there).
pb_assert_grep "the percent hack went to the default recipient" \
  'multidrop\.percent-hack@example\.com> \(POP3 #[0-9]+\) -> eve@office\.test default_recipient: the address of ours it names is not delivered as written' "$run_log"
pb_assert_grep "the log says why" 'victim%target\.example@firma\.test \(Delivered-To\): not delivered as written: .*percent hack' "$run_log"
if grep -Eq 'RCPT TO:<(victim|target)' "$PB_SRV/lmtp/dovecot.log" 2>/dev/null || grep -Eqi 'victim%|!victim' "$PB_SRV/lmtp/dovecot.log"; then
  pb_fail "the office server saw a relay-trick recipient: $(grep -Ei 'victim' "$PB_SRV/lmtp/dovecot.log" | head -n 3)"
fi

# Every delivered message carries our loop marker; the provider's Delivered-To is renamed.
bcc="$(grep -l 'multidrop.bcc@' "$(pb_office_maildir alice)"/*/* | head -n 1)"
pb_assert_grep "our loop marker" '^X-Postbridge-Loop: gw\.test' "$bcc"
pb_assert_grep "the provider's Delivered-To is kept under another name" '^X-Original-Delivered-To: alice@firma\.test' "$bcc"

# The loop stays at the provider (held, not deleted); everything else was deleted there.
pb_assert_eq "only the held loop is left at the provider" 1 "$(pb_mailbox_count carol)"
pb_assert_eq "and it is the loop" "$loop_id" "$(pb_mailbox_msgids carol)"
pb_postbridge queue -c "$PB_CFG"
pb_assert_grep "the queue shows the held loop with its reason" 'held .*mail loop' "$PB_LOG"

# Every decision is logged with its reason, and is in the fetch log of the status page.
pb_assert_grep "log: the Bcc recipient" 'multidrop\.bcc@example\.com> \(POP3 #[0-9]+\) -> alice@office\.test via Delivered-To \(alice@firma\.test\)' "$run_log"
pb_assert_grep "log: To/Cc fallback" 'multidrop\.to-cc@example\.com> \(POP3 #[0-9]+\) -> alice@office\.test via To \(ALICE@FIRMA\.TEST\)' "$run_log"
pb_assert_grep "log: the duplicate" 'not delivered again to alice@office\.test' "$run_log"
db="$PB_WORK/state/postbridge.db"
events="$(sqlite3 "$db" "SELECT result || ' | ' || text FROM events WHERE kind = 'fetch' ORDER BY id")"
grep -q '^ok | dave@office.test via Delivered-To (chef@firma.test, map)' <<< "$events" \
  || pb_fail "the fetch events lack the routing reason:
$events"
pb_assert_eq "fetch events marked held" 1 "$(grep -c '^held | ' <<< "$events")"
pb_assert_eq "fetch events that name the duplicate" 2 "$(grep -c '^ok | .*not delivered again to alice@office.test' <<< "$events")"

# --- a second pass changes nothing; releasing the loop delivers it once -----------------------------------
before="$(for u in alice bob dave eve frank; do pb_office_count "$u"; done | tr '\n' ' ')"
pb_run_once
pb_assert_rc "second --once" 0
pb_assert_eq "nothing delivered twice" "$before" "$(for u in alice bob dave eve frank; do pb_office_count "$u"; done | tr '\n' ' ')"

held="$(sqlite3 "$db" "SELECT id FROM messages WHERE state = 'held'")"
[[ "$held" =~ ^[0-9]+$ ]] || pb_fail "expected one held message, got '$held'"
pb_postbridge queue -c "$PB_CFG" release "$held"
pb_assert_rc "queue release" 0
pb_run_once
pb_assert_rc "--once after the release" 0
pb_assert_eq "alice got the released message" 1 "$(pb_office_msgids alice | grep -cF "$loop_id")"
pb_assert_eq "the provider mailbox is empty now" 0 "$(pb_mailbox_count carol)"
