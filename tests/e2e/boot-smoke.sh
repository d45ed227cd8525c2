#!/usr/bin/env bash
# Boot smoke test of the e2e guests (no vhost-user device): prepares the asset cache (fast when it
# is complete), then runs tests/e2e/boot_smoke_e2e.ts.
#
#   tests/e2e/boot-smoke.sh [CACHE_DIR] [extra deno test args, e.g. --filter aarch64]
#
# SFPEMU_E2E_WORK=DIR keeps the initramfs images and console logs; SFPEMU_E2E_ECHO=1 echoes the
# guests' consoles; SFPEMU_E2E_TIMEOUT_SCALE=N stretches every deadline.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${1:-${SFPEMU_E2E_CACHE:-$HOME/.cache/sfpemu-e2e}}
[ $# -gt 0 ] && shift
bash "$root/tests/e2e/prepare-assets.sh" "$CACHE_DIR"
[ -x "$root/node_modules/.bin/deno" ] || bash "$root/tools/bootstrap.sh"
cd "$root"
# The root deno.json excludes tests/e2e/ from `deno test` (the unit run), and an explicit path does
# not override that exclude. So: type-check with the root config (`deno check` ignores test.exclude),
# then run with tests/e2e/e2e.deno.json (tests/e2e/ included) and --no-check. (That config alone
# cannot type-check: Deno then looks for @types/node under tests/e2e/node_modules. --no-config
# breaks bare npm imports such as "hono" or "yaml".)
node_modules/.bin/deno check tests/e2e/
SFPEMU_E2E_CACHE=$CACHE_DIR exec node_modules/.bin/deno test --config tests/e2e/e2e.deno.json --no-check --allow-all \
  "$@" tests/e2e/boot_smoke_e2e.ts
