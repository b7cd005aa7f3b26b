#!/usr/bin/env bash
# packaging/install-deps.sh — installs the Debian 12 packages postbridge needs to build (and test).
# Promises: idempotent; touches apt only when a package is missing; never prompts; fails loudly.
#
# Usage: packaging/install-deps.sh [--check] [build|test|all]     (default: build)
#   --check  install nothing: exit 0 if every package is there, 1 (listing what is missing) if not
#   build  compiler, CMake/Ninja and the libraries (what packaging/quickstart.sh needs)
#   test   build + the real servers and tools the integration tests and the benchmark start
#   all    the same as test
# Run as root (sudo). Postfix is preseeded to "No configuration": the tests only start private
# instances of its smtp-sink, and the system's mail setup is never changed.
set -euo pipefail

BUILD_PKGS=(
  cmake ninja-build g++ ccache pkg-config
  libboost1.81-dev libssl-dev libsqlitecpp-dev libsqlite3-dev libtomlplusplus-dev catch2
  libidn2-dev
  dpkg-dev                                                       # dpkg-shlibdeps: the .deb's Depends (CPack)
)
TEST_PKGS=(
  dovecot-core dovecot-pop3d dovecot-imapd dovecot-lmtpd dovecot-submissiond   # provider POP3/IMAP, office LMTP
  postfix libsasl2-modules                                       # smtp-sink (the office SMTP server)
  swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl   # swaks, with its TLS + AUTH
  libidn12 libmariadb3 libspf2-2                                 # what the Exim smarthost links (tests/integration/lib_exim.sh
                                                                 # unpacks Exim itself: it conflicts with Postfix)
  fetchmail                                                      # the benchmark's reference
  openssl ca-certificates python3 sqlite3 curl                   # certs, fake servers, state inspection, browser logins
  time procps iproute2                                           # /usr/bin/time -v, ps, ss
  chromium                                                       # the status page's end-to-end test
  clang libclang-rt-14-dev llvm                                  # libFuzzer + sanitizers, symbolizer (tests/fuzz)
  groff-base                                                     # the manual pages render cleanly (tests/docs)
  systemd                                                        # systemd-analyze verify of the packaged unit (tests/packaging); not started
)

check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
what="${1:-build}"
case "$what" in
  build) pkgs=("${BUILD_PKGS[@]}") ;;
  test|all) pkgs=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

say() { printf '[install-deps] %s\n' "$*" >&2; }

command -v dpkg-query >/dev/null && command -v apt-get >/dev/null \
  || { say "this script needs Debian 12 (apt-get, dpkg-query); install the packages above by hand"; exit 1; }

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "all ${#pkgs[@]} packages ($what) are installed"
  exit 0
fi

if [ "$check_only" -eq 1 ]; then
  say "missing packages ($what): ${missing[*]}"
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  say "missing packages: ${missing[*]}"
  say "run this as root: sudo $0 $what"
  exit 1
fi

say "installing: ${missing[*]}"
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
  # Without this the postfix package asks what kind of mail server this is.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

# Verify: a package that apt "installed" but whose tool is absent would fail much later, obscurely.
still=()
for p in "${missing[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || still+=("$p")
done
[ ${#still[@]} -eq 0 ] || { say "still missing after apt-get: ${still[*]}"; exit 1; }
say "done"
