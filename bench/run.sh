#!/usr/bin/env bash
# Every benchmark of bench/, one after the other, each printing its figures; then a summary in
# Markdown (bench/report.ts) from the results they saved under build/bench/results/.
# Set-up as tests/run does it (tools/bootstrap.sh); wrk is installed with apt-get when missing.
# Exits non-zero only when a benchmark crashes, never because a target was missed.
#
#   bench/run.sh            everything (about 3 minutes)
#   bench/run.sh --quick    fewer iterations and shorter runs (a smoke run, figures not for publishing)
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$root"
./tools/bootstrap.sh
deno=./node_modules/.bin/deno
export NO_COLOR=1

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
  esac
done

if [ "$quick" = 1 ]; then
  latency=(--iterations 2000 --warmup 200)
  seconds=(--seconds 0.3 --repeat 1)
  hotplug=(--iterations 30)
  scale=(--boards 4,8)
  api=(--seconds 1)
  profile=(--seconds 1)
else
  latency=(--iterations 20000 --warmup 2000)
  seconds=(--seconds 1 --repeat 3)
  hotplug=(--iterations 300)
  scale=(--boards 16,32,64)
  api=(--seconds 5)
  profile=(--seconds 4)
fi

rm -rf build/bench/results
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), $("$deno" --version | head -n1), load $(cut -d' ' -f1-3 /proc/loadavg)"

failed=()
run() {
  local name=$1
  shift
  echo
  echo "== $name"
  # Each benchmark is bounded by its own counts and time limits; timeout only catches a hang.
  if ! timeout 600 "$deno" run --allow-all --config deno.json "bench/$name.ts" "$@"; then
    echo "!! bench/$name.ts crashed" >&2
    failed+=("$name")
  fi
}

run kick_call "${latency[@]}"
run eeprom_latency "${latency[@]}"
run throughput "${seconds[@]}"
run hotplug "${hotplug[@]}"
run scale "${scale[@]}"
run api_load "${api[@]}"
run profile "${profile[@]}"

echo
echo "== summary (Markdown, for BENCHMARKS.md)"
"$deno" run --allow-all --config deno.json bench/report.ts

if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
