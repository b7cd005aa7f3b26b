#!/usr/bin/env bash
# The relay acts as a submission server (RFC 6409 8.2, 8.3): a scanner's message without
# Message-ID: and Date: reaches the sink behind a real smarthost with one of each, added at the end
# of its header section (the Message-ID "<time.random@[service] hostname>", the one the queue
# records); a message with both keeps its own and gets no second; one with a lower-case message-id
# only gets a Date; a message that is all header (BDAT, no line end at all) gets both at its end.
# The smarthost adds nothing of its own here (local_header_rewrite_clients empty), so what arrives
# is what postbridge sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 94
pb_require_postbridge
[ -x /usr/bin/sqlite3 ] || pb_fail "sqlite3 is missing: run packaging/install-deps.sh"

pb_certs
pb_sink_start
PBO_SMARTHOST_MAIN=$'local_header_rewrite_clients =\nalways_add_missing_headers = no' pbo_smarthost_start
pb_config sink
pbo_relay
pbo_smarthost a
pbo_start_postbridge

# send_raw SENDER FILE: FILE's bytes as the whole DATA (swaks adds the CRLF after its last line).
send_raw() { pbo_send "$1" rcpt@example.net --data "$2" --no-data-fixup; }
# fields SENDER NAME: the values of every NAME field (any case) of SENDER's message at the sink.
fields() {
  local f
  f="$(pbo_sink_files_from "$1" | head -n 1)"
  [ -n "$f" ] || pb_fail "no message from $1 at the sink"
  pb_sink_message "$f" | awk -v name="$(tr 'A-Z' 'a-z' <<< "$2")" '
    /^$/ { exit }
    { split($0, kv, ":"); if (tolower(kv[1]) == name) { sub(/^[^:]*:[ \t]*/, ""); print } }'
}
recorded_id() {
  sqlite3 -readonly "$PB_WORK/state/postbridge.db" "SELECT message_id FROM messages WHERE sender = '$1'"
}

# 1. Neither field: both added, after the client's own fields, before the body.
printf 'From: <none@a.test>\r\nTo: <rcpt@example.net>\r\nSubject: scan without id\r\n\r\npage 1\r\n.' > "$PB_WORK/none.eml"
send_raw none@a.test "$PB_WORK/none.eml"
# 2. Both fields: kept as written.
printf 'Message-ID: <own.94@client.test>\r\nDate: Tue, 2 Jan 2024 08:00:00 +0000\r\nFrom: <both@a.test>\r\nSubject: complete\r\n\r\nbody\r\n.' \
  > "$PB_WORK/both.eml"
send_raw both@a.test "$PB_WORK/both.eml"
# 3. Only a lower-case message-id: only a Date is added.
printf 'message-id: <lower.94@client.test>\r\nFrom: <idonly@a.test>\r\nSubject: id only\r\n\r\nbody\r\n.' > "$PB_WORK/idonly.eml"
send_raw idonly@a.test "$PB_WORK/idonly.eml"
# 4. All header, no line end at all (BDAT, which need not end with CRLF).
pbo_send_bdat headeronly@a.test rcpt@example.net 'From: <headeronly@a.test>\r\nSubject: header only'
wait_for "the four messages at the sink" 30 pb_sink_has_at_least 4
wait_for "the sink to settle" 10 pb_sink_settled

id="$(fields none@a.test Message-ID)"
[[ "$id" =~ ^\<[0-9]+\.[0-9a-f]{16}@gw\.test\>$ ]] || pb_fail "the added Message-ID is '$id', not <time.random@gw.test>"
pb_log "ok: the added Message-ID: $id"
pb_assert_eq "one Message-ID" 1 "$(fields none@a.test Message-ID | wc -l)"
pb_assert_eq "one Date" 1 "$(fields none@a.test Date | wc -l)"
date_value="$(fields none@a.test Date)"
[[ "$date_value" =~ ^(Mon|Tue|Wed|Thu|Fri|Sat|Sun),\ [0-9]{1,2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ [-+][0-9]{4}$ ]] \
  || pb_fail "the added Date '$date_value' is not an RFC 5322 date-time"
pb_assert_eq "the queue records the added Message-ID" "$id" "$(recorded_id none@a.test)"
pb_sink_message "$(pbo_sink_files_from none@a.test)" > "$PB_WORK/none-at-sink.txt"
pb_assert_eq "added at the end of the header section, the body untouched" \
  "Subject: scan without id|Message-ID: $id|Date: $date_value||page 1" \
  "$(grep -A4 -x 'Subject: scan without id' "$PB_WORK/none-at-sink.txt" | paste -sd '|')"
pb_assert_grep "the log says what was added, naming the sender" \
  "relay: added Message-ID: $id and Date: to the message from <none@a\.test> \([0-9.]+\): the sending program wrote none" \
  "$PBO_RUN_LOG"
pb_assert_eq "logged once for it" 1 "$(grep -c 'added .* to the message from <none@a.test>' "$PBO_RUN_LOG")"

pb_assert_eq "a message's own Message-ID is kept" "<own.94@client.test>" "$(fields both@a.test Message-ID)"
pb_assert_eq "... and its own Date" "Tue, 2 Jan 2024 08:00:00 +0000" "$(fields both@a.test Date)"
pb_assert_eq "nothing was added to it" 0 "$(grep -c 'to the message from <both@a.test>' "$PBO_RUN_LOG" || true)"

pb_assert_eq "a lower-case message-id counts" "<lower.94@client.test>" "$(fields idonly@a.test Message-ID)"
pb_assert_eq "... so no second one" 1 "$(fields idonly@a.test Message-ID | wc -l)"
pb_assert_eq "a Date was added" 1 "$(fields idonly@a.test Date | wc -l)"
pb_assert_grep "the log names only the Date" 'relay: added Date: to the message from <idonly@a\.test>' "$PBO_RUN_LOG"

pb_assert_eq "the header-only message has a Message-ID" 1 "$(fields headeronly@a.test Message-ID | wc -l)"
pb_assert_eq "... and a Date" 1 "$(fields headeronly@a.test Date | wc -l)"
pb_assert_eq "... and its Subject intact" "header only" "$(fields headeronly@a.test Subject)"
pb_assert_alive "postbridge still runs"
