#!/usr/bin/env bash
# shellcheck disable=SC2317 # stop_pid and cleanup run from traps
# Boot a real Linux guest (Debian's 6.1 kernel, stock drivers) attached to one emulated board and
# give its serial console to the user: see the kernel find the board's cages, then poke at them.
# Run tools/try-guest.sh --help for the options; README.md, "Try it in a real Linux guest".
#
# What it does, as a user would by hand (README.md, "Attaching a board VM"):
#  1. tests/e2e/prepare-assets.sh: the guest kernels, module trees and busybox in the e2e cache
#     (${SFPEMU_E2E_CACHE:-~/.cache/sfpemu-e2e}; the first run installs packages and builds it);
#  2. an `sfpemu run` answering at --api, or one started here (and stopped on exit);
#  3. `sfpemu vm-config BOARD --api ...` (aarch64: on QEMU's own dumped tree, --base-dtb/--dtb-out);
#  4. tests/e2e/make-initramfs.sh with tools/try-guest-init.sh as the guest script, which loads the
#     drivers, waits for the cages to be probed, prints what to try and gives an interactive shell;
#  5. QEMU with the console on this terminal (-serial mon:stdio: Ctrl-A X quits at once).
set -Eeuo pipefail
PROG=try-guest
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# The program to run: SFPEMU_BIN (e.g. a compiled dist/sfpemu), else SFPEMU_E2E_BIN (so the e2e
# tier drives the build it tests), else this checkout's launcher.
SFPEMU=${SFPEMU_BIN:-${SFPEMU_E2E_BIN:-$ROOT/sfpemu}}
DENO=$ROOT/node_modules/.bin/deno
CACHE=${SFPEMU_E2E_CACHE:-$HOME/.cache/sfpemu-e2e}
DEFAULT_API=127.0.0.1:7040

usage() {
  cat <<EOF
usage: tools/try-guest.sh [OLT/BOARD] [options]

Boots Debian's Linux 6.1 in QEMU attached to one board of the emulator, as a board VM: on aarch64
the kernel's own drivers (i2c-virtio, gpio-virtio, i2c-mux-pca954x, sfp) find every cage from the
device tree "sfpemu vm-config" merges. It prints what to try, then gives you a shell on the guest's
serial console. "exit" powers the guest off; Ctrl-A X quits QEMU at once.

  OLT/BOARD              the board (default: the first line board of the topology, e.g. olt1/lt1:
                         the first whose id begins with "lt", else the first not in slot 0)
  --arch aarch64|x86_64  the guest (default aarch64); x86_64 (q35) has no device tree: the guest
                         instantiates the muxes and the modules' EEPROMs itself (no sfp driver)
  --machine virt|xlnx-versal-virt
                         aarch64 machine (default virt); xlnx-versal-virt has two Cadence GEMs
                         (Linux's macb) that --mac wires to cages
  --mac CAGE=NODE        xlnx-versal-virt: wire the MAC NODE (ethernet@ff0c0000 or
                         ethernet@ff0d0000) to cage CAGE; "ip link set ethN up" in the guest then
                         runs the kernel's full SFP state machine for it. Repeatable.
  --api HOST:PORT        the API of a running "sfpemu run" (default \$SFPEMU_API or $DEFAULT_API);
                         when none answers there, one is started on that address for the session
                         and stopped afterwards (port 0: always start one, on a free port)
  --topology FILE        for the emulator started here (default: its built-in topology)
  --state-dir DIR        for the emulator started here (default: a fresh temporary directory,
                         removed afterwards; give one to keep the lab's state)
  -h, --help             this text

Environment: SFPEMU_E2E_CACHE (the guest asset cache), SFPEMU_API_TOKEN (the API's token),
SFPEMU_BIN (the sfpemu to run, e.g. dist/sfpemu; default this checkout's ./sfpemu).

Examples:
  tools/try-guest.sh                                   # olt1/lt1 of the built-in topology, aarch64
  tools/try-guest.sh olt1/lt2 --arch x86_64
  tools/try-guest.sh --machine xlnx-versal-virt --mac 1=ethernet@ff0c0000 --mac 2=ethernet@ff0d0000
EOF
}

log() { printf '[%s] %s\n' "$PROG" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '[%s] error: %s\n(tools/try-guest.sh --help for the options)\n' "$PROG" "$*" >&2; exit 2; }

# --- arguments -----------------------------------------------------------------------------------
BOARD='' ARCH=aarch64 MACHINE='' API=${SFPEMU_API:-$DEFAULT_API} TOPOLOGY='' STATE_DIR='' MACS=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --arch | --machine | --mac | --api | --topology | --state-dir)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      opt=$1 val=$2
      shift 2
      ;;
    --arch=* | --machine=* | --mac=* | --api=* | --topology=* | --state-dir=*)
      opt=${1%%=*} val=${1#*=}
      shift
      ;;
    -*) usage_error "unknown option $1" ;;
    *)
      [ -z "$BOARD" ] || usage_error "one board only (got $BOARD and $1)"
      [[ $1 =~ ^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$ ]] || usage_error "expected a board as OLT/BOARD (e.g. olt1/lt1), not '$1'"
      BOARD=$1
      shift
      continue
      ;;
  esac
  [ -n "$val" ] || usage_error "$opt needs a value"
  case $opt in
    --arch)
      case $val in
        aarch64 | arm64) ARCH=aarch64 ;;
        x86_64 | amd64) ARCH=x86_64 ;;
        *) usage_error "--arch is aarch64 or x86_64, not '$val'" ;;
      esac
      ;;
    --machine)
      case $val in
        virt | xlnx-versal-virt) MACHINE=$val ;;
        *) usage_error "--machine is virt or xlnx-versal-virt, not '$val'" ;;
      esac
      ;;
    --mac)
      [[ $val =~ ^[1-9][0-9]*=[^=[:space:]]+$ ]] || usage_error "--mac wants CAGE=NODE (e.g. 1=ethernet@ff0c0000), not '$val'"
      MACS+=("$val")
      ;;
    --api)
      [[ $val =~ ^[^[:space:]:]+:[0-9]+$ ]] || usage_error "--api wants HOST:PORT (e.g. $DEFAULT_API), not '$val'"
      API=$val
      ;;
    --topology)
      [ -f "$val" ] || usage_error "--topology: no file $val"
      TOPOLOGY=$(readlink -f "$val")
      ;;
    --state-dir)
      [ ! -e "$val" ] || [ -d "$val" ] || usage_error "--state-dir: $val is not a directory"
      STATE_DIR=$val
      ;;
  esac
done
if [ "$ARCH" = x86_64 ] && [ -n "$MACHINE" ]; then usage_error "--machine is for --arch aarch64 (x86_64 boots q35)"; fi
MACHINE=${MACHINE:-virt}
[ "$ARCH" = x86_64 ] && MACHINE=q35
if [ ${#MACS[@]} -gt 0 ] && [ "$MACHINE" != xlnx-versal-virt ]; then
  usage_error "--mac needs --machine xlnx-versal-virt (the virt machine has no Ethernet MAC to wire)"
fi
declare -A mac_cages=()
for m in "${MACS[@]}"; do
  [ -z "${mac_cages[${m%%=*}]:-}" ] || usage_error "--mac: cage ${m%%=*} is wired twice"
  mac_cages[${m%%=*}]=1
done

# shellcheck disable=SC2054 # the commas are QEMU's
case $MACHINE in
  q35) MEMORY=256M QEMU=qemu-system-x86_64 CONSOLE=ttyS0
    MACHINE_ARGS=(-machine q35,accel=tcg -cpu max -smp 1) ;;
  virt) MEMORY=256M QEMU=qemu-system-aarch64 CONSOLE=ttyAMA0
    MACHINE_ARGS=(-machine virt,accel=tcg -cpu cortex-a57 -smp 1) ;;
  xlnx-versal-virt) MEMORY=512M QEMU=qemu-system-aarch64 CONSOLE=ttyAMA0
    MACHINE_ARGS=(-machine xlnx-versal-virt,accel=tcg) ;; # its own CPUs
esac
# No default devices (NICs, VGA, ...): the board's two devices are the first virtio-mmio ones, as
# vm-config assumes; the console is the first UART, on this terminal with QEMU's monitor mux.
MACHINE_ARGS+=(-nodefaults -no-user-config -display none)

# --- cleanup: whatever this script started, it stops ----------------------------------------------
WORK='' EMU_PID='' QEMU_PID='' TTY_STATE='' EMU_LOG_SHOWN=0
stop_pid() { # PID GRACE_TENTHS [group]: SIGTERM (the process group with "group"), SIGKILL after the grace
  local pid=$1 tenths=$2 target=$1
  [ "${3:-}" = group ] && target=-$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM -- "$target" 2>/dev/null || true
  while [ "$tenths" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; tenths=$((tenths - 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    log "process $pid did not stop within the grace time: SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
show_emulator_log() {
  [ "$EMU_LOG_SHOWN" = 0 ] && [ -n "$WORK" ] && [ -s "$WORK/emulator.log" ] || return 0
  EMU_LOG_SHOWN=1
  log "the emulator's log (last lines):"
  tail -n 20 "$WORK/emulator.log" | sed 's/^/    /' >&2
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  [ -z "$QEMU_PID" ] || stop_pid "$QEMU_PID" 50
  if [ -n "$TTY_STATE" ]; then stty "$TTY_STATE" 2>/dev/null || true; fi
  if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then
    stop_pid "$EMU_PID" 300 group
    log "stopped the emulator it started (pid $EMU_PID)"
  elif [ -n "$EMU_PID" ]; then
    wait "$EMU_PID" 2>/dev/null || true
    log "the emulator this script started had exited"
    show_emulator_log
  fi
  [ -z "$WORK" ] || rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- 1. guest assets -----------------------------------------------------------------------------
log "guest assets: tests/e2e/prepare-assets.sh $CACHE"
bash "$ROOT/tests/e2e/prepare-assets.sh" "$CACHE" || die "preparing the guest assets failed (above)"
command -v "$QEMU" >/dev/null || die "$QEMU not found after prepare-assets.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sfpemu-try.XXXXXX")
log "temporary files in $WORK (removed on exit)"

# --- 2. the emulator -----------------------------------------------------------------------------
api_flag=() # for the client verbs, when the API is not their default
started=0
status_json() { "$SFPEMU" status --format json --api "$API" 2>"$WORK/status.err"; }
if [ "${API##*:}" != 0 ] && status_json >"$WORK/topology.json"; then
  log "using the sfpemu run that answers at $API"
  [ -z "$TOPOLOGY$STATE_DIR" ] || log "note: --topology and --state-dir are for an emulator started here; ignored"
elif [ "${API##*:}" != 0 ] && ! grep -q 'cannot reach' "$WORK/status.err"; then
  die "the API at $API answers, but: $(cat "$WORK/status.err")"
else
  STATE_DIR=${STATE_DIR:-$WORK/state}
  mkdir -p "$STATE_DIR" || die "cannot create the state directory $STATE_DIR"
  STATE_DIR=$(cd "$STATE_DIR" && pwd)
  run_args=(run ${TOPOLOGY:+"$TOPOLOGY"} --state-dir "$STATE_DIR" --api "$API" --log-format text --log-level info)
  log "starting: sfpemu ${run_args[*]}"
  # Its own session and process group: the terminal's signals do not reach it, and it is stopped
  # as a group on exit.
  setsid "$SFPEMU" "${run_args[@]}" </dev/null >"$WORK/emulator.log" 2>&1 &
  EMU_PID=$!
  started=1
  ready=
  for _ in $(seq 900); do # 90 s
    ready=$(grep -m1 '^ready api=' "$WORK/emulator.log" || true)
    if [ -n "$ready" ] || ! kill -0 "$EMU_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    show_emulator_log
    die "sfpemu run did not become ready (log above)"
  fi
  API=$(sed -n 's|^ready api=https\?://\([^ ]*\).*|\1|p' <<<"$ready")
  log "emulator ready: API at http://$API/api/v1 (stopped when the guest exits)"
  status_json >"$WORK/topology.json" || die "sfpemu status: $(cat "$WORK/status.err")"
fi
[ "$API" = "$DEFAULT_API" ] || api_flag=(--api "$API")

# The boards: OLT/BOARD, slot, inserted, VM attached, cage count, plugged cages, extras.
# shellcheck disable=SC2016 # TypeScript, not shell
"$DENO" eval -q --no-config '
const t = JSON.parse(await new Response(Deno.stdin.readable).text());
for (const o of t.olts) {
  for (const b of o.boards) {
    const plugged = b.cages.filter((c) => c.module).map((c) => c.id);
    const x = b.extras ?? {};
    const extras = [x.temperatureSensor ? "lm75" : "", x.idEeprom ? "id" : ""].filter(Boolean);
    console.log([`${o.id}/${b.id}`, b.slot, b.inserted ? "in" : "out",
      b.frontends?.i2c || b.frontends?.gpio ? "vm" : "-", b.cages.length,
      plugged.join(",") || "-", extras.join(",") || "-"].join("\t"));
  }
}' <"$WORK/topology.json" >"$WORK/boards.tsv" || die "cannot read the topology from the API"
[ -s "$WORK/boards.tsv" ] || die "the emulator at $API has no boards"
if [ -z "$BOARD" ]; then
  BOARD=$(awk -F'\t' '$3 == "in" && $1 ~ /\/lt/ { print $1; exit }' "$WORK/boards.tsv")
  [ -n "$BOARD" ] || BOARD=$(awk -F'\t' '$3 == "in" && $2 != 0 { print $1; exit }' "$WORK/boards.tsv")
  [ -n "$BOARD" ] || BOARD=$(awk -F'\t' '$3 == "in" { print $1; exit }' "$WORK/boards.tsv")
  [ -n "$BOARD" ] || die "no board of the emulator at $API is inserted"
fi
IFS=$'\t' read -r _ _ inserted attached CAGES PLUGGED EXTRAS < <(awk -F'\t' -v b="$BOARD" '$1 == b' "$WORK/boards.tsv") \
  || die "no board $BOARD at $API; its boards: $(cut -f1 "$WORK/boards.tsv" | paste -sd' ')"
[ "$inserted" = in ] || die "$BOARD is pulled out (put it back: curl -X PUT http://$API/api/v1/olts/${BOARD%/*}/boards/${BOARD#*/})"
[ "$attached" = - ] || die "$BOARD already has a VM attached to its sockets; stop it or pick another board"
PLUGGED=${PLUGGED//,/ } EXTRAS=${EXTRAS//,/ }
[ "$PLUGGED" != - ] || PLUGGED=
[ "$EXTRAS" != - ] || EXTRAS=
for m in "${MACS[@]}"; do
  [ "${m%%=*}" -le "$CAGES" ] || usage_error "--mac $m: $BOARD has $CAGES cages"
done

# --- 3. QEMU's arguments from vm-config ----------------------------------------------------------
vm_args=("$BOARD" --arch "$ARCH" --api "$API" --memory "$MEMORY")
if [ "$ARCH" = aarch64 ]; then
  log "dumping QEMU's device tree of $MACHINE (-m $MEMORY)"
  "$QEMU" "${MACHINE_ARGS[@]}" -m "$MEMORY" -machine "dumpdtb=$WORK/$MACHINE.dtb" >"$WORK/dumpdtb.log" 2>&1 \
    || die "$QEMU -machine dumpdtb failed: $(cat "$WORK/dumpdtb.log")"
  vm_args+=(--base-dtb "$WORK/$MACHINE.dtb" --dtb-out "$WORK/board.dtb")
  for m in "${MACS[@]}"; do vm_args+=(--mac "$m"); done
fi
log "sfpemu vm-config ${vm_args[*]}"
"$SFPEMU" vm-config "${vm_args[@]}" >"$WORK/vm.args" 2>"$WORK/vm-config.err" \
  || die "sfpemu vm-config failed: $(cat "$WORK/vm-config.err")"
mapfile -t VM_ARGS <"$WORK/vm.args"

# --- 4. the initramfs ----------------------------------------------------------------------------
case $MACHINE in
  q35) MODULES="virtio_pci i2c-virtio gpio-virtio i2c-dev i2c-mux-pca954x at24 lm75" ;;
  virt) MODULES="virtio_mmio i2c-virtio gpio-virtio i2c-dev i2c-mux-pca954x at24 lm75 sfp" ;;
  xlnx-versal-virt) MODULES="virtio_mmio i2c-virtio gpio-virtio i2c-dev i2c-mux-pca954x at24 lm75 sfp macb" ;;
esac
files=()
ethtool_dir=$CACHE/aarch64/ethtool
if [ "$ARCH" = aarch64 ] && [ -x "$ethtool_dir/ethtool" ]; then
  # Debian's arm64 ethtool and its libraries, where its ELF interpreter and loader look for them.
  files+=("$ethtool_dir/ethtool=/usr/sbin/ethtool")
  for lib in "$ethtool_dir"/lib/*; do
    case ${lib##*/} in
      ld-linux-*) files+=("$lib=/lib/${lib##*/}") ;;
      *) files+=("$lib=/lib/aarch64-linux-gnu/${lib##*/}") ;;
    esac
  done
fi
rows='' cols=''
# shellcheck disable=SC2034 # both go into the guest script below, by name
if [ -t 0 ] && [ -t 1 ]; then read -r rows cols < <(stty size 2>/dev/null) || true; fi
[ "${rows:-0}" -gt 0 ] && [ "${cols:-0}" -gt 0 ] || rows='' cols=''

{
  echo "# written by tools/try-guest.sh"
  for v in BOARD ARCH MACHINE CAGES PLUGGED EXTRAS rows cols; do printf 'TG_%s=%q\n' "${v^^}" "${!v}"; done
  printf 'TG_MACS=%q\n' "${MACS[*]}"
  printf 'TG_HOST_API=%q\n' "${api_flag[*]}"
  printf 'TG_HOST_DIR=%q\n' "$ROOT"
  cat "$ROOT/tools/try-guest-init.sh"
} >"$WORK/guest.sh"
E2E_INIT_QUIET=1 E2E_MODULES=$MODULES bash "$ROOT/tests/e2e/make-initramfs.sh" "$ARCH" "$CACHE" "$WORK/guest.sh" "$WORK/initrd.cpio" \
  "${files[@]}" 2>"$WORK/initramfs.log" || die "make-initramfs.sh failed: $(cat "$WORK/initramfs.log")"

# --- 5. the guest --------------------------------------------------------------------------------
kernel=$CACHE/$ARCH/Image
[ "$ARCH" = aarch64 ] || kernel=$CACHE/x86_64/vmlinux # the PVH entry: no self-decompression
qemu_cmd=("$QEMU" "${MACHINE_ARGS[@]}" -serial mon:stdio -no-reboot
  -kernel "$kernel" -initrd "$WORK/initrd.cpio" -append "console=$CONSOLE panic=-1 quiet" "${VM_ARGS[@]}")
log "booting $BOARD in $MACHINE ($ARCH); Ctrl-A X quits QEMU, \"exit\" in the guest's shell powers it off"
[ "$started" = 0 ] || log "emulator: API http://$API/api/v1, sockets in $STATE_DIR"
if [ -t 0 ]; then
  TTY_STATE=$(stty -g 2>/dev/null || true)
else
  log "stdin is not a terminal: the guest's shell reads it; end it with \"exit\" (or the guest waits)"
fi
# In the background (with this terminal as its input) so that a signal to this script ends it at
# once: bash runs traps only between foreground commands.
"${qemu_cmd[@]}" <&0 &
QEMU_PID=$!
set +e
wait "$QEMU_PID"
rc=$?
set -e
QEMU_PID=
[ -z "$TTY_STATE" ] || stty "$TTY_STATE" 2>/dev/null || true
[ "$rc" -eq 0 ] || log "QEMU exited with status $rc"
exit "$rc"
