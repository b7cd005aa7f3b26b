# tests/faults/lib_faults.sh — fault-injection additions to the integration harness (sourced after
# tests/integration/lib.sh). Promises: proxies on the test's own 127.0.N.1 only, stopped on exit.
#
# A test does:
#   . "$(dirname "$0")/../integration/lib.sh"; . "$(dirname "$0")/lib_faults.sh"
#   pb_init 70; pb_require_postbridge; pb_certs; pb_pop3_start; pb_sink_start
#   pbf_proxy_start pop3 23995 "$PB_POP3S_PORT"      # postbridge -> proxy -> Dovecot POP3S
#   pbf_plan pop3 "cut c2s_line=^USER" "reset s2c_bytes=50000"
#   pb_account alice port=23995
#   ... then wait_for "both faults" 60 pbf_fired pop3 2
#
# The proxy is tests/faults/faultproxy.py (rule syntax in its --help). Its log, with one
# "conn N fault: ..." line per injected fault, is $PB_SRV/faults/NAME.log; the plan file is
# re-read at every new connection, so a test can change the plan between runs.

PB_FAULTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# pbf_proxy_start NAME LISTEN_PORT UPSTREAM_PORT: a fault proxy PB_IP:LISTEN_PORT -> PB_IP:UPSTREAM_PORT.
pbf_proxy_start() {
  local name="$1" port="$2" upstream="$3" d="$PB_SRV/faults"
  mkdir -p "$d"
  pb__port_free "$port"
  : > "$d/$name.plan"
  : > "$d/$name.log"
  pb__register "proxy-$name" "$d/$name.pid"
  setsid "$PB_PY" "$PB_FAULTS_DIR/faultproxy.py" --listen "$PB_IP:$port" --upstream "$PB_IP:$upstream" \
    --plan "$d/$name.plan" --log "$d/$name.log" > "$d/$name.out" 2>&1 < /dev/null &
  echo $! > "$d/$name.pid"
  wait_for "fault proxy $name ready" 10 grep -q '^ready' "$d/$name.log"
  pb_log "fault proxy $name up ($PB_IP:$port -> $upstream)"
}

# pbf_plan NAME RULE...: replace the proxy's plan (the next connection gets the first rule).
pbf_plan() {
  local name="$1"; shift
  printf '%s\n' "$@" > "$PB_SRV/faults/$name.plan.tmp"
  mv -f "$PB_SRV/faults/$name.plan.tmp" "$PB_SRV/faults/$name.plan"
  pb_log "plan for $name: $(tr '\n' ';' < "$PB_SRV/faults/$name.plan")"
}

# pbf_faults NAME: how many faults the proxy has injected so far.
pbf_faults() { grep -c ' fault: ' "$PB_SRV/faults/$1.log" || true; }
# For wait_for: pbf_fired NAME N — at least N faults injected.
pbf_fired() { (( $(pbf_faults "$1") >= $2 )); }
# pbf_connections NAME: connections the proxy has seen.
pbf_connections() { grep -c '^conn [0-9]* open' "$PB_SRV/faults/$1.log" || true; }
# pbf_fault_lines NAME: the log lines of the injected faults (for the test's own log).
pbf_fault_lines() { grep ' fault: ' "$PB_SRV/faults/$1.log" || true; }

# pbf_random_rules COUNT SEED ACTIONS DIR MIN MAX: COUNT rules "ACTION DIR_bytes=N", N uniform in
# [MIN, MAX] and ACTION drawn from the comma-separated ACTIONS, reproducible from SEED.
pbf_random_rules() {
  "$PB_PY" - "$@" <<'EOF'
import random, sys
count, seed, actions, d, lo, hi = sys.argv[1:7]
rng = random.Random(int(seed))
acts = actions.split(",")
for _ in range(int(count)):
    print("%s %s_bytes=%d" % (rng.choice(acts), d, rng.randint(int(lo), int(hi))))
EOF
}

# pb_local_port PORT: point [local] at PORT (a proxy in front of the office server).
pb_local_port() { sed -i "/^\[local\]\$/,/^\[/ s/^port = .*/port = $1/" "$PB_CFG"; }

# pb_queue_count STATE: messages in postbridge's store in STATE (queued, held, failed, delivered).
pb_queue_count() { sqlite3 -readonly "$PB_WORK/state/postbridge.db" "SELECT COUNT(*) FROM messages WHERE state = '$1'"; }
