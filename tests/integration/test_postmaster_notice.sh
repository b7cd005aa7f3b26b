#!/usr/bin/env bash
# What the postmaster reads about fetched mail: a message the office server (Dovecot LMTP) refuses
# and one too large to fetch. Both notices must speak to the postmaster — which message, from
# which mailbox, where it is now and the command that delivers it — never to a sender ("Your
# message", "Please check the address").
. "$(dirname "$0")/lib.sh"
pb_init 89
pb_require_postbridge

pb_certs
pb_pop3_start
pb_lmtp_start
pb_fill alice 1 2 small
pb_fill alice 1 300 big
pb_config lmtp postmaster=bob@office.test
# nobody is no user of the office server: LMTP refuses the recipient with 550 5.1.1.
pb_account alice deliver_to='["nobody@office.test"]' max_message_size=100KB
pb_run_once
pb_assert_rc "one pass" 0 3
wait_for "two notices in the postmaster's mailbox" 30 pb_office_has_at_least bob 2

# The human-readable text of each notice, decoded (the DSN's is quoted-printable).
"$PB_PY" - "$(pb_office_maildir bob)" > "$PB_WORK/notices.txt" <<'EOF'
import email, email.policy, glob, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "*"))):
    msg = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    print("=== " + msg["Subject"])
    print(part.get_content())
EOF
notice() { pb_assert_grep "$1" "$2" "$PB_WORK/notices.txt"; }

notice "the refused message: to the postmaster, which message" \
  'To the postmaster: postbridge fetched a message from .*\(Subject ".*", Message-ID <pbtest\.small\.'
notice "from which mailbox" 'from the mailbox alice at 127\.[0-9.]+ \(account alice\)\. It could not be delivered'
notice "that it is kept, and the command to deliver it" 'postbridge keeps it as message [0-9]+ in its queue'
notice "the command" 'postbridge queue -c .*postbridge\.toml retry [0-9]+'
notice "what the postmaster can do about the address" 'What to do: The receiving server does not know this address'
notice "the office server's words" '5\.1\.1'
notice "the too-large message: to the postmaster" '^To the postmaster:'
notice "says where it stays" 'It stays in the mailbox alice at 127\.[0-9.]+ \(account alice\)'
pb_assert_no_grep "no words for a sender" 'Your message|your message|Please check the address|Subject of your message' \
  "$PB_WORK/notices.txt"

# The command the notice names works.
id="$(grep -oE 'retry [0-9]+' "$PB_WORK/notices.txt" | head -n 1 | cut -d' ' -f2)"
pb_postbridge queue -c "$PB_CFG" retry "$id"
pb_assert_rc "the notice's retry command" 0
pb_assert_grep "and says so" "message $id: retry done" "$PB_LOG"
