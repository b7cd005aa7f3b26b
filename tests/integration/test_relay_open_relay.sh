#!/usr/bin/env bash
# Never an open relay: with allow_networks = ["127.0.0.1/32"], a client connecting from 127.0.0.2
# gets 5.7.1 at RCPT on either listener (127.0.0.1 and 127.0.0.2) and nothing is queued, also when
# it pipelines DATA and the message behind the refused RCPT; from 127.0.0.1 both listeners relay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 65
pb_require_postbridge

PORT=22565                               # postbridge's listeners: 127.0.0.1:PORT and 127.0.0.2:PORT
for ip in 127.0.0.1 127.0.0.2; do
  if pb_port_open "$PORT" "$ip"; then pb_fail "$ip:$PORT is already in use (see: ss -ltnp | grep :$PORT)"; fi
done
pb_certs
pb_sink_start
pbo_smarthost_start

pb_config sink
pbo_relay listen="[\"127.0.0.1:$PORT\", \"127.0.0.2:$PORT\"]" allow_networks='["127.0.0.1/32"]'
pbo_smarthost a
pbo_start_postbridge "$PORT" 127.0.0.1
wait_for "the second listener on 127.0.0.2:$PORT" 10 pb_port_open "$PORT" 127.0.0.2

# refused FROM TO_IP: swaks from address FROM to the listener on TO_IP is refused at RCPT with 5.7.1.
refused() {
  pbo_swaks stranger@a.test victim@example.net --local-interface "$1" --server "$2" --port "$PORT"
  pb_assert_grep "from $1 to the $2 listener: RCPT refused with 5.7.1" '^<\*\* +5[0-9][0-9] 5\.7\.1 ' "$PBO_SWAKS_LOG"
  pb_assert_no_grep "no DATA after the refusal" '^ -> DATA' "$PBO_SWAKS_LOG"
}
refused 127.0.0.2 127.0.0.2
refused 127.0.0.2 127.0.0.1
pb_assert_grep "the clients really came from 127.0.0.2" '^<[0-9]>smtpd 127\.0\.0\.2:[0-9]+: connected' "$PB_LOG"
pb_assert_grep "postbridge logs the refusal with the client's address" \
  'relay: refused <victim@example\.net> from 127\.0\.0\.2: not in allow_networks' "$PB_LOG"

# The spammer's way: everything pipelined in one write, the message right behind the RCPT.
"$PB_PY" - 127.0.0.2 127.0.0.2 "$PORT" > "$PB_WORK/pipelined.txt" 2>&1 <<'EOF' || pb_fail "the pipelining client failed: $(cat "$PB_WORK/pipelined.txt")"
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.create_connection((dst, port), timeout=20, source_address=(src, 0))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode(errors="replace").rstrip("\r\n")
        if not line:
            raise SystemExit("connection closed early; replies so far: %r" % lines)
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines
print("greeting", reply()[-1])
s.sendall(b"EHLO spammer.test\r\n")
print("ehlo", reply()[-1])
s.sendall(b"MAIL FROM:<stranger@a.test>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
          b"Subject: pipelined spam\r\nMessage-ID: <spam.65@spammer.test>\r\n\r\nbuy now\r\n.\r\nQUIT\r\n")
for name in ("mail", "rcpt", "data"):
    print(name, reply()[-1])
# The message lines are read as commands now (each gets an error), then QUIT gets 221.
while True:
    r = reply()[-1]
    print("after", r)
    if r.startswith("221"):
        break
EOF
pb_log "pipelined attempt: $(tr '\n' '|' < "$PB_WORK/pipelined.txt")"
pb_assert_grep "pipelined: RCPT refused with 5.7.1" '^rcpt 5[0-9][0-9] 5\.7\.1 ' "$PB_WORK/pipelined.txt"
pb_assert_grep "pipelined: DATA refused" '^data 5[0-9][0-9] ' "$PB_WORK/pipelined.txt"
pb_assert_no_grep "pipelined: no message accepted" '^[a-z]+ 250 .*queued' "$PB_WORK/pipelined.txt"

pbo_queue
cp "$PBO_Q" "$PB_WORK/queue-after-refusals.txt"
pb_assert_grep "nothing was queued" '^0 queued, 0 failed, 0 held, 0 delivered' "$PBO_Q"

# From 127.0.0.1 both listeners relay.
pbo_send friend@a.test rcpt1@example.net --local-interface 127.0.0.1 --server 127.0.0.1 --port "$PORT"
pbo_send friend@a.test rcpt2@example.net --local-interface 127.0.0.1 --server 127.0.0.2 --port "$PORT"
wait_for "both allowed messages at the sink" 30 pb_sink_has_at_least 2
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink" 2 "$(pb_sink_count)"
pb_assert_eq "none of them from the stranger" 0 "$(pbo_sink_count_from stranger@a.test)"
pb_assert_eq "no victim received anything" 0 "$(pbo_sink_files_to victim@example.net | wc -l)"
