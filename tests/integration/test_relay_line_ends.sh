#!/usr/bin/env bash
# Lines ended by a bare LF, as old scanners and scripts write them (bare_line_feeds = "normalize",
# the default): swaks sends such a message byte for byte (--no-data-fixup) and it is accepted
# (postbridge refused it with 554 before), then relayed through a Postfix smarthost that itself
# refuses any bare LF (smtpd_forbid_bare_newline = reject, shown first with the same bytes): the
# message reaches the sink with its lines intact, so every line went out with CRLF. A BDAT client
# gets the same treatment: its bare LF ends a line, its bare CR stays inside one (sent on as a
# space), whatever the chunk boundaries.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 93
pb_require_postbridge

pb_certs
pb_sink_start
# A provider strict about line ends; 127.0.0.0/8 (its mynetworks) is not exempt.
PBO_SMARTHOST_MAIN=$'smtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_exclusions =' pbo_smarthost_start
pb_config sink
pbo_relay
pbo_smarthost a
pbo_start_postbridge

# The scanner's message: LF-only lines, a dot-stuffed line, and the end of data as SMTP wants it
# (swaks adds the CRLF after the last line of a --data file).
printf 'From: <scanner@a.test>\nTo: <rcpt@example.net>\nSubject: lf only\nMessage-ID: <lf.93@client.test>\n\npage one\n..dotted\nlast line\r\n.' \
  > "$PB_WORK/lf-only.eml"

# 0. The smarthost refuses those very bytes from a client: its acceptance below means CRLF.
timeout -k 5 60 swaks --server "$PB_IP" --port "$PB_SUBM_PORT" --ehlo client.test --timeout 30 --tls \
  --auth PLAIN --auth-user alice --auth-password "$PB_PASSWORD" --from scanner@a.test --to rcpt@example.net \
  --data "$PB_WORK/lf-only.eml" --no-data-fixup > "$PB_WORK/swaks-direct.log" 2>&1 < /dev/null || true
pb_assert_grep "the smarthost refuses a bare LF itself" 'bare <LF> received' "$PB_WORK/swaks-direct.log"
pb_assert_eq "nothing reached the sink that way" 0 "$(pb_sink_count)"
bare_lf_refusals() { grep -c 'bare <LF> received' "$PBO_SMARTHOST_LOG" || true; }
refused_directly="$(bare_lf_refusals)"

# 1. The same bytes into postbridge: accepted, relayed, lines intact at the sink.
pbo_send scanner@a.test rcpt@example.net --data "$PB_WORK/lf-only.eml" --no-data-fixup
wait_for "the scanner's message at the sink behind the strict smarthost" 30 pbo_sink_has_from scanner@a.test 1
sink_file="$(pbo_sink_files_from scanner@a.test)"
pb_sink_message "$sink_file" > "$PB_WORK/lf-only-at-sink.txt"
for line in 'Subject: lf only' 'page one' '.dotted' 'last line'; do
  pb_assert_eq "the line '$line' arrived as a line of its own" 1 "$(grep -cxF -- "$line" "$PB_WORK/lf-only-at-sink.txt" || true)"
done
pb_assert_grep "the log counts the lines" 'message \(DATA\): 7 lines ended by a bare LF, stored with CRLF' "$PBO_RUN_LOG"
pb_assert_eq "the smarthost saw no bare LF from postbridge" "$refused_directly" "$(bare_lf_refusals)"

# 2. BDAT with a bare LF and a bare CR in the header and the body, split across chunks: a CR at the
#    end of one chunk and the LF at the start of the next are one CRLF.
pbo_send_bdat bdat@a.test rcpt@example.net \
  'From: <bdat@a.test>\r\nTo: <rcpt@example.net>\r\nSubject: bdat\nX-Note: a\rb\r' \
  '\nMessage-ID: <bdat.93@client.test>\r\n\r\nbody one\nbody two\r\n'
wait_for "the BDAT message at the sink" 30 pbo_sink_has_from bdat@a.test 1
pb_sink_message "$(pbo_sink_files_from bdat@a.test)" > "$PB_WORK/bdat-at-sink.txt"
for line in 'Subject: bdat' 'X-Note: a b' 'Message-ID: <bdat.93@client.test>' 'body one' 'body two'; do
  pb_assert_eq "the line '$line' arrived as a line of its own" 1 "$(grep -cxF -- "$line" "$PB_WORK/bdat-at-sink.txt" || true)"
done
pb_assert_grep "the log counts both kinds" \
  'message \(BDAT\): 2 lines ended by a bare LF, stored with CRLF; 1 bare CR inside a line, kept \(sent on as a space\)' \
  "$PBO_RUN_LOG"
pb_assert_eq "the smarthost saw no bare LF from postbridge" "$refused_directly" "$(bare_lf_refusals)"
pb_assert_alive "postbridge still runs"
