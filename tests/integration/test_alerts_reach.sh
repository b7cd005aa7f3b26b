#!/usr/bin/env bash
# Alerts reach the admin when the office server is the problem: with the office server down (its
# port refuses connections), a refused mailbox login still arrives, once, through the smarthost
# that takes the postmaster's domain, and the webhook gets it as JSON with its Bearer token. A
# webhook that refuses (HTTP 500) is logged in plain words and never blocks the mail. No alert and
# no log line carries a password or the webhook token.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 56
pb_require_postbridge

pb_certs
pb_pop3_start
pb_sink_start
pbo_smarthost_start
pb_fill alice 1 2

HOOK_PORT=22090
HOOK_DIR="$PB_WORK/hooks"
hook_start() {  # STATUS
  mkdir -p "$HOOK_DIR"
  pb__register webhook "$PB_WORK/webhook.pid"
  setsid python3 "$(dirname "$0")/webhook_receiver.py" "$PB_IP" "$HOOK_PORT" "$HOOK_DIR" "$1" \
    > "$PB_WORK/webhook.log" 2>&1 < /dev/null &
  echo $! > "$PB_WORK/webhook.pid"
  wait_for "the webhook receiver on $PB_IP:$HOOK_PORT" 10 pb_port_open "$HOOK_PORT"
}
hook_start 200

WRONG=not-the-password-5611
TOKEN=tk_hook_token_9931
secret="$(pb_secret alice-reach "$WRONG")"
token_file="$(pb_secret webhook "$TOKEN")"
pb_config sink
# The office server: a port on our address where nothing listens (connection refused).
sed -i "s/^port = $PB_SINK_PORT\$/port = 22026/" "$PB_CFG"
pbo_relay
pbo_smarthost a senders='["*@office.test"]'
pb_account alice password_file="$secret" poll_interval=1s
cat >> "$PB_CFG" <<EOC

[alerts]
recipients = ["admin@office.test"]
webhook_url = "http://$PB_IP:$HOOK_PORT/postbridge"
webhook_token_file = "$token_file"
EOC

alert_files() { pb_sink_files | xargs -r grep -lE "^Subject: postbridge: $1" 2>/dev/null || true; }
alert_count_is() { (( $(alert_files "$1" | wc -l) == $2 )); }
hook_count() { find "$HOOK_DIR" -name 'hook.*' | wc -l; }
hook_count_is() { (( $(hook_count) == $1 )); }

pbo_start_postbridge
wait_for "the login alert at the webhook" 30 hook_count_is 1
hook="$HOOK_DIR/hook.1"
pb_assert_eq "the webhook gets the token as a Bearer header" "Bearer $TOKEN" "$(head -n 1 "$hook")"
pb_assert_eq "the webhook gets the URL's path" "/postbridge" "$(sed -n 2p "$hook")"
body="$(tail -n +3 "$hook")"
pb_assert_eq "the webhook body names the problem" "mailbox alice cannot log in" \
  "$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["problem"])')"
pb_assert_eq "the webhook body says raised" "raised" \
  "$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kind"])')"
pb_assert_eq "the webhook body has an RFC 3339 since" 1 \
  "$(printf '%s' "$body" | python3 -c 'import json,sys,re; print(int(bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", json.load(sys.stdin)["since"]))))')"

# The office server refuses: the alert mail goes around it through the smarthost.
wait_for "the login alert through the smarthost" 150 alert_count_is 'mailbox alice cannot log in' 1
mail="$(alert_files 'mailbox alice cannot log in')"
pb_assert_grep "the alert says how it came" 'comes through the smarthost a' "$mail"
pb_assert_grep "the alert goes to the [alerts] recipient" '^To: <admin@office.test>' "$mail"
pb_assert_grep "the smarthost route is logged" 'goes through smarthost:a: the office server takes no mail now' "$PB_LOG"
window_end=$(( $(date +%s) + 5 ))
while (( $(date +%s) < window_end )); do sleep 0.5; done   # an observation window
pb_assert_eq "exactly one alert mail" 1 "$(alert_files '' | wc -l)"
pb_assert_eq "exactly one webhook call" 1 "$(hook_count)"

# A webhook that fails: logged in plain words, the mail path goes on (a failed reload alert).
kill -TERM "$PB_PID"
pb_wait_exit 15
pb_stop_pidfile "$PB_WORK/webhook.pid" webhook
rm -f "$HOOK_DIR"/hook.*
hook_start 500
pbo_start_postbridge
printf '\n[broken\n' >> "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "the failing webhook in the log" 60 grep -q 'alert webhook: .* answered HTTP 500' "$PB_LOG"
wait_for "the reload alert through the smarthost" 150 alert_count_is 'the configuration could not be reloaded' 1
pb_proc_running "$PB_PID" || pb_fail "postbridge stopped"

for f in $(alert_files '') "$PB_WORK"/postbridge-*.log "$HOOK_DIR"/hook.*; do
  pb_assert_no_grep "no password in $(basename "$f")" "$WRONG|$PB_PASSWORD" "$f"
done
for f in $(alert_files '') "$PB_WORK"/postbridge-*.log; do
  pb_assert_no_grep "no webhook token in $(basename "$f")" "$TOKEN" "$f"
done
