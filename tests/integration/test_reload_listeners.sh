#!/usr/bin/env bash
# A reload (SIGHUP) reaches the listeners, not only the mailboxes and routes: a page login that
# was removed stops working at once (not after a restart or when the login cache expires), a new
# one works, the page's new host name is served, a renewed certificate is used by new HTTPS and
# STARTTLS connections, and a changed [relay] listen moves the relay to the new address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_outbound.sh"
pb_init 91
pb_require_postbridge

WEB_PORT=28091
NEW_RELAY_PORT=22526
OLD_PW=Pb-Old-4711
NEW_PW=Pb-New-0815
pb_certs
pb_sink_start
old_hash="$(printf '%s\n' "$OLD_PW" | "$POSTBRIDGE" hash-password)"
new_hash="$(printf '%s\n' "$NEW_PW" | "$POSTBRIDGE" hash-password)"

# write_config USER HASH RELAY_PORT [HOSTNAMES]: the whole file, so a reload sees only what it says.
write_config() {
  pb_config sink
  pbo_relay listen="[\"$PB_IP:$3\"]" tls_cert_file="$PB_CERTS/server.crt" tls_key_file="$PB_CERTS/server.key"
  printf '\n[web]\nlisten = "%s:%d"\ntls_cert_file = "%s"\ntls_key_file = "%s"\nhostnames = [%s]\n' \
    "$PB_IP" "$WEB_PORT" "$PB_CERTS/server.crt" "$PB_CERTS/server.key" "${4:-}" >> "$PB_CFG"
  printf '\n[[web.user]]\nname = "%s"\npassword_hash = "%s"\n' "$1" "$2" >> "$PB_CFG"
}
page() {  # page USER PASSWORD [HOST]: the HTTP status of /api/status, asked under HOST
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$PB_CA" -u "$1:$2" \
    -H "Host: ${3:-$PB_IP}:$WEB_PORT" "https://$PB_IP:$WEB_PORT/api/status"
}
serial() {  # serial relay|page: the serial number of the certificate a new connection gets
  local -a args=(-connect "$PB_IP:$WEB_PORT")
  [ "$1" = relay ] && args=(-connect "$PB_IP:$NEW_RELAY_PORT" -starttls smtp)
  timeout 20 openssl s_client "${args[@]}" -CAfile "$PB_CA" < /dev/null 2>/dev/null \
    | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
port_closed() { ! pb_port_open "$1" "$PB_IP"; }
reloaded() { [ "$(grep -c 'configuration reloaded from' "$PB_LOG")" -ge "$1" ]; }

write_config admin "$old_hash" "$PB_RELAY_PORT"
pbo_start_postbridge
wait_for "the status page" 15 pb_port_open "$WEB_PORT" "$PB_IP"
pb_assert_eq "the old login works" 200 "$(page admin "$OLD_PW")"
pb_assert_eq "a name not yet listed is refused" 421 "$(page admin "$OLD_PW" gw.firma.test)"

# 1. Another login, another relay port, a new host name; the old login is remembered by the
#    page's login cache (60 s) — the reload must forget it at once.
write_config boss "$new_hash" "$NEW_RELAY_PORT" '"gw.firma.test"'
kill -HUP "$PB_PID"
wait_for "the reload" 30 reloaded 1
wait_for "the relay on its new port" 15 pb_port_open "$NEW_RELAY_PORT" "$PB_IP"
pb_assert_eq "the removed login is refused at once" 401 "$(page admin "$OLD_PW")"
pb_assert_eq "the new login works" 200 "$(page boss "$NEW_PW")"
pb_assert_eq "the new host name is served" 200 "$(page boss "$NEW_PW" gw.firma.test)"
wait_for "the old relay port to close" 15 port_closed "$PB_RELAY_PORT"
pb_assert_grep "the log says where the relay listens now" "relay: listening on $PB_IP:$NEW_RELAY_PORT" "$PB_LOG"

# 2. A renewed certificate (same files, new content) is used by new connections after a reload.
old_page="$(serial page)"
old_relay="$(serial relay)"
[ -n "$old_page" ] && [ "$old_page" = "$old_relay" ] || pb_fail "could not read the certificates in use ('$old_page', '$old_relay')"
( cd "$PB_CERTS" && umask 077 && pb__leaf_cert server "/O=postbridge tests/CN=localhost" "DNS:localhost,IP:$PB_IP" )
chmod 644 "$PB_CERTS/server.crt"
new_serial="$(openssl x509 -noout -serial -in "$PB_CERTS/server.crt" | sed 's/^serial=//')"
[ "$new_serial" != "$old_page" ] || pb_fail "the renewed certificate has the old serial"
kill -HUP "$PB_PID"
wait_for "the second reload" 30 reloaded 2
pb_assert_eq "HTTPS uses the renewed certificate" "$new_serial" "$(serial page)"
pb_assert_eq "STARTTLS uses the renewed certificate" "$new_serial" "$(serial relay)"
pb_assert_eq "the page still answers" 200 "$(page boss "$NEW_PW")"

# 3. A broken certificate on reload: the loader refuses the file, names it, and the working
#    certificate stays in use by both listeners.
printf 'not a certificate\n' > "$PB_CERTS/server.crt"
kill -HUP "$PB_PID"
wait_for "the failed reload" 30 pb_log_has 'configuration reload failed: the old configuration keeps running'
pb_assert_grep "the file is named" 'relay\.tls_cert_file: .*server\.crt holds no PEM certificate' "$PB_LOG"
pb_assert_eq "STARTTLS keeps the working certificate" "$new_serial" "$(serial relay)"
pb_assert_eq "HTTPS keeps the working certificate" "$new_serial" "$(serial page)"
pb_assert_alive "postbridge runs on after a broken certificate"

kill -TERM "$PB_PID"
pb_wait_exit 15
pb_assert_rc "SIGTERM ends it cleanly" 0
