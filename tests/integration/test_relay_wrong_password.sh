#!/usr/bin/env bash
# A smarthost rejects the login (the password was changed): postbridge tries ONE login, pauses
# that route and keeps its 20 messages queued (Postfix, by comparison, tries 5 times), the other
# route keeps delivering, and after the password file is fixed a SIGHUP sends the 20 at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 61
pb_require_postbridge

pb_certs
pb_sink_start
pbo_smarthost_start

pb_config sink
pbo_relay
# Route a logs in as alice with a wrong password; route b as bob with the right one. Both may open
# 2 connections: neither a retry nor a second parallel session may make a second login attempt.
secret_a="$(pb_secret smarthost-a not-the-password)"
pbo_smarthost a username=alice password_file="$secret_a" max_connections=2
pbo_smarthost b username=bob max_connections=2
pbo_start_postbridge

for i in $(seq 1 20); do pbo_send "user$i@a.test" "rcpt$i@example.net"; done
wait_for "postbridge to pause route a" 30 pb_log_has 'smarthost:a paused'
pb_assert_grep "the log quotes the smarthost's refusal" 'login rejected by .*535 5\.7\.8' "$PB_LOG"
pb_assert_grep "and says what to do" 'password changed' "$PB_LOG"
pb_assert_no_grep "the password is not logged" 'not-the-password' "$PB_LOG"

# Route b is not affected: a message from its sender goes out while route a waits.
pbo_send someone@b.test rcpt-b@example.net
wait_for "route b's message at the sink" 30 pbo_sink_has_from someone@b.test 1

# An observation window (not synchronisation): the route must stay quiet, no second login.
window_end=$(( $(date +%s) + 6 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done
pb_assert_eq "rejected logins at the smarthost (20 messages queued)" 1 "$(pbo_smarthost_auth_failures)"
pb_assert_eq "nothing of route a at the sink" 0 "$(pbo_sink_count_matching '^X-Mail-Args: <user[0-9]+@a\.test>')"
pbo_queue
cp "$PBO_Q" "$PB_WORK/queue-while-paused.txt"
pb_assert_eq "postbridge queue: route a's messages still queued" 20 \
  "$(awk '$2 == "queued" && $3 == "smarthost:a"' "$PBO_Q" | wc -l)"
pb_assert_grep "postbridge queue: summary" '^20 queued, 0 failed' "$PBO_Q"
# The login failed before any message was taken: no message has an attempt counted against it.
pb_assert_le "postbridge queue: messages with an attempt counted" 1 \
  "$(awk '$2 == "queued" && $3 == "smarthost:a" && $9 > 0' "$PBO_Q" | wc -l)"
pb_assert_alive "postbridge still runs"

# The admin fixes the password and reloads: the route resumes at once (its pause was an hour).
pb_secret smarthost-a >/dev/null
kill -HUP "$PB_PID"
wait_for "the reload" 10 pb_log_has 'configuration reloaded'
wait_for "route a's 20 messages at the sink" 30 pb_sink_has_at_least 21
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink" 21 "$(pb_sink_count)"
pb_assert_eq "route a's messages at the sink" 20 "$(pbo_sink_count_matching '^X-Mail-Args: <user[0-9]+@a\.test>')"
pb_assert_eq "no duplicates" "" "$(pb_sink_duplicates)"
pb_assert_eq "still exactly one rejected login" 1 "$(pbo_smarthost_auth_failures)"
pb_assert_eq "the smarthost took the 20 from alice, logged in after the reload" 20 "$(pbo_smarthost_accepted_by PLAIN alice)"
wait_for "postbridge to record all 21 deliveries" 10 pbo_queue_has delivered 21
pb_assert_eq "queued" 0 "$(pbo_queue_count queued)"
