# tests/faults/lib_faults.sh — fault-injection additions to the integration harness (sourced after
# tests/integration/lib.sh). Promises: proxies on the test's own 127.0.N.1 only, stopped on exit.
#
# A test does:
#   . "$(dirname "$0")/../integration/lib.sh"; . "$(dirname "$0")/lib_faults.sh"
#   pb_init 70; pb_require_postbridge; pb_certs; pb_pop3_start; pb_sink_start
#   pbf_proxy_start pop3 23995 "$PB_POP3S_PORT"      # postbridge -> proxy -> Dovecot POP3S
#   pbf_plan pop3 "cut c2s_line=^USER" "reset s2c_bytes=50000"
#   pb_account alice port=23995
#   ... then wait_for "both faults" 60 pbf_fired pop3 2
#
# The proxy is tests/faults/faultproxy.py (rule syntax in its --help). Its log, with one
# "conn N fault: ..." line per injected fault, is $PB_SRV/faults/NAME.log; the plan file is
# re-read at every new connection, so a test can change the plan between runs.

PB_FAULTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# pbf_proxy_start NAME LISTEN_PORT UPSTREAM_PORT: a fault proxy PB_IP:LISTEN_PORT -> PB_IP:UPSTREAM_PORT.
pbf_proxy_start() {
  local name="$1" port="$2" upstream="$3" d="$PB_SRV/faults"
  mkdir -p "$d"
  pb__port_free "$port"
  : > "$d/$name.plan"
  : > "$d/$name.log"
  pb__register "proxy-$name" "$d/$name.pid"
  setsid "$PB_PY" "$PB_FAULTS_DIR/faultproxy.py" --listen "$PB_IP:$port" --upstream "$PB_IP:$upstream" \
    --plan "$d/$name.plan" --log "$d/$name.log" > "$d/$name.out" 2>&1 < /dev/null &
  echo $! > "$d/$name.pid"
  wait_for "fault proxy $name ready" 10 grep -q '^ready' "$d/$name.log"
  pb_log "fault proxy $name up ($PB_IP:$port -> $upstream)"
}

# pbf_plan NAME RULE...: replace the proxy's plan (the next connection gets the first rule).
pbf_plan() {
  local name="$1"; shift
  printf '%s\n' "$@" > "$PB_SRV/faults/$name.plan.tmp"
  mv -f "$PB_SRV/faults/$name.plan.tmp" "$PB_SRV/faults/$name.plan"
  pb_log "plan for $name: $(tr '\n' ';' < "$PB_SRV/faults/$name.plan")"
}

# pbf_faults NAME: how many faults the proxy has injected so far.
pbf_faults() { grep -c ' fault: ' "$PB_SRV/faults/$1.log" || true; }
# For wait_for: pbf_fired NAME N — at least N faults injected.
pbf_fired() { (( $(pbf_faults "$1") >= $2 )); }
# pbf_connections NAME: connections the proxy has seen.
pbf_connections() { grep -c '^conn [0-9]* open' "$PB_SRV/faults/$1.log" || true; }
# pbf_fault_lines NAME: the log lines of the injected faults (for the test's own log).
pbf_fault_lines() { grep ' fault: ' "$PB_SRV/faults/$1.log" || true; }

# pbf_random_rules COUNT SEED ACTIONS DIR MIN MAX: COUNT rules "ACTION DIR_bytes=N", N uniform in
# [MIN, MAX] and ACTION drawn from the comma-separated ACTIONS, reproducible from SEED.
pbf_random_rules() {
  "$PB_PY" - "$@" <<'EOF'
import random, sys
count, seed, actions, d, lo, hi = sys.argv[1:7]
rng = random.Random(int(seed))
acts = actions.split(",")
for _ in range(int(count)):
    print("%s %s_bytes=%d" % (rng.choice(acts), d, rng.randint(int(lo), int(hi))))
EOF
}

# pb_local_port PORT: point [local] at PORT (a proxy in front of the office server).
pb_local_port() { sed -i "/^\[local\]\$/,/^\[/ s/^port = .*/port = $1/" "$PB_CFG"; }

# pbf_spool_files: files in postbridge's spool (tmp/ included).
pbf_spool_files() { find "$PB_WORK/state/spool" -type f ! -name '.*' 2>/dev/null | wc -l; }

# pbf_check_step NAME ORIGINALS MIN_EXTRA MAX_EXTRA: the accounting after one fault step whose
# messages carry ".NAME." in their Message-ID: every copy at the sink intact (ORIGINALS: the
# sent messages as files), between MIN and MAX extra copies (a 250 lost in flight), nothing left
# queued, failed or in the spool. Leaves the received IDs in PB_WORK/received-NAME.txt and the
# number of extra copies in PBF_EXTRA.
pbf_check_step() {
  local name="$1" originals="$2" min_extra="$3" max_extra="$4"
  wait_for "the sink to settle" 10 pb_sink_settled
  pb_sink_msgids | grep -F ".$name." > "$PB_WORK/received-$name.txt" || true
  pb_assert_sink_has_originals "$name: every copy intact" "$originals" --all-copies
  PBF_EXTRA="$(pb_extra_copies "$PB_WORK/received-$name.txt" | wc -l)"
  (( PBF_EXTRA >= min_extra )) || pb_fail "$name: expected at least $min_extra extra copies (a 250 lost in flight), got $PBF_EXTRA"
  pb_assert_le "$name: extra copies" "$max_extra" "$PBF_EXTRA"
  pb_assert_eq "$name: still queued" 0 "$(pb_queue_count queued)"
  pb_assert_eq "$name: failed" 0 "$(pb_queue_count failed)"
  pb_assert_eq "$name: spool files left" 0 "$(pbf_spool_files)"
}

# pb_queue_count STATE: messages in postbridge's store in STATE (queued, held, failed, delivered).
pb_queue_count() { sqlite3 -readonly "$PB_WORK/state/postbridge.db" "SELECT COUNT(*) FROM messages WHERE state = '$1'"; }

# pbf_send_retrying OUT COUNT PORT FROM TO TAG: one SMTP client (Python smtplib) sends COUNT
# messages (Message-ID <cut.TAG.I@client.test>) to postbridge's listener on PB_IP:PORT, one after
# the other on one connection — like an office server would: a message whose connection broke
# before its 250 is sent again on a new connection (so a 250 lost in flight makes a duplicate,
# and nothing is lost). Writes OUT/acked.txt ("MESSAGE-ID QUEUE-ID" per 250), OUT/broken.txt
# (one line per broken attempt), OUT/deferred.txt (one line per 4xx) and OUT/messages/I.eml.
# Environment: PBF_PACE=S pause after each accepted message (a trickle, not a burst);
# PBF_BODY_KB=N body size (default ~3 KB); PBF_RETRY_4XX=1 a 4xx reply is retried (after 0.5 s,
# without SIZE=, as a busy office server would) instead of failing the client.
# Fails (exit 1) on a 5xx, or when a message cannot be sent within PBF_GIVE_UP s (default 120).
pbf_send_retrying() {
  local out="$1"
  mkdir -p "$out/messages"
  PBF_PACE="${PBF_PACE:-0}" PBF_BODY_KB="${PBF_BODY_KB:-0}" PBF_RETRY_4XX="${PBF_RETRY_4XX:-0}" \
  PBF_GIVE_UP="${PBF_GIVE_UP:-120}" "$PB_PY" - "$PB_IP" "$@" <<'PY'
import os, smtplib, sys, time
host, out, count, port, sender, rcpt, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
pace, body_kb = float(os.environ["PBF_PACE"]), int(os.environ["PBF_BODY_KB"])
retry_4xx, give_up = os.environ["PBF_RETRY_4XX"] == "1", float(os.environ["PBF_GIVE_UP"])
acked = open(f"{out}/acked.txt", "a", buffering=1)
broken = open(f"{out}/broken.txt", "a", buffering=1)
deferred = open(f"{out}/deferred.txt", "a", buffering=1)
lines = max(40, body_kb * 1024 // 80)
body = "".join(f"line {i:06d} of message {{i}}, text to give it a realistic size; .dots and From\r\n" for i in range(lines))
conn = None
for i in range(1, count + 1):
    mid = f"<cut.{tag}.{i}@client.test>"
    msg = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: cut {tag} {i}\r\nMessage-ID: {mid}\r\n"
           f"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n" + body.replace("{i}", str(i)) + ".leading dot\r\n").encode()
    with open(f"{out}/messages/{i}.eml", "wb") as f:
        f.write(msg.replace(b"\r\n", b"\n"))
    end = time.time() + give_up
    while True:
        try:
            if conn is None:
                conn = smtplib.SMTP(host, port, local_hostname="office.test", timeout=60)
                conn.ehlo("office.test")
            code, resp = conn.mail(sender)
            if code == 250:
                code, resp = conn.rcpt(rcpt)
            if code == 250:
                code, resp = conn.data(msg)
            if code == 250:
                text = resp.decode(errors="replace")
                acked.write(f"{mid} {text.rsplit(' ', 1)[-1]}\n")
                if pace:
                    time.sleep(pace)
                break
            if not (retry_4xx and 400 <= code < 500):
                sys.exit(f"{mid} refused: {code} {resp!r}")
            deferred.write(f"{mid} {code} {resp.decode(errors='replace')}\n")
            conn.rset()
            if time.time() > end:
                sys.exit(f"{mid}: still deferred after {give_up:.0f} s: {code} {resp!r}")
            time.sleep(0.5)
        except (OSError, smtplib.SMTPException) as e:
            broken.write(f"{mid} broken: {type(e).__name__}: {e}\n")
            try:
                conn.close()
            except Exception:
                pass
            conn = None
            if time.time() > end:
                sys.exit(f"{mid}: not accepted within {give_up:.0f} s")
            time.sleep(0.05)
if conn is not None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        pass
PY
}

# pbf_sanitized: the postbridge under test is an AddressSanitizer build (its memory figures carry
# the sanitizer's shadow memory, so memory bounds are wider for it).
pbf_sanitized() { ldd "$POSTBRIDGE" 2>/dev/null | grep -q 'libasan'; }
