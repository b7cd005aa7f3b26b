#!/usr/bin/env bash
# Resource limits of the listener and the status page under hostile or heavy clients: 100 clients
# at once against a limit of 20, slowloris clients on SMTP and HTTP, 10,000 recipients, a 1 MB
# header line, a 100 MB message. Each gets the refusal the RFCs prescribe, a normal client keeps
# being served meanwhile, and postbridge's memory stays bounded (peak RSS measured, not guessed).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_outbound.sh"
. "$(dirname "$0")/lib_faults.sh"
pb_init 75
pb_require_postbridge

WEB_PORT=28025
# Under AddressSanitizer freed memory sits in a quarantine (256 MB by default), which would make
# the peak RSS measure the sanitizer, not postbridge. Ignored by a build without it.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
pb_certs
pb_sink_start
pb_config sink
pbo_relay max_connections=20 max_recipients=100 max_message_size=200MB command_timeout=5s data_timeout=60s
pbo_smarthost a port="$PB_SINK_PORT" tls=none auth=none username= password_file= allow_plaintext=true \
  max_connections=4 max_message_size=
printf '\n[web]\nlisten = "%s:%d"\n' "$PB_IP" "$WEB_PORT" >> "$PB_CFG"
pbo_start_postbridge
load() { "$PB_PY" "$PB_FAULTS_DIR/loadclient.py" "$1" --host "$PB_IP" --port "${PORT:-$PB_RELAY_PORT}" "${@:2}"; }
field() { "$PB_PY" -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$PB_PID/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$PB_PID/status"; }
sink_has() { (( $(pbo_sink_count_matching "$1") >= $2 )); }
baseline_kb="$(rss_kb)"
pb_log "postbridge RSS at rest: ${baseline_kb} KB"

# 1. 100 clients at once, limit 20: the rest get 421 at once and come back; every message arrives.
load concurrent --clients 100 --seconds 120 > "$PB_WORK/concurrent.json"
pb_log "100 concurrent clients: $(cat "$PB_WORK/concurrent.json")"
pb_assert_eq "clients whose message was accepted" 100 "$(field accepted < "$PB_WORK/concurrent.json")"
(( $(field refused_421 < "$PB_WORK/concurrent.json") >= 50 )) || pb_fail "expected most of the 80 over the limit to get 421"
wait_for "all 100 at the sink" 60 sink_has '^Message-ID: <load\.[0-9]+@client\.test>' 100
pb_log "RSS after 100 concurrent clients: $(rss_kb) KB (peak $(hwm_kb) KB)"

# 2. Slowloris on SMTP: 15 clients trickle a byte a second; command_timeout (5 s) ends each, and a
#    normal client sends 20 messages meanwhile without waiting for them.
load slowloris --clients 15 --gap 1 --seconds 60 > "$PB_WORK/slowloris-smtp.json" &
slow_pid=$!
smtp_clients() { (( $(ss -Htn state established dst "$PB_IP:$PB_RELAY_PORT" | wc -l) >= $1 )); }
wait_for "the slowloris clients to be connected" 10 smtp_clients 15
started=$SECONDS
PBF_RETRY_4XX=0 pbf_send_retrying "$PB_WORK/normal" 20 "$PB_RELAY_PORT" sender@a.test rcpt@example.net normal
normal_took=$((SECONDS - started))
wait "$slow_pid"
pb_log "slowloris (SMTP): $(cat "$PB_WORK/slowloris-smtp.json"); the normal client took ${normal_took}s for 20 messages"
longest="$(field longest_held_s < "$PB_WORK/slowloris-smtp.json")"
"$PB_PY" -c "import sys; sys.exit(0 if float('$longest') < 15 else 1)" \
  || pb_fail "a slowloris SMTP client was kept for ${longest}s (command_timeout is 5 s)"
pb_assert_grep "slowloris clients were told 421 4.4.2" '421 4\.4\.2' "$PB_WORK/slowloris-smtp.json"
pb_assert_eq "the normal client's messages (none refused, none lost)" 20 "$(wc -l < "$PB_WORK/normal/acked.txt")"

# 3. Slowloris on HTTP: 40 clients from one address trickle a request; that address holds at
#    most the page's per-address share (16 connections; the others get 503 at once), /api/status
#    stays answered for another address meanwhile, and each trickler is cut off after the 10 s
#    request limit.
PORT=$WEB_PORT load slowloris --http --clients 40 --gap 1 --seconds 60 > "$PB_WORK/slowloris-http.json" &
slow_pid=$!
http_clients() { (( $(ss -Htn state established dst "$PB_IP:$WEB_PORT" | wc -l) >= $1 )); }
wait_for "the HTTP tricklers to take their share" 10 http_clients 16
for i in 1 2 3; do
  curl -fsS --max-time 10 --interface "${PB_IP%.1}.9" "http://$PB_IP:$WEB_PORT/api/status" > /dev/null \
    || pb_fail "the status page did not answer within 10 s during the HTTP slowloris"
done
held_now="$(ss -Htn state established dst "$PB_IP:$WEB_PORT" | wc -l)"
(( held_now <= 16 + 3 )) || pb_fail "one address holds $held_now connections to the page (its share is 16)"
wait "$slow_pid"
pb_log "slowloris (HTTP): $(cat "$PB_WORK/slowloris-http.json")"
longest="$(field longest_held_s < "$PB_WORK/slowloris-http.json")"
"$PB_PY" -c "import sys; sys.exit(0 if float('$longest') < 25 else 1)" \
  || pb_fail "an HTTP trickler was kept for ${longest}s (the request limit is 10 s)"

# 4. 10,000 recipients pipelined: the first 100 accepted, the rest 452 4.5.3 (RFC 5321 4.5.3.1.8),
#    the message goes to those 100.
load rcpts --count 10000 > "$PB_WORK/rcpts.json"
pb_log "10,000 recipients: $(cat "$PB_WORK/rcpts.json")"
pb_assert_eq "RCPTs accepted" 100 "$(field rcpt.250 < "$PB_WORK/rcpts.json")"
pb_assert_eq "RCPTs refused with 452" 9900 "$(field rcpt.452 < "$PB_WORK/rcpts.json")"
pb_assert_eq "the message itself" 250 "$(field data < "$PB_WORK/rcpts.json")"

# 5. A 1 MB header line: refused with 554 5.6.0 after reading to the end; the next message on the
#    same connection goes through.
load longline --bytes 1048576 > "$PB_WORK/longline.json"
pb_log "1 MB header line: $(cat "$PB_WORK/longline.json")"
pb_assert_eq "the message with the 1 MB line" 554 "$(field long.0 < "$PB_WORK/longline.json")"
pb_assert_eq "the next message on the same connection" 250 "$(field normal.0 < "$PB_WORK/longline.json")"

# 6. 100 MB: streamed to the spool and on to the smarthost, never held in memory.
before_kb="$(rss_kb)"
load big --mb 100 > "$PB_WORK/big.json"
pb_log "100 MB message: $(cat "$PB_WORK/big.json")"
pb_assert_eq "the 100 MB message" 250 "$(field data.0 < "$PB_WORK/big.json")"
wait_for "the 100 MB message at the sink" 120 sink_has '^Message-ID: <load\.big\.100@client\.test>' 1
peak_kb="$(hwm_kb)"
pb_log "RSS before the 100 MB message ${before_kb} KB, peak of the whole run ${peak_kb} KB"
(( peak_kb - baseline_kb < 64 * 1024 )) \
  || pb_fail "peak RSS grew by $(( (peak_kb - baseline_kb) / 1024 )) MB over the run: a message is held in memory"
# The same over the limit, with and without SIZE=: refused, not read into memory.
sed -i 's/^max_message_size = "200MB"/max_message_size = "50MB"/' "$PB_CFG"
kill -HUP "$PB_PID"
wait_for "the reload" 10 pb_log_has 'configuration reloaded'
load big --mb 100 --size > "$PB_WORK/big-size.json"
pb_assert_eq "100 MB announced with SIZE= over a 50 MB limit: refused at MAIL" 552 "$(field mail.0 < "$PB_WORK/big-size.json")"
load big --mb 100 > "$PB_WORK/big-nosize.json"
pb_assert_eq "100 MB without SIZE= over a 50 MB limit: refused after the data" 552 "$(field data.0 < "$PB_WORK/big-nosize.json")"

pb_assert_alive "postbridge still runs"
peak_kb="$(hwm_kb)"
printf 'load_limits: concurrent=100 refused_421=%s slowloris_smtp=15 slowloris_http=40 rcpts=10000 header_line=1MB message=100MB peak_rss_mb=%d baseline_rss_mb=%d\n' \
  "$(field refused_421 < "$PB_WORK/concurrent.json")" $((peak_kb / 1024)) $((baseline_kb / 1024)) > "$PB_WORK/figures.txt"
