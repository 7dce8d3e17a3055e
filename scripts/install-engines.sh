#!/usr/bin/env bash
# Installs the engines under test that the machine does not have.
#   js        deno and bun, pinned in engines/package.json + package-lock.json,
#             from the npm registry (their packages ship the Linux binaries);
#             node is the machine's own `node`.
#   browsers  Debian's chromium, firefox-esr and WebKitGTK (libwebkit2gtk-4.1-0,
#             whose MiniBrowser runs on an Xvfb display of its own), with apt
#             (needs root or sudo).
#   all       both (the default).
# Idempotent: does nothing for what is already installed.
# Serialized: each run holds an exclusive lock on engines/.install.lock
# (flock) from start to end, so runs started at the same time (parallel
# tests, test binaries run side by side) wait for each other, and the
# later ones find everything installed. apt also waits (up to 10 minutes)
# for any other apt or dpkg on the machine instead of failing on its lock.
set -euo pipefail
what=${1:-all}
case "$what" in js|browsers|all) ;; *) echo "usage: $0 [js|browsers|all]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../engines"

# Held until this shell exits (fd 9 is closed then). Waits up to 30
# minutes: a first install of everything takes a few.
exec 9>>.install.lock
if ! flock --nonblock 9; then
  echo "install-engines: waiting for another install to finish (engines/.install.lock)" >&2
  flock --timeout 1800 9 || { echo "install-engines: still locked after 30 minutes: engines/.install.lock" >&2; exit 1; }
fi

# How long apt waits for the dpkg lock another apt or dpkg holds.
apt_lock_wait=600

minibrowser() {
  local path
  for path in /usr/lib/*-linux-gnu/webkit2gtk-4.1/MiniBrowser; do
    [ -x "$path" ] && { echo "$path"; return 0; }
  done
  return 1
}

install_browsers() {
  if command -v chromium >/dev/null && command -v firefox-esr >/dev/null \
    && minibrowser >/dev/null && command -v Xvfb >/dev/null; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-engines: installing browsers needs root or sudo" >&2; return 1; }
    sudo="sudo"
  fi
  update_package_lists $sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=$apt_lock_wait \
    install -y -qq --no-install-recommends chromium firefox-esr libwebkit2gtk-4.1-0 xvfb >/dev/null
}

# `apt-get update`. DPkg::Lock::Timeout covers the dpkg lock but not the
# package lists' lock (apt 2.6 fails on that one at once), so an update
# that failed only on a lock is retried, for up to $apt_lock_wait seconds.
update_package_lists() {
  local waited=0 errors
  until errors=$("$@" apt-get -o DPkg::Lock::Timeout=$apt_lock_wait update -qq 2>&1 >/dev/null); do
    if ! grep -q "Could not get lock" <<<"$errors" || [ "$waited" -ge "$apt_lock_wait" ]; then
      echo "$errors" >&2
      return 1
    fi
    sleep 5
    waited=$((waited + 5))
  done
  [ -z "$errors" ] || echo "$errors" >&2
}

if [ "$what" != js ]; then
  install_browsers
  echo "$(chromium --version), $(firefox-esr --version), WebKitGTK $(dpkg-query -W -f '${Version}' libwebkit2gtk-4.1-0)"
  [ "$what" = browsers ] && exit 0
fi

want() { node -p "require('./package.json').dependencies['$1']"; }
have() { [ -x "bin/$1" ] && "bin/$1" --version 2>/dev/null | grep -q "$(want "$1")"; }

# Links the first candidate that runs to bin/NAME. npm may or may not run
# the packages' postinstall scripts (npm 11 asks for approval), so both the
# platform package's binary and the wrapper package's copy are tried.
link() {
  local name=$1; shift
  for candidate in "$@"; do
    if [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
      ln -sf "$(realpath "$candidate")" "bin/$name"
      return 0
    fi
  done
  echo "install-engines: no working $name binary among: $*" >&2
  return 1
}

if ! have deno || ! have bun; then
  # Not `npm ci`: the registry here has no deno packages for other
  # platforms, so the lockfile cannot list them and `npm ci` refuses it.
  # `npm install` follows the lockfile for everything it does list.
  # --no-save: the committed lockfile stays as it is.
  npm install --no-save --no-audit --no-fund --loglevel=error
  mkdir -p bin
  link deno node_modules/@deno/linux-x64-glibc/deno node_modules/deno/deno
  link bun node_modules/@oven/bun-linux-x64/bin/bun node_modules/bun/bin/bun.exe
fi
echo "node $(node --version), deno $(bin/deno --version | head -1 | cut -d' ' -f2), bun $(bin/bun --version)"
