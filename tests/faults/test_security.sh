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
printf '\n[[relay.user]]\nname = "scanner"\npassword_hash = "%s"\nsenders = ["scanner@a.test"]\n' "$relay_hash" >> "$PB_CFG"
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
# ... but only as the senders its [[relay.user]] lists: not as the boss through the boss's smarthost.
smtp_dialog "$OUTSIDE" "EHLO scanner.test" "STARTTLS" TLS "EHLO scanner.test" \
  "AUTH PLAIN $(printf '\0scanner\0%s' "$RELAY_PW" | base64 -w0)" "MAIL FROM:<boss@a.test>" "QUIT" \
  > "$PB_WORK/relay-login-boss.txt" 2>&1 || pb_fail "the impersonating client failed: $(cat "$PB_WORK/relay-login-boss.txt")"
pb_assert_grep "the scanner may not send as the boss (553 5.7.1)" '^< 553 5\.7\.1 <boss@a\.test>: sender address not allowed for login scanner' \
  "$PB_WORK/relay-login-boss.txt"
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
# 4. The status page: DNS rebinding, password guessing at the page, connection slots.
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

# =============================================================================================
# Relay logins, connection slots, the open-relay guard and the TLS servers. A fresh
# run: the relay caps 3 connections per address outside allow_networks, the
# page speaks HTTPS, and the first relay user's hash is slow on purpose (~400 ms, calibrated
# here), so that a hash on the wrong thread or a skipped one shows far above the noise of a
# loaded machine. Client addresses: ${PB_IP%.1}.X, one per role, so the per-address throttle
# and slots of one role never touch another.
# =============================================================================================
NET3="${PB_IP%.1}"
BF="$NET3.3"; ELSEWHERE="$NET3.4"; CAPPED="$NET3.5"; OTHER="$NET3.6"
slow_hash="$("$PB_PY" -W ignore - "$RELAY_PW" <<'EOF2'
import crypt, sys, time
# SHA-512-crypt (crypt(3), as postbridge checks it) with as many rounds as take ~400 ms here.
t = time.perf_counter(); crypt.crypt("x", "$6$rounds=50000$calibrate"); took = time.perf_counter() - t
rounds = max(5000, int(50000 * 0.4 / took))
print(crypt.crypt(sys.argv[1], "$6$rounds=%d$%s" % (rounds, crypt.mksalt(crypt.METHOD_SHA512)[3:])))
EOF2
)"
pb_config sink log_level=info
pbo_relay allow_networks="[\"$PB_IP/32\"]" tls_cert_file="$PB_CERTS/server.crt" tls_key_file="$PB_CERTS/server.key" \
  max_connections_per_address=3
printf '\n[[relay.user]]\nname = "scanner"\npassword_hash = "%s"\n' "$slow_hash" >> "$PB_CFG"
printf '\n[[relay.user]]\nname = "laptop"\npassword_hash = "%s"\n' "$relay_hash" >> "$PB_CFG"
pbo_smarthost a auth=plain
printf '\n[web]\nlisten = "%s:%d"\ntls_cert_file = "%s"\ntls_key_file = "%s"\n' \
  "$PB_IP" "$WEB_PORT" "$PB_CERTS/server.crt" "$PB_CERTS/server.key" >> "$PB_CFG"
pbo_start_postbridge
wait_for "the page over HTTPS" 15 curl -fsS --cacert "$PB_CA" -o /dev/null "https://$PB_IP:$WEB_PORT/healthz"

# relay_probe MODE ARGS...: SMTP and HTTPS clients for this block (stdlib Python; prints results).
#   auth SRC USER PASSWORD N     N AUTH PLAIN attempts in one session from SRC: "CODE MS" per line
#   timing USER PASSWORD SRC...  one session per SRC, one attempt each: the ms until the reply
#   slots                        CAPPED x4, OTHER x1, PB_IP x5: each connection's greeting code
#   healthz N [FLOOD_FROM]       GETs of /healthz, each on a new HTTPS connection: "p50 p95 max" ms,
#                                the wrong passwords answered meanwhile and the GETs made. With
#                                FLOOD_FROM, 6 clients send wrong passwords from FLOOD_FROM.20 .. .250
#                                (3 per address: under the throttle), and the GETs go on (N at
#                                least) until each flooder has had 4 answered.
relay_probe() {
  "$PB_PY" - "$PB_IP" "$PB_RELAY_PORT" "$WEB_PORT" "$PB_CA" "$CAPPED" "$OTHER" "$@" <<'EOF2'
import base64, http.client, socket, ssl, statistics, sys, threading, time
host, port, web_port, ca, capped, other, mode, args = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8:]

def reply(f):
    while True:
        line = f.readline()
        if not line:
            return "closed"
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode(errors="replace").rstrip("\r\n")

def session(src):
    s = socket.create_connection((host, port), timeout=60, source_address=(src, 0))
    f = s.makefile("rb")
    return s, f, reply(f)

def auth(s, f, user, password):
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    t = time.perf_counter()
    s.sendall(b"AUTH PLAIN " + token.encode() + b"\r\n")
    r = reply(f)
    return r, (time.perf_counter() - t) * 1000

def ehlo(s, f):
    s.sendall(b"EHLO probe.test\r\n")
    return reply(f)

if mode == "auth":
    src, user, password, n = args[0], args[1], args[2], int(args[3])
    s, f, _ = session(src); ehlo(s, f)
    for _ in range(n):
        r, ms = auth(s, f, user, password)
        print("%s %.0f" % (r, ms))
        if r.startswith(("235", "421")) or r == "closed":
            break
elif mode == "timing":
    user, password = args[0], args[1]
    for src in args[2:]:
        s, f, _ = session(src); ehlo(s, f)
        r, ms = auth(s, f, user, password)
        print("%.1f %s" % (ms, r))
        s.close()
elif mode == "slots":
    held = []
    for src in [capped] * 4 + [other] + [host] * 5:
        s, f, greeting = session(src)
        held.append(s)
        print(src, greeting)
    for s in held:
        s.close()
elif mode == "healthz":
    n, flood_from = int(args[0]), (args[1] if len(args) > 1 else None)
    stop, started = threading.Event(), threading.Semaphore(0)
    tries = [0]
    def flood(k):
        a = 20 + k
        first = True
        while not stop.is_set():
            try:
                s, f, _ = session("%s.%d" % (flood_from, a)); ehlo(s, f)
                for _ in range(3):
                    auth(s, f, "scanner", "wrong-%d" % a)
                    tries[0] += 1
                    if first:
                        started.release(); first = False
                s.close()
            except OSError:
                pass
            a = a + 6 if a + 6 <= 250 else 20 + k
    threads = [threading.Thread(target=flood, args=(k,), daemon=True) for k in range(6)] if flood_from else []
    for t in threads: t.start()
    for t in threads: started.acquire()  # every flooder has had a wrong password answered
    ctx = ssl.create_default_context(cafile=ca)
    times, base, deadline = [], tries[0], time.monotonic() + 90
    # At least n requests, and under a flood for as long as 4 wrong passwords per flooder take.
    while (len(times) < n or (threads and tries[0] - base < 4 * len(threads))) and time.monotonic() < deadline:
        t = time.perf_counter()
        c = http.client.HTTPSConnection(host, web_port, context=ctx, timeout=30)
        c.request("GET", "/healthz"); body = c.getresponse().read(); c.close()
        assert body == b"ok\n", body
        times.append((time.perf_counter() - t) * 1000)
    stop.set()
    times.sort()
    print("%.1f %.1f %.1f %d %d" % (statistics.median(times), times[int(0.95 * (len(times) - 1))], times[-1],
                                    tries[0] - base, len(times)))
EOF2
}

# (a) Brute force over SMTP AUTH from one address: five 535s (each checked), then 454 4.7.0 without
#     a check — even for the right password — and one log line naming the address; the right login
#     from another address works at once.
relay_probe auth "$BF" scanner "$WRONG_PW" 8 > "$PB_WORK/bf-wrong.txt"
relay_probe auth "$BF" scanner "$RELAY_PW" 1 > "$PB_WORK/bf-right.txt"
relay_probe auth "$ELSEWHERE" laptop "$RELAY_PW" 1 > "$PB_WORK/elsewhere.txt"
pb_log "brute force from $BF: $(cut -c1-40 "$PB_WORK/bf-wrong.txt" | tr '\n' '|'); then the right password: $(cat "$PB_WORK/bf-right.txt")"
pb_assert_eq "the first five wrong passwords get 535" 5 "$(grep -c '^535 5\.7\.8 ' "$PB_WORK/bf-wrong.txt")"
pb_assert_eq "the rest get 454 4.7.0 (throttled)" 3 \
  "$(grep -c '^454 4\.7\.0 too many failed logins from your address; try again in [0-9]* s ' "$PB_WORK/bf-wrong.txt")"
pb_assert_grep "the right password from the throttled address is not even checked" '^454 4\.7\.0 ' "$PB_WORK/bf-right.txt"
pb_assert_grep "the right login from another address works at once" '^235 2\.7\.0 ' "$PB_WORK/elsewhere.txt"
wait_for "the throttle's log line" 10 pb_log_has "relay: 5 failed logins from $BF; its next logins are refused unchecked"
pb_assert_eq "one throttle line for the burst" 1 "$(grep -c "failed logins from $BF" "$PB_LOG")"
pb_assert_eq "each checked failure logged" 5 "$(grep -c "relay: login as 'scanner' from $BF rejected" "$PB_LOG")"

# (b) Timing: a known user's wrong password and an unknown user take the same time (one hash each
#     against the same slow hash; median of 12 tries each, every try from its own address). The
#     tries alternate, so a change in the machine's load (CI builds beside the tests) falls on both.
: > "$PB_WORK/timing-known.txt"; : > "$PB_WORK/timing-unknown.txt"
for i in $(seq 100 111); do
  relay_probe timing scanner "$WRONG_PW" "$NET3.$i" >> "$PB_WORK/timing-known.txt"
  relay_probe timing nosuchuser "$WRONG_PW" "$NET3.$((i + 20))" >> "$PB_WORK/timing-unknown.txt"
done
median_ms() { sort -n "$1" | awk '{ v[NR] = $1 } END { print int((v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2) }'; }
known_ms="$(median_ms "$PB_WORK/timing-known.txt")"; unknown_ms="$(median_ms "$PB_WORK/timing-unknown.txt")"
hash_ms="$("$PB_PY" -W ignore -c 'import crypt, sys, time; t = time.perf_counter(); crypt.crypt("x", sys.argv[1]); print(int((time.perf_counter() - t) * 1000))' "$slow_hash")"
pb_log "535 after: known user median ${known_ms} ms, unknown user median ${unknown_ms} ms (one hash here: ${hash_ms} ms)"
pb_assert_eq "every timing try got 535" 24 "$(cat "$PB_WORK"/timing-*.txt | grep -c ' 535 5\.7\.8 ')"
diff_ms=$(( known_ms > unknown_ms ? known_ms - unknown_ms : unknown_ms - known_ms ))
# A skipped hash would show as a whole hash of difference; half of one is noise at most.
(( diff_ms * 2 < hash_ms )) || pb_fail "a known and an unknown user differ by $diff_ms ms (one hash: $hash_ms ms): user names can be told by timing"

# (c) /healthz during an AUTH flood: the hashes run off the mail thread.
relay_probe healthz 60 > "$PB_WORK/healthz-quiet.txt"
relay_probe healthz 60 "$NET3" > "$PB_WORK/healthz-flood.txt"
read -r q_p50 q_p95 q_max _ q_n < "$PB_WORK/healthz-quiet.txt"
read -r f_p50 f_p95 f_max f_tries f_n < "$PB_WORK/healthz-flood.txt"
pb_log "/healthz over HTTPS: quiet ($q_n GETs) p50 $q_p50 p95 $q_p95 max $q_max ms; during an AUTH flood ($f_n GETs, $f_tries wrong passwords answered meanwhile) p50 $f_p50 p95 $f_p95 max $f_max ms"
# Generous: a hash on the mail thread would hold most of those GETs for up to a whole hash.
"$PB_PY" -c 'import sys; q, f, h = map(float, sys.argv[1:]); sys.exit(0 if f < q + h / 2 else 1)' "$q_p95" "$f_p95" "$hash_ms" \
  || pb_fail "/healthz p95 rose from $q_p95 to $f_p95 ms during the AUTH flood (one hash: $hash_ms ms): hashing blocks the mail thread"
printf 'relay_auth: known_ms=%s unknown_ms=%s hash_ms=%s healthz_quiet_p95_ms=%s healthz_flood_p95_ms=%s healthz_flood_max_ms=%s flood_tries=%s\n' \
  "$known_ms" "$unknown_ms" "$hash_ms" "$q_p95" "$f_p95" "$f_max" "$f_tries" > "$PB_WORK/figures-relay.txt"

# (d) Connection slots: the 4th connection from one address outside allow_networks gets 421; another
#     address is still served, and the office server (in allow_networks) is not held to the cap.
relay_probe slots > "$PB_WORK/slots.txt"
pb_log "slots: $(tr '\n' '|' < "$PB_WORK/slots.txt")"
pb_assert_eq "three connections from $CAPPED greeted" 3 "$(grep -c "^$CAPPED 220 " "$PB_WORK/slots.txt")"
pb_assert_grep "the fourth from $CAPPED refused" "^$CAPPED 421 4\.7\.0 too many connections from your address" "$PB_WORK/slots.txt"
pb_assert_grep "another address still served" "^$OTHER 220 " "$PB_WORK/slots.txt"
pb_assert_eq "the office server's five connections all greeted" 5 "$(grep -c "^$PB_IP 220 " "$PB_WORK/slots.txt")"
pb_assert_grep "the refusal logged" "refused a connection from $CAPPED: it holds 3 already" "$PB_LOG"

# (e) The open-relay guard judges allow_networks as a whole, IPv4-mapped ranges as IPv4.
guard_check() {  # guard_check NAME ALLOW_NETWORKS: `postbridge check` of a config with a public listener
  local cfg="$PB_WORK/guard-$1.toml"
  PB_CFG="$cfg" pb_config sink
  PB_CFG="$cfg" pbo_relay listen='["0.0.0.0:2525"]' allow_networks="$2"
  pb_postbridge check -c "$cfg"
}
guard_check mapped '["::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97"]'
pb_assert_rc "check refuses all of IPv4 written as IPv4-mapped halves" 2
pb_assert_grep "naming file, line and key" "guard-mapped\.toml:[0-9]+:[0-9]+: relay\.allow_networks\[0\]: '::ffff:0\.0\.0\.0/97' lets anyone" "$PB_LOG"
guard_check ipv6 '["2000::/4", "3000::/4"]'
pb_assert_rc "check refuses all of global IPv6 in two halves" 2
pb_assert_grep "naming the key" "relay\.allow_networks\[1\]: '3000::/4' lets anyone" "$PB_LOG"
guard_check union '["11.0.0.0/9", "::ffff:11.128.0.0/105"]'
pb_assert_rc "check refuses a public /8 assembled from pieces" 2
pb_assert_grep "naming the list" "guard-union\.toml:[0-9]+:[0-9]+: relay\.allow_networks: '11\.0\.0\.0/9', '::ffff:11\.128\.0\.0/105' together" "$PB_LOG"

# (f) TLS 1.2 suites of the relay's STARTTLS and the page's HTTPS: forward-secret AEAD only, our order.
tls_suite() {  # tls_suite relay|page OPENSSL_ARGS...: the suite negotiated, or "refused"
  local -a target=(-connect "$PB_IP:$WEB_PORT")
  [ "$1" = relay ] && target=(-connect "$PB_IP:$PB_RELAY_PORT" -starttls smtp)
  shift
  local out
  out="$(timeout 20 openssl s_client "${target[@]}" -CAfile "$PB_CA" -brief -tls1_2 "$@" < /dev/null 2>&1)" \
    || { echo refused; return 0; }
  sed -n 's/^Ciphersuite: //p' <<< "$out"
}
for where in relay page; do
  pb_assert_eq "$where: CBC suite AES128-SHA" refused "$(tls_suite "$where" -cipher AES128-SHA)"
  pb_assert_eq "$where: static RSA AES256-GCM-SHA384" refused "$(tls_suite "$where" -cipher AES256-GCM-SHA384)"
  pb_assert_eq "$where: ECDHE-RSA-AES256-GCM-SHA384 alone" ECDHE-RSA-AES256-GCM-SHA384 \
    "$(tls_suite "$where" -cipher ECDHE-RSA-AES256-GCM-SHA384)"
  pb_assert_eq "$where: our order wins over the client's" ECDHE-RSA-AES128-GCM-SHA256 \
    "$(tls_suite "$where" -cipher ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256)"
done
"$PB_PY" "$PB_TESTS_DIR/../scan_secrets.py" "$PB_WORK" > "$PB_WORK/scan-relay.txt" 2>&1 \
  || pb_fail "a password reached postbridge's output during the relay checks:
$(head -n 20 "$PB_WORK/scan-relay.txt")"
pb_log "ok: relay logins throttled and timing-blind, slots capped per address, guard judges the union, TLS 1.2 AEAD+ECDHE only"
