#!/usr/bin/env bash
# tests/packaging/test_containerfile.sh — packaging/Containerfile stays buildable and complete.
# Promises: fails — never skips — naming what is wrong; changes nothing on the machine.
#
# CI has no container engine (and no Docker Hub: pulling debian:12 fails), so the checks that
# always run are static, against this machine, which is Debian 12 like the image:
#   1. structure: a build stage FROM debian:12 that runs packaging/install-deps.sh build and
#      builds the release preset's postbridge target, a final stage FROM debian:12-slim; no ADD
#      (nothing fetched from a URL, no archive unpacked), no curl/wget; every COPY from the
#      build context names a path that exists; the final stage has a non-root numeric USER,
#      VOLUME /var/lib/postbridge, EXPOSE 2525 8025 and runs postbridge with
#      run -c /etc/postbridge/postbridge.toml;
#   2. the runtime packages the final stage installs exist in Debian 12 (apt-cache show, or
#      installed here), and every shared library the built binary loads (ldd, transitive ones
#      too: the image must hold them all) belongs to one of them (dpkg -S) — sanitizer runtimes
#      of an ASan build aside, which the release build of the image does not link.
# Only if a container engine runs here AND debian:12 and debian:12-slim are already present
# locally, the image is also built (offline) and `postbridge --version` and `postbridge check`
# run in it as its own user; otherwise the log says that the static checks were the test.
# Env: POSTBRIDGE=path of the built binary (set by ctest). Runs in about a second.
. "$(dirname "$0")/../integration/lib.sh"
set -euo pipefail

PB_NAME=test_containerfile
PB_WORK="${PB_TEST_OUT:-/tmp/pb-test-out}/$PB_NAME"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cf="$root/packaging/Containerfile"

cf_on_exit() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP ERR
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "${PB_FAILURE:-exit code $rc}" > "$PB_WORK/FAILED.txt" 2>/dev/null
    printf '\n[%s] FAIL (said again): %s\n' "$PB_NAME" "${PB_FAILURE:-exit code $rc}" >&2
  else
    printf '[%s] PASS\n' "$PB_NAME" >&2
  fi
  exit "$rc"
}

: "${POSTBRIDGE:?set POSTBRIDGE to the built postbridge binary (ctest does)}"
rm -rf "$PB_WORK"
mkdir -p "$PB_WORK"
set -E
trap cf_on_exit EXIT
trap 'pb_fail "interrupted"' INT TERM HUP
trap 'PB_FAILURE="$(printf "command failed (rc=%s) at %s:%s: %s" "$?" "${BASH_SOURCE[0]##*/}" \
      "$LINENO" "$BASH_COMMAND")"; printf "\n[%s] error: %s\n" "$PB_NAME" "$PB_FAILURE" >&2' ERR

[ -x "$POSTBRIDGE" ] || pb_fail "POSTBRIDGE=$POSTBRIDGE is not an executable"
[ -f "$cf" ] || pb_fail "packaging/Containerfile does not exist"
# shellcheck disable=SC1091
. /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] \
  || pb_fail "the package checks compare with this machine's Debian 12 archive, but this is ${PRETTY_NAME:-unknown}"

# ---------------------------------------------------------------------------------------------
# 1. Structure. Instructions one per line: comments dropped, continuation lines joined.

sed -e '/^[[:space:]]*#/d' "$cf" | sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' \
  | sed -e 's/[[:space:]]\+/ /g' -e '/^ *$/d' > "$PB_WORK/instructions.txt"
grep -n '^FROM ' "$PB_WORK/instructions.txt" > "$PB_WORK/from.txt" || true
pb_assert_ge "stages (FROM lines)" 2 "$(wc -l < "$PB_WORK/from.txt")"
last_from="$(tail -n 1 "$PB_WORK/from.txt" | cut -d: -f1)"
head -n $(( last_from - 1 )) "$PB_WORK/instructions.txt" > "$PB_WORK/build-stage.txt"
tail -n +"$last_from" "$PB_WORK/instructions.txt" > "$PB_WORK/final-stage.txt"

pb_assert_grep "build stage from Debian 12" '^FROM (docker\.io/(library/)?)?debian:12 AS [a-z]+$' "$PB_WORK/build-stage.txt"
pb_assert_grep "build stage installs the build packages with install-deps.sh" '^RUN .*bash packaging/install-deps\.sh build' "$PB_WORK/build-stage.txt"
pb_assert_grep "build stage builds the release preset" '^RUN .*cmake --preset release.*cmake --build --preset release --target postbridge' "$PB_WORK/build-stage.txt"
pb_assert_grep "final stage from Debian 12 slim" '^FROM (docker\.io/(library/)?)?debian:12-slim$' "$PB_WORK/final-stage.txt"
pb_assert_no_grep "no ADD (no URL fetched, no archive unpacked)" '^ADD ' "$PB_WORK/instructions.txt"
pb_assert_no_grep "nothing downloaded by hand" '(curl|wget) ' "$PB_WORK/instructions.txt"

# COPY sources from the build context (not --from=stage) exist in the repository.
while read -r -a words; do
  srcs=()
  for w in "${words[@]:1}"; do
    case "$w" in --from=*) continue 2 ;; --*) ;; *) srcs+=("$w") ;; esac
  done
  unset 'srcs[${#srcs[@]}-1]'   # the last word is the destination
  for s in "${srcs[@]}"; do
    [ -e "$root/$s" ] || pb_fail "COPY $s: no such path in the repository (the image build would fail)"
  done
done < <(grep '^COPY ' "$PB_WORK/instructions.txt")
pb_log "ok: every COPY from the context names an existing path"

user="$(grep '^USER ' "$PB_WORK/final-stage.txt" | tail -n 1 | cut -d' ' -f2)"
[ -n "$user" ] || pb_fail "the final stage has no USER: the service would run as root"
[[ "$user" =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] \
  || pb_fail "USER '$user': expected a numeric non-root uid[:gid] (orchestrators check runAsNonRoot by number)"
pb_log "ok: runs as USER $user"
pb_assert_grep "state volume" '^VOLUME \[?"?/var/lib/postbridge"?\]?$' "$PB_WORK/final-stage.txt"
pb_assert_grep "relay and status page ports" '^EXPOSE 2525 8025$' "$PB_WORK/final-stage.txt"
grep -E '^(ENTRYPOINT|CMD) ' "$PB_WORK/final-stage.txt" | tr -d '[],"' | tr -s ' ' > "$PB_WORK/start.txt"
start="$(awk '{$1=""; printf "%s", $0}' "$PB_WORK/start.txt" | sed 's/^ *//')"
pb_assert_eq "what the container runs (ENTRYPOINT + CMD)" "/usr/bin/postbridge run -c /etc/postbridge/postbridge.toml" "$start"
pb_assert_grep "the binary comes from the build stage" '^COPY --from=[a-z]+ /out/usr/bin/postbridge /usr/bin/postbridge$' "$PB_WORK/final-stage.txt"
pb_assert_grep "the config comes from the build stage's install" '^COPY --from=[a-z]+ .*/out/etc/postbridge/postbridge\.toml /etc/postbridge/postbridge\.toml$' "$PB_WORK/final-stage.txt"

# ---------------------------------------------------------------------------------------------
# 2. Runtime packages: they exist, and they hold every library the binary loads.

grep '^RUN .*apt-get install' "$PB_WORK/final-stage.txt" \
  | sed -e 's/.*apt-get install//' -e 's/&&.*//' | tr ' ' '\n' | grep -v '^-' | grep . | sort -u \
  > "$PB_WORK/runtime-packages.txt" || true
pb_assert_ge "runtime packages named in the final stage" 3 "$(wc -l < "$PB_WORK/runtime-packages.txt")"
grep -qx ca-certificates "$PB_WORK/runtime-packages.txt" \
  || pb_fail "the final stage does not install ca-certificates: TLS to the providers would fail to verify"
while read -r pkg; do
  if apt-cache show --no-all-versions "$pkg" > "$PB_WORK/apt-$pkg.txt" 2>&1; then
    pb_log "ok: $pkg is in this machine's Debian 12 archive ($(sed -n 's/^Version: //p' "$PB_WORK/apt-$pkg.txt"))"
  elif dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    pb_log "ok: $pkg is installed here (Debian 12; no apt lists to ask)"
  else
    pb_fail "runtime package $pkg is neither in apt-cache nor installed: not a Debian 12 package? ($(head -n 1 "$PB_WORK/apt-$pkg.txt"))"
  fi
done < "$PB_WORK/runtime-packages.txt"

ldd "$POSTBRIDGE" > "$PB_WORK/ldd.txt"
n=0
while read -r lib; do
  case "${lib##*/}" in
    libasan.so*|libubsan.so*|liblsan.so*|libtsan.so*)
      pb_log "$lib: a sanitizer runtime of this build, not linked by the image's release build"
      continue ;;
  esac
  owner="$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)"
  pkg="${owner%%:*}"
  [ -n "$pkg" ] || pb_fail "ldd names $lib, which no Debian package provides: the image would lack it"
  grep -qx "$pkg" "$PB_WORK/runtime-packages.txt" \
    || pb_fail "the binary loads $lib (package $pkg), but the Containerfile's final stage does not install $pkg"
  n=$(( n + 1 ))
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' "$PB_WORK/ldd.txt" | grep -v '/ld-linux')
pb_log "ok: each of the $n libraries ldd lists comes from a runtime package of the image"
ld="$(awk '$1 ~ /\/ld-linux/ {print $1}' "$PB_WORK/ldd.txt")"
if [ -n "$ld" ]; then
  owner="$(dpkg -S "$(readlink -f "$ld")" 2>/dev/null || dpkg -S "$ld" 2>/dev/null || true)"
  pkg="${owner%%:*}"
  grep -qx "${pkg:-?}" "$PB_WORK/runtime-packages.txt" || pb_fail "the dynamic loader $ld (package ${pkg:-?}) is not a runtime package"
  pb_log "ok: the dynamic loader comes from $pkg"
fi

# ---------------------------------------------------------------------------------------------
# An image build, where it can happen without the internet.

engine=""
for e in podman docker; do
  command -v "$e" >/dev/null || continue
  timeout 20 "$e" info >/dev/null 2>&1 || { pb_log "$e is installed but does not run here"; continue; }
  if timeout 20 "$e" image inspect docker.io/library/debian:12 >/dev/null 2>&1 \
     && timeout 20 "$e" image inspect docker.io/library/debian:12-slim >/dev/null 2>&1; then
    engine="$e"
    break
  fi
  pb_log "$e runs, but debian:12 and debian:12-slim are not both present locally (no pulls here)"
done
if [ -z "$engine" ]; then
  pb_log "no container engine with debian:12 images here: the static checks above were the test"
  exit 0
fi
tag="localhost/postbridge-test:$$"
pb_log "building the image with $engine (offline)"
timeout 1800 "$engine" build --pull=never -f "$cf" -t "$tag" "$root" > "$PB_WORK/image-build.log" 2>&1 \
  || pb_fail "$engine build failed (see $PB_WORK/image-build.log): $(tail -n 5 "$PB_WORK/image-build.log")"
pb_at_image_exit() { "$engine" image rm -f "$tag" >/dev/null 2>&1 || true; }
rc=0
out="$(timeout 60 "$engine" run --rm "$tag" --version 2>&1)" || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "$("$POSTBRIDGE" --version)" ] \
  || { pb_at_image_exit; pb_fail "postbridge --version in the image: rc $rc, '$out'"; }
pb_log "ok: the image runs $out"
rc=0
timeout 60 "$engine" run --rm "$tag" check -c /etc/postbridge/postbridge.toml > "$PB_WORK/image-check.log" 2>&1 || rc=$?
pb_at_image_exit
[ "$rc" -eq 0 ] || pb_fail "postbridge check of the image's own config failed as its user: $(tail -n 5 "$PB_WORK/image-check.log")"
pb_assert_grep "the image's config keeps the state in the volume" '^state_dir = "/var/lib/postbridge"$' "$PB_WORK/image-check.log"
