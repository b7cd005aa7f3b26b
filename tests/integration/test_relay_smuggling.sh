#!/usr/bin/env bash
# SMTP smuggling (CVE-2023-51764 and relatives): only CRLF.CRLF ends DATA. For each classic
# variant of a fake end of data ("\n.\n", "\r.\r", "\r\n.\n", ...) followed by a second
# MAIL/RCPT/DATA inside the data, the client gets ONE reply for the whole. With bare line feeds
# normalised (the default) that reply is 250: one message reaches the sink behind the smarthost,
# holding the would-be commands as text, and nothing is sent as the smuggled sender. After a reload
# to bare_line_feeds = "reject" it is 554 and nothing more reaches the sink.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 67
pb_require_postbridge

# write_config [MODE]: the whole file, so a reload sees only what it says; no MODE: the default.
write_config() {
  pb_config sink
  pbo_relay bare_line_feeds="${1:-}"
  pbo_smarthost a
}
reloaded() { [ "$(grep -c 'configuration reloaded from' "$PBO_RUN_LOG")" -ge "$1" ]; }

# smuggle OUT: one connection per variant; the transcript of each in OUT ("variant N: ..." lines).
smuggle() {
  "$PB_PY" - "$PB_IP" "$PB_RELAY_PORT" > "$1" 2>&1 <<'EOF' || pb_fail "the smuggling client failed:
$(tail -n 20 "$1")"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
# The fake ends of data: the bare LF / bare CR relatives of CRLF.CRLF that some servers accept.
variants = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r", b"\n.\r", b"\r.\n"]

def replies(f, n=None, until=None):
    out = []
    while n is None or len(out) < n:
        lines = []
        while True:
            line = f.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                return out + (["<closed>"] if not lines else [lines[-1]])
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        out.append(lines[-1])
        if until and lines[-1].startswith(until):
            break
    return out

for i, sep in enumerate(variants, 1):
    s = socket.create_connection((host, port), timeout=30)
    f = s.makefile("rb")
    tag = f"variant {i} {sep!r}:"
    replies(f, 1)
    s.sendall(b"EHLO smuggler.test\r\n")
    replies(f, 1)
    s.sendall(b"MAIL FROM:<carrier@a.test>\r\nRCPT TO:<rcpt@example.net>\r\nDATA\r\n")
    start = replies(f, 3)
    print(tag, "envelope", " | ".join(start))
    if not start[-1].startswith("354"):
        print(tag, "ERROR no 354")
        continue
    payload = (f"Subject: carrier {i}\r\nMessage-ID: <carrier.{i}@smuggler.test>\r\n\r\nhello".encode() + sep +
               b"MAIL FROM:<smuggled@a.test>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n" +
               f"Subject: smuggled {i}\r\nMessage-ID: <smuggled.{i}@smuggler.test>\r\n\r\nsmuggled\r\n".encode() +
               b".\r\nQUIT\r\n")
    s.sendall(payload)
    rest = replies(f, until="221")
    # One reply for the message, then 221 for QUIT: anything more means a second transaction.
    print(tag, "after data", " | ".join(rest))
    s.close()
EOF
  cat "$1" >&2
  pb_assert_eq "variants tried" 8 "$(grep -c '^variant .* after data' "$1" || true)"
  pb_assert_no_grep "every variant reached DATA" 'ERROR' "$1"
  pb_assert_no_grep "no smuggled command was answered" 'after data .*354' "$1"
}

pb_certs
pb_sink_start
pbo_smarthost_start
write_config
pbo_start_postbridge

# 1. bare_line_feeds = "normalize" (the default): one accepted message per variant, its text all
#    that follows.
smuggle "$PB_WORK/smuggling-normalize.txt"
pb_assert_eq "each variant answered with exactly one 250 and then 221" 8 \
  "$(grep -cE '^variant .* after data 250 2\.0\.0 Ok: queued as [0-9]+ \| 221 ' "$PB_WORK/smuggling-normalize.txt" || true)"
wait_for "the eight carrier messages at the sink" 60 pbo_sink_has_from carrier@a.test 8
pbo_send clean@a.test rcpt@example.net
wait_for "the clean message at the sink" 30 pbo_sink_has_from clean@a.test 1
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink: the carriers and the clean one" 9 "$(pb_sink_count)"
pb_assert_eq "no smuggled message at the sink" 0 "$(pbo_sink_count_from smuggled@a.test)"
pb_assert_eq "no message to the victim" 0 "$(pbo_sink_files_to victim@example.net | wc -l)"
pb_assert_eq "each carrier holds the would-be commands as text" 8 \
  "$(pbo_sink_files_from carrier@a.test | xargs grep -l 'MAIL FROM:<smuggled@a\.test>' | wc -l)"
pbo_queue
cp "$PBO_Q" "$PB_WORK/queue-after-normalize.txt"
pb_assert_no_grep "nothing queued from or to the smuggled envelope" '(smuggled@a\.test|victim@example\.net)' "$PBO_Q"

# 2. After a reload to bare_line_feeds = "reject": each variant is one 554, nothing reaches the sink.
write_config reject
kill -HUP "$PB_PID"
wait_for "the reload" 30 reloaded 1
smuggle "$PB_WORK/smuggling-reject.txt"
pb_assert_eq "each variant answered with exactly one 554 5.6.11 and then 221" 8 \
  "$(grep -cE '^variant .* after data 554 5\.6\.11 [^|]* \| 221 ' "$PB_WORK/smuggling-reject.txt" || true)"
pb_assert_no_grep "no message accepted" 'after data .*250' "$PB_WORK/smuggling-reject.txt"
pbo_send clean2@a.test rcpt@example.net
wait_for "the second clean message at the sink" 30 pbo_sink_has_from clean2@a.test 1
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink: only the clean one more" 10 "$(pb_sink_count)"
pb_assert_eq "no further carrier message at the sink" 8 "$(pbo_sink_count_from carrier@a.test)"
pb_assert_eq "no smuggled message at the sink" 0 "$(pbo_sink_count_from smuggled@a.test)"
pb_assert_grep "the log explains the refusals" \
  'bare CR or LF refused \(SMTP smuggling protection; DATA, \[relay\] bare_line_feeds = "reject"\)' "$PBO_RUN_LOG"
pb_assert_alive "postbridge still runs"
