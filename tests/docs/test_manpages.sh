#!/usr/bin/env bash
# tests/docs/test_manpages.sh — the manual pages stay true to the program:
#   (a) packaging/postbridge.8 and packaging/postbridge.toml.5 render with `groff -ww -man` and
#       no warnings;
#   (b) every command, sub-command word and option of `postbridge --help` is in postbridge.8;
#   (c) every key the config loader accepts is documented in postbridge.toml.5, under its table.
# The accepted keys come from the loader's source: each table is read through a Section built
# with a list of known keys (const std::vector<std::string_view> kServiceKeys{...} in
# src/config/*.cpp or the loaders' shared header src/config/loaders.hpp); the lists are cross-checked against the built binary, which must not call
# any of them an unknown key. No servers, no network; runs in well under a second.
# Env: POSTBRIDGE=path of the built binary (set by ctest). Exit 0 if all hold, 1 with every
# missing item named otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
page8=$root/packaging/postbridge.8
page5=$root/packaging/postbridge.toml.5
: "${POSTBRIDGE:?set POSTBRIDGE to the built postbridge binary}"
[ -x "$POSTBRIDGE" ] || { echo "FAIL: POSTBRIDGE=$POSTBRIDGE is not an executable" >&2; exit 1; }

failures=0
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

work=$(mktemp -d "${PB_TEST_OUT:-${TMPDIR:-/tmp}}/docs-manpages.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT

# A word as a whole token: not part of a longer option, key or word.
has_word() {  # has_word WORD FILE
  grep -qE -- "(^|[^[:alnum:]_-])$1([^[:alnum:]_-]|\$)" "$2"
}

# roff source -> searchable text: \- is a plain "-", font and zero-width escapes removed.
plain_roff() {
  sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\f\[[^]]*\]//g' \
      -e 's/\\[%&]//g' -e 's/\\(dq/"/g' "$1"
}

# ---------------------------------------------------------------------------------------------
# (a) both pages render cleanly

if ! command -v groff >/dev/null 2>&1; then
  echo "FAIL: groff missing: packaging/install-deps.sh must install groff-base" >&2
  exit 1
fi
for page in "$page8" "$page5"; do
  if [ ! -f "$page" ]; then
    fail "${page#"$root"/} does not exist"
    continue
  fi
  rc=0
  warnings=$(groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne 0 ] || [ -n "$warnings" ]; then
    fail "${page#"$root"/}: groff -ww -man -Tutf8 exited $rc with warnings:"
    printf '%s\n' "$warnings" | sed 's/^/    /' >&2
  fi
done
[ -f "$page8" ] && [ -f "$page5" ] || exit 1

# ---------------------------------------------------------------------------------------------
# (b) --help -> postbridge.8

help=$("$POSTBRIDGE" --help) || { fail "\`postbridge --help\` failed"; exit 1; }
plain_roff "$page8" >"$work/page8.txt"

# Options: every --long option and every -x short option anywhere in --help.
mapfile -t options < <(
  { printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*'
    printf '%s\n' "$help" | grep -oE -- '(^|[][ |,])-[a-zA-Z]([ ,]|$)' | grep -oE -- '-[a-zA-Z]'
  } | sort -u)
[ "${#options[@]}" -ge 8 ] || fail "found only ${#options[@]} options in --help (${options[*]}); is the usage text still in the expected form?"
for opt in "${options[@]}"; do
  has_word "$opt" "$work/page8.txt" || fail "option $opt of \`postbridge --help\` is missing in packaging/postbridge.8"
done

# Commands: the usage lines "  postbridge WORD ...", cut before their description (the first
# run of 3+ spaces followed by a lower-case word); the first lower-case word is the command,
# the others are its sub-commands and targets (retry, hold, account, local, all, ...).
usage=$(printf '%s\n' "$help" | awk '
  /^  postbridge / {
    line = substr($0, 3)
    if (match(line, /   +[a-z(]/)) line = substr(line, 1, RSTART - 1)
    print line
  }')
mapfile -t commands < <(printf '%s\n' "$usage" | awk '{ if ($2 ~ /^[a-z][a-z-]*$/) print $2 }' | sort -u)
mapfile -t words < <(printf '%s\n' "$usage" | tr -cs 'A-Za-z-' '\n' |
                     grep -E '^[a-z][a-z-]*$' | grep -vx postbridge | sort -u)
[ "${#commands[@]}" -ge 6 ] || fail "found only ${#commands[@]} commands in --help (${commands[*]}); is the usage text still in the expected form?"

# A command needs its own entry in COMMANDS: a .TP whose tag starts with the command.
awk '
  /^\.SH/ { in_commands = ($0 ~ /COMMANDS/); next }
  in_commands && /^\.TP/ { tag = 1; next }
  tag { tag = 0; sub(/^\.[A-Z]+[ \t]+/, ""); gsub(/"/, ""); print $1 }
' "$work/page8.txt" | sort -u >"$work/page8.commands"
for cmd in "${commands[@]}"; do
  grep -qxF -- "$cmd" "$work/page8.commands" ||
    fail "command '$cmd' of \`postbridge --help\` has no entry (.TP $cmd) under COMMANDS in packaging/postbridge.8"
done
for word in "${words[@]}"; do
  has_word "$word" "$work/page8.txt" ||
    fail "'$word' (from the usage line of \`postbridge --help\`) is missing in packaging/postbridge.8"
done

# ---------------------------------------------------------------------------------------------
# (c) the loader's keys -> postbridge.toml.5

# The table each key list belongs to, and its TOML header for the cross-check below.
declare -A table_of=(
  [kServiceKeys]=service [kLocalKeys]=local [kAccountKeys]=account
  [kMultidropKeys]=account.multidrop [kOAuthKeys]=account.oauth2 [kRelayKeys]=relay [kRelayUserKeys]=relay.user
  [kSmarthostKeys]=smarthost [kWebKeys]=web [kWebUserKeys]=web.user [kAlertsKeys]=alerts
)
declare -A header_of=(
  [service]='[service]' [local]='[local]' [account]='[[account]]'
  [account.multidrop]='[account.multidrop]' [account.oauth2]='[account.oauth2]' [relay]='[relay]' [relay.user]='[[relay.user]]'
  [smarthost]='[[smarthost]]' [web]='[web]' [web.user]='[[web.user]]' [alerts]='[alerts]'
)
table_order=(service local account account.multidrop account.oauth2 relay relay.user smarthost web web.user alerts)

srcs=("$root"/src/config/*.cpp "$root"/src/config/loaders.hpp)
# Every Section is built with a named key list; one built otherwise would escape this test.
tr '\n' ' ' <<<"$(cat "${srcs[@]}")" | grep -oE 'Section( [a-z_]+)?\([^;]*;' >"$work/sections" || true
[ -s "$work/sections" ] || fail "no Section(...) construction found in src/config/*.cpp; the key extraction in $0 is out of step with the loader"
while IFS= read -r call; do
  grep -qE 'k[A-Z][A-Za-z]*Keys' <<<"$call" ||
    fail "a Section in src/config is built without a kXxxKeys list, so its keys cannot be checked: ${call:0:160}"
done <"$work/sections"
mapfile -t lists < <(grep -ohE 'k[A-Z][A-Za-z]*Keys' "$work/sections" | sort -u)

# "list<TAB>key" for every quoted string in each list's definition (comments removed).
awk '
  match($0, /k[A-Z][A-Za-z]*Keys[ \t]*\{/) {
    name = substr($0, RSTART, RLENGTH); sub(/[ \t]*\{$/, "", name)
    body = substr($0, RSTART + RLENGTH); inlist = 1
  }
  !inlist { next }
  {
    if (body == "") body = $0
    sub(/\/\/.*/, "", body)
    done = (body ~ /\};/)
    if (done) sub(/\};.*/, "", body)
    while (match(body, /"[^"]*"/)) {
      print name "\t" substr(body, RSTART + 1, RLENGTH - 2)
      body = substr(body, RSTART + RLENGTH)
    }
    body = ""
    if (done) inlist = 0
  }
' "${srcs[@]}" | sort -u >"$work/keys"

for list in "${lists[@]}"; do
  grep -q "^$list	" "$work/keys" ||
    fail "could not read the keys of $list from src/config; the extraction in $0 is out of step with the loader"
done

# The page: "table<TAB>key" for every .TP tag under a .SS [table] heading, and the headings.
awk '
  /^\.SH/ { table = ""; next }
  /^\.SS/ {
    table = $0; sub(/^\.SS[ \t]*/, "", table); gsub(/["[\] \t]/, "", table)
    print "TABLE\t" table; next
  }
  /^\.TP/ { tag = 1; next }
  tag {
    tag = 0
    if (table == "") next
    line = $0
    sub(/^\.[A-Z]+[ \t]*/, "", line)      # the font macro
    gsub(/"[^"]*"/, " ", line)            # its roman separators (", ")
    gsub(/\\f[BIRP]/, " ", line)
    while (match(line, /[a-z][a-z0-9_]*/)) {
      print table "\t" substr(line, RSTART, RLENGTH)
      line = substr(line, RSTART + RLENGTH)
    }
  }
' "$page5" | sort -u >"$work/page5.keys"

keys_total=0
while IFS=$'\t' read -r list key; do
  keys_total=$((keys_total + 1))
  table=${table_of[$list]:-}
  if [ -z "$table" ]; then
    # A list this test does not know yet: the key must at least be documented in some table.
    grep -qE "^[^	]+	$key\$" "$work/page5.keys" ||
      fail "config key '$key' (from $list in src/config, a list this test maps to no table) is not documented in packaging/postbridge.toml.5"
    continue
  fi
  grep -qxF "$table	$key" "$work/page5.keys" && continue
  grep -qxF "TABLE	$table.$key" "$work/page5.keys" && continue  # a sub-table: .SS [[relay.user]]
  fail "config key '$key' of ${header_of[$table]} is not documented in packaging/postbridge.toml.5 (expected a .TP entry for $key under .SS ${header_of[$table]})"
done <"$work/keys"
[ "$keys_total" -ge 50 ] || fail "read only $keys_total config keys from src/config; the extraction in $0 is out of step with the loader"

# Cross-check: a config with every extracted key (each set to 0) may have wrong types, but the
# loader must call none of them unknown; otherwise the source extraction above read a list
# that is not the loader's.
{
  for table in "${table_order[@]}"; do
    printf '%s\n' "${header_of[$table]}"
    for list in "${!table_of[@]}"; do
      [ "${table_of[$list]}" = "$table" ] || continue
      while IFS=$'\t' read -r _ key; do
        [ -n "${header_of[$table.$key]:-}" ] && continue  # a sub-table, written as its own header
        printf '%s = 0\n' "$key"
      done < <(grep "^$list	" "$work/keys")
    done
  done
} >"$work/all-keys.toml"
check_out=$("$POSTBRIDGE" check -c "$work/all-keys.toml" 2>&1) || true
if grep -q 'TOML syntax error' <<<"$check_out"; then
  fail "the cross-check config is not valid TOML: $(grep 'TOML syntax error' <<<"$check_out")"
elif grep -qE 'unknown (key|section)' <<<"$check_out"; then
  fail "the loader ($POSTBRIDGE) rejects keys this test read from src/config: the extraction in $0 is out of step with the loader, or the binary is older than the source:"
  grep -E 'unknown (key|section)' <<<"$check_out" | sed 's/^/    /' >&2
fi

if [ "$failures" -ne 0 ]; then
  echo "test_manpages: $failures problem(s)" >&2
  exit 1
fi
echo "test_manpages: ok (2 pages render cleanly; ${#commands[@]} commands, ${#words[@]} usage words, ${#options[@]} options, $keys_total config keys documented)"
