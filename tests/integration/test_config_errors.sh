#!/usr/bin/env bash
# Configuration errors are caught before anything runs: exit 2 and "FILE:LINE:COL: key: message"
# pointing at the offending line; `check` never prints a secret; a password file readable by
# others is refused with the chmod that fixes it; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
pb_init 39
pb_require_postbridge
pb_certs

secret_file="$(pb_secret alice Sentinel-File-5931)"
D="$PB_WORK/configs"
mkdir -p "$D"

# The valid base; the cases below change one line of it (line numbers matter: they are asserted).
base() {
  cat <<EOC
[service]
state_dir = "state"
hostname = "gw.test"
postmaster = "postmaster@office.test"

[local]
host = "$PB_IP"
port = $PB_SINK_PORT
protocol = "smtp"
tls = "none"

[[account]]
name = "alice"
host = "$PB_IP"
port = $PB_POP3S_PORT
tls = "implicit"
ca_file = "$PB_CA"
username = "alice"
password_file = "$secret_file"
poll_interval = "5m"
deliver_to = ["alice@office.test"]
EOC
}

# variant NAME LINE NEWTEXT: the base with line LINE replaced by NEWTEXT (or appended if LINE=22).
variant() {
  local f="$D/$1.toml"
  base | awk -v n="$2" -v t="$3" 'NR == n { print t; next } { print } END { if (n > NR) print t }' > "$f"
  echo "$f"
}

re_escape() { printf '%s' "$1" | sed 's#[]$*.^()+?{}|\\[]#\\&#g'; }

# expect_error DESC FILE LINE KEY_ERE: `check` exits 2 and names FILE:LINE:COL and the key.
expect_error() {
  local desc="$1" f="$2" line="$3" key="$4"
  pb_postbridge check -c "$f"
  pb_assert_rc "$desc: exit code" 2
  pb_assert_grep "$desc: FILE:LINE:COL and key" "$(re_escape "$f"):$line:[0-9]+:.*($key)" "$PB_LOG"
}

base > "$D/valid.toml"
pb_postbridge check -c "$D/valid.toml"
pb_assert_rc "the base config is valid" 0

expect_error "unknown key"          "$(variant unknown-key 22 'colour = "red"')"          22 colour
expect_error "port is a string"     "$(variant port-string 15 'port = "pop3s"')"          15 port
expect_error "port out of range"    "$(variant port-range 15 'port = 70000')"             15 port
expect_error "unknown tls mode"     "$(variant tls-mode 16 'tls = "sometimes"')"          16 tls
expect_error "bad duration"         "$(variant duration 20 'poll_interval = "5 parsecs"')" 20 poll_interval
expect_error "bad recipient"        "$(variant rcpt 21 'deliver_to = ["not an address"]')" 21 deliver_to
expect_error "bad size"             "$(variant size 22 'max_message_size = "lots"')"     22 max_message_size
expect_error "unknown protocol"     "$(variant proto 9 'protocol = "pigeon"')"            9 protocol
expect_error "unknown auth method"  "$(variant auth 22 'auth = "telepathy"')"             22 auth
# Plaintext POP3 without the explicit opt-in sends the password in clear: refused.
expect_error "tls = none without allow_plaintext" "$(variant plain 16 'tls = "none"')" '1[26]' 'tls|allow_plaintext'
# A TOML syntax error: the parser's position is reported.
expect_error "syntax error"         "$(variant syntax 8 'port = ')"                       8 'port|'

# `run` refuses a bad config the same way before touching any server.
pb_postbridge run -c "$D/port-string.toml" --once
pb_assert_rc "run --once with a bad config" 2

# A missing config file.
pb_postbridge check -c "$D/does-not-exist.toml"
pb_assert_rc "missing config file" 2
pb_assert_grep "missing config file is named" 'does-not-exist\.toml' "$PB_LOG"

# --- secrets are masked ---------------------------------------------------------------------------
{ base
  cat <<EOC

[[account]]
name = "bob"
host = "$PB_IP"
ca_file = "$PB_CA"
username = "bob"
password = "Sentinel-Inline-8472"
deliver_to = ["bob@office.test"]

[[account]]
name = "carol"
host = "$PB_IP"
ca_file = "$PB_CA"
username = "carol"
password_env = "PB_TEST_CAROL_PW"
deliver_to = ["carol@office.test"]
EOC
} > "$D/secrets.toml"
export PB_TEST_CAROL_PW=Sentinel-Env-2719
# An inline password makes the config a secret itself: while others can read it, it is refused.
chmod 644 "$D/secrets.toml"
pb_postbridge check -c "$D/secrets.toml"
pb_assert_rc "an inline password in a config others can read" 2
pb_assert_grep "the file, line and key of the inline password" "$(re_escape "$D/secrets.toml"):[0-9]+:[0-9]+: account\[1\]\.password: " "$PB_LOG"
pb_assert_grep "the chmod and the password file that fix it" 'chmod 640 .*password_file' "$PB_LOG"
pb_assert_no_grep "the refused password is not printed" 'Sentinel-Inline' "$PB_LOG"
chmod 640 "$D/secrets.toml"
pb_postbridge check -c "$D/secrets.toml"
pb_assert_rc "check with three kinds of secret" 0
pb_assert_no_grep "no secret in the output of check" 'Sentinel-(File|Inline|Env)' "$PB_LOG"
pb_assert_grep "secrets shown as ****" '\*\*\*\*' "$PB_LOG"
pb_assert_ge "every secret masked" 3 "$(grep -c '\*\*\*\*' "$PB_LOG")"
pb_assert_grep "check shows the resolved config" 'alice' "$PB_LOG"

# --- a password file readable by others is refused, with the fix ----------------------------------
chmod 644 "$secret_file"
pb_postbridge check -c "$D/valid.toml"
pb_assert_rc "world-readable password file" 2
pb_assert_grep "the password file is named" "$(re_escape "$secret_file")" "$PB_LOG"
pb_assert_grep "the chmod that fixes it" 'chmod (600|0600|go-rwx|o-rwx)' "$PB_LOG"
pb_assert_no_grep "the secret is not printed" 'Sentinel-File' "$PB_LOG"
chmod 600 "$secret_file"
rm -f "$secret_file"
pb_postbridge check -c "$D/valid.toml"
pb_assert_rc "missing password file" 2
pb_assert_grep "the missing password file is named" "$(re_escape "$secret_file")" "$PB_LOG"

# --- command-line usage -----------------------------------------------------------------------------
pb_postbridge --version
pb_assert_rc "--version" 0
pb_assert_grep "--version prints a version" '[0-9]+\.[0-9]+' "$PB_LOG"
pb_postbridge --help
pb_assert_rc "--help" 0
pb_assert_grep "--help lists the commands" 'run' "$PB_LOG"
pb_postbridge frobnicate
pb_assert_rc "unknown command" 2
pb_postbridge check
pb_assert_rc "check without -c" 2
