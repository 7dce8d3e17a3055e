#!/usr/bin/env bash
# Installs the JS engines under test that the machine does not have: deno
# and bun, pinned in engines/package.json + package-lock.json, from the npm
# registry (their packages ship the Linux binaries). Idempotent: does
# nothing when the pinned versions are already in engines/bin/.
# node is the machine's own `node`.
set -euo pipefail
cd "$(dirname "$0")/../engines"

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
