#!/usr/bin/env bash
# install-deps.sh — installs every Debian package backless needs to build and
# test, on a fresh Debian 12 (bookworm) machine.
#
# Idempotent: packages already installed are not touched, and when nothing is
# missing apt is not run at all (so the script also works offline on a
# machine that is already set up). Run as root, or as a user with sudo.
#
#   bash scripts/install-deps.sh          install what is missing
#   BL_DEPS_DRY_RUN=1 bash scripts/...    only print what would be installed
set -euo pipefail

# Why each package is here:
#   build-essential cmake pkg-config   the toolchain (gcc, make, CMake >= 3.25)
#   clang-14 clang libclang-rt-14-dev  libFuzzer targets and sanitizer runtimes
#   libsqlite3-dev                     SQLite >= 3.40, the database we extend
#   sqlite3                            the shell; tests .load the extension
#   python3                            Debian's python3 (its sqlite3 module can
#                                      load extensions); test helpers
#   valgrind                           memcheck runs in CI
#   git ca-certificates                fetching sources and npm packages
#   libcurl4-openssl-dev               HTTP for the cloud backends (src/net/)
#   libjansson-dev                     the CLI's JSON output (exec --json, sync --json, status)
#   libsodium-dev                      base64, randomness, SHA-256, encryption
#   libzstd-dev                        compression of cloud files (src/format/envelope.c)
#   libxml2-dev                        WebDAV PROPFIND responses
#   rclone                             a real WebDAV server for the tests
#                                      (rclone serve webdav on 127.0.0.1)
#   libyajl-dev                        streaming JSON: changesets read in bounded memory
#   nodejs npm                         differential tests against cr-sqlite 0.16
#                                      (from npm); only when node/npm are missing,
#                                      so a newer Node from elsewhere is kept
packages=(
  build-essential cmake pkg-config
  clang-14 clang libclang-rt-14-dev
  libsqlite3-dev sqlite3
  python3
  valgrind
  git ca-certificates
  libcurl4-openssl-dev libjansson-dev libsodium-dev libzstd-dev libxml2-dev
  libyajl-dev
  rclone
)
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then missing+=("$p"); fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ -n "${BL_DEPS_DRY_RUN:-}" ]]; then exit 0; fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: not root and no sudo; install these packages: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
