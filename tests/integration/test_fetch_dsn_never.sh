#!/usr/bin/env bash
# Fetched mail goes to the office server with NOTIFY=NEVER (RFC 3461 4.1) when it offers DSN: the
# message's DSN story ended at the provider's mailbox, and a failure after the office server took
# it is for the office's admin, never a bounce to the outside sender. The office server is a real
# Postfix: it passes NOTIFY=NEVER on to the sink it relays to, and for a recipient its next hop
# refuses it logs the failure without sending the outside sender a non-delivery notification.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 83
pb_require_postbridge
OFFICE_PORT=22026    # the office Postfix
REFUSER_PORT=22027   # its next hop for bob@office.test: refuses every RCPT with 5xx

pb_certs
pb_pop3_start
pb_sink_start                                  # its next hop for the rest; offers DSN
pbo_sink_start refuser "$REFUSER_PORT" -f RCPT

office="$PB_SRV/office-postfix"
mkdir -p "$office/etc"
{ pbo__postfix_main "$office" office
  cat <<EOC
# ---- the office server: takes fetched mail from postbridge, relays it on ----
relayhost = [$PB_IP]:$PB_SINK_PORT
transport_maps = texthash:$office/etc/transport
smtp_tls_security_level = none
EOC
} > "$office/etc/main.cf"
{ pbo__postfix_master; echo "$PB_IP:$OFFICE_PORT inet n - n - - smtpd"; } > "$office/etc/master.cf"
echo "bob@office.test smtp:[$PB_IP]:$REFUSER_PORT" > "$office/etc/transport"
pbo__postfix_start "$office" office "$OFFICE_PORT"
office_log="$office/maillog"
pb_at_exit "cp '$office_log' '$PB_WORK/office-postfix.log'"   # lib.sh keeps *.log files only

pb_fill alice 1 4
pb_fill bob 1 4
pb_config sink
sed -i "s/^port = $PB_SINK_PORT\$/port = $OFFICE_PORT/" "$PB_CFG"
pb_account alice
pb_account bob

pb_run_once
pb_assert_rc "--once delivers both to the office server" 0

# alice's copy: NOTIFY=NEVER reached the office server, which passed it on (RFC 3461 5.2.1).
wait_for "alice's copy behind the office server" 30 pb_sink_has_at_least 1
wait_for "the sink to settle" 10 pb_sink_settled
copy="$(pbo_sink_files_to alice@office.test)"
[ -n "$copy" ] || pb_fail "the sink's copy is not addressed to alice@office.test"
cp "$copy" "$PB_WORK/alice.eml"
pb_assert_grep "postbridge asked the office server for no DSN" '^X-Rcpt-Args: <alice@office\.test> .*NOTIFY=NEVER' "$copy"

# bob's copy: refused behind the office server. Postfix removes the message only after it has
# queued any notification, so once it is removed a bounce to the outside sender would be logged.
wait_for "the office server to give up on bob" 30 grep -q 'to=<bob@office\.test>.*status=bounced' "$office_log"
qid="$(sed -n 's/.* \([0-9A-F]\{6,\}\): to=<bob@office\.test>.*status=bounced.*/\1/p' "$office_log" | head -n 1)"
[ -n "$qid" ] || pb_fail "no queue id for bob's message in $office_log"
wait_for "the office server to remove bob's message ($qid)" 30 grep -q " $qid: removed" "$office_log"
pb_assert_no_grep "no bounce to the outside sender" "$qid: sender non-delivery notification" "$office_log"
pb_assert_eq "nothing but alice's copy behind the office server" 1 "$(pb_sink_count)"
