#!/usr/bin/env bash
# Self-check of the integration harness itself (needs no postbridge binary): certificates, Dovecot
# POP3/LMTP, smtp-sink, fake_pop3.py start, answer, fill, count and stop; failures here mean the
# machine cannot run the other tests (a missing tool or a server that does not start) — never skipped.
. "$(dirname "$0")/lib.sh"
pb_init 30

probe() { "$PB_PY" - "$@"; }   # inline Python checks; argv: IP PORT ... (stdlib only)

# --- certificates ------------------------------------------------------------------------------
pb_certs
openssl verify -CAfile "$PB_CA" -verify_ip "$PB_IP" "$PB_CERTS/server.crt" >/dev/null \
  || pb_fail "server cert does not verify for $PB_IP"
openssl verify -CAfile "$PB_CA" -verify_hostname localhost "$PB_CERTS/server.crt" >/dev/null \
  || pb_fail "server cert does not verify for localhost"
openssl verify -CAfile "$PB_CA" "$PB_CERTS/wrong.crt" >/dev/null || pb_fail "wrong.crt is not signed by the CA"
if openssl verify -CAfile "$PB_CA" -verify_ip "$PB_IP" "$PB_CERTS/wrong.crt" >/dev/null 2>&1; then
  pb_fail "wrong.crt must NOT verify for $PB_IP"
fi
pb_log "ok: certificates (server for $PB_IP + localhost; wrong.example signed by the same CA)"

# --- Dovecot POP3 --------------------------------------------------------------------------------
pb_pop3_start
[ "$(cat "/proc/$(cat "$PB_SRV/pop3/run/master.pid")/comm")" == dovecot ] || pb_fail "pop3 pid file does not name dovecot"
pb_fill alice 10 5
pb_assert_eq "alice's mailbox after fill" 10 "$(pb_mailbox_count alice)"
pb_assert_eq "distinct Message-IDs in alice's mailbox" 10 "$(pb_mailbox_msgids alice | uniq | wc -l)"
pb_mailbox_msgids alice > "$PB_WORK/alice-before.txt"

probe "$PB_IP" "$PB_POP3_PORT" "$PB_POP3S_PORT" "$PB_CA" "$PB_PASSWORD" <<'EOF' || pb_fail "POP3 probe failed"
import poplib, re, ssl, sys
ip, plain, tls, ca, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)      # verifies the chain and the IP SAN
def check(p, how):
    p.user("alice"); p.pass_(pw)
    n, _ = p.stat()
    assert n == 10, (how, n)
    uids = [l.split()[1].decode() for l in p.uidl()[1]]
    assert all(re.fullmatch(r"[0-9a-fA-F]{16}", u) for u in uids), uids   # pop3_uidl_format %08Xu%08Xv
    body = b"\n".join(p.retr(1)[1])
    assert b"Message-ID: <pbtest." in body, body[:300]
    print("ok:", how, n, "messages, uidl", uids[0])
p = poplib.POP3(ip, plain, timeout=10); check(p, "plain"); p.quit()
p = poplib.POP3(ip, plain, timeout=10); p.stls(ctx); check(p, "stls"); p.quit()
p = poplib.POP3_SSL(ip, tls, context=ctx, timeout=10)
check(p, "implicit-tls " + p.sock.version())
p.dele(1); p.quit()
try:
    p = poplib.POP3_SSL(ip, tls, context=ctx, timeout=10); p.user("alice"); p.pass_("wrong")
    sys.exit("wrong password accepted")
except poplib.error_proto as e:
    print("ok: wrong password rejected:", e)
EOF
pb_assert_eq "alice's mailbox after DELE 1 + QUIT" 9 "$(pb_mailbox_count alice)"
wait_for "Dovecot logs the failed login" 10 grep -q 'Password mismatch' "$PB_POP3_LOG"
pb_assert_eq "auth failures counted in the Dovecot log" 1 "$(pb_pop3_auth_failures)"

# Restart with the certificate for the wrong name: a verifying client must refuse it.
pb_pop3_stop
pb__exited_port() { ! pb_port_open "$1"; }
wait_for "POP3S port closed after stop" 10 pb__exited_port "$PB_POP3S_PORT"
pb_pop3_start wrong
probe "$PB_IP" "$PB_POP3S_PORT" "$PB_CA" <<'EOF' || pb_fail "wrong-name certificate probe failed"
import poplib, ssl, sys
ip, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    poplib.POP3_SSL(ip, port, context=ssl.create_default_context(cafile=ca), timeout=10)
    sys.exit("the wrong-name certificate was accepted")
except ssl.SSLCertVerificationError as e:
    assert "mismatch" in str(e) or "match" in str(e), e
    print("ok: wrong-name certificate refused:", e.verify_message)
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
p = poplib.POP3_SSL(ip, port, context=ctx, timeout=10)
subj = dict(x[0] for x in p.sock.getpeercert()["subject"])   # chain still verified by the CA
assert subj["commonName"] == "wrong.example", subj
p.quit(); print("ok: without host-name check the wrong.example certificate is served")
EOF

# --- Dovecot LMTP (the office server) -------------------------------------------------------------
pb_lmtp_start
probe "$PB_IP" "$PB_LMTP_PORT" <<'EOF' || pb_fail "LMTP probe failed"
import smtplib, sys
l = smtplib.LMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
l.ehlo("probe.test")
msg = b"From: a@x.test\r\nTo: alice@office.test\r\nMessage-ID: <lmtp-probe@x.test>\r\nSubject: probe\r\n\r\nhello\r\n"
refused = l.sendmail("a@x.test", ["alice@office.test", "nosuchuser@office.test", "bob@office.test"], msg)
assert list(refused) == ["nosuchuser@office.test"] and refused["nosuchuser@office.test"][0] == 550, refused
l.quit(); print("ok: LMTP delivered to alice and bob, 550 for", refused)
EOF
pb_assert_eq "office mailbox alice" 1 "$(pb_office_count alice)"
pb_assert_eq "office mailbox bob" 1 "$(pb_office_count bob)"
pb_assert_eq "office Message-ID" "<lmtp-probe@x.test>" "$(pb_office_msgids bob)"

# --- smtp-sink ----------------------------------------------------------------------------------
pb_sink_start
[ "$(cat "/proc/$(cat "$PB_SRV/sink/sink.pid")/comm")" == smtp-sink ] || pb_fail "sink pid file does not name smtp-sink"
probe "$PB_IP" "$PB_SINK_PORT" <<'EOF' || pb_fail "sink probe failed"
import smtplib, socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = smtplib.SMTP(ip, port, timeout=10)
for i, rcpt in enumerate(["alice@office.test", "postmaster@office.test", "alice@office.test"]):
    s.sendmail("gw@gw.test", [rcpt], ("Message-ID: <sink-%d@x.test>\r\nSubject: s\r\n\r\n.dot line\r\n" % i).encode())
s.sendmail("gw@gw.test", ["bob@office.test"], b"Message-ID: <sink-0@x.test>\r\n\r\nagain\r\n")
s.quit()
# An aborted DATA must leave nothing behind (that is what makes duplicate counting exact).
c = socket.create_connection((ip, port), timeout=10); f = c.makefile("rb")
def cmd(x):
    if x: c.sendall(x + b"\r\n")
    while True:
        l = f.readline()
        if l[3:4] != b"-": return l
for x in (None, b"EHLO probe", b"MAIL FROM:<a@x.test>", b"RCPT TO:<b@y.test>", b"DATA"): cmd(x)
c.sendall(b"Message-ID: <aborted@x.test>\r\n\r\npartial\r\n"); c.close()
print("ok: 4 messages sent, 1 aborted")
EOF
wait_for "sink counted 4 messages" 10 pb_sink_has_exactly 4
wait_for "sink settled (no half-written file)" 10 pb_sink_settled
pb_assert_eq "sink stored files" 4 "$(pb_sink_files | wc -l)"
pb_assert_eq "sink duplicates" "<sink-0@x.test>" "$(pb_sink_duplicates)"
pb_assert_eq "sink messages for the postmaster" 1 "$(pb_sink_files_for postmaster@office.test | wc -l)"
pb_assert_no_grep "aborted transaction not stored" 'aborted@x.test' <(cat $(pb_sink_files))

# --- fake POP3 server ---------------------------------------------------------------------------
for sc in $("$PB_PY" "$PB_TESTS_DIR/fake_pop3.py" --list); do
  pb_fake_pop3_start "$sc"
  probe "$PB_IP" "$PB_FAKE_PORT" "$sc" <<'EOF' || pb_fail "fake POP3 scenario $sc misbehaved"
import poplib, socket, sys
ip, port, sc = sys.argv[1], int(sys.argv[2]), sys.argv[3]
poplib._MAXLINE = 4 << 20
def session():
    p = poplib.POP3(ip, port, timeout=3)
    p.user("alice"); p.pass_("x")
    return p
try:
    if sc == "silent":
        try: poplib.POP3(ip, port, timeout=1); sys.exit("silent server answered")
        except (socket.timeout, TimeoutError): pass
    elif sc == "bad_greeting":
        try: poplib.POP3(ip, port, timeout=3); sys.exit("bad greeting accepted")
        except poplib.error_proto: pass
    elif sc in ("in_use", "auth_fail", "hostile_err"):
        try: session(); sys.exit("login accepted")
        except poplib.error_proto as e: assert (b"IN-USE" if sc == "in_use" else b"[AUTH]") in e.args[0], e
    elif sc == "garbage_replies":
        try: session().stat(); sys.exit("garbage accepted")
        except poplib.error_proto: pass
    elif sc in ("reset_mid_retr", "retr_no_terminator", "stall_mid_retr"):
        p = session(); p.retr(1)
        try: p.retr(2); sys.exit("RETR 2 completed")
        except (poplib.error_proto, OSError, EOFError): pass
    elif sc == "long_status_line":
        assert len(session()._shortcmd("STAT")) > 1 << 20
    else:
        p = session()
        n = len(p.list()[1])
        if sc == "empty": assert n == 0
        elif sc == "malformed_listing": assert n == 4
        else:
            assert n == 3, n
            lines = p.retr(2)[1]
            if sc == "nul_bytes": assert any(b"\0" in l for l in lines)
            if sc == "long_body_line": assert max(map(len, lines)) == 200000
            if sc == "bare_lf":   # poplib hides line ends: look at the raw bytes
                p._putcmd("RETR 3"); raw = [p.file.readline()]
                while raw[-1] not in (b".\r\n", b""): raw.append(p.file.readline())
                assert any(not l.endswith(b"\r\n") for l in raw[1:-1]), raw[:3]
            p.dele(1)
        p.quit()
except Exception as e:
    sys.exit("%s: %r" % (sc, e))
print("ok: fake scenario", sc)
EOF
  if [ "$sc" == normal ]; then
    wait_for "fake server logged the QUIT" 10 grep -q 'C: QUIT' "$PB_FAKE_LOG"
    pb_assert_eq "DELE commands recorded" 1 "$(pb_fake_commands DELE)"
    pb_assert_eq "DELE mapped to its Message-ID" "<fake.normal.1@fake.test>" "$(pb_fake_deleted_msgids)"
  fi
  pb_fake_pop3_stop
done

# --- wait_for gives up with a clear message -------------------------------------------------------
if ( wait_for "a condition that never holds" 1 false ) 2> "$PB_WORK/wait_for.err"; then
  pb_fail "wait_for did not fail"
fi
pb_assert_grep "wait_for failure message" 'timed out after 1s waiting for: a condition that never holds' "$PB_WORK/wait_for.err"

# --- everything stops by pid file -----------------------------------------------------------------
pids=()
for f in "$PB_SRV/pop3/run/master.pid" "$PB_SRV/lmtp/run/master.pid" "$PB_SRV/sink/sink.pid"; do
  pids+=("$(cat "$f")")
done
pb_stop_all
for p in "${pids[@]}"; do
  pb_proc_running "$p" && pb_fail "pid $p still runs after pb_stop_all"
done
for port in "$PB_POP3_PORT" "$PB_POP3S_PORT" "$PB_LMTP_PORT" "$PB_SINK_PORT" "$PB_FAKE_PORT"; do
  pb_port_open "$port" && pb_fail "$PB_IP:$port still open after pb_stop_all"
done
pb_log "ok: every server stopped, every port closed"
