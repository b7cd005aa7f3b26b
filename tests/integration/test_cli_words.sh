#!/usr/bin/env bash
# `postbridge queue` and `postbridge route` with text from mail and servers: addresses with an
# umlaut and CJK characters (SMTPUTF8, RFC 6531), a smarthost whose refusal carries ESC and C1
# controls, a Subject with U+009B. Columns must line up by display width (an umlaut one column,
# a CJK character two), long fields be cut between characters, and no control reach the terminal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 88
pb_require_postbridge
FAKE_SMTP_PORT=22589

# --- a smarthost that defers every message with a hostile reply -----------------------------------
fake_dir="$PB_SRV/fake-smtp"
mkdir -p "$fake_dir"
cat > "$fake_dir/fake_smtp.py" <<'EOF'
# Answers MAIL with a 451 whose text holds ESC [2J (clear screen), U+009B and a raw 0x9B (CSI).
import socketserver, sys
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 fake.test ESMTP\r\n")
        for raw in self.rfile:
            verb = raw[:4].upper()
            with open(sys.argv[3], "ab") as log:
                log.write(raw)
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-fake.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"MAIL":
                self.wfile.write(b"451 4.3.0 \x1b[2J\xc2\x9b31mtry later\x9b0m \x07please\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF
pb__port_free "$FAKE_SMTP_PORT"
pb__register fake-smtp "$fake_dir/fake.pid"
setsid "$PB_PY" "$fake_dir/fake_smtp.py" "$PB_IP" "$FAKE_SMTP_PORT" "$fake_dir/commands.log" \
  < /dev/null > "$fake_dir/fake.out" 2>&1 &
echo $! > "$fake_dir/fake.pid"
wait_for "the fake smarthost on $PB_IP:$FAKE_SMTP_PORT" 10 pb_port_open "$FAKE_SMTP_PORT"

pb_sink_start
pb_config sink
pbo_relay
pbo_smarthost a port="$FAKE_SMTP_PORT" tls=none allow_plaintext=true auth=none username= password_file= ca_file=
pbo_start_postbridge

# Four messages: plain ASCII, an umlaut sender, a CJK recipient, and two CJK recipients whose
# list is longer than the column (to be cut between characters).
# send_utf8 FROM TO...: one message with SMTPUTF8 (RFC 6531 3.4) into postbridge's listener.
send_utf8() {
  "$PB_PY" - "$PB_IP" "$PB_RELAY_PORT" "$@" <<'EOF' || pb_fail "the SMTPUTF8 client failed for $*"
import smtplib, sys
host, port, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: Grüße\r\nMessage-ID: <%d@client.test>\r\n\r\nhello\r\n"
       % (sender, rcpts[0], abs(hash(sender + rcpts[0])))).encode("utf-8")
with smtplib.SMTP(host, port, local_hostname="client.test", timeout=30) as s:
    s.sendmail(sender, rcpts, msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
EOF
}
send_utf8 anna@a.test bob@example.net
send_utf8 jürgen.müller@a.test bob@example.net
send_utf8 anna@a.test 山田太郎@example.jp
send_utf8 anna@a.test "$(printf '東京%.0s' $(seq 1 7))@example.jp" "$(printf '大阪%.0s' $(seq 1 7))@example.jp"
mail_count() { cat "$fake_dir/commands.log" 2>/dev/null | grep -c '^MAIL' || true; }
has_mail_tries() { (( $(mail_count) >= $1 )); }
wait_for "the smarthost deferred all four" 60 has_mail_tries 4
replied() { PBO_QNAME=poll pbo_queue; (( $(grep -c 'try later' "$PBO_Q") >= 4 )); }
wait_for "every row has the smarthost's reply" 30 replied

pbo_queue
pb_assert_eq "postbridge queue succeeded" 0 "$PBO_QRC"
pb_assert_eq "no ESC, BEL or C1 from the smarthost reaches the terminal" 0 "$(pb_raw_controls "$PBO_Q")"
pb_assert_grep "the reply is shown, escaped" '451 4\.3\.0 .*try later.*please' "$PBO_Q"
pb_assert_grep "the umlaut address whole" ' jürgen\.müller@a\.test ' "$PBO_Q"
pb_assert_grep "the CJK address whole" ' 山田太郎@example\.jp ' "$PBO_Q"
pb_assert_grep "a long recipient list cut between characters" '@example\.jp,(大阪)+大?… ' "$PBO_Q"
# Columns by display width: where RECIPIENTS, the end of SIZE and LAST REPLY are on the title line,
# there they are on every row.
"$PB_PY" - "$PBO_Q" <<'EOF' > "$PB_WORK/columns.txt" || pb_fail "columns do not line up:
$(cat "$PB_WORK/columns.txt")"
import sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
title = next(l for l in lines if l.startswith("ID "))
rows = [l for l in lines if "try later" in l]
assert len(rows) == 4, rows
want = {"RECIPIENTS": width(title[:title.index("RECIPIENTS")]),
        "SIZE end": width(title[:title.index("SIZE") + 4]),
        "LAST REPLY": width(title[:title.index("LAST REPLY")])}
bad = []
for r in rows:
    rcpt = r.split()[4]
    got = {"RECIPIENTS": width(r[:r.index(" " + rcpt + " ") + 1]),
           "SIZE end": width(r[:r.index(" bytes") + 6]),
           "LAST REPLY": width(r[:r.index("deferred for ")])}
    for k in want:
        print("%-10s want %3d got %3d  %s" % (k, want[k], got[k], r))
        if got[k] != want[k]:
            bad.append(k)
sys.exit(1 if bad else 0)
EOF
pb_log "columns line up: $(wc -l < "$PB_WORK/columns.txt") checks"

# --- postbridge route: a Subject with U+009B and ESC is shown escaped -----------------------------
pb_config sink
pb_account carol deliver_to= ca_file=
cat >> "$PB_CFG" <<'EOC'

[account.multidrop]
domains = ["firma.test"]
default_recipient = "eve@office.test"
EOC
printf '%s\r\n' 'From: <x@example.com>' 'To: <山田@firma.test>, <jürgen@firma.test>' \
  'Delivered-To: info@firma.test' "Subject: raw $(printf '\x1b]0;owned\x07\xc2\x9b31m') and =?utf-8?q?=C2=9B2J_encoded?=" \
  'Message-ID: <route.hostile@example.com>' '' 'body' > "$PB_WORK/hostile.eml"
pb_postbridge route -c "$PB_CFG" --account carol "$PB_WORK/hostile.eml"
pb_assert_rc "postbridge route" 0
pb_assert_grep "the Subject is shown" '^Subject: +raw .*owned.*31m and .*2J encoded' "$PB_LOG"
pb_assert_eq "no control from the message reaches the terminal" 0 "$(pb_raw_controls "$PB_LOG")"
