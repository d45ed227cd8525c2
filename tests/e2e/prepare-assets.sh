#!/usr/bin/env bash
# Prepare the guest side of the end-to-end tier: Debian 6.1 kernels for x86_64 and aarch64, their
# module trees, the virtio-i2c / virtio-gpio (and, for x86, PCA954x mux) drivers that Debian does
# not enable, built out of tree from Debian's own linux-source-6.1, static busybox binaries, and
# Debian's arm64 ethtool with the shared libraries it needs (for `ethtool -m` in the guests).
#
#   tests/e2e/prepare-assets.sh [CACHE_DIR]     (default ${SFPEMU_E2E_CACHE:-$HOME/.cache/sfpemu-e2e})
#
# Idempotent: a stamp file records every input's version (kernel ABI, Debian package versions, this
# script's hash); when it matches, the script only checks the host's runtime packages and exits.
# Nothing from the kernel source is kept: the sources are extracted into a scratch dir, built, removed.
#
# Environment:
#   SFPEMU_E2E_KABI=6.1.0-NN   pin the kernel ABI (default: what linux-image-amd64 depends on in apt)
#   SFPEMU_E2E_APT_UPDATE=1    force `apt-get update` even when the apt lists look usable
#   SFPEMU_E2E_FORCE=1         rebuild the cache even when the stamp matches
set -Eeuo pipefail

PROG=prepare-assets
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
log() { printf '[%s +%ss] %s\n' "$PROG" "$(elapsed)" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
trap 'rc=$?; printf "[%s] ERROR: command failed (exit %s) at line %s: %s\n" "$PROG" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${1:-${SFPEMU_E2E_CACHE:-$HOME/.cache/sfpemu-e2e}}
mkdir -p "$CACHE_DIR" || die "cannot create cache dir $CACHE_DIR"
CACHE_DIR=$(cd "$CACHE_DIR" && pwd)

# Host packages needed to RUN the tier (boot guests, pack initramfs, compile device trees).
RUNTIME_PKGS=(qemu-system-x86 qemu-system-arm busybox-static device-tree-compiler kmod cpio)
# Host packages needed only to BUILD the cache (headers for the ABI are added below).
BUILD_PKGS=(linux-source-6.1 gcc make gcc-12-aarch64-linux-gnu binutils-aarch64-linux-gnu xz-utils)
# ethtool for the aarch64 guests: Debian's arm64 binary (GPL: fetched here, never committed), the
# packages its shared libraries come from (its Depends), and those libraries by their soname,
# the dynamic loader (its ELF interpreter, /lib/ld-linux-aarch64.so.1) included. The build checks
# that every NEEDED entry of the binary and of these libraries is among them.
ETHTOOL_DEBS=(ethtool libmnl0 libc6)
ETHTOOL_LIBS=(ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libmnl.so.0)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); fi
fi
as_root() {
  if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
    die "need root (or passwordless sudo) to run: $*"
  fi
  "${SUDO[@]}" "$@"
}

# Serialise concurrent runs on one cache (CI and a developer, two test files, ...).
if [ -e "$CACHE_DIR/.lock" ] && [ ! -w "$CACHE_DIR/.lock" ]; then exec 9<"$CACHE_DIR/.lock"; else exec 9>"$CACHE_DIR/.lock"; fi
if ! flock -w 1800 9; then die "another prepare-assets run holds $CACHE_DIR/.lock for more than 30 min"; fi

installed() { # pkg... -> prints the ones that are not installed
  local p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || echo "$p"
  done
}

APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 1 ] && return 0
  log "apt-get update"
  as_root apt-get update -q >/dev/null || die "apt-get update failed"
  rm -f "${APT_PKGCACHE:-/nonexistent}"
  APT_UPDATED=1
}
apt_install() {
  local missing
  missing=$(installed "$@" | tr '\n' ' ')
  [ -n "${missing// /}" ] || return 0
  log "apt-get install $missing"
  # shellcheck disable=SC2086
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null; then
    apt_update
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null \
      || die "apt-get install $missing failed"
  fi
}

# --- apt lists: arm64 as a foreign architecture, lists present -----------------------------------
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "dpkg --add-architecture arm64"
  as_root dpkg --add-architecture arm64
  apt_update
fi
# This image sets Dir::Cache::pkgcache "" so every apt-cache call rebuilds its cache (~1.2 s):
# keep one for the duration of this run.
APT_PKGCACHE=$(mktemp -u "${TMPDIR:-/tmp}/sfpemu-apt-pkgcache.XXXXXX")
SCRATCH=
trap 'rm -f "$APT_PKGCACHE"; [ -z "$SCRATCH" ] || rm -rf "$SCRATCH"' EXIT
apt_cache() { apt-cache -o "Dir::Cache::pkgcache=$APT_PKGCACHE" "$@"; }
candidate() { # pkg -> candidate version or empty
  apt_cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}' | sed 's/(none)//'
}
if [ "${SFPEMU_E2E_APT_UPDATE:-0}" = 1 ] || [ -z "$(candidate linux-image-arm64:arm64)" ] \
  || [ -z "$(candidate linux-image-amd64)" ]; then
  apt_update
fi

# --- inputs: kernel ABI and package versions -----------------------------------------------------
abi_of() { # meta-package -> 6.1.0-NN
  apt_cache depends "$1" 2>/dev/null | sed -n 's/.*Depends: linux-image-\(6\.1\.0-[0-9]*\)-.*/\1/p' | head -n1
}
# Sets KABI, KVER_*, V_* and STAMP_WANT from the apt lists; returns 1 when something is missing.
# (Called in `||` context, where `set -e` is off: every failure is checked explicitly.)
SCRIPT_HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
resolve_inputs() {
  KABI=${SFPEMU_E2E_KABI:-}
  if [ -z "$KABI" ]; then
    KABI=$(abi_of linux-image-amd64)
    if [ -z "$KABI" ]; then log "cannot find the 6.1.0-NN ABI from 'apt-cache depends linux-image-amd64'"; return 1; fi
    local arm_kabi
    arm_kabi=$(abi_of linux-image-arm64:arm64)
    [ "$arm_kabi" = "$KABI" ] || log "note: the arm64 meta-package points at '$arm_kabi'; using $KABI for both"
  fi
  [[ "$KABI" =~ ^6\.1\.0-[0-9]+$ ]] || die "bad kernel ABI '$KABI' (expected 6.1.0-NN)"
  KVER_X86="$KABI-amd64"
  KVER_ARM="$KABI-arm64"
  local var pkg v
  for var in "V_IMG_X86 linux-image-$KVER_X86" "V_IMG_ARM linux-image-$KVER_ARM:arm64" \
    "V_HDR_X86 linux-headers-$KVER_X86" "V_HDR_ARM linux-headers-$KVER_ARM:arm64" \
    "V_SRC linux-source-6.1" "V_BB_X86 busybox-static" "V_BB_ARM busybox-static:arm64" \
    "V_ETHTOOL ethtool:arm64" "V_LIBMNL libmnl0:arm64" "V_LIBC libc6:arm64"; do
    pkg=${var#* } var=${var%% *}
    v=$(candidate "$pkg")
    if [ -z "$v" ]; then log "package $pkg is not available from apt"; return 1; fi
    printf -v "$var" '%s' "$v"
  done
  STAMP_WANT="format=1
script=$SCRIPT_HASH
kabi=$KABI
linux-image-$KVER_X86=$V_IMG_X86
linux-image-$KVER_ARM=$V_IMG_ARM
linux-headers-$KVER_X86=$V_HDR_X86
linux-headers-$KVER_ARM=$V_HDR_ARM
linux-source-6.1=$V_SRC
busybox-static:amd64=$V_BB_X86
busybox-static:arm64=$V_BB_ARM
ethtool:arm64=$V_ETHTOOL
libmnl0:arm64=$V_LIBMNL
libc6:arm64=$V_LIBC"
}

cache_complete() {
  local f
  [ -f "$CACHE_DIR/stamp" ] && [ "$(cat "$CACHE_DIR/stamp")" = "$STAMP_WANT" ] || return 1
  for f in x86_64/vmlinuz x86_64/vmlinux x86_64/busybox x86_64/kver aarch64/Image aarch64/busybox aarch64/kver \
    "x86_64/modules/lib/modules/$KVER_X86/modules.dep" "aarch64/modules/lib/modules/$KVER_ARM/modules.dep" \
    "x86_64/modules/lib/modules/$KVER_X86/updates/sfpemu/i2c-virtio.ko" \
    "x86_64/modules/lib/modules/$KVER_X86/updates/sfpemu/gpio-virtio.ko" \
    "x86_64/modules/lib/modules/$KVER_X86/updates/sfpemu/i2c-mux-pca954x.ko" \
    "aarch64/modules/lib/modules/$KVER_ARM/updates/sfpemu/i2c-virtio.ko" \
    "aarch64/modules/lib/modules/$KVER_ARM/updates/sfpemu/gpio-virtio.ko" \
    "aarch64/modules/lib/modules/$KVER_ARM/kernel/drivers/net/ethernet/cadence/macb.ko" \
    aarch64/ethtool/ethtool "${ETHTOOL_LIBS[@]/#/aarch64/ethtool/lib/}"; do
    [ -s "$CACHE_DIR/$f" ] || { log "cache incomplete: $f missing"; return 1; }
  done
}

apt_install "${RUNTIME_PKGS[@]}"

done_if_complete() {
  if [ "${SFPEMU_E2E_FORCE:-0}" != 1 ] && cache_complete; then
    log "cache $CACHE_DIR is complete for kernel $KABI ($V_IMG_X86); nothing to do ($(elapsed) s)"
    exit 0
  fi
}
# A cache that matches the local apt lists is used as it is, even when the lists are old.
if resolve_inputs; then done_if_complete; fi
# Building: refresh the lists first, so the packages to download still exist in the archive.
apt_update
resolve_inputs || die "the kernel packages are not available from apt (pin another ABI with SFPEMU_E2E_KABI=6.1.0-NN?)"
done_if_complete

log "building cache in $CACHE_DIR for kernel ABI $KABI (image $V_IMG_X86, source $V_SRC)"
[ "$V_SRC" = "$V_IMG_X86" ] || log "warning: linux-source-6.1 $V_SRC differs from linux-image $V_IMG_X86"
rm -f "$CACHE_DIR/stamp"

# --- host build packages -------------------------------------------------------------------------
apt_install "${BUILD_PKGS[@]}" "linux-headers-$KVER_X86"
[ -f /usr/src/linux-source-6.1.tar.xz ] || die "/usr/src/linux-source-6.1.tar.xz missing after installing linux-source-6.1"
HDR_X86=/usr/src/linux-headers-$KVER_X86
[ -f "$HDR_X86/Makefile" ] || die "$HDR_X86/Makefile missing after installing linux-headers-$KVER_X86"
[ -d /usr/lib/linux-kbuild-6.1/scripts ] || die "/usr/lib/linux-kbuild-6.1/scripts missing (linux-kbuild-6.1)"
command -v aarch64-linux-gnu-gcc-12 >/dev/null || die "aarch64-linux-gnu-gcc-12 not found (gcc-12-aarch64-linux-gnu)"

BUILD="$CACHE_DIR/.build"
rm -rf "$BUILD"
mkdir -p "$BUILD/debs" "$BUILD/x86_64" "$BUILD/aarch64"
# Sources, kbuild dirs and the arm64 headers (thousands of small files: slow on this disk) go to a
# scratch dir on tmpfs when there is one; nothing there outlives this run.
SCRATCH=$(mktemp -d /dev/shm/sfpemu-e2e-build.XXXXXX 2>/dev/null || mktemp -d "$BUILD/scratch.XXXXXX")
mkdir -p "$SCRATCH/src"

# --- driver sources: only three files of the 138 MB tarball (xz is single-threaded: ~12 s, so it
# runs in the background while the packages are downloaded and unpacked) -------------------------
SRC_FILES=(drivers/i2c/busses/i2c-virtio.c drivers/gpio/gpio-virtio.c drivers/i2c/muxes/i2c-mux-pca954x.c)
log "extracting ${SRC_FILES[*]} from /usr/src/linux-source-6.1.tar.xz (in the background)"
tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$SCRATCH/src" "${SRC_FILES[@]/#/linux-source-6.1/}" &
SRC_PID=$!

# --- downloads -----------------------------------------------------------------------------------
download() { # dir pkg=version...
  local dir=$1; shift
  log "apt-get download $*"
  # As root, apt's _apt sandbox user cannot write into our dir: download without the sandbox.
  local opt=()
  [ "$(id -u)" -ne 0 ] || opt=(-o APT::Sandbox::User=root)
  (cd "$dir" && apt-get download -q "${opt[@]}" "$@" >/dev/null) || die "apt-get download $* failed"
}
download "$BUILD/debs" "linux-image-$KVER_X86=$V_IMG_X86" "linux-image-$KVER_ARM:arm64=$V_IMG_ARM" \
  "linux-headers-$KVER_ARM:arm64=$V_HDR_ARM" "busybox-static:arm64=$V_BB_ARM" \
  "ethtool:arm64=$V_ETHTOOL" "libmnl0:arm64=$V_LIBMNL" "libc6:arm64=$V_LIBC"
deb() { # pattern -> the one matching .deb
  local f
  f=$(find "$BUILD/debs" -maxdepth 1 -name "$1" | head -n1)
  [ -n "$f" ] || die "downloaded package $1 not found"
  echo "$f"
}

# --- kernel images and module trees --------------------------------------------------------------
# Module subtrees a board guest never needs (GPUs, media, sound, storage, USB, NICs, file systems,
# network protocols): left out, the tree is ~60 MB instead of ~400 MB per architecture and unpacks
# in a few seconds. Everything on the I2C/GPIO/virtio/PHY/SFP/hwmon/nvmem side stays.
PRUNE=(sound fs net drivers/gpu drivers/media drivers/infiniband drivers/scsi drivers/usb drivers/staging
  drivers/iio drivers/md drivers/hid drivers/bluetooth drivers/isdn drivers/target drivers/input drivers/mtd
  drivers/video drivers/ata drivers/nvme drivers/block drivers/crypto drivers/net/ethernet
  drivers/net/wireless drivers/net/can drivers/net/usb drivers/net/dsa)
# The one NIC driver kept, for aarch64: Cadence GEM (macb), the MAC of QEMU's xlnx-versal-virt,
# which the tier wires to a cage as its phylink upstream (aarch64_tx_fault_e2e.ts).
KEEP_ETHERNET_AARCH64=cadence
unpack_kernel() { # arch kver deb kernel-name
  local arch=$1 kver=$2 debf=$3 kname=$4 x="$BUILD/$1/pkg" p excl=() keep=
  [ "$arch" = aarch64 ] && keep=$KEEP_ETHERNET_AARCH64
  log "$arch: unpacking boot/ and lib/modules/ (pruned) from $(basename "$debf")"
  for p in "${PRUNE[@]}"; do
    # tar cannot exclude a directory but one of its subdirectories: take it whole, prune below.
    [ -n "$keep" ] && [ "$p" = drivers/net/ethernet ] && continue
    excl+=(--exclude="./lib/modules/$kver/kernel/$p")
  done
  mkdir -p "$x"
  dpkg-deb --fsys-tarfile "$debf" | tar -x -C "$x" --wildcards "${excl[@]}" ./boot ./lib/modules \
    || die "$arch: cannot unpack $(basename "$debf")"
  if [ -n "$keep" ]; then
    find "$x/lib/modules/$kver/kernel/drivers/net/ethernet" -mindepth 1 -maxdepth 1 ! -name "$keep" \
      -exec rm -rf {} +
  fi
  [ -f "$x/boot/vmlinuz-$kver" ] || die "$arch: boot/vmlinuz-$kver not in $(basename "$debf")"
  [ -d "$x/lib/modules/$kver" ] || die "$arch: lib/modules/$kver not in $(basename "$debf")"
  mv "$x/boot/vmlinuz-$kver" "$BUILD/$arch/$kname"
  mv "$x/boot/config-$kver" "$BUILD/$arch/config"
  mkdir -p "$BUILD/$arch/modules/lib/modules"
  mv "$x/lib/modules/$kver" "$BUILD/$arch/modules/lib/modules/$kver"
  rm -rf "$x"
  echo "$kver" >"$BUILD/$arch/kver"
}
unpack_kernel x86_64 "$KVER_X86" "$(deb "linux-image-${KVER_X86}_*_amd64.deb")" vmlinuz
unpack_kernel aarch64 "$KVER_ARM" "$(deb "linux-image-${KVER_ARM}_*_arm64.deb")" Image
# x86_64: also keep the uncompressed ELF vmlinux (the bzImage's xz payload). QEMU boots it through
# the PVH entry point (CONFIG_PVH=y), which skips the kernel's self-decompression: under TCG that
# saves ~2.5 s per boot.
log "x86_64: extracting vmlinux (PVH ELF) from vmlinuz"
xz_off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$BUILD/x86_64/vmlinuz" | head -n1 | cut -d: -f1)
[ -n "$xz_off" ] || die "x86_64: no xz payload in vmlinuz (CONFIG_KERNEL_XZ changed?)"
# (xz stops after the stream, so tail may die of SIGPIPE: not an error.)
{ tail -c +$((xz_off + 1)) "$BUILD/x86_64/vmlinuz" || true; } | xz -dc --single-stream >"$BUILD/x86_64/vmlinux" \
  || die "x86_64: cannot decompress the vmlinuz payload"
[ "$(head -c4 "$BUILD/x86_64/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || die "x86_64: extracted vmlinux is not ELF"
grep -q '^CONFIG_PVH=y' "$BUILD/x86_64/config" || log "warning: CONFIG_PVH is not set: boot x86_64/vmlinuz instead of vmlinux"
# Debian's arm64 vmlinuz is already the uncompressed Image; decompress it if that ever changes.
if gzip -t "$BUILD/aarch64/Image" 2>/dev/null; then
  log "aarch64: decompressing gzip'd Image"
  gzip -dc "$BUILD/aarch64/Image" >"$BUILD/aarch64/Image.raw" && mv "$BUILD/aarch64/Image.raw" "$BUILD/aarch64/Image"
fi
ln -s Image "$BUILD/aarch64/vmlinuz"

# --- busybox -------------------------------------------------------------------------------------
cp /bin/busybox "$BUILD/x86_64/busybox"
mkdir -p "$BUILD/aarch64/bb"
dpkg-deb -x "$(deb "busybox-static_*_arm64.deb")" "$BUILD/aarch64/bb"
[ -f "$BUILD/aarch64/bb/bin/busybox" ] || die "bin/busybox not in the arm64 busybox-static package"
mv "$BUILD/aarch64/bb/bin/busybox" "$BUILD/aarch64/busybox"
rm -rf "$BUILD/aarch64/bb"

# --- ethtool (aarch64) ---------------------------------------------------------------------------
# The binary as aarch64/ethtool/ethtool, the libraries (links resolved) in aarch64/ethtool/lib/; the
# tests put them into the initramfs as /usr/sbin/ethtool, /lib/ld-linux-aarch64.so.1 and
# /lib/aarch64-linux-gnu/* (qemu.ts: ethtoolFiles).
log "aarch64: unpacking ethtool and its libraries (${ETHTOOL_DEBS[*]})"
ET_PKG="$SCRATCH/ethtool-pkg" ET="$BUILD/aarch64/ethtool"
mkdir -p "$ET_PKG" "$ET/lib"
for p in "${ETHTOOL_DEBS[@]}"; do dpkg-deb -x "$(deb "${p}_*_arm64.deb")" "$ET_PKG"; done
[ -f "$ET_PKG/sbin/ethtool" ] || die "sbin/ethtool not in the arm64 ethtool package"
cp "$ET_PKG/sbin/ethtool" "$ET/ethtool"
for lib in "${ETHTOOL_LIBS[@]}"; do
  f=$(find "$ET_PKG/lib" "$ET_PKG/usr/lib" -name "$lib" \( -type f -o -type l \) 2>/dev/null | head -n1 || true)
  [ -n "$f" ] || die "$lib is in none of ${ETHTOOL_DEBS[*]} (arm64)"
  cp -L "$f" "$ET/lib/$lib"
done
interp=$(aarch64-linux-gnu-readelf -l "$ET/ethtool" | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
[ "$interp" = /lib/ld-linux-aarch64.so.1 ] || die "ethtool's ELF interpreter is '$interp', not /lib/ld-linux-aarch64.so.1"
for f in "$ET/ethtool" "$ET"/lib/*; do
  for lib in $(aarch64-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -f "$ET/lib/$lib" ] || die "$(basename "$f") needs $lib: add it to ETHTOOL_LIBS (and its package to ETHTOOL_DEBS)"
  done
done
rm -rf "$ET_PKG"

# --- out-of-tree drivers from Debian's source ----------------------------------------------------
log "waiting for the source extraction"
wait "$SRC_PID" || die "cannot extract ${SRC_FILES[*]} from linux-source-6.1.tar.xz"

build_modules() { # arch headers-dir kver "mod ..." make-args...
  local arch=$1 hdr=$2 kver=$3 mods=$4 m f; shift 4
  local dir="$SCRATCH/kbuild-$arch"
  mkdir -p "$dir"
  for m in $mods; do
    f=$(find "$SCRATCH/src" -name "$m.c" | head -n1)
    [ -n "$f" ] || die "$m.c was not extracted"
    cp "$f" "$dir/"
  done
  echo "obj-m += $(for m in $mods; do printf '%s.o ' "$m"; done)" >"$dir/Kbuild"
  log "$arch: building $mods against $hdr"
  if ! make -C "$hdr" M="$dir" "$@" modules >"$dir/build.log" 2>&1; then
    tail -n 40 "$dir/build.log" >&2
    die "$arch: module build failed (log above)"
  fi
  local dest="$BUILD/$arch/modules/lib/modules/$kver/updates/sfpemu"
  mkdir -p "$dest"
  for m in $mods; do
    [ -f "$dir/$m.ko" ] || die "$arch: $m.ko not built"
    modinfo -F vermagic "$dir/$m.ko" | grep -q "^$kver " || die "$arch: $m.ko has the wrong vermagic"
    cp "$dir/$m.ko" "$dest/"
  done
  rm -rf "$dir"
}
build_modules x86_64 "$HDR_X86" "$KVER_X86" "i2c-virtio gpio-virtio i2c-mux-pca954x"

# arm64: unpack the headers; their Makefile includes the (architecture-independent) -common
# headers installed with the amd64 ones, and their scripts/tools links are relative
# (../../lib/linux-kbuild-6.1): point that at the host's kbuild, whose tools run on the host.
log "aarch64: unpacking linux-headers-$KVER_ARM"
HDR_ARM_ROOT="$SCRATCH/headers-arm64"
mkdir -p "$HDR_ARM_ROOT"
dpkg-deb -x "$(deb "linux-headers-${KVER_ARM}_*_arm64.deb")" "$HDR_ARM_ROOT"
mkdir -p "$HDR_ARM_ROOT/usr/lib"
ln -sfn /usr/lib/linux-kbuild-6.1 "$HDR_ARM_ROOT/usr/lib/linux-kbuild-6.1"
HDR_ARM="$HDR_ARM_ROOT/usr/src/linux-headers-$KVER_ARM"
[ -f "$HDR_ARM/Makefile" ] || die "arm64 headers Makefile missing"
grep -o '/usr/src/linux-headers-[^ ]*-common' "$HDR_ARM/Makefile" | while read -r common; do
  [ -d "$common" ] || die "arm64 headers need $common (install linux-headers-$KVER_X86)"
done
build_modules aarch64 "$HDR_ARM" "$KVER_ARM" "i2c-virtio gpio-virtio" \
  ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc-12
rm -rf "$HDR_ARM_ROOT"

# --- depmod --------------------------------------------------------------------------------------
for pair in "x86_64 $KVER_X86" "aarch64 $KVER_ARM"; do
  set -- $pair
  log "$1: depmod -b modules $2"
  depmod -b "$BUILD/$1/modules" "$2" || die "$1: depmod failed"
  modprobe -d "$BUILD/$1/modules" -S "$2" --show-depends i2c-virtio >/dev/null \
    || die "$1: modprobe cannot resolve i2c-virtio in the new tree"
done
modprobe -d "$BUILD/aarch64/modules" -S "$KVER_ARM" --show-depends macb >/dev/null \
  || die "aarch64: modprobe cannot resolve macb in the new tree"

# --- swap into place; the stamp goes last ---------------------------------------------------------
rm -rf "$BUILD/debs" "$SCRATCH"
SCRATCH=
for arch in x86_64 aarch64; do
  rm -rf "$CACHE_DIR/$arch"
  mv "$BUILD/$arch" "$CACHE_DIR/$arch"
done
rm -rf "$BUILD"
printf '%s\n' "$STAMP_WANT" >"$CACHE_DIR/stamp"
log "done: cache $CACHE_DIR ready for kernel $KABI in $(elapsed) s ($(du -sh "$CACHE_DIR" | cut -f1))"
