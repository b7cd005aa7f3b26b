#!/usr/bin/env bash
# tests/bench/bench-fetch.sh — inbound benchmark: postbridge vs fetchmail, same servers, same run.
# Promises: loopback only (127.0.50.1), every step time-bounded, servers stopped on exit; not a ctest.
#
# Usage: sudo tests/bench/bench-fetch.sh
# Env:   POSTBRIDGE   the binary (default build/release/postbridge — benchmark a release build)
#        BENCH_N=2000 BENCH_KB=20   the mailbox: N messages of about KB each
#        BENCH_MD_N=1000            the multidrop comparison's mailbox (0 skips that part)
#        BENCH_BIG_MB=100           the single large message (0 skips that part)
#        BENCH_STRICT=1             exit 3 when a target is missed (default: report only)
#        PB_TEST_OUT                where the work dir goes (default /tmp/pb-test-out/bench-fetch)
#
# For each tool: fill the provider mailbox (not timed), then one timed pass under /usr/bin/time -v:
# POP3 over implicit TLS with the certificate verified against the test CA, delivery by SMTP to
# smtp-sink (which stores every message), deletion at the provider. postbridge: `run --once`.
# fetchmail: --nokeep, sslcertck + sslcommonname localhost (it checks DNS names only, not IP SANs).
# Printed: messages/s and MB/s of each, the ratio postbridge/fetchmail (target >= 3x) and peak RSS
# (target < 30 MB); the same for the mailbox as a multidrop catch-all routed by Delivered-To
# (fetchmail: envelope "Delivered-To", aka); then one BENCH_BIG_MB message through postbridge with its peak RSS (< 30 MB:
# the message must be streamed to the spool, never held in memory).
. "$(dirname "$0")/../integration/lib.sh"
PB_DEADLINE=3000 pb_init 50

root="$(cd "$PB_TESTS_DIR/../.." && pwd)"
POSTBRIDGE="${POSTBRIDGE:-$root/build/release/postbridge}"
N="${BENCH_N:-2000}"
KB="${BENCH_KB:-20}"
BIG_MB="${BENCH_BIG_MB:-100}"
TARGET_RATIO=3
TARGET_RSS_KB=$((30 * 1024))
pb_require_postbridge
[ -x /usr/bin/time ] || pb_fail "/usr/bin/time is missing (package time): packaging/install-deps.sh test"
command -v fetchmail >/dev/null || pb_fail "fetchmail is missing: packaging/install-deps.sh test"

pb_certs
pb_pop3_start
pb_sink_start

# measure TOOL COUNT COMMAND...: run under /usr/bin/time -v; wait (bounded) until the sink has
# COUNT more messages; sets WALL_S, RSS_KB, RC; prints one RESULT line.
measure() {
  local tool="$1" count="$2"; shift 2
  local before bytes t0 t1 tf="$PB_WORK/time-$tool.txt"
  before="$(pb_sink_count)"
  bytes="$(find "$(pb_maildir alice)"/{new,cur} -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"
  sync
  t0=$(date +%s%N)
  RC=0
  timeout -k 10 900 /usr/bin/time -v -o "$tf" "$@" > "$PB_WORK/$tool.log" 2>&1 || RC=$?
  t1=$(date +%s%N)
  wait_for "$tool: the sink to have all $count messages" 60 pb_sink_has_at_least $((before + count))
  WALL_S="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
  RSS_KB="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")"
  local cpu; cpu="$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$tf")"
  printf 'RESULT tool=%s n=%d bytes=%d wall_s=%s msgs_per_s=%s MB_per_s=%s cpu_s=%s maxrss_kb=%s rc=%s delivered=%d left=%d\n' \
    "$tool" "$count" "$bytes" "$WALL_S" \
    "$(awk -v n="$count" -v w="$WALL_S" 'BEGIN { printf "%.1f", n / w }')" \
    "$(awk -v b="$bytes" -v w="$WALL_S" 'BEGIN { printf "%.2f", b / w / 1e6 }')" \
    "$cpu" "$RSS_KB" "$RC" $(( $(pb_sink_count) - before )) "$(pb_mailbox_count alice)"
}

# verdict OK(0|1): sets VERDICT to "met" or "MISSED" (and remembers a miss for BENCH_STRICT).
verdict() { if [ "$1" = 1 ]; then VERDICT=met; else VERDICT=MISSED; MISSED=1; fi; }
MISSED=0

# --- postbridge ---------------------------------------------------------------------------------------
pb_config sink
pb_account alice max_message_size=200MB timeout=120s
pb_fill alice "$N" "$KB" pb
measure postbridge "$N" "$POSTBRIDGE" run -c "$PB_CFG" --once
[ "$RC" -eq 0 ] || pb_fail "postbridge exited $RC: $(tail -n 5 "$PB_WORK/postbridge.log")"
[ "$(pb_mailbox_count alice)" -eq 0 ] || pb_fail "postbridge left $(pb_mailbox_count alice) messages"
PB_WALL="$WALL_S"; PB_RSS="$RSS_KB"

# --- fetchmail ----------------------------------------------------------------------------------------
F="$PB_WORK/fetchmail"
mkdir -p "$F"; chmod 700 "$F"
cat > "$F/fetchmailrc" <<EOF
set no bouncemail
set no syslog
poll localhost via $PB_IP port $PB_POP3S_PORT protocol pop3 timeout 60
  user "alice" there with password "$PB_PASSWORD"
  ssl sslcertck sslcommonname "localhost" sslcertfile "$PB_CA" sslproto "TLS1.2+"
  smtphost "$PB_IP/$PB_SINK_PORT" smtpname "alice@office.test"
  nokeep fetchall norewrite
EOF
chmod 600 "$F/fetchmailrc"
: > "$F/fetchmail.log"   # fetchmail ignores --logfile unless the file exists
pb_fill alice "$N" "$KB" fm
FETCHMAILHOME="$F" measure fetchmail "$N" fetchmail -f "$F/fetchmailrc" --nokeep --nosyslog --logfile "$F/fetchmail.log"
[ "$RC" -eq 0 ] || pb_fail "fetchmail exited $RC: $(tail -n 5 "$F/fetchmail.log")"
[ "$(pb_mailbox_count alice)" -eq 0 ] || pb_fail "fetchmail left $(pb_mailbox_count alice) messages"
FM_WALL="$WALL_S"; FM_RSS="$RSS_KB"
rm -rf "$PB_SRV/sink/msgs/"*   # 2 x N stored messages: counted, no longer needed

ratio="$(awk -v p="$PB_WALL" -v f="$FM_WALL" 'BEGIN { printf "%.2f", f / p }')"
echo
echo "== inbound: $N messages of ~$KB KB, POP3S (verified) -> SMTP sink, delete =="
printf '  %-11s %8.1f msgs/s  peak RSS %6.1f MB\n' postbridge "$(awk -v n="$N" -v w="$PB_WALL" 'BEGIN { print n / w }')" \
  "$(awk -v r="$PB_RSS" 'BEGIN { print r / 1024 }')"
printf '  %-11s %8.1f msgs/s  peak RSS %6.1f MB\n' fetchmail "$(awk -v n="$N" -v w="$FM_WALL" 'BEGIN { print n / w }')" \
  "$(awk -v r="$FM_RSS" 'BEGIN { print r / 1024 }')"
verdict "$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) }')"
echo "  ratio postbridge/fetchmail: ${ratio}x   (target >= ${TARGET_RATIO}x: $VERDICT)"
verdict "$(( PB_RSS < TARGET_RSS_KB ))"
echo "  postbridge peak RSS: $(awk -v r="$PB_RSS" 'BEGIN { printf "%.1f", r / 1024 }') MB   (target < $((TARGET_RSS_KB / 1024)) MB: $VERDICT)"

# --- multidrop: the same mailbox as a catch-all, routed by Delivered-To ------------------------------
# Both tools read the envelope header of every message (mkmail.py writes Delivered-To:
# alice@provider.test) and deliver to alice@office.test; the sink must see exactly that recipient.
# fetchmail maps the local names it is given (several names make it multidrop) for addresses of
# its "aka" domains ("localdomains" would pass them through unchanged).
MD_N="${BENCH_MD_N:-1000}"
if [ "$MD_N" -gt 0 ]; then
  pb_config sink state_dir=state-multidrop
  pb_account alice max_message_size=200MB timeout=120s deliver_to=
  printf '[account.multidrop]\ndomains = ["provider.test"]\nrewrite_domain = "office.test"\n' >> "$PB_CFG"
  pb_fill alice "$MD_N" "$KB" pbmd
  measure postbridge-multidrop "$MD_N" "$POSTBRIDGE" run -c "$PB_CFG" --once
  [ "$RC" -eq 0 ] || pb_fail "postbridge (multidrop) exited $RC: $(tail -n 5 "$PB_WORK/postbridge-multidrop.log")"
  PBMD_WALL="$WALL_S"; PBMD_RSS="$RSS_KB"
  cat > "$F/fetchmailrc" <<EOF
set no bouncemail
set no syslog
poll localhost via $PB_IP port $PB_POP3S_PORT protocol pop3 timeout 60
  envelope "Delivered-To" aka provider.test no dns
  user "alice" there with password "$PB_PASSWORD" to alice bob carol dave here
  ssl sslcertck sslcommonname "localhost" sslcertfile "$PB_CA" sslproto "TLS1.2+"
  smtphost "$PB_IP/$PB_SINK_PORT" smtpaddress office.test
  nokeep fetchall norewrite
EOF
  pb_fill alice "$MD_N" "$KB" fmmd
  FETCHMAILHOME="$F" measure fetchmail-multidrop "$MD_N" fetchmail -f "$F/fetchmailrc" --nokeep --nosyslog --logfile "$F/fetchmail.log"
  [ "$RC" -eq 0 ] || pb_fail "fetchmail (multidrop) exited $RC: $(tail -n 5 "$F/fetchmail.log")"
  FMMD_WALL="$WALL_S"
  routed="$(pb_sink_files_for alice@office.test | wc -l)"
  [ "$routed" -eq $((2 * MD_N)) ] || pb_fail "multidrop: $routed of $((2 * MD_N)) messages reached alice@office.test"
  rm -rf "$PB_SRV/sink/msgs/"*
  md_ratio="$(awk -v p="$PBMD_WALL" -v f="$FMMD_WALL" 'BEGIN { printf "%.2f", f / p }')"
  echo
  echo "== multidrop: $MD_N messages routed by Delivered-To (catch-all for provider.test) =="
  printf '  %-11s %8.1f msgs/s  peak RSS %6.1f MB\n' postbridge "$(awk -v n="$MD_N" -v w="$PBMD_WALL" 'BEGIN { print n / w }')" \
    "$(awk -v r="$PBMD_RSS" 'BEGIN { print r / 1024 }')"
  printf '  %-11s %8.1f msgs/s\n' fetchmail "$(awk -v n="$MD_N" -v w="$FMMD_WALL" 'BEGIN { print n / w }')"
  verdict "$(awk -v r="$md_ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) }')"
  echo "  ratio postbridge/fetchmail: ${md_ratio}x   (target >= ${TARGET_RATIO}x: $VERDICT)"
  echo "  postbridge multidrop vs single-drop: $(awk -v a="$PBMD_WALL" -v n1="$MD_N" -v b="$PB_WALL" -v n2="$N" \
    'BEGIN { printf "%.2f", (n1 / a) / (n2 / b) }')x the single-drop rate"
  pb_config sink
  pb_account alice max_message_size=200MB timeout=120s
fi

# --- one large message ----------------------------------------------------------------------------
if [ "$BIG_MB" -gt 0 ]; then
  pb_fill alice 1 $((BIG_MB * 1024)) big
  measure postbridge-big 1 "$POSTBRIDGE" run -c "$PB_CFG" --once
  [ "$RC" -eq 0 ] || pb_fail "postbridge exited $RC on the ${BIG_MB} MB message: $(tail -n 5 "$PB_WORK/postbridge-big.log")"
  [ "$(pb_mailbox_count alice)" -eq 0 ] || pb_fail "the ${BIG_MB} MB message was left at the provider"
  rm -rf "$PB_SRV/sink/msgs/"*
  verdict "$(( RSS_KB < TARGET_RSS_KB ))"
  echo
  echo "== one ${BIG_MB} MB message through postbridge =="
  echo "  wall ${WALL_S} s, peak RSS $(awk -v r="$RSS_KB" 'BEGIN { printf "%.1f", r / 1024 }') MB   (target < $((TARGET_RSS_KB / 1024)) MB: $VERDICT)"
fi

if [ "$MISSED" -ne 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
  echo "a target was missed (BENCH_STRICT=1)" >&2
  exit 3
fi
