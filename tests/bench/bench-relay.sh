#!/usr/bin/env bash
# tests/bench/bench-relay.sh — outbound benchmark: postbridge vs a Postfix relay client, same smarthost, same run.
# Promises: loopback only (127.0.69.1), every step time-bounded, servers stopped on exit; not a ctest.
#
# Usage: sudo tests/bench/bench-relay.sh
# Env:   POSTBRIDGE   the binary (default build/release/postbridge — benchmark a release build)
#        BENCH_N=2000 BENCH_KB=20 BENCH_SESSIONS=10   smtp-source: N messages of ~KB, SESSIONS in parallel
#        BENCH_BIG_MB=100           the single large message (0 skips that part)
#        BENCH_SMARTHOST=dovecot    the smarthost: dovecot (Dovecot submission, no queue: relays each
#                                   message to the sink before its 250) or postfix (Postfix+SASL, queues)
#        BENCH_PB_CONNECTIONS=2     postbridge's max_connections to the smarthost (its default)
#        PBO_POSTFIX_TLS_REUSE=no   Postfix's smtp_tls_connection_reuse
#        BENCH_STRICT=1             exit 3 when a target is missed (default: report only)
#        PB_TEST_OUT                where the work dir goes (default /tmp/pb-test-out/bench-relay)
#
# Path of both contenders: smtp-source -> [relay] -> STARTTLS + AUTH PLAIN (alice) -> smarthost ->
# smtp-sink, which stores every message. postbridge: `run` with its listener, the smarthost's
# certificate verified against the test CA. Postfix: a private instance with relayhost = the
# smarthost, smtp_tls_security_level = encrypt, SASL. Both fsync each queued message before the
# 250 (Postfix's cleanup; postbridge's group commit). The clock runs from the start of
# smtp-source (its first connection is accepted at once) until the sink has counted all N.
# RESULT lines also give accepted_s, when smtp-source had its last 250 (all queued).
# Printed: msgs/s and MB/s of each, the ratio postbridge/Postfix (target >= 1) and postbridge's
# peak RSS (/usr/bin/time -v, target < 30 MB); then one BENCH_BIG_MB message through postbridge
# with its peak RSS (< 30 MB: streamed to the spool and to the smarthost, never held in memory).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_outbound.sh"
PB_DEADLINE=3000 pb_init 69

root="$(cd "$PB_TESTS_DIR/../.." && pwd)"
POSTBRIDGE="${POSTBRIDGE:-$root/build/release/postbridge}"
N="${BENCH_N:-2000}"
KB="${BENCH_KB:-20}"
SESSIONS="${BENCH_SESSIONS:-10}"
BIG_MB="${BENCH_BIG_MB:-100}"
SMARTHOST="${BENCH_SMARTHOST:-dovecot}"
PB_CONNECTIONS="${BENCH_PB_CONNECTIONS:-2}"
POSTFIX_PORT=22526
TARGET_RATIO=1
TARGET_RSS_KB=$((30 * 1024))
pb_require_postbridge
[ -x /usr/bin/time ] || pb_fail "/usr/bin/time is missing (package time): packaging/install-deps.sh test"
[ -x /usr/sbin/smtp-source ] || pb_fail "smtp-source is missing (package postfix): packaging/install-deps.sh test"

pb_certs
pb_sink_start
case "$SMARTHOST" in
  dovecot) pbo_submission_start ;;
  postfix) pbo_smarthost_start ;;
  *) pb_fail "BENCH_SMARTHOST must be dovecot or postfix, not '$SMARTHOST'" ;;
esac

# One realistic message of ~KB (text/plain, the generator's first message), sent N times.
mkdir -p "$PB_WORK/msg"/{new,cur,tmp}
"$PB_PY" "$PB_TESTS_DIR/mkmail.py" "$PB_WORK/msg" 1 "$KB" rcpt --seed 42 >/dev/null
MSG="$PB_WORK/message.eml"
find "$PB_WORK/msg/new" -type f | head -n 1 | xargs -I{} cp {} "$MSG"
BYTES="$(stat -c %s "$MSG")"

# postbridge under /usr/bin/time -v: PB_PID is postbridge itself (signals go to it, not to time).
start_timed_postbridge() {
  local tf="$1"
  PB_RUNS=$((PB_RUNS + 1))
  PB_LOG="$PB_WORK/postbridge-$PB_RUNS-run.log"
  PB_PIDFILE="$PB_WORK/postbridge-$PB_RUNS.pid"
  PBO_RUN_LOG="$PB_LOG"
  /usr/bin/time -v -o "$tf" "$POSTBRIDGE" run -c "$PB_CFG" > "$PB_LOG" 2>&1 < /dev/null &
  TIME_PID=$!
  wait_for "postbridge under time" 10 pgrep -P "$TIME_PID"
  PB_PID="$(pgrep -P "$TIME_PID" | head -n 1)"
  echo "$PB_PID" > "$PB_PIDFILE"
  pb__register postbridge "$PB_PIDFILE"
  wait_for "postbridge's listener" 15 pbo__listening "$PB_RELAY_PORT" "$PB_IP"
}
stop_timed_postbridge() {
  pb_stop_pidfile "$PB_PIDFILE" postbridge
  wait "$TIME_PID" 2>/dev/null || true
}
rss_kb() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }
cpu_s() { awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$1"; }

# measure NAME PORT COUNT FILE: smtp-source sends FILE COUNT times to PB_IP:PORT in SESSIONS
# parallel sessions; wait (bounded) until the sink has COUNT more; sets WALL_S and prints RESULT.
measure() {
  local name="$1" port="$2" count="$3" file="$4" before t0 ti t1 rc=0 sessions
  sessions=$(( count < SESSIONS ? count : SESSIONS ))
  before="$(pb_sink_count)"
  sync
  t0=$(date +%s%N)
  timeout -k 10 900 /usr/sbin/smtp-source -4 -d -s "$sessions" -m "$count" -M client.test -f sender@a.test \
    -t rcpt@example.net -F "$file" "$PB_IP:$port" > "$PB_WORK/smtp-source-$name.log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || pb_fail "$name: smtp-source exited $rc: $(tail -n 5 "$PB_WORK/smtp-source-$name.log")"
  ti=$(date +%s%N)
  PB_POLL=0.05 wait_for "$name: the sink to have all $count messages" 600 pb_sink_has_at_least $((before + count))
  t1=$(date +%s%N)
  WALL_S="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
  local bytes; bytes="$(stat -c %s "$file")"
  printf 'RESULT relay=%s n=%d msg_bytes=%d sessions=%d accepted_s=%s wall_s=%s msgs_per_s=%s MB_per_s=%s delivered=%d\n' \
    "$name" "$count" "$bytes" "$sessions" "$(awk -v a="$t0" -v b="$ti" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" "$WALL_S" \
    "$(awk -v n="$count" -v w="$WALL_S" 'BEGIN { printf "%.1f", n / w }')" \
    "$(awk -v n="$count" -v b="$bytes" -v w="$WALL_S" 'BEGIN { printf "%.2f", n * b / w / 1e6 }')" \
    $(( $(pb_sink_count) - before ))
}

verdict() { if [ "$1" = 1 ]; then VERDICT=met; else VERDICT=MISSED; MISSED=1; fi; }
MISSED=0

# --- postbridge ---------------------------------------------------------------------------------------
pb_config sink
pbo_relay max_message_size="$(( BIG_MB * 2 + 10 ))MB" max_connections=50
pbo_smarthost a senders='["*@a.test"]' auth=plain max_connections="$PB_CONNECTIONS" timeout=120s
start_timed_postbridge "$PB_WORK/time-postbridge.txt"
measure postbridge "$PB_RELAY_PORT" "$N" "$MSG"
PB_WALL="$WALL_S"
wait_for "postbridge's queue to be empty" 30 pbo_queue_has queued 0
stop_timed_postbridge
PB_RSS="$(rss_kb "$PB_WORK/time-postbridge.txt")"
PB_CPU="$(cpu_s "$PB_WORK/time-postbridge.txt")"
rm -rf "$PB_SRV/sink/msgs/"*

# --- Postfix as relay client --------------------------------------------------------------------------
pbo_postfix_relay_start "$POSTFIX_PORT"
measure postfix "$POSTFIX_PORT" "$N" "$MSG"
PF_WALL="$WALL_S"
pb_assert_eq "Postfix's queue is empty" 0 "$(pbo_postfix_queue_size "$PB_SRV/postfix-relay")"
grep -q 'Trusted TLS connection established\|Untrusted TLS connection established\|Anonymous TLS connection established' \
  "$PB_SRV/postfix-relay/maillog" || pb_fail "Postfix did not use TLS towards the smarthost"
rm -rf "$PB_SRV/sink/msgs/"*

ratio="$(awk -v p="$PB_WALL" -v f="$PF_WALL" 'BEGIN { printf "%.2f", f / p }')"
echo
echo "== outbound: $N messages of $BYTES bytes, $SESSIONS smtp-source sessions -> relay -> STARTTLS+AUTH -> $SMARTHOST smarthost -> sink =="
printf '  %-11s %8.1f msgs/s  %6.2f MB/s  (max_connections %s; CPU %s s; peak RSS %.1f MB)\n' postbridge \
  "$(awk -v n="$N" -v w="$PB_WALL" 'BEGIN { print n / w }')" "$(awk -v n="$N" -v b="$BYTES" -v w="$PB_WALL" 'BEGIN { print n * b / w / 1e6 }')" \
  "$PB_CONNECTIONS" "$PB_CPU" "$(awk -v r="$PB_RSS" 'BEGIN { print r / 1024 }')"
printf '  %-11s %8.1f msgs/s  %6.2f MB/s  (Postfix %s defaults: up to 20 connections; tls reuse %s)\n' postfix \
  "$(awk -v n="$N" -v w="$PF_WALL" 'BEGIN { print n / w }')" "$(awk -v n="$N" -v b="$BYTES" -v w="$PF_WALL" 'BEGIN { print n * b / w / 1e6 }')" \
  "$(/usr/sbin/postconf -d -h mail_version 2>/dev/null || echo '?')" "${PBO_POSTFIX_TLS_REUSE:-no}"
verdict "$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) }')"
echo "  ratio postbridge/Postfix: ${ratio}x   (target >= ${TARGET_RATIO}x: $VERDICT)"
verdict "$(( PB_RSS < TARGET_RSS_KB ))"
echo "  postbridge peak RSS: $(awk -v r="$PB_RSS" 'BEGIN { printf "%.1f", r / 1024 }') MB   (target < $((TARGET_RSS_KB / 1024)) MB: $VERDICT)"

# --- one large message ----------------------------------------------------------------------------
if [ "$BIG_MB" -gt 0 ]; then
  BIG="$PB_WORK/big.eml"
  "$PB_PY" - "$BIG" "$BIG_MB" <<'EOF'
import base64, os, sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.write(b"From: <sender@a.test>\nTo: <rcpt@example.net>\nSubject: one big message\n"
            b"Message-ID: <big.69@client.test>\nMIME-Version: 1.0\n"
            b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
    chunk = base64.encodebytes(os.urandom(57 * 20000))  # 76-character lines
    while f.tell() < mb * 1000 * 1000:
        f.write(chunk[:max(77, (mb * 1000 * 1000 - f.tell()) // 77 * 77)])
EOF
  start_timed_postbridge "$PB_WORK/time-postbridge-big.txt"
  measure postbridge-big "$PB_RELAY_PORT" 1 "$BIG"
  wait_for "postbridge's queue to be empty" 60 pbo_queue_has queued 0
  stop_timed_postbridge
  BIG_RSS="$(rss_kb "$PB_WORK/time-postbridge-big.txt")"
  stored="$(pb_sink_files | tail -n 1)"
  got="$(wc -c < "$stored")"
  rm -rf "$PB_SRV/sink/msgs/"* "$BIG"
  verdict "$(( BIG_RSS < TARGET_RSS_KB ))"
  echo
  echo "== one ${BIG_MB} MB message through postbridge (the sink stored $got bytes) =="
  echo "  wall ${WALL_S} s, peak RSS $(awk -v r="$BIG_RSS" 'BEGIN { printf "%.1f", r / 1024 }') MB   (target < $((TARGET_RSS_KB / 1024)) MB: $VERDICT)"
fi

if [ "$MISSED" -ne 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
  echo "a target was missed (BENCH_STRICT=1)" >&2
  exit 3
fi
