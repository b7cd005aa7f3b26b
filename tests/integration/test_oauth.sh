#!/usr/bin/env bash
# OAuth 2.0 logins end to end, against a real Dovecot (POP3 and submission) that validates every
# token at the simulated identity provider (oauth_idp.py), as Gmail and Microsoft 365 do:
#   - `postbridge oauth login`: the device login (the code it prints is the one approved) and the
#     browser login with PKCE (the redirect lands on postbridge's one-off 127.0.0.1 listener);
#     tokens stored 0600 in a 0700 folder, never printed; `oauth status` and `test` say what is missing
#   - fetching with XOAUTH2 (implicit TLS) and OAUTHBEARER (STLS), relaying with XOAUTH2
#   - an access token the server refuses is refreshed and the session tried once more (POP3, SMTP)
#   - an access token about to expire is refreshed before the login (none refused)
#   - a revoked refresh token: auth-failed with the provider's words and the login command; a new
#     browser login while the service runs takes effect by itself
#   - a token without the needed scope: refreshed once, then auth-failed with what to check, no loop
#   - who signed in: a sign-in as another user than configured, where the provider's
#     id_token says so, is refused with both names and stores nothing (CLI device and browser
#     login, the page's browser login); where the provider does not say (no openid), the mail
#     server's refusal asks "signed in as another user?"
#   - the page's /oauth/callback: an address without the pending sign-in's state (forged, absent,
#     with error=) changes nothing; a replayed one finds nothing waiting
#   - no token in any output or log
# Never skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 47
pb_require_postbridge

pb_certs
pb_sink_start
pb_idp_start --interval 1
pb_dovecot_oauth_start
pb_fill alice 3 5 a1
pb_fill bob 2 5 b1

# --- the config: two OAuth mailboxes, one OAuth smarthost --------------------------------------
# oauth_table SECTION [browser] [SCOPES]: the [SECTION.oauth2] of the simulated provider. With
# openid among the scopes (the default) its answers carry an id_token that says who signed in.
oauth_table() {
  cat <<EOF

[$1.oauth2]
provider = "custom"
client_id = "pb-test-client"
token_url = "$(pb_idp_url /token)"
authorization_url = "$(pb_idp_url /authorize)"
scopes = "${3:-openid email mail offline_access}"
EOF
  # Without a device login (like Google): `browser` as the second argument.
  [ "${2:-device}" = browser ] || echo "device_authorization_url = \"$(pb_idp_url /devicecode)\""
}
WEB_PORT=22090
pb_config sink
pb_account alice auth=xoauth2 password_file= poll_interval=2s
oauth_table account >> "$PB_CFG"
pb_account bob auth=oauthbearer port="$PB_POP3_PORT" tls=starttls password_file= poll_interval=2s
oauth_table account >> "$PB_CFG"
pbo_relay
pbo_smarthost prov host="$PB_IP" port="$PB_OAUTH_SUBMS_PORT" tls=implicit auth=xoauth2 username=carol \
  password_file= default=true
oauth_table smarthost >> "$PB_CFG"
# eve: a browser-only provider, signed in from the status page later.
pb_account eve auth=xoauth2 password_file= poll_interval=2s
oauth_table account browser >> "$PB_CFG"
# dave: a provider that never says who signed in (no openid scope, so no id_token).
pb_account dave auth=xoauth2 password_file= poll_interval=2s
oauth_table account device "mail offline_access" >> "$PB_CFG"
printf '\n[web]\nlisten = "%s:%s"\n' "$PB_IP" "$WEB_PORT" >> "$PB_CFG"
pb_postbridge check -c "$PB_CFG"
pb_assert_rc "the OAuth config is valid" 0

TOKENS="$PB_WORK/state/oauth"

# --- before any login: status and the doctor say what to do -------------------------------------
pb_postbridge oauth -c "$PB_CFG" status
pb_assert_rc "oauth status" 0
pb_assert_grep "status before any login" "account alice \(custom\): no login yet; run postbridge oauth login -c $PB_CFG account alice" "$PB_LOG"
pb_assert_grep "status of the smarthost" "smarthost prov \(custom\): no login yet" "$PB_LOG"
pb_postbridge test -c "$PB_CFG" account alice
pb_assert_rc "the doctor without a token" 1
pb_assert_grep "the doctor names the login command" "no OAuth login yet: run postbridge oauth login account alice -c $PB_CFG" "$PB_LOG"
pb_postbridge oauth -c "$PB_CFG" login nobody
pb_assert_rc "oauth login of an unknown name" 2
pb_assert_grep "an unknown name" "there is no account or smarthost named 'nobody'" "$PB_LOG"

# --- the device login: postbridge shows a code, the user approves exactly that code -----------
LOGINS=0
# oauth_login_start ARGS...: `postbridge oauth -c CFG login ARGS` in the background; LOGIN_OUT, LOGIN_PID.
oauth_login_start() {
  LOGINS=$((LOGINS + 1))
  LOGIN_OUT="$PB_WORK/oauth-login-$LOGINS.log"
  timeout -k 5 120 "$POSTBRIDGE" oauth -c "$PB_CFG" login "$@" > "$LOGIN_OUT" 2>&1 < /dev/null &
  LOGIN_PID=$!
  pb_log "postbridge oauth login $* started (pid $LOGIN_PID, $(basename "$LOGIN_OUT"))"
}
oauth_login_end() {  # oauth_login_end DESC: wait for the login command; it must have worked
  local rc=0
  wait_for "oauth login to finish ($1)" 60 pb__exited "$LOGIN_PID"
  wait "$LOGIN_PID" || rc=$?
  [ "$rc" -eq 0 ] || pb_fail "$1: postbridge oauth login exited $rc:
$(cat "$LOGIN_OUT")"
  pb_assert_grep "$1: signed in" "^Signed in. The tokens are stored in $TOKENS/" "$LOGIN_OUT"
  pb_log "ok: $1"
}
# oauth_login_refused DESC WHO: the login command must fail, saying that WHO signed in instead
# of the configured user (LOGIN_USER), and tell to sign in again as that user.
oauth_login_refused() {
  local rc=0
  wait_for "oauth login to finish ($1)" 60 pb__exited "$LOGIN_PID"
  wait "$LOGIN_PID" || rc=$?
  [ "$rc" -eq 1 ] || pb_fail "$1: postbridge oauth login exited $rc, not 1:
$(cat "$LOGIN_OUT")"
  pb_assert_grep "$1: both names" \
    "the login for account $LOGIN_USER failed: signed in as $2, but account $LOGIN_USER logs in as $LOGIN_USER; sign in again as $LOGIN_USER \(nothing was stored\)" \
    "$LOGIN_OUT"
  pb_assert_no_grep "$1: not reported as done" "^Signed in" "$LOGIN_OUT"
  pb_log "ok: $1"
}
login_code() { sed -n 's/.*enter the code \([A-Z0-9-]*\) and sign in as.*/\1/p' "$LOGIN_OUT"; }
has_code() { [ -n "$(login_code)" ]; }

# First as someone else (a DNS-rebinding page could once start this sign-in): the
# provider's id_token names mallory, so nothing is stored.
oauth_login_start account alice
wait_for "the device code on the terminal" 30 has_code
pb_idp_control approve "user_code=$(login_code)&user=mallory" > /dev/null
LOGIN_USER=alice oauth_login_refused "a device login of account alice as mallory" mallory
[ ! -e "$TOKENS/account.alice.json" ] || pb_fail "a sign-in as mallory stored tokens for alice"

oauth_login_start account alice
wait_for "the device code on the terminal" 30 has_code
pb_assert_grep "the verification address" "open $(pb_idp_url /device)" "$LOGIN_OUT"
pb_assert_grep "the mailbox to sign in as" "sign in as alice" "$LOGIN_OUT"
pb_idp_control approve "user_code=$(login_code)&user=alice" > /dev/null
oauth_login_end "device login of account alice"
pb_assert_grep "the provider named alice" "^The provider confirms the sign-in as alice\.$" "$LOGIN_OUT"

# dave's provider does not say who signed in: stored, with the words that the server will tell.
oauth_login_start account dave
wait_for "the device code for dave" 30 has_code
pb_idp_control approve "user_code=$(login_code)&user=mallory" > /dev/null
oauth_login_end "device login of account dave (as mallory, which nobody can tell yet)"
pb_assert_grep "dave's sign-in is unconfirmed" \
  "^The provider did not say who signed in: the first login at the mail server shows whether it was dave\.$" "$LOGIN_OUT"

# The smarthost by its bare name (unique in the config), approved for the mailbox carol.
oauth_login_start prov
wait_for "the device code for the smarthost" 30 has_code
pb_idp_control approve "user_code=$(login_code)&user=carol" > /dev/null
oauth_login_end "device login of smarthost prov"

# --- the browser login (PKCE): the provider's redirect reaches postbridge's 127.0.0.1 listener ---
login_url() { grep -o "http://[^ ]*/authorize?[^ ]*" "$LOGIN_OUT" | head -n 1; }
has_url() { [ -n "$(login_url)" ]; }
# browser_login USER [AS]: the sign-in a browser would do, to the end of the redirect; AS: the
# user who really signs in at the provider (default USER, whom the login hint names).
browser_login() {
  local url
  url="$(login_url)"
  [[ "$url" == *"code_challenge_method=S256"* && "$url" == *"login_hint=$1"* ]] ||
    pb_fail "the sign-in address lacks PKCE or the login hint: $url"
  curl -sS -L --noproxy '*' --max-time 20 -o "$PB_WORK/browser-$LOGINS.txt" "$url${2:+&user=$2}" ||
    pb_fail "the browser sign-in failed: $(cat "$PB_WORK/browser-$LOGINS.txt" 2>/dev/null)"
  pb_assert_grep "the page at the end of the sign-in" "postbridge received the sign-in for $1; the terminal says" \
    "$PB_WORK/browser-$LOGINS.txt"
}
oauth_login_start account bob --browser
wait_for "the sign-in address on the terminal" 30 has_url
browser_login bob
oauth_login_end "browser login of account bob"

for f in account.alice account.bob account.dave smarthost.prov; do
  [ "$(stat -c %a "$TOKENS/$f.json")" = 600 ] || pb_fail "$TOKENS/$f.json has mode $(stat -c %a "$TOKENS/$f.json"), not 600"
done
[ "$(stat -c %a "$TOKENS")" = 700 ] || pb_fail "$TOKENS has mode $(stat -c %a "$TOKENS"), not 700"
pb_postbridge oauth -c "$PB_CFG" status
pb_assert_grep "status after the logins" "account alice \(custom\): logged in .*access token valid until .*scope mail offline_access" "$PB_LOG"
pb_assert_grep "status of the smarthost after its login" "smarthost prov \(custom\): logged in" "$PB_LOG"

# Every token value ever stored, for the scan at the end.
SEEN_TOKENS="$PB_WORK/seen-tokens.txt"
remember_tokens() {
  "$PB_PY" - "$TOKENS" >> "$SEEN_TOKENS" <<'EOF'
import json, pathlib, sys
for f in pathlib.Path(sys.argv[1]).glob("*.json"):
    t = json.loads(f.read_text())
    for k in ("refresh_token", "access_token"):
        if t.get(k): print(t[k])
EOF
}
remember_tokens

# --- the doctor logs in with the stored token -----------------------------------------------------
pb_postbridge test -c "$PB_CFG" account alice
pb_assert_rc "the doctor with a token" 0
pb_assert_grep "the doctor's OAuth step" "OAuth access token from $PB_IP" "$PB_LOG"

# --- fetching and relaying with OAuth -----------------------------------------------------------
pbo_start_postbridge
wait_for "alice's and bob's 5 messages at the office" 60 pb_sink_has_at_least 5
wait_for "alice's mailbox emptied" 30 pb_mailbox_has alice 0
wait_for "bob's mailbox emptied" 30 pb_mailbox_has bob 0
pbo_send anna@prov.test rcpt@example.net
wait_for "the relayed message at the sink (through Dovecot submission, XOAUTH2)" 60 pbo_sink_has_from anna@prov.test 1
pb_assert_grep "alice logged in with XOAUTH2" "pop3-login: Info: Login: user=<alice>, method=XOAUTH2" "$PB_POP3_LOG"
pb_assert_grep "bob logged in with OAUTHBEARER" "pop3-login: Info: Login: user=<bob>, method=OAUTHBEARER" "$PB_POP3_LOG"
pb_assert_grep "the smarthost logged in with XOAUTH2" "submission-login: Info: Login: user=<carol>, method=XOAUTH2" "$PB_POP3_LOG"
# dave's tokens are mallory's: the server's refusal is the first check, and says so.
wait_for "dave's login refused, asking whether another user signed in" 60 pb_log_has \
  "account dave: .*signed in as another user\? The provider did not say who signed in, and the server refuses dave: sign in again as dave \(postbridge oauth login account dave -c $PB_CFG\); otherwise check \[account.oauth2\]"
pb_assert_no_grep "alice's confirmed login is never asked about" "account alice: .*signed in as another user" "$PB_LOG"

# --- a browser sign-in as someone else while a login is stored: refused, the stored one stays ---
alice_tokens="$(sha256sum < "$TOKENS/account.alice.json")"
oauth_login_start account alice --browser
wait_for "the sign-in address on the terminal" 30 has_url
browser_login alice mallory
LOGIN_USER=alice oauth_login_refused "a browser login of account alice as mallory" mallory
[ "$(sha256sum < "$TOKENS/account.alice.json")" = "$alice_tokens" ] ||
  pb_fail "a refused sign-in changed alice's token file"
pb_fill alice 1 5 a-after-mallory
wait_for "alice's mail still fetched with her own login" 60 pb_mailbox_has alice 0
wait_for "that message at the office" 30 pb_sink_has_at_least 7

# --- a refused access token: refreshed, and the same session tried once more ---------------------
refresh_before="$(pb_idp_stat refresh_ok)"
pb_idp_control expire-access > /dev/null
pb_fill alice 1 5 a2
wait_for "alice's new message fetched after a refresh" 60 pb_sink_has_at_least 8
wait_for "a refresh for each mailbox" 30 pb_idp_stat_at_least refresh_ok $((refresh_before + 2))
pb_assert_grep "the fetcher's retry" "account alice: the server refused the access token .*trying once more" "$PB_LOG"
pbo_send ben@prov.test rcpt@example.net
wait_for "the relayed message after the smarthost's refresh" 60 pbo_sink_has_from ben@prov.test 1
wait_for "the smarthost's refresh" 30 pb_idp_stat_at_least refresh_ok $((refresh_before + 3))
pb_assert_grep "the deliverer's retry" "smarthost:prov: the server refused the access token .*trying once more" "$PB_LOG"
pb_assert_no_grep "no failure after a refused token" "auth-failed|paused" "$PB_LOG"
remember_tokens

# --- a token about to expire is renewed before the login, not after a refusal ------------------
# Tokens from now on live 200 s, below postbridge's 5-minute margin: every session refreshes first.
pb_idp_control expires-in "seconds=200" > /dev/null
pb_idp_control expire-access "user=bob" > /dev/null   # bob's next session fetches one such token
wait_for "bob's short-lived token" 30 pb_idp_stat_at_least refresh_ok $((refresh_before + 4))
failed_before="$(pb_idp_stat introspections_failed)"
refresh_short="$(pb_idp_stat refresh_ok)"
pb_fill bob 1 5 b2
wait_for "bob's new message" 60 pb_sink_has_at_least 10
wait_for "bob refreshing before his next logins" 30 pb_idp_stat_at_least refresh_ok $((refresh_short + 2))
[ "$(pb_idp_stat introspections_failed)" -le $((failed_before)) ] ||
  pb_fail "a token renewed ahead of its expiry was still refused: introspections_failed went from $failed_before to $(pb_idp_stat introspections_failed)"
pb_idp_control expires-in "seconds=3600" > /dev/null
remember_tokens

# --- a revoked refresh token: auth-failed with the provider's words; a new login heals it ------
pb_idp_control revoke-refresh "user=bob" > /dev/null
pb_idp_control expire-access "user=bob" > /dev/null
wait_for "bob's refresh refused" 60 pb_log_has "account bob: OAuth: the refresh token no longer works \(invalid_grant\).*run postbridge oauth login account bob -c $PB_CFG"
pb_fill bob 1 5 b3
oauth_login_start account bob --browser
wait_for "the sign-in address on the terminal" 30 has_url
browser_login bob
oauth_login_end "bob's new browser login while the service runs"
pb_assert_grep "what the admin is told" "A running postbridge uses them within a minute" "$LOGIN_OUT"
wait_for "bob's mail flowing again after the new login" 90 pb_mailbox_has bob 0
remember_tokens

# --- a token without the needed scope: one refresh, then auth-failed with what to check ------------
pb_idp_control scope "scope=other" > /dev/null
pb_idp_control expire-access "user=alice" > /dev/null
wait_for "alice's login refused for the scope" 60 pb_log_has "account alice: .*check \[account.oauth2\] and the app's permissions"
refresh_scope="$(pb_idp_stat refresh_ok)"
pb_assert_grep "Dovecot refused the scope" "Token is not valid for scope 'mail'" "$PB_POP3_LOG"
pb_idp_control scope "scope=" > /dev/null
pb_assert_alive "after every OAuth failure"
# auth-failed is retried hourly: no refresh storm while the admin fixes the app's permissions.
[ "$(pb_idp_stat refresh_ok)" -le $((refresh_scope + 1)) ] || pb_fail "refreshes went on after auth-failed"

# --- the status page's sign-in (browser flow): the provider comes back to the page's /oauth/callback ---
page_api() {  # page_api METHOD PATH [JSON]: the status page's API as its script calls it; prints the body
  curl -sS --noproxy '*' --max-time 20 -X "$1" -H 'X-Postbridge: 1' -H 'Sec-Fetch-Site: same-origin' \
    ${3:+-H 'Content-Type: application/json' --data "$3"} "http://$PB_IP:$WEB_PORT/$2"
}
page_state() { page_api GET api/oauth/account/eve | pb_json state; }
page_state_is() { [ "$(page_state)" = "$1" ]; }
pb_fill eve 1 5 e1
page_start() {  # page_start: a browser sign-in of eve from the page; PAGE_URL is the provider's address
  local started
  started="$(page_api POST api/oauth/account/eve/start)"
  [ "$(pb_json flow <<< "$started")" = browser ] || pb_fail "the page's sign-in for eve is not a browser login: $started"
  PAGE_URL="$(pb_json url <<< "$started")"
  [[ "$PAGE_URL" == *"redirect_uri=http%3A%2F%2F$PB_IP%3A$WEB_PORT%2Foauth%2Fcallback"* ]] ||
    pb_fail "the sign-in does not come back to the page: $PAGE_URL"
}
# callback_get TARGET: the page's /oauth/callback as a browser loads it (any web page can make it
# do so); prints the HTTP status, the answer goes to callback.txt.
callback_get() {
  curl -sS --noproxy '*' --max-time 20 -o "$PB_WORK/callback.txt" -w '%{http_code}' "$1"
}
page_start
# A pasted address of another sign-in is refused in plain words; the sign-in waits on.
refused="$(page_api POST api/oauth/account/eve/code '{"url":"http://127.0.0.1/oauth/callback?code=x&state=forged"}' || true)"
[[ "$refused" == *"another sign-in"* ]] || pb_fail "a forged state was not refused: $refused"
page_state_is waiting || pb_fail "the sign-in did not wait on after a wrong paste: $(page_state)"
# The callback without the pending sign-in's state (an <img> on any web site): nothing changes.
for target in "oauth/callback" "oauth/callback?code=x&state=forged" "oauth/callback?error=access_denied&state=forged" \
              "oauth/callback?error=access_denied" "oauth/callback?state=&code=x"; do
  status="$(callback_get "http://$PB_IP:$WEB_PORT/$target")"
  [ "$status" = 400 ] || pb_fail "GET /$target answered $status, not 400: $(cat "$PB_WORK/callback.txt")"
  page_state_is waiting || pb_fail "GET /$target changed the pending sign-in: $(page_api GET api/oauth/account/eve)"
done
pb_log "ok: forged, absent and error-only callbacks left the pending sign-in waiting"

# Signed in at the provider as mallory: the callback is the real one, but the id_token says who.
callback="$(curl -sS --noproxy '*' --max-time 20 -o /dev/null -w '%{redirect_url}' "$PAGE_URL&user=mallory")"
[[ "$callback" == "http://$PB_IP:$WEB_PORT/oauth/callback?"* ]] || pb_fail "the provider did not send the browser back: $callback"
status="$(callback_get "$callback")"
[ "$status" = 200 ] || pb_fail "the sign-in's own callback answered $status: $(cat "$PB_WORK/callback.txt")"
page_state_done_or_failed() { page_state_is failed || page_state_is done; }
wait_for "the page's sign-in as mallory to end" 30 page_state_done_or_failed
page_api GET api/oauth/account/eve > "$PB_WORK/page-mallory.json"
pb_assert_eq "the page refuses mallory" failed "$(page_state)"
pb_assert_grep "the page names both users" \
  "signed in as mallory, but account eve logs in as eve; sign in again as eve" "$PB_WORK/page-mallory.json"
[ ! -e "$TOKENS/account.eve.json" ] || pb_fail "a sign-in as mallory stored tokens for eve"
pb_assert_grep "the service log says so" "OAuth sign-in of account eve failed: signed in as mallory" "$PB_LOG"
# Replayed, the same address finds nothing waiting and changes nothing.
status="$(callback_get "$callback")"
[ "$status" = 400 ] || pb_fail "a replayed callback answered $status: $(cat "$PB_WORK/callback.txt")"
pb_assert_eq "a replay leaves the refusal as it was" failed "$(page_state)"

# Again, as eve.
page_start
curl -sS -L --noproxy '*' --max-time 20 -o "$PB_WORK/page-callback.txt" "$PAGE_URL" ||
  pb_fail "the browser sign-in through the page failed"
pb_assert_grep "the page's callback answers" "postbridge received the sign-in" "$PB_WORK/page-callback.txt"
wait_for "the page's sign-in done" 30 page_state_is done
pb_assert_grep "the page's sign-in names eve" "OAuth sign-in of account eve done; tokens stored \(signed in as eve\)" "$PB_LOG"
wait_for "eve's mail fetched right after the sign-in" 30 pb_mailbox_has eve 0
[ "$(stat -c %a "$TOKENS/account.eve.json")" = 600 ] || pb_fail "eve's token file is not 0600"
page_api GET api/status > "$PB_WORK/status.json"
remember_tokens

# --- nothing secret anywhere ----------------------------------------------------------------------
kill -TERM "$PB_PID"
pb_wait_exit 20
remember_tokens
sort -u "$SEEN_TOKENS" -o "$SEEN_TOKENS"
n_tokens="$(wc -l < "$SEEN_TOKENS")"
(( n_tokens >= 6 )) || pb_fail "only $n_tokens tokens were seen; the scan would prove little"
# srv/ holds the servers' own logs (Dovecot's oauth2 rawlog has tokens by design); state/oauth the store.
if leaks="$(grep -rlF -f "$SEEN_TOKENS" "$PB_WORK" --exclude-dir=srv --exclude-dir=oauth --exclude=seen-tokens.txt)"; then
  pb_fail "OAuth tokens appear in: $leaks"
fi
pb_log "ok: none of $n_tokens tokens in postbridge's output, logs, state database or reports"
pb_log "PASS"
