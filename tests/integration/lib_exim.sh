# tests/integration/lib_exim.sh — an Exim 4.96 smarthost for the integration tests (sourced after lib.sh).
# Promises: a private Exim on the test's own 127.0.N.1, own config, spool and log; it fails, never skips.
#
# A test does:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/lib_outbound.sh"; . "$(dirname "$0")/lib_exim.sh"
#   pb_init 84; pb_require_postbridge
#   pb_certs; pb_sink_start; pbx_exim_start            # Exim submission -> lib.sh's smtp-sink
#   pb_config sink; pbo_relay; pbo_smarthost a port="$PBX_EXIM_PORT"
#   pbo_start_postbridge; pbo_send alice@a.test rcpt@example.net
#   wait_for "the message at the sink" 30 pb_sink_has_at_least 1
#
# The smarthost is Exim as a provider runs it: submission on PB_IP:PBX_EXIM_PORT (22589) with
# STARTTLS (the test CA's server certificate), AUTH PLAIN offered only after TLS for the user
# alice with password PB_PASSWORD (what pbo_smarthost logs in with), MAIL before AUTH refused,
# everything accepted relayed to lib.sh's smtp-sink (PB_SINK_PORT). The transport keeps Exim's
# default message_linelength_limit (998): a message with a longer line is bounced ("message has
# lines too long for transport"), the bounce going to the sink as well. Its log is PBX_EXIM_LOG
# (srv/exim/log/main.log), its config srv/exim/exim.conf.
#
# Where Exim comes from: Debian's exim4-daemon-heavy conflicts with the installed Postfix, so it is
# never installed. Its .deb and exim4-base's are fetched with `apt-get download` and unpacked with
# `dpkg -x` into PBX_EXIM_CACHE (default /var/cache/postbridge-tests/exim4), re-used when present;
# the libraries it links are ordinary packages (packaging/install-deps.sh test).
# How it runs without touching /etc: Debian's build has no ALT_CONFIG_PREFIX, so root may give any
# file to -C and the daemon keeps root. TRUSTED_CONFIG_LIST (/etc/exim4/trusted_configs) only
# decides whether Exim's re-executions as its own user regain root; remote delivery does not need
# it, so they go without (each is noted in panic.log: "exim user lost privilege for using -C
# option", expected). But the binary looks up its user "Debian-exim" by name at every start, so it
# runs in a private mount namespace in which /etc/passwd and /etc/group are copies with that user
# added (the uid and gid of nobody); nothing outside the namespace sees them.

PBX_EXIM_PORT=22589
PBX_EXIM_CACHE="${PBX_EXIM_CACHE:-/var/cache/postbridge-tests/exim4}"
PBX_EXIM_PACKAGES="exim4-daemon-heavy exim4-base"

# pbx__fetch: the unpacked Exim in PBX_EXIM_CACHE/root, fetched once (under a lock, so tests of two
# checkouts do not fetch into each other). PBX_EXIM_BIN names the binary.
pbx__fetch() {
  PBX_EXIM_BIN="$PBX_EXIM_CACHE/root/usr/sbin/exim4"
  [ -x "$PBX_EXIM_BIN" ] && return 0
  mkdir -p "$(dirname "$PBX_EXIM_CACHE")" || pb_fail "cannot create $(dirname "$PBX_EXIM_CACHE") for the Exim cache"
  (
    flock 9
    [ -x "$PBX_EXIM_BIN" ] && exit 0
    command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "apt-get and dpkg are needed"; exit 1; }
    local tmp
    tmp="$(mktemp -d "$PBX_EXIM_CACHE.new.XXXXXX")"
    # apt fetches as the user _apt, which must be able to write there.
    if getent passwd _apt >/dev/null; then chown _apt "$tmp"; fi
    # A fresh machine may not have the package lists yet: one apt-get update, then once more.
    (cd "$tmp" && apt-get download $PBX_EXIM_PACKAGES) > "$tmp/download.log" 2>&1 \
      || { apt-get update >> "$tmp/download.log" 2>&1 && (cd "$tmp" && apt-get download $PBX_EXIM_PACKAGES) >> "$tmp/download.log" 2>&1; } \
      || { echo "apt-get download $PBX_EXIM_PACKAGES failed:"; tail -n 5 "$tmp/download.log"; rm -rf "$tmp"; exit 1; }
    local deb
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root" || { echo "dpkg -x $deb failed"; rm -rf "$tmp"; exit 1; }; done
    (cd "$tmp" && ls -1 ./*.deb) > "$tmp/VERSIONS"
    rm -f "$tmp"/*.deb
    chown -R root:root "$tmp"
    chmod 755 "$tmp"
    rm -rf "$PBX_EXIM_CACHE"
    mv "$tmp" "$PBX_EXIM_CACHE"
  ) 9> "$PBX_EXIM_CACHE.lock" > "$PB_WORK/exim-fetch.log" 2>&1 \
    || pb_fail "Exim could not be fetched into $PBX_EXIM_CACHE (Debian's package mirror must be reachable): $(tail -n 6 "$PB_WORK/exim-fetch.log")"
  [ -x "$PBX_EXIM_BIN" ] || pb_fail "the unpacked Exim has no $PBX_EXIM_BIN: $(cat "$PB_WORK/exim-fetch.log")"
  pb_log "Exim unpacked into $PBX_EXIM_CACHE ($(tr '\n' ' ' < "$PBX_EXIM_CACHE/VERSIONS"))"
}

# pbx__identity DIR: passwd and group copies with the user Debian-exim added, for the namespace.
pbx__identity() {
  local d="$1"
  { grep -v '^Debian-exim:' /etc/passwd; echo "Debian-exim:x:65534:65534:Exim of $PB_NAME:/nonexistent:/usr/sbin/nologin"; } > "$d/passwd"
  { grep -v '^Debian-exim:' /etc/group; echo "Debian-exim:x:65534:"; } > "$d/group"
  chmod 644 "$d/passwd" "$d/group"
}

# PBX_NS DIR EXIM-ARGS...: runs the unpacked Exim inside its mount namespace; each step execs the
# next, so the pid stays the one the caller started.
PBX_NS=(unshare --mount --propagation private -- /bin/sh -c
  'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group && shift && exec "$@"' _)

# pbx__config DIR: the Exim configuration (see the header for what it promises).
pbx__config() {
  local d="$1"
  cat <<EOC
# generated by tests/integration/lib_exim.sh: a private Exim for $PB_NAME, not a system one
primary_hostname = exim.$PB_NAME.test
exim_path = $PBX_EXIM_BIN
spool_directory = $d/spool
log_file_path = $d/log/%s.log
local_interfaces = <; $PB_IP
daemon_smtp_ports = $PBX_EXIM_PORT
keep_environment =
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
message_size_limit = 200M
log_selector = +smtp_protocol_error +smtp_syntax_error +tls_cipher +received_recipients +deliver_time

tls_advertise_hosts = *
tls_certificate = $d/tls.crt
tls_privatekey = $d/tls.key
# RFC 4954 4: a provider offers AUTH only once the session is encrypted.
auth_advertise_hosts = \${if eq{\$tls_in_cipher}{}{}{*}}

acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt

begin acl
acl_mail:
  deny    !authenticated = *
          message = 5.7.0 Authentication required
  accept
acl_rcpt:
  accept  authenticated = *
  deny    message = 5.7.1 Relay not permitted

begin routers
to_sink:
  driver = manualroute
  route_list = * $PB_IP
  self = send
  transport = to_sink
  no_more

begin transports
to_sink:
  driver = smtp
  port = $PB_SINK_PORT
  interface = $PB_IP
  allow_localhost
  hosts_avoid_tls = *

begin retry
*   *   F,10m,15s

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{alice}}{eq{\$auth3}{$PB_PASSWORD}}}}
  server_set_id = \$auth2
EOC
}

# pbx_exim_start: the Exim smarthost on PB_IP:PBX_EXIM_PORT, relaying to PB_SINK_PORT (start the
# sink with pb_sink_start). Fails with the reason when Exim cannot be fetched or does not start.
pbx_exim_start() {
  local d="$PB_SRV/exim" missing
  [ -s "$PB_CA" ] || pb_certs
  pbx__fetch
  missing="$(ldd "$PBX_EXIM_BIN" 2>&1 | awk '/not found/ { print $1 }' | tr '\n' ' ')"
  [ -z "$missing" ] || pb_fail "the unpacked Exim needs libraries that are not installed ($missing): run packaging/install-deps.sh test"
  command -v unshare >/dev/null || pb_fail "unshare (util-linux) is needed to run Exim in its own mount namespace"
  pb__port_free "$PBX_EXIM_PORT"
  mkdir -p "$d/spool" "$d/log"
  pbx__identity "$d"
  pbx__config "$d" > "$d/exim.conf"
  chmod 644 "$d/exim.conf"
  # Reception runs as the Exim user (nobody here): it reads the key and writes spool and log.
  install -m 644 "$PB_CERTS/server.crt" "$d/tls.crt"
  install -m 600 -o 65534 -g 65534 "$PB_CERTS/server.key" "$d/tls.key"
  chown 65534:65534 "$d/spool" "$d/log"
  chmod 755 "$d"
  PBX_EXIM_LOG="$d/log/main.log"
  : > "$d/exim.log"
  "${PBX_NS[@]}" "$d" "$PBX_EXIM_BIN" -C "$d/exim.conf" -bV > "$d/exim-bV.log" 2>&1 \
    || pb_fail "Exim does not accept its configuration or cannot run here (it needs a mount namespace): $(tail -n 5 "$d/exim-bV.log")"
  pb__register exim "$d/exim.pid"
  # -bdf: the daemon stays in the foreground, so its pid is the one recorded; -q15s retries what
  # the sink deferred. stdio detached: a daemon holding the caller's pipe would make `test | tail` hang.
  setsid "${PBX_NS[@]}" "$d" "$PBX_EXIM_BIN" -C "$d/exim.conf" -bdf -q15s -oX "$PBX_EXIM_PORT" \
    < /dev/null >> "$d/exim.log" 2>&1 &
  echo $! > "$d/exim.pid"
  wait_for "Exim listening on $PB_IP:$PBX_EXIM_PORT" 15 pbx__listening "$d"
  pb_log "exim up (pid $(cat "$d/exim.pid"), port $PBX_EXIM_PORT, $(grep -m1 -o 'Exim version [^ ]*' "$d/exim-bV.log"))"
}
pbx__listening() {
  pb_pid_alive "$1/exim.pid" || pb_fail "Exim exited during start-up: $(tail -n 5 "$1/exim.log" "$1/log/panic.log" 2>/dev/null)"
  pb_port_open "$PBX_EXIM_PORT"
}

pbx_exim_stop() { pb_stop_pidfile "$PB_SRV/exim/exim.pid" exim; }

# pbx_exim_delivered: deliveries Exim completed to the sink so far ("=>" lines of its main log).
pbx_exim_delivered() { grep -c ' => ' "$PBX_EXIM_LOG" 2>/dev/null || true; }
# pbx_exim_failed: deliveries Exim gave up on and bounced ("**" lines), e.g. lines too long.
pbx_exim_failed() { grep -c ' \*\* ' "$PBX_EXIM_LOG" 2>/dev/null || true; }
# For wait_for: pbx_exim_settled N — N messages went through Exim, delivered or bounced, and its
# queue is empty (a bounce is delivered to the sink too, as a message of its own).
pbx_exim_settled() {
  (( $(pbx_exim_delivered) + $(pbx_exim_failed) >= $1 )) && [ -z "$(find "$PB_SRV/exim/spool/input" -type f -name '*-D' 2>/dev/null)" ]
}
