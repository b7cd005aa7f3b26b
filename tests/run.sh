#!/usr/bin/env bash
# tests/run.sh — THE test command (`sudo tests/run.sh`; CI runs it through .ci/run).
# Promises: from a fresh clone, as root, with no input: installs what is missing, builds and runs
# every test twice (release, then ASan+UBSan), then scans what postbridge wrote for leaked
# passwords (tests/scan_secrets.py), then fuzzes each parser for a bounded time (the fuzz
# preset, tests/fuzz/README.md); exits non-zero on any failure — nothing is skipped.
#
# Usage: tests/run.sh [release] [asan] [fuzz] [-- CTEST_ARGS...]
#   With no preset named, all three run in that order. CTEST_ARGS go to every ctest run (name
#   the presets you filter: a filter that matches no test of a preset fails it), e.g.
#     sudo tests/run.sh release -- -R 'integration: test_keep'
#     sudo tests/run.sh fuzz -- -R smtp
# Env: PB_JOBS          parallel build jobs (default: the number of CPUs)
#      PB_FUZZ_SECONDS  how long the fuzz preset runs each target (default 20)
# Integration tests start private Dovecot, smtp-sink and fake POP3 servers on 127.0.N.1 only;
# their logs stay under build/<preset>/test-output/<test>/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\n[tests/run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

presets=()
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    release|asan|fuzz) presets+=("$1") ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "tests/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#presets[@]} -gt 0 ] || presets=(release asan fuzz)

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/run.sh must run as root (it installs packages and starts private mail servers): sudo $0" >&2
  exit 1
fi

start=$SECONDS
say "dependencies"
bash packaging/install-deps.sh all

jobs="${PB_JOBS:-$(nproc)}"
failed=()
mkdir -p build
say "configure: ${presets[*]}"
for preset in "${presets[@]}"; do
  configure_args=()
  # Always given, so a value from an earlier run's cache never lingers.
  [ "$preset" != fuzz ] || configure_args=(-DPB_FUZZ_SECONDS="${PB_FUZZ_SECONDS:-20}")
  cmake --preset "$preset" "${configure_args[@]}" > "build/$preset.configure.log" 2>&1 ||
    { cat "build/$preset.configure.log" >&2; exit 1; }
done

# build PRESET: the build, its output in build/PRESET.build.log (printed when it fails).
build() {
  if ! cmake --build --preset "$1" -j "$jobs" > "build/$1.build.log" 2>&1; then
    tail -n 60 "build/$1.build.log" >&2
    return 1
  fi
}

# failed_tests PRESET: a line per failed test of the last ctest run, with the reason a script
# test gave (its FAILED.txt): repeated at the very end, where a long log is not cut off.
failed_tests() {
  local list="build/$1/Testing/Temporary/LastTestsFailed.log" line name reason
  [ -f "$list" ] || return 0
  while IFS= read -r line; do
    name="${line#*:}"
    reason="$(cat "build/$1/test-output/${name##*: }/FAILED.txt" 2>/dev/null || true)"
    printf '  %s / %s%s\n' "$1" "$name" "${reason:+: $reason}"
  done < "$list"
}
failures=()

# The tests of one preset mostly wait (for servers, backoffs, timeouts), so the next preset is
# built meanwhile, at the lowest CPU priority: the suite takes the time of the builds or of the
# tests, not of both. Each preset's tests still run alone.
say "build: ${presets[0]}"
build "${presets[0]}" || { say "FAILED: the ${presets[0]} build"; exit 1; }
for i in "${!presets[@]}"; do
  preset="${presets[$i]}"
  next="${presets[$((i + 1))]:-}"
  next_pid=""
  if [ -n "$next" ]; then
    say "build: $next (in the background, while the $preset tests run)"
    nice -n 19 bash -c "$(declare -f build); jobs=$jobs; build $next" & next_pid=$!
  fi

  say "ctest: $preset"
  if [ "$preset" = asan ] || [ "$preset" = fuzz ]; then
    export ASAN_OPTIONS="detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  else
    unset ASAN_OPTIONS UBSAN_OPTIONS
  fi
  # Unit tests run in parallel; the integration tests are RUN_SERIAL (tests/CMakeLists.txt); the
  # fuzz targets run one per CPU. A failing preset does not stop the next one: CI reports all,
  # then fails. A fuzz crash is saved under build/fuzz/fuzz-artifacts/<target>/.
  if ! ctest --preset "$preset" --output-on-failure --no-tests=error -j "$jobs" "${ctest_args[@]}"; then
    failed+=("$preset")
    failures+=("$(failed_tests "$preset")")
  fi
  # Every log, saved API answer and state database the tests made, scanned for the passwords the
  # tests gave postbridge (in clear and as SASL/Basic base64): secrets never reach an output.
  # The fuzz targets run no postbridge and write no such output.
  if [ "$preset" != fuzz ]; then
    say "secret scan: $preset"
    if ! /usr/bin/python3 tests/scan_secrets.py "build/$preset/test-output"; then
      failed+=("$preset (a password in postbridge's output)")
    fi
  fi
  if [ -n "$next_pid" ] && ! wait "$next_pid"; then
    say "FAILED: the $next build (build/$next.build.log)"
    failed+=("$next (build)")
    break
  fi
done

took="$(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
if [ ${#failed[@]} -gt 0 ]; then
  [ ${#failures[@]} -eq 0 ] || printf '\nFailed tests:\n%s' "$(printf '%s\n' "${failures[@]}")" >&2
  say "FAILED: tests of ${failed[*]} (logs: build/<preset>/test-output/) — $took"
  exit 1
fi
say "all tests passed (${presets[*]}) in $took"
