#!/usr/bin/env bash
# Crash safety of a multidrop mailbox: postbridge is killed with SIGKILL twice while it routes a
# 300-message catch-all mailbox (half for alice@, half for info@, which the map fans out to alice
# and bob) into Dovecot LMTP; a restart with --once gives every user every message the routing
# table promises. Extra copies are bounded by what no client can avoid: a message the office
# server accepted just before the kill, on each of the two office connections.
. "$(dirname "$0")/lib.sh"
pb_init 44
pb_require_postbridge

pb_certs
pb_pop3_start
pb_lmtp_start
md="$(pb_maildir carol)"
pb__users
for who in alice info; do
  "$PB_PY" "$PB_TESTS_DIR/mkmail.py" "$md" 150 5 "$who" --domain firma.test --uid "$PB_MAIL_UID" \
    --gid "$PB_MAIL_GID" --seed "$PB_SEED" --tag "crash-$who" > /dev/null || pb_fail "mkmail.py failed"
done
pb_assert_eq "messages in the catch-all mailbox" 300 "$(pb_mailbox_count carol)"
pb_mailbox_msgids carol > "$PB_WORK/expected-alice.txt"                      # alice gets all of them
pb_mailbox_msgids carol | grep -F '.crash-info.' > "$PB_WORK/expected-bob.txt"  # bob only info@'s
pb_assert_eq "info@ messages" 150 "$(wc -l < "$PB_WORK/expected-bob.txt")"

pb_config lmtp
pb_account carol poll_interval=1h deliver_to=
cat >> "$PB_CFG" <<'EOC'
[account.multidrop]
domains = ["firma.test"]
rewrite_domain = "office.test"
map = { "info@firma.test" = ["alice@office.test", "bob@office.test"] }
default_recipient = "eve@office.test"

# The restart after a kill tells the admin: to a mailbox of its own, apart from the routed mail.
[alerts]
recipients = ["frank@office.test"]
EOC

kills=0
for round in 1 2; do
  have="$(pb_office_count alice)"
  target=$(( have + (300 - have) / 3 ))
  (( target > have )) || pb_fail "nothing left to interrupt in round $round (alice has $have)"
  pb_start_postbridge
  PB_POLL=0.05 wait_for "alice's office mailbox to reach $target" 180 pb_office_has_at_least alice "$target"
  kill -KILL "$PB_PID"
  pb_wait_exit 10
  kills=$((kills + 1))
  pb_assert_eq "kill #$kills took effect (exit status 128+9)" 137 "$PB_RC"
  pb_log "killed with alice at $(pb_office_count alice), bob at $(pb_office_count bob), provider $(pb_mailbox_count carol)"
done

pb_run_once
pb_assert_rc "--once after two crashes delivered everything" 0
for u in alice bob; do
  pb_office_msgids "$u" > "$PB_WORK/received-$u.txt"
  extra="$(uniq -c "$PB_WORK/received-$u.txt" | awk '$1 > 1 { s += $1 - 1 } END { print s + 0 }')"
  uniq -d "$PB_WORK/received-$u.txt" | sed "s/^/duplicate for $u: /" >&2
  pb_assert_le "$u: extra copies (at most one per office connection per kill)" $((2 * kills)) "$extra"
  pb_assert_subset "$u: nothing that was not routed to $u" "$PB_WORK/received-$u.txt" "$PB_WORK/expected-$u.txt"
  pb_assert_same_set "$u: every message the routing promised" "$PB_WORK/expected-$u.txt" "$PB_WORK/received-$u.txt"
done
pb_assert_eq "nothing went to the default recipient" 0 "$(pb_office_count eve)"
pb_assert_eq "provider mailbox emptied" 0 "$(pb_mailbox_count carol)"
