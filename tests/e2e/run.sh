#!/usr/bin/env bash
# The end-to-end tier: the real emulator, unmodified QEMU 7.2 and Debian's 6.1 kernels with their
# stock drivers (tests/e2e/README.md). tests/run calls it after the unit tests; it runs alone too:
#
#   tests/e2e/run.sh [deno test args, e.g. --filter aarch64]
#
# 1. prepares the guest assets into the cache (SFPEMU_E2E_CACHE, default ~/.cache/sfpemu-e2e): on a
#    fresh machine it installs the Debian packages, downloads the kernels and builds the missing
#    drivers (about a minute); later runs only check the stamp (about 2 s);
# 2. type-checks tests/e2e/ with the root config;
# 3. runs every tests/e2e/*_e2e.ts (named so that a plain `deno test` never picks them up) with
#    tests/e2e/e2e.deno.json, keeping the guests' serial logs, the emulator's logs, the device
#    trees and vm-config's output in build/e2e-artifacts/<UTC time>/ (printed first and last; the
#    newest 10 runs are kept; SFPEMU_E2E_ARTIFACTS sets another parent directory).
#
# Environment: SFPEMU_E2E_BIN=PROGRAM tests another build (e.g. dist/sfpemu) instead of ./sfpemu;
# SFPEMU_E2E_TIMEOUT_SCALE=N stretches every deadline; SFPEMU_E2E_ECHO=1 copies guest consoles to
# stderr as they run.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
cd "$root"
./tools/bootstrap.sh
deno=./node_modules/.bin/deno
export NO_COLOR=1
start=$SECONDS

cache=${SFPEMU_E2E_CACHE:-$HOME/.cache/sfpemu-e2e}
parent=${SFPEMU_E2E_ARTIFACTS:-$root/build/e2e-artifacts}
artifacts=$parent/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$artifacts"
echo "== e2e: artifacts in $artifacts"

echo "== e2e: guest assets ($cache)"
bash tests/e2e/prepare-assets.sh "$cache" 2> >(tee "$artifacts/prepare-assets.log" >&2)
prepared=$SECONDS

echo "== e2e: type check"
"$deno" check tests/e2e/

echo "== e2e: tests"
set +e
SFPEMU_E2E_CACHE=$cache SFPEMU_E2E_WORK=$artifacts "$deno" test --config tests/e2e/e2e.deno.json --no-check \
  --allow-all "$@" tests/e2e/*_e2e.ts 2>&1 | tee "$artifacts/deno-test.log"
status=${PIPESTATUS[0]}
set -e

# The initramfs images can be rebuilt from the scripts; keep them only when something failed.
[ "$status" -ne 0 ] || rm -f "$artifacts"/*.cpio
# shellcheck disable=SC2012 # names are our own timestamps
ls -1dt "$parent"/*/ 2>/dev/null | tail -n +11 | xargs -r rm -rf

verdict=passed
[ "$status" -eq 0 ] || verdict=FAILED
echo "== e2e: $verdict in $((SECONDS - start)) s (assets $((prepared - start)) s); artifacts in $artifacts"
exit "$status"
