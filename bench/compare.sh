#!/usr/bin/env bash
# Runs one benchmark on HEAD and on HEAD plus a patch (e.g. bench/experiments/*.patch), in two
# scratch copies outside the work tree, alternately, so a proposed change to src/ is measured
# without touching anyone's files. Both copies share node_modules; each builds its own FFI library.
#
#   bench/compare.sh PATCH [--times N] -- bench/throughput.ts --batches 32,128
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
usage="usage: bench/compare.sh PATCH [--times N] -- BENCH.ts [ARGS...]"
[ $# -ge 3 ] || { echo "$usage" >&2; exit 2; }
patch=$(readlink -f "$1")
shift
times=2
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    --times) times=$2; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[ "${1:-}" = "--" ] || { echo "$usage" >&2; exit 2; }
shift
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }

cd "$root"
./tools/bootstrap.sh
scratch=$(mktemp -d /tmp/sfpemu-compare.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for copy in head patched; do
  mkdir -p "$scratch/$copy/build"
  git archive HEAD | tar -x -C "$scratch/$copy"
  ln -s "$root/node_modules" "$scratch/$copy/node_modules"
done
git -C "$scratch/patched" apply "$patch" 2>/dev/null || (cd "$scratch/patched" && patch -p1 -s < "$patch")
for copy in head patched; do
  cc -O2 -Wall -Wextra -Werror -std=gnu11 -fPIC -shared -o "$scratch/$copy/build/libsfpemu.so" \
    "$scratch/$copy/ffi/sfpemu.c"
done

export NO_COLOR=1
for ((i = 1; i <= times; i++)); do
  for copy in head patched; do
    echo "== $copy ($i of $times): $*"
    (cd "$scratch/$copy" && timeout 600 ./node_modules/.bin/deno run --allow-all --config deno.json "$@")
  done
done
