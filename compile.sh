#!/usr/bin/env bash
# Builds the single sfpemu binary: the FFI library first (cc), then `deno compile` with the
# library and the module catalog embedded. `deno compile` needs its `denort` runtime: it
# downloads it, or takes DENORT_BIN (a denort of the pinned Deno version) where downloads are
# not possible. Output: dist/sfpemu (or the path given as $1).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
cd "$root"
./tools/bootstrap.sh
out=${1:-dist/sfpemu}
mkdir -p "$(dirname "$out")"
deno=./node_modules/.bin/deno
version=$("$deno" --version | head -n 1 | awk '{print $2}')

if [ -n "${DENORT_BIN:-}" ] && [ ! -x "$DENORT_BIN" ]; then
  echo "compile.sh: DENORT_BIN=$DENORT_BIN is not an executable denort" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$deno" compile --allow-all --quiet \
  --include build/libsfpemu.so --include devices \
  --output "$out" main.ts 2>"$log"; then
  if grep -qiE 'dns error|download|failed to lookup|error sending request|connect' "$log"; then
    cat >&2 <<MSG
compile.sh: deno compile could not obtain its runtime (denort $version): this machine cannot
download it. Either run where Deno release downloads are reachable, or point DENORT_BIN at a denort binary
of Deno $version (from the denort-x86_64-unknown-linux-gnu.zip release asset) and run again.
Everything works without the binary: ./sfpemu runs the same program with deno run.
MSG
  else
    cat "$log" >&2
  fi
  exit 1
fi
echo "compile.sh: built $out ($(du -h "$out" | cut -f1))"
