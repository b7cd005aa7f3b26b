#!/usr/bin/env bash
# The status page end to end in real headless Chromium: Dovecot POP3 + smtp-sink + postbridge with
# [web]; "Poll now" brings a message into the fetch log live, its XSS subject stays text, a
# multidrop message shows where it went and why, a wrong password turns a card red, "Test
# connection" shows the doctor's report (bob's login fails, alice works), a broken reload is shown,
# and "Sign in" does an OAuth device login (simulated IdP) that turns a red OAuth mailbox green.
# Installs Debian chromium and playwright-core if missing; never skips.
. "$(dirname "$0")/../integration/lib.sh"
pb_init 90
pb_require_postbridge

E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
E2E_PORT=28025
# playwright-core lives outside the source tree and outside the test's work dir (which pb_init
# wipes), so a second run does not download it again.
E2E_NODE_DIR="$(dirname "$PB_WORK")/e2e-node"

# ---------------------------------------------------------------------------------------------
# What the browser needs, installed now if missing (as root, like the rest of the harness)

e2e_apt() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >> "$PB_WORK/install.log" 2>&1 && return 0
  apt-get update >> "$PB_WORK/install.log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >> "$PB_WORK/install.log" 2>&1
}

e2e_install() {
  if [ ! -x /usr/bin/chromium ]; then
    pb_log "installing Debian's chromium (apt-get)"
    e2e_apt chromium || pb_fail "could not install chromium; see $PB_WORK/install.log"
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    pb_log "installing node and npm (apt-get)"
    e2e_apt nodejs npm || pb_fail "could not install nodejs/npm; see $PB_WORK/install.log"
  fi
  # playwright-core 1.65 needs node 20; Debian 12's own node is 18, which 1.55 still supports.
  local major version
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if (( major >= 20 )); then version=1.65.1; else version=1.55.0; fi
  if [ "$(node -p "try { require('$E2E_NODE_DIR/node_modules/playwright-core/package.json').version } catch { '' }")" != "$version" ]; then
    pb_log "installing playwright-core@$version from npm into $E2E_NODE_DIR (no browser download)"
    mkdir -p "$E2E_NODE_DIR"
    printf '{ "private": true, "description": "postbridge e2e test dependencies (not part of the product)" }\n' \
      > "$E2E_NODE_DIR/package.json"
    ( cd "$E2E_NODE_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund \
        "playwright-core@$version" ) >> "$PB_WORK/install.log" 2>&1 \
      || pb_fail "npm could not install playwright-core; see $PB_WORK/install.log"
  fi
  /usr/bin/chromium --version >> "$PB_WORK/install.log" 2>&1 || pb_fail "/usr/bin/chromium does not run"
  pb_log "browser: $(/usr/bin/chromium --version 2>/dev/null | head -n 1), node $(node --version), playwright-core $version"
}

# ---------------------------------------------------------------------------------------------
# Hooks: the browser script asks for these at the right moments

# A message whose subject is an HTML injection attempt and a right-to-left override that would
# show "invoice<U+202E>fdp.exe" as "invoiceexe.pdf", dropped into alice's provider mailbox.
hook_put_message() {
  local md name
  md="$(pb_maildir alice)"
  name="$(date +%s).e2e-xss.$$.gw.test"
  printf '%s\n' \
    "Return-Path: <mallory@example.org>" \
    "From: Mallory <mallory@example.org>" \
    "To: alice@example.org" \
    "Subject: <img src=x onerror=alert(1)> =?UTF-8?B?aW52b2ljZeKArmZkcC5leGU=?=" \
    "Date: $(date -R)" \
    "Message-ID: <e2e.xss.$$@example.org>" \
    "MIME-Version: 1.0" \
    "Content-Type: text/plain; charset=utf-8" \
    "" \
    "This subject must show as text on the status page." > "$md/tmp/$name"
  chown "$PB_MAIL_UID:$PB_MAIL_GID" "$md/tmp/$name"
  chmod 600 "$md/tmp/$name"
  mv "$md/tmp/$name" "$md/new/$name"
  pb_log "put the XSS message into alice's mailbox (now $(pb_mailbox_count alice))"
}

# A catch-all message for carol's multidrop account without an envelope header: To routes it by
# the map, and the foreign To address that lands in the routing note is an HTML injection attempt.
hook_put_multidrop() {
  local md name
  md="$(pb_maildir carol)"
  name="$(date +%s).e2e-multidrop.$$.gw.test"
  printf '%s\n' \
    "Return-Path: <kunde@example.org>" \
    "From: Kunde <kunde@example.org>" \
    'To: info@firma.test, "<img src=y onerror=alert(2)>"@evil.example' \
    "Subject: Anfrage an info@" \
    "Date: $(date -R)" \
    "Message-ID: <e2e.multidrop.$$@example.org>" \
    "" \
    "For the whole office." > "$md/tmp/$name"
  chown "$PB_MAIL_UID:$PB_MAIL_GID" "$md/tmp/$name"
  chmod 600 "$md/tmp/$name"
  mv "$md/tmp/$name" "$md/new/$name"
  pb_log "put the multidrop message into carol's mailbox"
}

# A second account with a wrong password, added by a configuration reload (SIGHUP).
hook_add_bad_account() {
  pb_account bob password_file="$(pb_secret bob-wrong not-the-password)" poll_interval=1h
  kill -HUP "$PB_PID"
  pb_log "added account bob with a wrong password; SIGHUP sent"
}

# A reload with a broken file (the page must say so), then the good file again.
hook_break_config() {
  cp "$PB_CFG" "$PB_WORK/good.toml"
  printf '\n[[account]]\nname = "broken"\nport = "not a number"\n' >> "$PB_CFG"
  kill -HUP "$PB_PID"
  pb_log "broke the config; SIGHUP sent"
}
# An account that logs in with OAuth (the simulated IdP), added by a reload: no login yet.
hook_add_oauth_account() {
  pb_fill dave 1 5 e2e-oauth
  pb_account dave auth=xoauth2 password_file= poll_interval=1h
  printf '\n[account.oauth2]\nprovider = "custom"\nclient_id = "pb-test-client"\ntoken_url = "%s"\n%s\nscopes = "mail offline_access"\n' \
    "$(pb_idp_url /token)" "device_authorization_url = \"$(pb_idp_url /devicecode)\"" >> "$PB_CFG"
  kill -HUP "$PB_PID"
  pb_log "added the OAuth account dave; SIGHUP sent"
}
# The user approves the code the page showed (every pending code is dave's).
hook_approve_oauth() {
  wait_for "a device code to approve" 20 pb__idp_has_pending
  pb_idp_control approve "user=dave" > /dev/null
  pb_log "approved dave's sign-in at the IdP"
}
pb__idp_has_pending() { (( $(pb_idp_stat device_authorizations) > 0 )); }

hook_fix_config() {
  cp "$PB_WORK/good.toml" "$PB_CFG"
  kill -HUP "$PB_PID"
  pb_log "restored the config; SIGHUP sent"
}

# ---------------------------------------------------------------------------------------------
# Static checks of the page's source

# Text from mail and peers reaches the DOM only as text: no HTML-parsing sinks in the page's code.
e2e_no_html_sinks() {
  local hits
  hits="$(grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function' \
            "$E2E_WEB"/assets/*.js || true)"
  [ -z "$hits" ] || pb_fail "the page's scripts use an HTML-parsing sink:
$hits"
  pb_log "ok: no innerHTML/outerHTML/insertAdjacentHTML/document.write/eval in web/assets/*.js"
}

# Every English string has its German twin and the other way round.
e2e_dictionaries_match() {
  local out
  out="$(node --input-type=module -e "
    const { missingKeys } = await import('$E2E_WEB/assets/i18n.js');
    const m = missingKeys();
    if (m.de.length || m.en.length) { console.log(JSON.stringify(m)); process.exit(1); }")" \
    || pb_fail "the English and German dictionaries differ: $out"
  pb_log "ok: the English and German dictionaries have the same keys"
}

# ---------------------------------------------------------------------------------------------
# The scenario

e2e_install
E2E_WEB="$(cd "$E2E_DIR/../../web" && pwd)"
e2e_no_html_sinks
e2e_dictionaries_match
pb_certs
pb_sink_start
pb_idp_start --interval 1
pb_dovecot_oauth_start   # the provider: passwords for alice, bob, carol; OAuth for dave
pb__port_free "$E2E_PORT"

pb_config sink
pb_account alice poll_interval=1h
pb_account carol poll_interval=1h deliver_to=
printf '[account.multidrop]\ndomains = ["firma.test"]\nrewrite_domain = "office.test"\n%s\n' \
  'map = { "info@firma.test" = ["alice@office.test", "bob@office.test"] }' >> "$PB_CFG"
printf '\n[web]\nlisten = "%s:%s"\n' "$PB_IP" "$E2E_PORT" >> "$PB_CFG"

pb_start_postbridge
wait_for "the status page on $PB_IP:$E2E_PORT" 30 pb_port_open "$E2E_PORT"
pb_assert_alive "postbridge runs with [web]"

# The browser script talks to this shell over two FIFOs: it asks for hooks, reports progress.
browser_log="$PB_WORK/browser.log"
mkfifo "$PB_WORK/to-browser" "$PB_WORK/from-browser"
E2E_URL="http://$PB_IP:$E2E_PORT/" E2E_OUT="$PB_WORK" E2E_NODE_DIR="$E2E_NODE_DIR" \
  timeout -k 5 300 node "$E2E_DIR/page.spec.mjs" < "$PB_WORK/to-browser" > "$PB_WORK/from-browser" 2> "$browser_log" &
browser_pid=$!
# A pid file, so the harness stops the browser with everything else if this script fails.
echo "$browser_pid" > "$PB_WORK/browser.pid"
pb__register browser "$PB_WORK/browser.pid"
exec {e2e_in}> "$PB_WORK/to-browser" {e2e_out}< "$PB_WORK/from-browser"

result=""
while IFS= read -r line <&"$e2e_out"; do
  case "$line" in
    "HOOK "*)
      hook="hook_${line#HOOK }"; hook="${hook//-/_}"
      if declare -F "$hook" >/dev/null; then "$hook"; echo done >&"$e2e_in"; else echo "fail no hook $hook" >&"$e2e_in"; fi ;;
    "OK "*) pb_log "ok: ${line#OK }" ;;
    PASS|"FAIL "*) result="$line" ;;
    *) pb_log "browser: $line" ;;
  esac
done
exec {e2e_in}>&- {e2e_out}<&-
rc=0
wait "$browser_pid" 2>/dev/null || rc=$?
rm -f "$PB_WORK/browser.pid" "$PB_WORK/to-browser" "$PB_WORK/from-browser"

[ "$result" == PASS ] || pb_fail "the browser test failed (rc=$rc): ${result#FAIL }
$(tail -n 30 "$browser_log" 2>/dev/null)"
pb_assert_eq "browser exit code" 0 "$rc"
for f in desktop-en phone-en desktop-de phone-de; do
  [ -s "$PB_WORK/$f.png" ] || pb_fail "screenshot $f.png is missing"
done
pb_log "screenshots: $(cd "$PB_WORK" && ls -- *.png | tr '\n' ' ')"

# The messages went all the way: fetched from the provider, delivered to the office server.
wait_for "the XSS and the multidrop message at the sink" 30 pb_sink_has_at_least 2
pb_assert_eq "alice's mailbox after the poll" 0 "$(pb_mailbox_count alice)"
pb_assert_alive "postbridge still runs"
pb_assert_no_grep "the wrong password is not logged" 'not-the-password' "$PB_LOG"
