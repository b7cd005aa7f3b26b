#!/usr/bin/env bash
# tests/packaging/test_deb.sh — the .deb of the binary under test is built, inspected, installed
# with dpkg -i, reinstalled over an edited config and purged, on this machine (as root).
# Promises: fails — never skips — with the reason; leaves nothing installed, even when it fails
# (the EXIT trap purges what it installed); refuses to start, touching nothing, when a postbridge
# it did not install is on the machine (a package, a hand install, a config or a state folder).
#
# Checks, in order:
#   1. the package: CPack with the build folder's CPackConfig.cmake (what the `package` target
#      runs, without rebuilding the tree: the package holds exactly $POSTBRIDGE, and the test
#      needs no build of the other targets); its name postbridge_<version>_<arch>.deb; control
#      fields (section mail, maintainer, Depends naming the package of every library `ldd`
#      lists); exactly five files with their modes; the unit and config differ from the sources
#      only in ExecStart=/usr/bin/postbridge and state_dir = "/var/lib/postbridge"; the man pages
#      are the sources gzip'ed; conffiles names the config; maintainer scripts executable.
#   2. dpkg -i: quiet; user and group postbridge (system, no login, home /var/lib/postbridge);
#      config 0640 root:postbridge, state folder 0750 postbridge:postbridge; `dpkg --verify`;
#      `postbridge check` passes as root and as postbridge and fails as nobody; `postbridge queue`
#      as postbridge creates its database (the state folder is writable for the service);
#      `systemd-analyze verify` of the installed unit (with its man page). With systemd running
#      the unit is enabled and active; without (CI), no enablement was made.
#   3. dpkg -i again over an edited config: the edit, the owner and the mode are kept, no
#      .dpkg-dist, one user.
#   4. dpkg --purge with a message in spool/: the state folder is kept (and said so), the rest
#      is gone; install again (same uid), purge without mail: everything is gone but the user
#      postbridge (Debian policy 9.2.2 keeps system users; packaging/debian/postrm says why).
# Not pb_init: this test starts no server, so it does not need Dovecot's users or a 127.0.N.1
# address; it reuses the harness's pb_fail/pb_log/pb_assert_* with its own EXIT trap. Every
# command that could hang runs under `timeout`; the whole test takes seconds.
# Env: POSTBRIDGE=path of the built binary (ctest sets it; the build folder is its folder),
#      PB_TEST_OUT=where the work folder goes (default /tmp/pb-test-out).
. "$(dirname "$0")/../integration/lib.sh"
set -euo pipefail

PB_NAME=test_deb
PB_WORK="${PB_TEST_OUT:-/tmp/pb-test-out}/$PB_NAME"
root="$(cd "$(dirname "$0")/../.." && pwd)"
marker="$PB_WORK/INSTALLED-BY-TEST"   # exists while the package on this machine is ours
config=/etc/postbridge/postbridge.toml
state=/var/lib/postbridge
unit=/usr/lib/systemd/system/postbridge.service
wants=/etc/systemd/system/multi-user.target.wants/postbridge.service
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------------------------------------
# Harness: failure reporting like pb_init's, and the purge of what this test installed.

deb_on_exit() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP ERR
  if [ -f "$marker" ]; then
    pb_log "cleanup: dpkg --purge postbridge (installed by this test)"
    timeout 120 dpkg --purge postbridge </dev/null >>"$PB_WORK/cleanup.log" 2>&1
    # The state folder and /etc/postbridge did not exist before this test (checked): whatever
    # the purge policy kept of them is the test's own.
    rm -rf "$state" /etc/postbridge
    rm -f "$marker"
  fi
  if [ "$rc" -ne 0 ]; then
    printf '\n[%s] ===== FAILED (rc=%s); logs under %s =====\n' "$PB_NAME" "$rc" "$PB_WORK" >&2
    for f in "$PB_WORK"/*.log; do
      [ -s "$f" ] || continue
      printf '\n----- tail of %s -----\n' "$f" >&2
      tail -n 30 "$f" >&2
    done
    printf '%s\n' "${PB_FAILURE:-exit code $rc}" > "$PB_WORK/FAILED.txt" 2>/dev/null
    printf '\n[%s] FAIL (said again after the logs): %s\n' "$PB_NAME" "${PB_FAILURE:-exit code $rc}" >&2
  else
    # Passed: the .deb and the logs stay; CPack's staging copy and the unpacked package go.
    rm -rf "$PB_WORK/x" "$PB_WORK/pkg/_CPack_Packages"
    printf '[%s] PASS\n' "$PB_NAME" >&2
  fi
  exit "$rc"
}

# dpkg_run LOG ARGS...: dpkg ARGS with its output in LOG; waits (up to 2 min) for the dpkg lock
# when another dpkg or apt holds it, instead of failing on someone else's timing.
dpkg_run() {
  local log="$1" rc deadline=$(( SECONDS + 120 )); shift
  while :; do
    rc=0
    timeout 300 dpkg "$@" </dev/null >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] && grep -qi 'lock' "$log" && (( SECONDS < deadline )); then
      sleep 1
      continue
    fi
    return "$rc"
  done
}

# pkg_status: dpkg's status of postbridge ("install ok installed" ...), empty when not there.
pkg_status() {
  local s
  s="$(dpkg-query -W -f='${Status}' postbridge 2>/dev/null || true)"
  [[ "$s" == *not-installed ]] || printf '%s' "$s"
}
mode_owner() { stat -c '%a %U:%G' "$1"; }
as_postbridge() { setpriv --reuid=postbridge --regid=postbridge --init-groups "$@"; }
systemd_runs() { [ -d /run/systemd/system ]; }

: "${POSTBRIDGE:?set POSTBRIDGE to the built postbridge binary (ctest does)}"
[ -x "$POSTBRIDGE" ] || { echo "FAIL: POSTBRIDGE=$POSTBRIDGE is not an executable" >&2; exit 1; }
build="$(cd "$(dirname "$POSTBRIDGE")" && pwd)"
mkdir -p "$PB_WORK"
set -E
trap deb_on_exit EXIT
trap 'pb_fail "interrupted"' INT TERM HUP
trap 'PB_FAILURE="$(printf "command failed (rc=%s) at %s:%s: %s" "$?" "${BASH_SOURCE[0]##*/}" \
      "$LINENO" "$BASH_COMMAND")"; printf "\n[%s] error: %s\n" "$PB_NAME" "$PB_FAILURE" >&2' ERR

[ "$(id -u)" -eq 0 ] || pb_fail "test_deb installs a package: run it as root (sudo tests/run.sh)"
for tool in dpkg dpkg-deb dpkg-query cpack ldd readelf setpriv timeout zcat; do
  command -v "$tool" >/dev/null || pb_fail "required tool $tool is missing (Debian 12: dpkg, cmake, libc-bin, binutils, util-linux, coreutils, gzip)"
done
[ -f "$build/CPackConfig.cmake" ] || pb_fail "$build/CPackConfig.cmake missing: configure $build with this CMakeLists.txt (include(CPack))"

# A package left by a run of this test that was killed before its trap ran: ours to purge.
if [ -f "$marker" ] && [ -n "$(pkg_status)" ]; then
  pb_log "purging the package a killed earlier run of this test left installed"
  dpkg_run "$PB_WORK/leftover.log" --purge postbridge || pb_fail "dpkg --purge of the leftover failed (see leftover.log)"
  rm -rf "$state" /etc/postbridge
fi
rm -rf "$PB_WORK"
mkdir -p "$PB_WORK"

# ---------------------------------------------------------------------------------------------
# 1. The package

version="$("$POSTBRIDGE" --version | awk '{print $2}')"
arch="$(dpkg --print-architecture)"
pb_log "cpack in $build (postbridge $version, $arch)"
timeout 600 cpack --config "$build/CPackConfig.cmake" -B "$PB_WORK/pkg" >"$PB_WORK/cpack.log" 2>&1 \
  || pb_fail "cpack failed (see cpack.log)"
deb="$PB_WORK/pkg/postbridge_${version}_${arch}.deb"
[ -f "$deb" ] || pb_fail "no $deb; cpack made: $(find "$PB_WORK/pkg" -maxdepth 1 -name '*.deb' -printf '%f ')"
pb_log "ok: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

pb_assert_eq "Package" postbridge "$(dpkg-deb -f "$deb" Package)"
pb_assert_eq "Version" "$version" "$(dpkg-deb -f "$deb" Version)"
pb_assert_eq "Architecture" "$arch" "$(dpkg-deb -f "$deb" Architecture)"
pb_assert_eq "Section" mail "$(dpkg-deb -f "$deb" Section)"
maintainer="$(dpkg-deb -f "$deb" Maintainer)"
[[ "$maintainer" =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] || pb_fail "Maintainer is not 'Name <address>': '$maintainer'"
pb_log "ok: Maintainer ($maintainer)"
dpkg-deb -f "$deb" Description | tail -n +2 | grep -q . || pb_fail "Description has no extended text"

# Depends: adduser (postinst) and, for every library the binary links directly (its NEEDED
# entries, found where ldd finds them), the package that has it; libraries those pull in
# (libunistring for libidn2) are their packages' dependencies, not ours.
depends="$(dpkg-deb -f "$deb" Depends)"
pb_log "Depends: $depends"
dep_names=" $(printf '%s' "$depends" | tr ',|' '\n' | awk '{print $1}' | tr '\n' ' ') "
[[ "$dep_names" == *" adduser "* ]] || pb_fail "Depends lacks adduser (postinst calls it): $depends"
ldd "$POSTBRIDGE" > "$PB_WORK/ldd.txt"
readelf -d "$POSTBRIDGE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' > "$PB_WORK/needed.txt"
[ -s "$PB_WORK/needed.txt" ] || pb_fail "readelf -d $POSTBRIDGE lists no NEEDED library"
while read -r soname; do
  lib="$(awk -v n="$soname" '$1 == n && $2 == "=>" {print $3}' "$PB_WORK/ldd.txt")"
  [ -n "$lib" ] || pb_fail "ldd does not resolve $soname, which $POSTBRIDGE needs"
  owner="$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)"
  pkg="${owner%%:*}"
  [ -n "$pkg" ] || pb_fail "the binary needs $lib, which no Debian package provides: the .deb cannot depend on it"
  [[ "$dep_names" == *" $pkg "* ]] \
    || pb_fail "the binary needs $lib (package $pkg) but Depends does not name $pkg: $depends (dpkg-shlibdeps comes with dpkg-dev)"
done < "$PB_WORK/needed.txt"
pb_log "ok: Depends names the package of each of the $(wc -l < "$PB_WORK/needed.txt") libraries the binary links ($(tr '\n' ' ' < "$PB_WORK/needed.txt"))"

# Exactly these files (directories aside), with these modes, all root's.
dpkg-deb -c "$deb" > "$PB_WORK/contents.txt"
awk '$1 !~ /^d/ {print $1, $2, $6}' "$PB_WORK/contents.txt" > "$PB_WORK/files.txt"
cat > "$PB_WORK/files.expected" <<'EOF'
-rw-r----- root/root ./etc/postbridge/postbridge.toml
-rwxr-xr-x root/root ./usr/bin/postbridge
-rw-r--r-- root/root ./usr/lib/systemd/system/postbridge.service
-rw-r--r-- root/root ./usr/share/man/man5/postbridge.toml.5.gz
-rw-r--r-- root/root ./usr/share/man/man8/postbridge.8.gz
EOF
pb_assert_same_set "package files, modes and owners (dpkg-deb -c)" "$PB_WORK/files.expected" "$PB_WORK/files.txt"

dpkg-deb -x "$deb" "$PB_WORK/x"
dpkg-deb -e "$deb" "$PB_WORK/ctrl"
x="$PB_WORK/x"
pb_assert_eq "the packaged binary runs" "postbridge $version" "$("$x/usr/bin/postbridge" --version)"
sed 's|^ExecStart=/usr/local/bin/postbridge |ExecStart=/usr/bin/postbridge |' "$root/packaging/postbridge.service" \
  > "$PB_WORK/unit.expected"
cmp -s "$PB_WORK/unit.expected" "$x$unit" \
  || pb_fail "the packaged unit is not packaging/postbridge.service with ExecStart=/usr/bin/postbridge:
$(diff "$PB_WORK/unit.expected" "$x$unit" | head -n 20)"
pb_assert_grep "packaged unit runs the packaged binary" '^ExecStart=/usr/bin/postbridge run -c /etc/postbridge/postbridge.toml$' "$x$unit"
sed 's|^state_dir = "var"$|state_dir = "/var/lib/postbridge"|' "$root/config/postbridge.toml" > "$PB_WORK/config.expected"
cmp -s "$PB_WORK/config.expected" "$x$config" \
  || pb_fail "the packaged config is not config/postbridge.toml with state_dir = \"/var/lib/postbridge\":
$(diff "$PB_WORK/config.expected" "$x$config" | head -n 20)"
pb_assert_grep "packaged config keeps the state in the unit's StateDirectory" '^state_dir = "/var/lib/postbridge"$' "$x$config"
for page in 8/postbridge.8 5/postbridge.toml.5; do
  zcat "$x/usr/share/man/man$page.gz" | cmp -s - "$root/packaging/${page#*/}" \
    || pb_fail "usr/share/man/man$page.gz is not packaging/${page#*/} gzip'ed"
done
pb_log "ok: man pages are the sources, gzip'ed"
pb_assert_eq "conffiles" "$config" "$(cat "$PB_WORK/ctrl/conffiles")"
for script in postinst prerm postrm; do
  [ -x "$PB_WORK/ctrl/$script" ] || pb_fail "control member $script is missing or not executable"
  cmp -s "$PB_WORK/ctrl/$script" "$root/packaging/debian/$script" || pb_fail "control member $script is not packaging/debian/$script"
done
pb_log "ok: postinst, prerm, postrm from packaging/debian/, executable"

# ---------------------------------------------------------------------------------------------
# Someone else's postbridge on this machine: stop before touching anything.

[ -z "$(pkg_status)" ] || pb_fail "a postbridge package is already on this machine ($(pkg_status)), not installed by this test: not touching it (remove it, or run the test elsewhere)"
for f in $(awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' "$PB_WORK/contents.txt") \
         /usr/local/bin/postbridge /etc/postbridge "$state" /etc/systemd/system/postbridge.service \
         /lib/systemd/system/postbridge.service "$wants"; do
  if [ -e "$f" ] || [ -L "$f" ]; then
    pb_fail "$f exists and is no package's: a postbridge installed by hand (or its config/state) is on this machine; test_deb would overwrite or purge it — move it away first"
  fi
done
pb_log "ok: no other postbridge on this machine"

# ---------------------------------------------------------------------------------------------
# 2. Install

: > "$marker"
dpkg_run "$PB_WORK/install.log" -i "$deb" || pb_fail "dpkg -i failed"
pb_assert_eq "package state after dpkg -i" "install ok installed" "$(pkg_status)"
pb_assert_no_grep "dpkg -i says nothing but dpkg's own lines" 'warn|error|fail|postbridge:|adduser' "$PB_WORK/install.log"

getent passwd postbridge > "$PB_WORK/passwd.txt" || pb_fail "postinst made no user postbridge"
IFS=: read -r _ _ uid gid _ home shell < "$PB_WORK/passwd.txt"
pb_assert_le "postbridge is a system user (uid)" 999 "$uid"
pb_assert_eq "postbridge's home" "$state" "$home"
pb_assert_eq "postbridge's shell" /usr/sbin/nologin "$shell"
pb_assert_eq "postbridge's primary group" postbridge "$(getent group "$gid" | cut -d: -f1)"
pb_assert_eq "config mode and owner" "640 root:postbridge" "$(mode_owner "$config")"
pb_assert_eq "state folder mode and owner" "750 postbridge:postbridge" "$(mode_owner "$state")"
pb_assert_eq "binary" "755 root:root" "$(mode_owner /usr/bin/postbridge)"
dpkg --verify postbridge > "$PB_WORK/verify.log" 2>&1 || pb_fail "dpkg --verify postbridge: $(cat "$PB_WORK/verify.log")"
pb_log "ok: dpkg --verify (every file as packaged)"
if grep -rqs '^path-exclude=/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
  pb_log "man pages excluded by this machine's dpkg config (/etc/dpkg/dpkg.cfg.d): not checked on disk"
else
  for page in /usr/share/man/man8/postbridge.8.gz /usr/share/man/man5/postbridge.toml.5.gz; do
    [ -f "$page" ] || pb_fail "$page not installed"
  done
  pb_log "ok: man pages installed"
fi

/usr/bin/postbridge check -c "$config" > "$PB_WORK/check-root.log" 2>&1 \
  || pb_fail "postbridge check -c $config failed as root: $(tail -n 5 "$PB_WORK/check-root.log")"
pb_assert_grep "check resolves the packaged state folder" '^state_dir = "/var/lib/postbridge"$' "$PB_WORK/check-root.log"
as_postbridge /usr/bin/postbridge check -c "$config" > "$PB_WORK/check-postbridge.log" 2>&1 \
  || pb_fail "postbridge check failed as user postbridge (the service's user cannot read its config): $(tail -n 5 "$PB_WORK/check-postbridge.log")"
pb_log "ok: postbridge check passes as user postbridge"
rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/postbridge check -c "$config" \
  > "$PB_WORK/check-nobody.log" 2>&1 || rc=$?
pb_assert_eq "postbridge check as nobody (the config is not world-readable)" 2 "$rc"
pb_assert_grep "nobody is refused for the permission" 'permission denied' "$PB_WORK/check-nobody.log"
as_postbridge /usr/bin/postbridge queue -c "$config" > "$PB_WORK/queue.log" 2>&1 \
  || pb_fail "postbridge queue as user postbridge failed (state folder not usable): $(tail -n 5 "$PB_WORK/queue.log")"
[ -f "$state/postbridge.db" ] || pb_fail "postbridge queue as postbridge made no $state/postbridge.db"
pb_log "ok: user postbridge opens its database in $state"

command -v systemd-analyze >/dev/null ||
  pb_fail "systemd-analyze is missing: packaging/install-deps.sh installs the systemd package for it"
man_opt=()
command -v man >/dev/null || man_opt=(--man=no)
timeout 60 systemd-analyze verify "${man_opt[@]}" "$unit" > "$PB_WORK/verify-unit.log" 2>&1 \
  || pb_fail "systemd-analyze verify $unit: $(cat "$PB_WORK/verify-unit.log")"
pb_assert_no_grep "systemd-analyze verify has no complaints" '.' "$PB_WORK/verify-unit.log"

if systemd_runs; then
  systemctl --quiet is-enabled postbridge.service || pb_fail "systemd runs, but postinst did not enable postbridge.service"
  systemctl --quiet is-active postbridge.service \
    || pb_fail "systemd runs, but postbridge.service is not active: $(systemctl status postbridge.service 2>&1 | tail -n 15)"
  pb_log "ok: systemd runs: postbridge.service enabled and active"
else
  if [ -e "$wants" ] || [ -L "$wants" ]; then pb_fail "systemd does not run, yet postinst enabled the unit ($wants)"; fi
  pb_log "ok: no systemd here: postinst left the unit alone"
fi

# ---------------------------------------------------------------------------------------------
# 3. Reinstall over an edited config

edit="# edited by test_deb $$: kept across upgrades"
printf '%s\n' "$edit" >> "$config"
dpkg_run "$PB_WORK/reinstall.log" -i "$deb" || pb_fail "dpkg -i (again, over an edited config) failed"
pb_assert_eq "package state after the reinstall" "install ok installed" "$(pkg_status)"
pb_assert_grep "the edited config is kept" "^$edit\$" "$config"
pb_assert_eq "config mode and owner after the reinstall" "640 root:postbridge" "$(mode_owner "$config")"
pb_assert_eq "files beside the config (no .dpkg-dist/.dpkg-new)" "postbridge.toml" "$(find /etc/postbridge -mindepth 1 -printf '%f ' | sed 's/ $//')"
pb_assert_eq "one user postbridge after the reinstall" 1 "$(getent passwd | grep -c '^postbridge:')"
pb_assert_eq "same uid after the reinstall" "$uid" "$(id -u postbridge)"
pb_assert_no_grep "the reinstall asked nothing and warned of nothing" 'warn|error|fail|postbridge:|adduser|\?' "$PB_WORK/reinstall.log"

# ---------------------------------------------------------------------------------------------
# 4. Purge: undelivered mail keeps the state folder; without it everything goes

as_postbridge sh -c "echo 'Subject: not yet delivered' > $state/spool/test_deb.msg"
dpkg_run "$PB_WORK/purge1.log" --purge postbridge || pb_fail "dpkg --purge (with mail in the spool) failed"
pb_assert_eq "package state after the purge" "" "$(pkg_status)"
pb_assert_grep "the purge says why it kept the state folder" "kept $state: it holds 1 message" "$PB_WORK/purge1.log"
[ -f "$state/spool/test_deb.msg" ] || pb_fail "the purge deleted a state folder with undelivered mail"
pb_log "ok: the state folder with its undelivered message is kept"
for f in /usr/bin/postbridge "$unit" "$config" /etc/postbridge; do
  [ ! -e "$f" ] || pb_fail "$f is still there after dpkg --purge"
done
pb_log "ok: binary, unit and config are gone"
rm -rf "$state"

dpkg_run "$PB_WORK/install2.log" -i "$deb" || pb_fail "dpkg -i after a purge failed"
pb_assert_eq "same uid when installed again" "$uid" "$(id -u postbridge)"
pb_assert_eq "config mode and owner, installed again" "640 root:postbridge" "$(mode_owner "$config")"
pb_assert_eq "state folder, installed again" "750 postbridge:postbridge" "$(mode_owner "$state")"
as_postbridge /usr/bin/postbridge queue -c "$config" > "$PB_WORK/queue2.log" 2>&1 \
  || pb_fail "postbridge queue as user postbridge failed after the second install"

dpkg_run "$PB_WORK/purge2.log" --purge postbridge || pb_fail "dpkg --purge failed"
pb_assert_eq "package state after the last purge" "" "$(pkg_status)"
pb_assert_no_grep "the purge without mail keeps nothing" 'kept' "$PB_WORK/purge2.log"
for f in /usr/bin/postbridge "$unit" "$config" /etc/postbridge "$state" "$wants" \
         /usr/share/man/man8/postbridge.8.gz /usr/share/man/man5/postbridge.toml.5.gz; do
  if [ -e "$f" ] || [ -L "$f" ]; then pb_fail "$f is still there after dpkg --purge"; fi
done
pb_log "ok: binary, unit, man pages, config, state folder and enablement are gone"
if systemd_runs; then
  ! systemctl --quiet is-active postbridge.service || pb_fail "postbridge.service still runs after the purge"
fi
getent passwd postbridge >/dev/null || pb_fail "the purge removed the system user postbridge (Debian keeps it: policy 9.2.2)"
pb_log "ok: the user postbridge stays (Debian policy 9.2.2)"
rm -f "$marker"
