#!/usr/bin/env bash
# tests/faults/run-long.sh — the fault suites for longer than CI allows: each test many times,
# with more faults and a new random seed per round. Promises: stops itself (rounds x tests), never
# touches anything but 127.0.N.1 and its own output folder; exit 1 if any round failed.
#
# Usage (as root, after a build): tests/faults/run-long.sh [-n ROUNDS] [-b BUILD_DIR] [TEST...]
#   ROUNDS  rounds per test (default 20); TEST: names like test_crash_loop (default: every
#           tests/faults/test_*.sh and the integration crash tests)
#   BUILD_DIR  default build/release (its postbridge binary is used)
# Bigger faults per round: PB_KILLS=100 (crash loop), PB_CUTS=40 (network cuts),
# PB_MESSAGES=500 (cut steps); override them in the environment. Results: one line per round in
# OUT/results.txt, each round's logs in OUT/ROUND/, figures in OUT/figures.txt
# (OUT = /tmp/pb-faults-long).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=20
build="$root/build/release"
while getopts "n:b:h" o; do
  case "$o" in
    n) rounds="$OPTARG" ;;
    b) build="$OPTARG" ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in "$root"/tests/faults/test_*.sh; do tests+=("$(basename "$t" .sh)"); done
  tests+=(test_crash_kill9 test_multidrop_crash test_relay_crash_kill9)
fi
[ -x "$build/postbridge" ] || { echo "no postbridge in $build: build first (cmake --build --preset release)" >&2; exit 2; }
out=/tmp/pb-faults-long
rm -rf "$out"
mkdir -p "$out"
export PB_KILLS="${PB_KILLS:-100}" PB_CUTS="${PB_CUTS:-40}" PB_MESSAGES="${PB_MESSAGES:-500}"
export POSTBRIDGE="$build/postbridge"
failed=0
for ((r = 1; r <= rounds; r++)); do
  for t in "${tests[@]}"; do
    script="$root/tests/faults/$t.sh"
    [ -f "$script" ] || script="$root/tests/integration/$t.sh"
    [ -f "$script" ] || { echo "no test $t" >&2; exit 2; }
    start=$SECONDS
    if PB_SEED="$((RANDOM + 1))" PB_TEST_OUT="$out/$r" PB_DEADLINE=3000 bash "$script" > "$out/$r-$t.log" 2>&1; then
      verdict=pass
    else
      verdict=FAIL
      failed=$((failed + 1))
    fi
    line="round $r $t $verdict $((SECONDS - start))s"
    echo "$line" | tee -a "$out/results.txt"
    [ -f "$out/$r/$t/figures.txt" ] && sed "s/^/round $r: /" "$out/$r/$t/figures.txt" >> "$out/figures.txt"
  done
done
echo "$(grep -c ' pass ' "$out/results.txt") passed, $failed failed; details in $out" >&2
[ "$failed" -eq 0 ]
