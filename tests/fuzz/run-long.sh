#!/usr/bin/env bash
# tests/fuzz/run-long.sh — fuzzes for longer than CI does, and reports what each target reached.
# Promises: builds the fuzz preset first; runs niced (other builds on the machine keep going);
# new inputs go to a work corpus under build/fuzz/ (never into the repository unless --save);
# exits 1 if any target crashed, naming the crash files.
#
# Usage: tests/fuzz/run-long.sh [--save] [SECONDS] [TARGET...]
#   SECONDS  per target (default 600); TARGETs default to all (tests/fuzz/*.cpp with a fuzzer)
#   --save   afterwards, merge the inputs that add coverage into tests/fuzz/corpus/<target>/
# Env: PB_FUZZ_PARALLEL  targets run at once (default: the number of CPUs)
#      PB_FUZZ_WORK      work corpus folder (default build/fuzz/fuzz-work)
# Output: build/fuzz/fuzz-logs/<target>.log; crashes in build/fuzz/fuzz-artifacts/<target>/.
# Reproduce a crash: build/fuzz/fuzzers/<target> CRASH_FILE; then copy it into
# tests/fuzz/regressions/<target>/ so every build replays it (tests/fuzz/README.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

save=0
if [ "${1:-}" = --save ]; then save=1; shift; fi
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then sed -n '2,15p' "$0"; exit 0; fi
seconds=600
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds="$1"; shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/*.cpp; do
    name="$(basename "$src" .cpp)"
    grep -q "LLVMFuzzerTestOneInput(.*) {" "$src" && targets+=("$name")  # a definition
  done
fi
parallel="${PB_FUZZ_PARALLEL:-$(nproc)}"
work="${PB_FUZZ_WORK:-$root/build/fuzz/fuzz-work}"
logs="$root/build/fuzz/fuzz-logs"
artifacts="$root/build/fuzz/fuzz-artifacts"

cmake --preset fuzz >/dev/null
nice -n 10 cmake --build --preset fuzz
mkdir -p "$logs"
started="$logs/.started"  # crash files newer than this are this run's
touch "$started"

run_one() {
  local t="$1" dict=()
  mkdir -p "$work/$t" "$artifacts/$t"
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    nice -n 10 "build/fuzz/fuzzers/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$artifacts/$t/" \
    "$work/$t" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" >"$logs/$t.log" 2>&1
}

echo "run-long: ${targets[*]}: ${seconds}s each, $parallel at a time (logs: $logs)" >&2
pids=() names=()
failed=()
for t in "${targets[@]}"; do
  [ -x "build/fuzz/fuzzers/$t" ] || { echo "run-long: no fuzzer '$t' (see tests/fuzz/CMakeLists.txt)" >&2; exit 2; }
  run_one "$t" &
  pids+=($!) names+=("$t")
  if [ ${#pids[@]} -ge "$parallel" ]; then
    wait "${pids[0]}" || failed+=("${names[0]}")
    pids=("${pids[@]:1}") names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${names[$i]}"); done

# One line per target from libFuzzer's final stats.
printf '%-16s %12s %8s %8s %8s %10s  %s\n' target execs exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  last="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)"
  cov="$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")"
  crashes="$(find "$artifacts/$t" -type f -newer "$started" 2>/dev/null | wc -l)"
  printf '%-16s %12s %8s %8s %8s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
done

if [ "$save" -eq 1 ]; then
  for t in "${targets[@]}"; do
    nice -n 10 "build/fuzz/fuzzers/$t" -merge=1 "tests/fuzz/corpus/$t" "$work/$t" >>"$logs/$t.log" 2>&1
    echo "run-long: merged into tests/fuzz/corpus/$t: $(ls "tests/fuzz/corpus/$t" | wc -l) files" >&2
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "run-long: CRASHED: ${failed[*]}; files:" >&2
  for t in "${failed[@]}"; do find "$artifacts/$t" -type f -newer "$started" | sed 's|^|  |' >&2; grep -m1 -A3 -E 'ERROR|invariant broken|runtime error' "$logs/$t.log" >&2 || true; done
  exit 1
fi
