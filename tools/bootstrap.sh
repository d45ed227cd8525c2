#!/usr/bin/env bash
# Idempotent set-up shared by ./sfpemu and tests/run: Debian packages, the pinned
# Deno (from npm, into node_modules/) and the FFI library (built with cc).
# Quiet when there is nothing to do, so the launcher stays fast.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

apt_install() {
  # Only root can install; anyone else gets a clear message instead.
  if [ "$(id -u)" -ne 0 ]; then
    echo "sfpemu: missing Debian packages: $* (run as root or: sudo apt-get install $*)" >&2
    exit 1
  fi
  echo "sfpemu: installing Debian packages: $*" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
  fi
}

need=()
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

# Install when node_modules does not match the lock file (fresh clone or a pin change).
if ! cat package.json package-lock.json | cmp -s - node_modules/.sfpemu-lock 2>/dev/null || [ ! -x node_modules/.bin/deno ]; then
  echo "sfpemu: installing the pinned Deno and npm dependencies" >&2
  # npm install, not npm ci: npm 11 leaves other platforms' optional deno binaries out of
  # the lock file, and npm ci then refuses it. With the exact pins the result is the same.
  npm install --no-audit --no-fund --loglevel=error >&2
  cat package.json package-lock.json > node_modules/.sfpemu-lock
fi

# The FFI library: rebuilt when its source is newer than the build.
lib=build/libsfpemu.so
if [ ! -f "$lib" ] || [ ffi/sfpemu.c -nt "$lib" ] || [ ffi/sfpemu.h -nt "$lib" ]; then
  mkdir -p build
  cc -O2 -g -Wall -Wextra -Werror -std=gnu11 -fPIC -shared -o "$lib.tmp" ffi/sfpemu.c
  mv "$lib.tmp" "$lib"
fi
