#!/usr/bin/env bash
# packaging/quickstart.sh — the README's first command: build deps, a release build, then postbridge.
# Promises: works from a fresh clone with no input; ends by exec'ing `postbridge run` in the foreground.
#
# Usage: packaging/quickstart.sh [CONFIG]      (default: config/postbridge.toml, commented throughout)
# What it does:
#   1. installs the Debian 12 build packages if any is missing (as root, or through sudo),
#   2. configures and builds the "release" CMake preset (build/release/postbridge),
#   3. checks the config (`postbridge check`), then runs `postbridge run -c CONFIG` in the
#      foreground: logs go to the terminal, Ctrl-C stops it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
config="${1:-config/postbridge.toml}"
say() { printf '[quickstart] %s\n' "$*" >&2; }

if ! bash packaging/install-deps.sh --check build 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    bash packaging/install-deps.sh build
  elif command -v sudo >/dev/null; then
    say "installing build packages with sudo"
    sudo bash packaging/install-deps.sh build
  else
    bash packaging/install-deps.sh --check build || true
    say "some build packages are missing: run as root: packaging/install-deps.sh build"
    exit 1
  fi
fi

say "building (release preset) — the first build takes a few minutes"
cmake --preset release >/dev/null
cmake --build --preset release --target postbridge

bin="$root/build/release/postbridge"
say "checking $config"
"$bin" check -c "$config" >/dev/null || { say "fix the problems above in $config, then run me again"; exit 2; }
say "starting: $bin run -c $config   (Ctrl-C stops it)"
exec "$bin" run -c "$config"
