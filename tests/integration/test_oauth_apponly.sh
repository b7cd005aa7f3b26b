#!/usr/bin/env bash
# Logins that need no person, end to end against a real Dovecot (POP3 and submission) that checks
# every token at the simulated identity provider, which checks every signed assertion:
#   - Microsoft 365 app-only (grant = "client_credentials", a certificate: a private-key JWT
#     client assertion) and a Google service account (grant = "service_account", the JWT bearer
#     grant with the key file): fetching with XOAUTH2 / OAUTHBEARER, relaying through submission
#   - `oauth login` says no sign-in is needed and tests the grant; `oauth status` says so too;
#     nothing is stored in the state folder; a token is asked for once, then reused from memory;
#     the connection doctor logs in with the app's login too
#   - Microsoft 365 app-only with a client secret instead of the certificate (a smarthost)
#   - a revoked certificate: the account is auth-failed with the provider's words (AADSTS700027)
#     in the log and on the status API, while the service account's mailbox goes on
#   - no private key, assertion or token in any output or log
# Never skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 97
pb_require_postbridge

pb_certs
pb_sink_start

# --- what the admins make at Microsoft and Google -------------------------------------------------
KEYS="$PB_WORK/secrets/app-only"   # inputs, like the password files: not scanned for leaks
mkdir -p "$KEYS"
# Microsoft: a self-signed certificate uploaded to the app registration, its key kept here.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEYS/app.key" -out "$KEYS/app.pem" -days 2 \
  -subj /CN=postbridge-app-only 2> "$KEYS/openssl.log" || pb_fail "openssl could not make the app's certificate"
chmod 600 "$KEYS/app.key"
# Google: a service account's JSON key file (Google makes the key; the IdP knows its public half).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/sa.key" 2>> "$KEYS/openssl.log" ||
  pb_fail "openssl could not make the service account's key"
openssl pkey -in "$KEYS/sa.key" -pubout -out "$KEYS/sa.pub" 2>> "$KEYS/openssl.log"
SA_EMAIL=mail-gateway@pb-test.iam.gserviceaccount.com
"$PB_PY" - "$KEYS/sa.key" "$SA_EMAIL" "$(pb_idp_url /token)" > "$KEYS/service-account.json" <<'PYEOF'
import json, sys
key, email, token_uri = sys.argv[1:]
print(json.dumps({"type": "service_account", "project_id": "pb-test", "private_key_id": "kid-0815",
                  "private_key": open(key).read(), "client_email": email, "client_id": "104242424242",
                  "token_uri": token_uri}, indent=2))
PYEOF
chmod 600 "$KEYS/service-account.json"

# A second app registration that proves itself with a client secret instead of a certificate.
APP_SECRET="pb-app-secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$APP_SECRET" > "$KEYS/app-secret"
chmod 600 "$KEYS/app-secret"

# The app may read alice's mailbox (Add-MailboxPermission); the service account acts for anyone.
pb_idp_start --app "pb-app:$KEYS/app.pem:alice" --service-account "$SA_EMAIL:$KEYS/sa.pub:kid-0815" \
  --app "pb-app-secret:$KEYS/app.pem:alice" --client "pb-app-secret:$APP_SECRET"
pb_dovecot_oauth_start
pb_fill alice 3 5 a1
pb_fill bob 2 5 b1

# --- the config -----------------------------------------------------------------------------------
app_table() {  # app_table SECTION: Microsoft 365 app-only with the certificate
  printf '\n[%s.oauth2]\nprovider = "microsoft"\ngrant = "client_credentials"\ntenant = "pbtest.onmicrosoft.com"\n' "$1"
  printf 'client_id = "pb-app"\ntoken_url = "%s"\n' "$(pb_idp_url /token)"
  printf 'client_certificate_file = "%s"\nclient_key_file = "%s"\n' "$KEYS/app.pem" "$KEYS/app.key"
}
secret_table() {  # secret_table SECTION: Microsoft 365 app-only with a client secret
  printf '\n[%s.oauth2]\nprovider = "microsoft"\ngrant = "client_credentials"\ntenant = "pbtest.onmicrosoft.com"\n' "$1"
  printf 'client_id = "pb-app-secret"\ntoken_url = "%s"\nclient_secret_file = "%s"\n' "$(pb_idp_url /token)" \
    "$KEYS/app-secret"
}
sa_table() {  # sa_table SECTION: the Google service account
  printf '\n[%s.oauth2]\nprovider = "google"\ngrant = "service_account"\nservice_account_file = "%s"\n' \
    "$1" "$KEYS/service-account.json"
}
WEB_PORT=22097
pb_config sink
pb_account alice auth=xoauth2 password_file= poll_interval=2s
app_table account >> "$PB_CFG"
pb_account bob auth=oauthbearer port="$PB_POP3_PORT" tls=starttls password_file= poll_interval=2s
sa_table account >> "$PB_CFG"
pbo_relay
pbo_smarthost m365 host="$PB_IP" port="$PB_OAUTH_SUBMS_PORT" tls=implicit auth=xoauth2 username=alice \
  password_file= senders='["*@m365.test"]'
app_table smarthost >> "$PB_CFG"
pbo_smarthost gws host="$PB_IP" port="$PB_OAUTH_SUBMS_PORT" tls=implicit auth=xoauth2 username=bob \
  password_file= senders='["*@gws.test"]'
sa_table smarthost >> "$PB_CFG"
pbo_smarthost m365s host="$PB_IP" port="$PB_OAUTH_SUBMS_PORT" tls=implicit auth=xoauth2 username=alice \
  password_file= senders='["*@m365s.test"]'
secret_table smarthost >> "$PB_CFG"
printf '\n[web]\nlisten = "%s:%s"\n' "$PB_IP" "$WEB_PORT" >> "$PB_CFG"
pb_postbridge check -c "$PB_CFG"
pb_assert_rc "the app-only config is valid" 0

TOKENS="$PB_WORK/state/oauth"

# --- no sign-in: the CLI says so and tests the grant ----------------------------------------------
pb_postbridge oauth -c "$PB_CFG" status
pb_assert_rc "oauth status" 0
pb_assert_grep "status of the app-only account" \
  "account alice \(microsoft\): an application's login \(grant = client_credentials\), no sign-in needed" "$PB_LOG"
pb_assert_grep "status of the service account's smarthost" \
  "smarthost gws \(google\): an application's login \(grant = service_account\), no sign-in needed" "$PB_LOG"
for who in "account alice" "account bob" "smarthost m365" "smarthost gws"; do
  # shellcheck disable=SC2086 # "account alice" is two words on purpose
  pb_postbridge oauth -c "$PB_CFG" login $who
  pb_assert_rc "oauth login $who tests the grant" 0
  pb_assert_grep "oauth login $who: no sign-in" "logs in as an application .*: no sign-in is needed" "$PB_LOG"
  pb_assert_grep "oauth login $who: the provider's token" \
    "^The provider issued an access token for (alice|bob) \(valid for 3600 s\); nothing was stored" "$PB_LOG"
done
pb_assert_eq "the four logins asked for four tokens" 4 "$(pb_idp_stat app_ok)"
pb_assert_grep "the IdP checked a client assertion" \
  "grant_type=client_credentials .*client_assertion=eyJ.*-> 200 app-only token for alice" "$PB_IDP_LOG"
pb_assert_grep "the IdP checked a service account's assertion" \
  "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer .*-> 200 app-only token for bob" "$PB_IDP_LOG"
[ -z "$(ls -A "$TOKENS" 2>/dev/null)" ] || pb_fail "oauth login stored something for an app-only login: $(ls "$TOKENS")"

# --- fetching and relaying with app-only tokens ---------------------------------------------------
pbo_start_postbridge
RUN_LOG="$PB_LOG"
wait_for "alice's and bob's 5 messages at the office" 60 pb_sink_has_at_least 5
wait_for "alice's mailbox emptied (client credentials)" 30 pb_mailbox_has alice 0
wait_for "bob's mailbox emptied (service account)" 30 pb_mailbox_has bob 0
pbo_send anna@m365.test rcpt@example.net
wait_for "the message relayed with the app's token" 60 pbo_sink_has_from anna@m365.test 1
pbo_send ben@gws.test rcpt@example.net
wait_for "the message relayed with the service account's token" 60 pbo_sink_has_from ben@gws.test 1
pb_assert_grep "alice's token came from the app's login" \
  "OAuth: new access token for account.alice \(client_credentials\), valid for 3600 s" "$RUN_LOG"
pb_assert_grep "bob's token came from the service account" \
  "OAuth: new access token for account.bob \(service_account\), valid for 3600 s" "$RUN_LOG"
# Tokens are reused from memory: more logins, no more token requests.
app_before="$(pb_idp_stat app_ok)"
pb_assert_eq "one token per mailbox and smarthost, besides the four of oauth login" 8 "$app_before"
pb_fill alice 1 5 a2
pb_fill bob 1 5 b2
wait_for "alice's next message fetched" 30 pb_mailbox_has alice 0
wait_for "bob's next message fetched" 30 pb_mailbox_has bob 0
pb_assert_eq "no token asked for while the first is valid" "$app_before" "$(pb_idp_stat app_ok)"
[ -z "$(ls -A "$TOKENS" 2>/dev/null)" ] || pb_fail "app-only tokens were stored: $(ls "$TOKENS")"
# The connection doctor asks for its own token the same way and logs in with it.
pb_postbridge test -c "$PB_CFG" account alice
pb_assert_rc "the doctor with the app's login" 0
pb_assert_grep "the doctor's OAuth step" "OAuth access token from $PB_IP" "$PB_LOG"

# --- the client-secret variant ----------------------------------------------------------------------
pbo_send carl@m365s.test rcpt@example.net
wait_for "the message relayed with the token of the app's secret" 60 pbo_sink_has_from carl@m365s.test 1
pb_assert_grep "the IdP checked the app's client secret" \
  "grant_type=client_credentials .*client_secret=.*-> 200 app-only token for alice" "$PB_IDP_LOG"
pb_assert_grep "the smarthost's token came from the app's secret" \
  "OAuth: new access token for smarthost.m365s \(client_credentials\), valid for 3600 s" "$RUN_LOG"

# --- a revoked certificate: auth-failed with the provider's words -----------------------------------
pb_idp_control revoke-key client_id=pb-app > /dev/null
pb_idp_control expire-access > /dev/null   # the tokens postbridge holds stop working too
pb_fill alice 1 5 a3
pb_fill bob 1 5 b3
wait_for "alice's login refused by the provider" 60 pb_log_has \
  "account alice: .*OAuth: the provider refused the application's login \(invalid_client\): AADSTS700027: Client assertion contains an invalid signature" "$RUN_LOG"
wait_for "bob's mail goes on with a new service account token" 60 pb_mailbox_has bob 0
api() { curl -sS --noproxy '*' --max-time 20 -H 'X-Postbridge: 1' -H 'Sec-Fetch-Site: same-origin' "http://$PB_IP:$WEB_PORT/$1"; }
alice_state() {
  api api/status | "$PB_PY" -c 'import json, sys
for a in json.load(sys.stdin)["accounts"]:
    if a["name"] == "alice": print(a.get("state", ""))'
}
alice_is_auth_failed() { [ "$(alice_state)" = auth-failed ]; }
wait_for "alice auth-failed on the status API" 30 alice_is_auth_failed
api api/status > "$PB_WORK/api-status.json"
pb_assert_grep "the status API has the provider's words" \
  "AADSTS700027: Client assertion contains an invalid signature" "$PB_WORK/api-status.json"
pb_assert_grep "the IdP refused the revoked key" "-> 401 invalid_client: AADSTS700027" "$PB_IDP_LOG"
# The page's card tells an application's refusal from a person's: no "Sign in", no password.
alice_login_kind() {
  "$PB_PY" -c 'import json, sys
a = [a for a in json.load(open(sys.argv[1]))["accounts"] if a["name"] == "alice"][0]
print("app_login=%s oauth=%s" % (a["app_login"], a["oauth"]))' "$PB_WORK/api-status.json"
}
pb_assert_eq "alice is an application's login on the status API" "app_login=True oauth=False" "$(alice_login_kind)"
pb_assert_eq "alice's message stays at the provider" 1 "$(pb_mailbox_count alice)"
# The admin's alert: no person can sign in for an application, so it names what the admin checks.
alice_alert() { pb_sink_files | xargs -r grep -lE '^Subject: postbridge: mailbox alice cannot log in' 2>/dev/null || true; }
alice_alerted() { [ -n "$(alice_alert)" ]; }
wait_for "the postmaster's alert about alice" 60 alice_alerted
pb_assert_grep "the alert names the application's mailbox permission" 'Add-MailboxPermission' "$(alice_alert | head -n 1)"

# --- nothing secret anywhere ------------------------------------------------------------------------
kill -TERM "$PB_PID"
pb_wait_exit 20
SECRETS="$PB_WORK/seen-secrets.txt"
pb_idp_control tokens | "$PB_PY" -c 'import json, sys
t = json.load(sys.stdin)
for k in t["access"] + t["refresh"]: print(k)' > "$SECRETS"
n_tokens="$(wc -l < "$SECRETS")"
(( n_tokens >= 8 )) || pb_fail "only $n_tokens tokens were issued; the scan would prove little"
# The keys' full body lines (64 base64 characters each; a short last line could match anything).
grep -hE '^[A-Za-z0-9+/]{64}$' "$KEYS/app.key" "$KEYS/sa.key" >> "$SECRETS"
echo "$APP_SECRET" >> "$SECRETS"
if leaks="$(grep -rlF -f "$SECRETS" "$PB_WORK" --exclude-dir=srv --exclude-dir=secrets --exclude=seen-secrets.txt)"; then
  pb_fail "a token or private key appears in: $leaks"
fi
if leaks="$(grep -rlE 'PRIVATE KEY|eyJ[A-Za-z0-9_-]{10,}\.eyJ' "$PB_WORK" --exclude-dir=srv --exclude-dir=secrets)"; then
  pb_fail "a private key or a signed assertion appears in: $leaks"
fi
pb_log "ok: none of $n_tokens tokens, the private keys or an assertion in postbridge's output, logs or state"
pb_log "PASS"
