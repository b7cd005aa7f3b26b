#!/usr/bin/env bash
# SMTP smuggling (CVE-2023-51764 and relatives): only CRLF.CRLF ends DATA. For each classic
# variant of a fake end of data ("\n.\n", "\r.\r", "\r\n.\n", ...) followed by a second
# MAIL/RCPT/DATA inside the data, the client gets ONE reply, 554, and nothing reaches the sink.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 67
pb_require_postbridge

pb_certs
pb_sink_start
pbo_smarthost_start
pb_config sink
pbo_relay
pbo_smarthost a
pbo_start_postbridge

# One connection per variant; the transcript of each in smuggling.txt ("variant N: ..." lines).
"$PB_PY" - "$PB_IP" "$PB_RELAY_PORT" > "$PB_WORK/smuggling.txt" 2>&1 <<'EOF' || pb_fail "the smuggling client failed:
$(tail -n 20 "$PB_WORK/smuggling.txt")"
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
cat "$PB_WORK/smuggling.txt" >&2
n=$(grep -c '^variant .* after data' "$PB_WORK/smuggling.txt" || true)
pb_assert_eq "variants tried" 8 "$n"
pb_assert_no_grep "every variant reached DATA" 'ERROR' "$PB_WORK/smuggling.txt"
pb_assert_eq "variants answered with exactly one 554 and then 221" 8 \
  "$(grep -cE '^variant .* after data 554 5\.[0-9.]+ [^|]* \| 221 ' "$PB_WORK/smuggling.txt" || true)"
pb_assert_no_grep "no message accepted in any variant" 'after data .*250' "$PB_WORK/smuggling.txt"
pb_assert_no_grep "no smuggled command was answered" 'after data .*354' "$PB_WORK/smuggling.txt"

# A clean message after them is relayed: the path works, so an empty sink means something.
pbo_send clean@a.test rcpt@example.net
wait_for "the clean message at the sink" 30 pbo_sink_has_from clean@a.test 1
wait_for "the sink to settle" 10 pb_sink_settled
pb_assert_eq "messages at the sink: only the clean one" 1 "$(pb_sink_count)"
pb_assert_eq "no smuggled message at the sink" 0 "$(pbo_sink_count_from smuggled@a.test)"
pb_assert_eq "no carrier message at the sink" 0 "$(pbo_sink_count_from carrier@a.test)"
pbo_queue
cp "$PBO_Q" "$PB_WORK/queue-after.txt"
pb_assert_no_grep "nothing from the smuggler in the queue" '(smuggled|carrier)@a\.test' "$PBO_Q"
pb_assert_grep "the log explains the refusals" 'bare CR or LF refused \(SMTP smuggling protection\)' "$PB_LOG"
pb_assert_alive "postbridge still runs"
