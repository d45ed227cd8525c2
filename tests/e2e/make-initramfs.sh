#!/usr/bin/env bash
# Pack a busybox initramfs for an e2e guest.
#
#   tests/e2e/make-initramfs.sh ARCH CACHE_DIR GUEST_SCRIPT OUT [HOST_PATH=GUEST_PATH ...]
#
#   ARCH          x86_64 (alias amd64) or aarch64 (alias arm64)
#   CACHE_DIR     a cache made by prepare-assets.sh
#   GUEST_SCRIPT  a busybox-sh script run by /init after the modules are loaded ("-" = stdin);
#                 it is sourced after /lib/e2e.sh, so it can call the helpers below
#   OUT           the initramfs to write (uncompressed newc cpio)
#   extra args    more files to put into the image
#
# Environment: E2E_MODULES="mod ..." replaces the default module list (load order is kept; the
# dependencies of each module come first, resolved with `modprobe -d --show-depends`).
# E2E_INIT_QUIET=1: /init prints its own E2E lines (kernel, modules, uptimes, E2E-END) only when
# something fails, for an interactive guest script (tools/try-guest.sh) whose console is a user's.
#
# What the guest prints on its serial console (all lines begin at column 0):
#   E2E: key=value          results, from /init and from e2e() in the guest script
#   E2E-DMESG: line         kernel log lines, from e2e_dmesg
#   E2E-FILE: name: line    file contents, from e2e_file
#   E2E-END rc=N            the final marker; N is the guest script's exit status
#                           (or 100+ when /init failed before running it)
# Kernel console messages are turned down (printk level 1) while /init runs so they cannot split
# these lines; boot with `e2e.verbose` on the kernel command line to keep them.
set -Eeuo pipefail
PROG=make-initramfs
die() { printf '[%s] ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
trap 'rc=$?; printf "[%s] ERROR: command failed (exit %s) at line %s: %s\n" "$PROG" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

[ $# -ge 4 ] || die "usage: $0 ARCH CACHE_DIR GUEST_SCRIPT OUT [HOST_PATH=GUEST_PATH ...]"
ARCH=$1 CACHE_DIR=$2 GUEST_SCRIPT=$3 OUT=$4
shift 4
case "$ARCH" in
  x86_64 | amd64) ARCH=x86_64 DEFAULT_MODULES="virtio_pci i2c-virtio gpio-virtio i2c-dev i2c-mux-pca954x at24" ;;
  aarch64 | arm64) ARCH=aarch64 DEFAULT_MODULES="virtio_mmio i2c-virtio gpio-virtio i2c-dev i2c-mux-pca954x at24 sfp" ;;
  *) die "unknown ARCH '$ARCH' (x86_64 or aarch64)" ;;
esac
MODULES=${E2E_MODULES-$DEFAULT_MODULES}
A="$CACHE_DIR/$ARCH"
[ -f "$CACHE_DIR/stamp" ] && [ -f "$A/kver" ] || die "$CACHE_DIR is not a complete cache: run tests/e2e/prepare-assets.sh $CACHE_DIR"
KVER=$(cat "$A/kver")
TREE="$A/modules"
[ -f "$TREE/lib/modules/$KVER/modules.dep" ] || die "$TREE/lib/modules/$KVER/modules.dep missing"
[ -x "$A/busybox" ] || die "$A/busybox missing"
command -v cpio >/dev/null || die "cpio not installed (apt-get install cpio)"
command -v modprobe >/dev/null || die "modprobe not installed (apt-get install kmod)"
if [ "$GUEST_SCRIPT" != - ] && [ ! -f "$GUEST_SCRIPT" ]; then die "guest script $GUEST_SCRIPT not found"; fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/sfpemu-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/modules,root}
cp "$A/busybox" "$STAGE/bin/busybox"
chmod 0755 "$STAGE/bin/busybox"

# --- modules, in load order, each after its dependencies -----------------------------------------
: >"$STAGE/etc/e2e-modules"
declare -A seen=()
for m in $MODULES; do
  deps=$(modprobe -d "$TREE" -S "$KVER" --show-depends "$m" 2>&1) || die "module $m: $deps"
  while read -r kind path _; do
    case "$kind" in
      insmod)
        name=$(basename "$path" .ko)
        [ -n "${seen[$name]:-}" ] && continue
        seen[$name]=1
        cp "$path" "$STAGE/lib/modules/$name.ko"
        echo "$name" >>"$STAGE/etc/e2e-modules"
        ;;
      builtin) ;; # part of the kernel image
      *) die "module $m: unexpected modprobe output: $kind $path" ;;
    esac
  done <<<"$deps"
done

# --- extra files ---------------------------------------------------------------------------------
for pair in "$@"; do
  src=${pair%%=*} dst=${pair#*=}
  [ "$src" != "$pair" ] && [ -n "$dst" ] || die "extra file '$pair' is not HOST_PATH=GUEST_PATH"
  [ -e "$src" ] || die "extra file $src not found"
  mkdir -p "$STAGE/$(dirname "$dst")"
  cp -a "$src" "$STAGE/$dst"
done

if [ "$GUEST_SCRIPT" = - ]; then cat >"$STAGE/guest.sh"; else cp "$GUEST_SCRIPT" "$STAGE/guest.sh"; fi
[ "${E2E_INIT_QUIET:-0}" = 1 ] && : >"$STAGE/etc/e2e-init-quiet"

# --- helpers for guest scripts -------------------------------------------------------------------
cat >"$STAGE/lib/e2e.sh" <<'EOF'
# Helpers for e2e guest scripts (busybox sh). Everything goes to the serial console.
# e2e KEY VALUE...         -> "E2E: KEY=VALUE..."; with e2e_kmsg_stream running, a step line
#                             ("e2e step NAME", a cue the host acts on and takes kernel lines from)
#                             comes only after every kernel record logged before it (e2e_kmsg_mark)
e2e() {
  k=$1; shift
  if [ "$k" = step ] && [ -n "$E2E_KMSG_STREAMING" ]; then
    E2E_MARKS=$((${E2E_MARKS:-0} + 1)); e2e_kmsg_mark "step$E2E_MARKS"
  fi
  echo "E2E: $k=$*"
}
# e2e_dmesg [GREP_PATTERN] -> the kernel log, each line as "E2E-DMESG: ..."
e2e_dmesg() { if [ -n "$1" ]; then dmesg | grep -e "$1"; else dmesg; fi | sed 's/^/E2E-DMESG: /'; }
# e2e_file NAME PATH       -> the file's lines as "E2E-FILE: NAME: ..."
e2e_file() { if [ -r "$2" ]; then sed "s|^|E2E-FILE: $1: |" "$2"; else echo "E2E-FILE: $1: <unreadable: $2>"; fi; }
# e2e_netdev PLATFORM_DEV  -> the name of the netdev whose device is that platform device
#                             (e.g. ff0c0000.ethernet -> eth0); 1 when there is none
e2e_netdev() {
  for n in /sys/class/net/*; do
    l=$(readlink "$n/device") || continue
    case "$l" in */"$1") echo "${n##*/}"; return 0 ;; esac
  done
  return 1
}
# e2e_uptime               -> seconds since boot (e.g. 1.73)
e2e_uptime() { cut -d' ' -f1 /proc/uptime; }
# e2e_now                  -> E2E_NOW = centiseconds since boot (shell builtins only, no fork)
e2e_now() {
  read -r _u _r </proc/uptime
  _u=${_u%.*}${_u#*.}
  _u=${_u#"${_u%%[!0]*}"}
  E2E_NOW=${_u:-0}
}
# e2e_wait SECONDS CMD...  -> poll CMD every 0.05 s until it succeeds (0) or SECONDS (whole) pass (1);
#                             the loop itself forks only `sleep`, so it leaves the guest's CPU to the
#                             kernel work it waits for (CMD should be a builtin or a shell function).
#                             SECONDS stretch as the host's deadlines do: E2E_WAIT_PCT (below) is
#                             SFPEMU_E2E_TIMEOUT_SCALE in percent, for a guest's own deadlines too
e2e_wait() {
  _t=$1; shift
  e2e_now; _end=$((E2E_NOW + _t * E2E_WAIT_PCT))
  while :; do
    "$@" && return 0
    e2e_now; [ "$E2E_NOW" -ge "$_end" ] && return 1
    sleep 0.05
  done
}
# e2e_kmsg_stream REGEX    -> in the background, every kernel log record whose text matches the
#                             awk REGEX (e.g. 'sfp[0-9]+: module'), as soon as it is logged, as
#                             "E2E-KMSG: <kernel time in us> <text>" (the records before it too,
#                             all on the console before it returns).
#                             awk, not a shell loop: under TCG every read(2) costs, and the shell
#                             reads a pipe one byte at a time (over a second for the boot log).
#                             Marks (e2e_kmsg_mark) are streamed whatever REGEX says.
e2e_kmsg_stream() {
  cat /dev/kmsg | awk -v re="$1" '/^[0-9]+,[0-9]+,[0-9]+,[^;]*;/ {
    i = index($0, ";"); m = substr($0, i + 1); mark = m ~ /^e2e-mark: /
    if (mark || m ~ re) { split(substr($0, 1, i - 1), h, ","); print "E2E-KMSG: " h[3] " " m; fflush() }
    if (mark) { f = "/tmp/e2e-mark." substr(m, 11); print "" > f; close(f) }
  }' &
  # The backlog (the boot's records) is on the console before the script's next line, and each
  # step line after every record logged before it (e2e): a host taking kernel lines from a step
  # line would otherwise count older ones (a run under load had sfp7's probe-time "Host maximum
  # power" printed after the faults script's step=slow-ready, the streamer behind the script).
  e2e_kmsg_mark stream-started
  E2E_KMSG_STREAMING=1
}
# e2e_kmsg_mark NAME       -> logs "e2e-mark: NAME" (a word) and waits until e2e_kmsg_stream has put
#                             it on the console (at most 30 s; 1 if it did not): every record
#                             logged before it is on the console then, ahead of the script's next
#                             line (the streamer and the script write the console independently)
e2e_kmsg_mark() {
  echo "e2e-mark: $1" >/dev/kmsg
  e2e_wait 30 [ -e "/tmp/e2e-mark.$1" ]
}
EOF

# The guest's waits stretch with the host's (qemu.ts deadline()): SFPEMU_E2E_TIMEOUT_SCALE in
# percent, 100 when it is unset or makes no sense.
E2E_WAIT_PCT=$(awk -v s="${SFPEMU_E2E_TIMEOUT_SCALE:-1}" 'BEGIN { p = int(s * 100 + 0.5); print (p > 0 ? p : 100) }')
echo "E2E_WAIT_PCT=$E2E_WAIT_PCT" >>"$STAGE/lib/e2e.sh"

# --- /init ---------------------------------------------------------------------------------------
cat >"$STAGE/init" <<'EOF'
#!/bin/busybox sh
# e2e guest init: mount, load modules in order, run /guest.sh, print E2E-END, power off.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
. /lib/e2e.sh
grep -qw e2e.verbose /proc/cmdline || echo 1 >/proc/sys/kernel/printk
# /init's own progress lines; left out for an interactive guest (E2E_INIT_QUIET) unless it failed.
say() { [ -e /etc/e2e-init-quiet ] || e2e "$@"; }
[ -e /etc/e2e-init-quiet ] || echo
say init "$(uname -r) $(uname -m)"
say uptime.init "$(e2e_uptime)"

finish() {
  say uptime.end "$(e2e_uptime)"
  [ -e /etc/e2e-init-quiet ] && [ "$1" -lt 100 ] || echo "E2E-END rc=$1"
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 5
  exit 0
}

failed=
for m in $(cat /etc/e2e-modules); do
  if out=$(insmod "/lib/modules/$m.ko" 2>&1); then
    say "insmod.$m" ok
  else
    e2e "insmod.$m" "failed: $out"
    failed="$failed $m"
  fi
done
say uptime.modules "$(e2e_uptime)"
if [ -n "$failed" ]; then
  e2e modules "failed:$failed"
  e2e_dmesg | tail -n 40
  finish 101
fi
say modules ok

( . /lib/e2e.sh; . /guest.sh )
finish $?
EOF
chmod 0755 "$STAGE/init"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
printf '[%s] %s: %s (%s modules: %s)\n' "$PROG" "$ARCH" "$OUT" "$(wc -l <"$STAGE/etc/e2e-modules")" \
  "$(tr '\n' ' ' <"$STAGE/etc/e2e-modules")" >&2
