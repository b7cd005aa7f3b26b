#!/usr/bin/env bash
# Security checks against the running service: no open relay by any address trick, STARTTLS
# command injection has no effect, and no password — given right or wrong, in clear or as SASL or
# HTTP Basic base64 — reaches a log (at debug level), `check`, `queue`, an API answer, the metrics
# or the state database. The status page answers no DNS-rebinding name, slows password guessing
# per address and keeps connection slots for other addresses. (Smuggling: integration/test_relay_smuggling; XSS: e2e/test_page; AUTH
# before TLS from a remote client and injected replies to our STARTTLS/STLS: the net/ unit tests,
# since every test client here is on loopback, which postbridge trusts with AUTH in clear.)
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_outbound.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 77
pb_require_postbridge

WEB_PORT=28027
OUTSIDE="${PB_IP%.1}.2"  # a client address outside allow_networks
RELAY_PW=Pb-Relay-2342   # the passwords scan_secrets.py knows
WEB_PW=Pb-Web-1337
WRONG_PW=Pb-Wrong-0815
pb_certs
pb_pop3_start
pb_sink_start
pbo_smarthost_start
relay_hash="$(printf '%s\n' "$RELAY_PW" | "$POSTBRIDGE" hash-password)"
web_hash="$(printf '%s\n' "$WEB_PW" | "$POSTBRIDGE" hash-password)"

pb_config sink log_level=debug
pb_account alice poll_interval=1h
pb_account bob poll_interval=1h password_file="$(pb_secret bob-wrong "$WRONG_PW")"
pbo_relay allow_networks="[\"$PB_IP/32\"]" tls_cert_file="$PB_CERTS/server.crt" tls_key_file="$PB_CERTS/server.key"
printf '\n[[relay.user]]\nname = "scanner"\npassword_hash = "%s"\n' "$relay_hash" >> "$PB_CFG"
pbo_smarthost a auth=plain
pbo_smarthost b auth=login username=bob password_file="$(pb_secret smarthost-b-wrong "$WRONG_PW")"
printf '\n[web]\nlisten = "%s:%d"\n\n[[web.user]]\nname = "admin"\npassword_hash = "%s"\n' \
  "$PB_IP" "$WEB_PORT" "$web_hash" >> "$PB_CFG"
pb_fill alice 3 5
pb_fill bob 2 5
pbo_start_postbridge

# smtp_dialog SRC STEP...: a raw SMTP dialog from address SRC (prints "> step" / "< reply").
# A STEP is one command line, answered by one reply; "TLS" is the handshake after a 220 to
# STARTTLS; "RAW:bytes" sends bytes with \r\n escapes (and a final CRLF) in ONE write and reads ONE
# reply (a message body after DATA, or commands pipelined behind STARTTLS).
smtp_dialog() {
  local src="$1"; shift
  "$PB_PY" - "$src" "$PB_IP" "$PB_RELAY_PORT" "$PB_CA" "$@" <<'EOF'
import socket, ssl, sys
src, host, port, ca, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
s = socket.create_connection((host, port), timeout=20, source_address=(src, 0))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode(errors="replace").rstrip("\r\n")
        if not line:
            raise SystemExit("closed; so far %r" % lines)
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            print("< " + line)
            return line
reply()
for step in steps:
    if step == "TLS":  # the handshake after a 220 to STARTTLS
        ctx = ssl.create_default_context(cafile=ca)
        s = ctx.wrap_socket(s, server_hostname=host)
        f = s.makefile("rb")
        continue
    raw = step[4:].encode().decode("unicode_escape").encode("latin-1") if step.startswith("RAW:") else step.encode()
    print("> " + step)
    s.sendall(raw + b"\r\n")
    reply()
EOF
}

# 1. Open relay: from outside allow_networks nothing is relayed, whatever the address looks like.
for rcpt in 'victim@example.net' 'victim%example.net@a.test' '@a.test:victim@example.net' \
            'example.net!victim@a.test' '"victim@example.net"@a.test' 'victim@example.net@a.test'; do
  smtp_dialog "$OUTSIDE" "EHLO spammer.test" "MAIL FROM:<boss@a.test>" "RCPT TO:<$rcpt>" "QUIT" \
    > "$PB_WORK/relay-try.txt" 2>&1 || true
  rcpt_reply="$(grep -A1 '^> RCPT' "$PB_WORK/relay-try.txt" | grep '^< ' | head -n 1)"
  [[ "$rcpt_reply" =~ ^\<\ 5[0-9][0-9]\  ]] || pb_fail "RCPT TO:<$rcpt> from $OUTSIDE was not refused: $rcpt_reply"
  pb_log "ok: RCPT TO:<$rcpt> from outside: $rcpt_reply"
done
# A wrong login does not open it either.
smtp_dialog "$OUTSIDE" "EHLO spammer.test" "STARTTLS" TLS "EHLO spammer.test" \
  "AUTH PLAIN $(printf '\0scanner\0%s' "$WRONG_PW" | base64 -w0)" "MAIL FROM:<boss@a.test>" \
  "RCPT TO:<victim@example.net>" "QUIT" > "$PB_WORK/relay-wrong-login.txt" 2>&1 || true
pb_assert_grep "a wrong login is refused (535)" '^< 535 ' "$PB_WORK/relay-wrong-login.txt"
pb_assert_grep "and relaying stays refused" '^< 5[0-9][0-9] 5\.7\.1 ' "$PB_WORK/relay-wrong-login.txt"
pb_assert_eq "messages queued by strangers" 0 "$(sqlite3 -readonly "$PB_WORK/state/postbridge.db" "SELECT COUNT(*) FROM messages WHERE route LIKE 'smarthost:%'")"
# The right login from outside relays (over TLS).
smtp_dialog "$OUTSIDE" "EHLO scanner.test" "STARTTLS" TLS "EHLO scanner.test" \
  "AUTH PLAIN $(printf '\0scanner\0%s' "$RELAY_PW" | base64 -w0)" "MAIL FROM:<scanner@a.test>" \
  "RCPT TO:<@a.test:friend@example.net>" "DATA" "RAW:Subject: scan\r\nMessage-ID: <sec.scan@a.test>\r\n\r\npage 1\r\n." \
  "QUIT" > "$PB_WORK/relay-login.txt" 2>&1 || pb_fail "the logged-in client failed: $(cat "$PB_WORK/relay-login.txt")"
pb_assert_grep "the logged-in scanner may relay" '^< 250 2\.0\.0 Ok: queued as' "$PB_WORK/relay-login.txt"
sink_has_to() { (( $(pbo_sink_files_to "$1" | wc -l) >= 1 )); }
wait_for "the source route ignored (RFC 5321 4.1.1.3): the scanner's message at friend@example.net" 30 \
  sink_has_to friend@example.net

# 2. STARTTLS injection (CVE-2011-0411 class): a MAIL pipelined behind STARTTLS in the same
#    packet is discarded, so after the handshake RCPT has no transaction to join.
smtp_dialog "$PB_IP" "EHLO client.test" "RAW:STARTTLS\r\nMAIL FROM:<injected@a.test>" TLS \
  "EHLO client.test" "RCPT TO:<victim@example.net>" "QUIT" > "$PB_WORK/starttls-injection.txt" 2>&1 \
  || pb_fail "the injection client failed: $(cat "$PB_WORK/starttls-injection.txt")"
pb_log "STARTTLS injection: $(tr '\n' '|' < "$PB_WORK/starttls-injection.txt")"
pb_assert_eq "replies to STARTTLS + the injected MAIL: only the 220, before and after TLS" \
  "< 220 2.0.0 ready to start TLS|< 250 AUTH PLAIN LOGIN" \
  "$(sed -n '/^> RAW:STARTTLS/,/^> RCPT/p' "$PB_WORK/starttls-injection.txt" | grep '^< ' | tr '\n' '|' | sed 's/|$//')"
pb_assert_grep "after TLS, RCPT finds no MAIL: 503" '^< 503 ' "$PB_WORK/starttls-injection.txt"

# 3. Secrets: polls with a right and a wrong password, smarthost logins right and wrong, relay
#    and page logins; then everything postbridge wrote or answered is scanned.
curl -fsS -u "admin:$WEB_PW" -X POST -H 'X-Postbridge: 1' -H "Origin: http://$PB_IP:$WEB_PORT" \
  "http://$PB_IP:$WEB_PORT/api/accounts/alice/poll" > /dev/null
curl -fsS -u "admin:$WEB_PW" -X POST -H 'X-Postbridge: 1' -H "Origin: http://$PB_IP:$WEB_PORT" \
  "http://$PB_IP:$WEB_PORT/api/accounts/bob/poll" > /dev/null
wait_for "alice's mail at the sink" 60 pb_sink_has_at_least 4
wait_for "bob's login refused" 60 pb_log_has 'account bob: .*(rejected|password)'
pbo_swaks bossy@b.test rcpt@example.net --local-interface "$PB_IP" --server "$PB_IP" --port "$PB_RELAY_PORT"
wait_for "smarthost b's login refused" 60 pb_log_has 'smarthost:b paused'
code="$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$WRONG_PW" "http://$PB_IP:$WEB_PORT/api/status")"
pb_assert_eq "the page refuses a wrong login" 401 "$code"
for path in /api/status '/api/events?limit=500' /api/queue /metrics / /healthz; do
  name="$(echo "$path" | tr -c 'a-z0-9\n' '-' | sed 's/^-*//; s/-*$//')"
  curl -fsS -u "admin:$WEB_PW" "http://$PB_IP:$WEB_PORT$path" > "$PB_WORK/api-${name:-root}.txt"
done
pb_postbridge check -c "$PB_CFG"
pb_postbridge queue -c "$PB_CFG"
pb_assert_grep "check shows the relay user's hash masked" 'password_hash = "\*\*\*\*"' "$PB_WORK/postbridge-$((PB_RUNS - 1))-check.log"
# ---------------------------------------------------------------------------------------------
# 4. The status page (issue 16): DNS rebinding, password guessing at the page, connection slots.
#    Each client has its own loopback address (curl --interface), as the throttle and the slot
#    limit count per address. The page's login was used from $PB_IP above.
GUESSER="${PB_IP%.1}.3"   # guesses passwords
ADMIN_SRC="${PB_IP%.1}.4" # the admin, elsewhere
HOARDER="${PB_IP%.1}.5"   # holds connections
PAGE="http://$PB_IP:$WEB_PORT"
REBIND="rebind.attacker.example:$WEB_PORT"
db="$PB_WORK/state/postbridge.db"
run_log="$(ls "$PB_WORK"/postbridge-*-run.log | tail -n 1)"  # PB_LOG is the last `queue` command's now
queued_id="$(sqlite3 -readonly "$db" "SELECT id FROM messages WHERE state = 'queued' ORDER BY id LIMIT 1")"
queued_subject="$(sqlite3 -readonly "$db" "SELECT subject FROM messages WHERE id = '$queued_id'")"
[ -n "$queued_id" ] && [ -n "$queued_subject" ] || pb_fail "no queued message with a subject for the rebinding checks"
pb_log "rebinding checks against queued message $queued_id ('$queued_subject')"

# 4a. DNS rebinding: a page of $REBIND whose name now points here is "same origin" with itself.
#     Even with the admin's password (the browser might have it), nothing is answered.
for path in /api/queue '/api/events?limit=500' /api/status / '/oauth/callback?code=c&state=s'; do
  name="rebind$(echo "$path" | tr -c 'a-z0-9\n' '-' | sed 's/-*$//')"
  code="$(curl -s -o "$PB_WORK/$name.txt" -w '%{http_code}' --max-time 10 -u "admin:$WEB_PW" -H "Host: $REBIND" "$PAGE$path")"
  pb_assert_eq "GET $path under the rebinding name" 421 "$code"
  pb_assert_no_grep "GET $path under the rebinding name: no subject" "$queued_subject" "$PB_WORK/$name.txt"
done
pb_assert_grep "the refusal names the key and the file" "add it to \[web\] hostnames in $PB_CFG" "$PB_WORK/rebind-api-queue.txt"
code="$(curl -s -o "$PB_WORK/rebind-delete.txt" -w '%{http_code}' --max-time 10 -u "admin:$WEB_PW" -X POST \
  -H "Host: $REBIND" -H "Origin: http://$REBIND" -H 'Sec-Fetch-Site: same-origin' -H 'X-Postbridge: 1' \
  "$PAGE/api/queue/$queued_id/delete")"
pb_assert_eq "POST delete under the rebinding name, with its Origin, Sec-Fetch-Site and X-Postbridge" 421 "$code"
pb_assert_eq "the message is still queued" queued \
  "$(sqlite3 -readonly "$db" "SELECT state FROM messages WHERE id = '$queued_id'")"
code="$(curl -s -N -o "$PB_WORK/rebind-stream.txt" -w '%{http_code}' --max-time 10 -u "admin:$WEB_PW" \
  -H "Host: $REBIND" -H 'Accept: text/event-stream' "$PAGE/api/stream")"
pb_assert_eq "the event stream under the rebinding name" 421 "$code"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "admin:$WEB_PW" -X POST \
  -H "Origin: http://$REBIND" -H 'Sec-Fetch-Site: same-origin' -H 'X-Postbridge: 1' "$PAGE/api/queue/$queued_id/hold")"
pb_assert_eq "a POST under the right name but from the rebinding page's Origin" 403 "$code"
pb_assert_eq "log lines about the rebinding name (once, not per request)" 1 \
  "$(grep -c "status page: refused a request from .* for the name $REBIND" "$run_log")"
code="$(curl -s -o "$PB_WORK/own-name.txt" -w '%{http_code}' --max-time 10 -u "admin:$WEB_PW" \
  -H "Host: localhost:$WEB_PORT" "$PAGE/api/queue")"
pb_assert_eq "the page's own name (localhost) is served" 200 "$code"
pb_assert_grep "with the queued message" "$queued_subject" "$PB_WORK/own-name.txt"

# 4b. Password guessing: 8 parallel guessers from one address for 6 s. Only the first free
#     failures get a verdict (401); then 429 with Retry-After, unchecked; one log line.
"$PB_PY" - "$PB_IP" "$WEB_PORT" "$GUESSER" "$WRONG_PW" > "$PB_WORK/guesses.txt" <<'EOF_PY' || pb_fail "the guessing client failed"
import base64, collections, http.client, sys, threading, time
host, port, src, wrong = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
codes, retry_after, lock = collections.Counter(), set(), threading.Lock()
def guess(n):
    end = time.time() + 6
    while time.time() < end:
        c = http.client.HTTPConnection(host, port, timeout=10, source_address=(src, 0))
        auth = base64.b64encode(("admin:%s-%d" % (wrong, n)).encode()).decode()
        c.request("GET", "/api/status", headers={"Authorization": "Basic " + auth})
        r = c.getresponse()
        r.read()
        with lock:
            codes[r.status] += 1
            if r.status == 429: retry_after.add(r.getheader("Retry-After"))
        c.close()
        n += 8
threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("401 %d" % codes[401]); print("429 %d" % codes[429]); print("other %d" % (sum(codes.values()) - codes[401] - codes[429]))
print("retry-after %s" % ",".join(sorted(x or "none" for x in retry_after)))
EOF_PY
pb_log "guesses in 6 s: $(tr '\n' ' ' < "$PB_WORK/guesses.txt")"
checked="$(sed -n 's/^401 //p' "$PB_WORK/guesses.txt")"
(( checked <= 5 )) || pb_fail "$checked wrong passwords were answered 401 (checked) in 6 s; the throttle lets 4"
(( $(sed -n 's/^429 //p' "$PB_WORK/guesses.txt") >= 8 )) || pb_fail "too few 429 answers: $(cat "$PB_WORK/guesses.txt")"
pb_assert_eq "other answers to the guesses" 0 "$(sed -n 's/^other //p' "$PB_WORK/guesses.txt")"
pb_assert_grep "429 carries Retry-After in seconds" '^retry-after [0-9]' "$PB_WORK/guesses.txt"
pb_assert_eq "log lines 'wrong passwords from $GUESSER'" 1 \
  "$(grep -c "status page: [0-9]* wrong passwords from $GUESSER; its further logins wait" "$run_log")"
code="$(curl -s -o "$PB_WORK/admin-status.json" -w '%{http_code}' --max-time 10 --interface "$ADMIN_SRC" \
  -u "admin:$WEB_PW" "$PAGE/api/status")"
pb_assert_eq "the admin from another address logs in at once" 200 "$code"
"$PB_PY" - "$PB_WORK/admin-status.json" "$GUESSER" <<'EOF_PY' || pb_fail "the page does not list the guessing address as waiting: $(cat "$PB_WORK/admin-status.json")"
import json, sys
logins = json.load(open(sys.argv[1]))["logins"]
assert any(l["address"] == sys.argv[2] and l["doors"] == "status page" and l["waiting"] > 0 and l["failures"] >= 5
           for l in logins), logins
EOF_PY
pb_log "ok: /api/status lists $GUESSER as waiting"

# 4c. Connection slots: one address holds keep-alive connections beyond its share (16); the
#     extra ones are told 503 at once, and the admin elsewhere is still served.
"$PB_PY" - "$PB_IP" "$WEB_PORT" "$HOARDER" "$WEB_PW" > "$PB_WORK/slots.txt" <<'EOF_PY' || pb_fail "the slot client failed: $(cat "$PB_WORK/slots.txt")"
import base64, socket, sys
host, port, src, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
auth = base64.b64encode(("admin:" + pw).encode()).decode()
req = ("GET /healthz HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Basic %s\r\n\r\n" % (host, port, auth)).encode()
held, answers = [], []
for i in range(20):
    s = socket.create_connection((host, port), timeout=5, source_address=(src, 0))
    s.sendall(req)
    answers.append(s.recv(4096).decode(errors="replace").split("\r\n", 1)[0])
    held.append(s)  # kept open: keep-alive
print("\n".join(answers))
EOF_PY
pb_assert_eq "connections from one address served" 16 "$(grep -c '^HTTP/1.1 200' "$PB_WORK/slots.txt")"
pb_assert_eq "connections beyond its share told 503" 4 "$(grep -c '^HTTP/1.1 503' "$PB_WORK/slots.txt")"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface "$ADMIN_SRC" -u "admin:$WEB_PW" "$PAGE/api/status")"
pb_assert_eq "the admin from another address is still served" 200 "$code"

kill -TERM "$PB_PID"
pb_wait_exit 15
"$PB_PY" "$PB_TESTS_DIR/../scan_secrets.py" "$PB_WORK" > "$PB_WORK/scan.txt" 2>&1 \
  || pb_fail "a password reached postbridge's output:
$(head -n 20 "$PB_WORK/scan.txt")"
pb_log "ok: no password in any log, answer or database: $(tail -n 1 "$PB_WORK/scan.txt")"
