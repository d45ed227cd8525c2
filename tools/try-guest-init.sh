# The guest side of tools/try-guest.sh (busybox sh): make-initramfs.sh's /init sources it once the
# drivers are loaded, after the TG_* variables try-guest.sh writes in front of it:
#   TG_BOARD OLT/BOARD, TG_ARCH, TG_MACHINE (q35, virt, xlnx-versal-virt), TG_CAGES (count),
#   TG_PLUGGED (cages holding a module at boot), TG_EXTRAS ("lm75 id": the board's LM75 and ID
#   EEPROM), TG_MACS ("CAGE=NODE ..."), TG_HOST_API ("--api HOST:PORT" when not the default),
#   TG_HOST_DIR (the sfpemu checkout), TG_ROWS/TG_COLS (the host terminal's size, when it has one).
# It waits (bounded) for the cages, prints what to try, then gives an interactive job-control shell
# on the serial console; when that shell exits, /init powers the guest off.

# The virtio I2C adapter's bus number -> TG_BUS.
tg_bus() {
  for d in /sys/bus/i2c/devices/i2c-*; do
    [ -e "$d/name" ] || continue
    read -r n <"$d/name"
    case "$n" in *virtio*) TG_BUS=${d##*-}; return 0 ;; esac
  done
  return 1
}
# CAGE -> TG_MUX (its PCA9548's address, hex) and TG_CH (the bus number of its mux channel).
tg_chan() {
  TG_MUX=$(printf %x $((0x70 + ($1 - 1) / 8)))
  l=$(readlink "/sys/bus/i2c/devices/$TG_BUS-00$TG_MUX/channel-$((($1 - 1) % 8))") || return 1
  TG_CH=${l##*i2c-}
}
# CAGE -> the sfp driver's module state (empty, probe, waitdev, present, error, ...).
tg_modstate() { sed -n 's/^Module state: //p' "/sys/kernel/debug/sfp$1/state" 2>/dev/null; }
# Every plugged cage probed (the driver read its EEPROM, or gave up on it).
tg_probed() {
  for c in $TG_PLUGGED; do
    case $(tg_modstate "$c") in '' | empty | probe) return 1 ;; esac
  done
}
# hwmon NAME -> TG_HW, its directory.
tg_hwmon() {
  for h in /sys/class/hwmon/hwmon*; do
    { read -r n <"$h/name"; } 2>/dev/null || continue
    [ "$n" = "$1" ] && { TG_HW=$h; return 0; }
  done
  return 1
}
# One line of the banner: a command and what it shows.
tg_hint() {
  if [ ${#1} -le 46 ]; then printf '  %-46s %s\n' "$1" "$2"; else printf '  %s\n  %-46s %s\n' "$1" "" "$2"; fi
}
# FILE OFFSET LENGTH -> the ASCII field of an A0h copy, trailing spaces dropped.
tg_field() { dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | tr -d '\000' | sed 's/ *$//'; }

if ! e2e_wait 30 tg_bus; then
  echo "[try-guest] no virtio I2C adapter appeared: is the emulator serving $TG_BOARD?"
fi

# x86_64 has no device tree: instantiate the board's muxes, its own devices and each plugged
# module's A0h EEPROM from user space, as README.md ("Attaching a board VM") shows.
if [ "$TG_ARCH" = x86_64 ] && [ -n "$TG_BUS" ]; then
  root=/sys/bus/i2c/devices/i2c-$TG_BUS
  muxes=$(((TG_CAGES + 7) / 8))
  i=0
  while [ $i -lt $muxes ]; do
    a=$(printf %x $((0x70 + i)))
    echo "pca9548 0x$a" >"$root/new_device"
    # An idle mux disconnects, as the device tree's i2c-mux-idle-disconnect has it on aarch64
    # (needed with two or more muxes: cages 1 and 9 share channel 0, both at 0x50).
    echo -2 >"/sys/bus/i2c/devices/$TG_BUS-00$a/idle_state"
    i=$((i + 1))
  done
  for x in $TG_EXTRAS; do
    case $x in
      lm75) echo "lm75 0x48" >"$root/new_device" ;;
      id) echo "24c02 0x57" >"$root/new_device" ;;
    esac
  done
  for c in $TG_PLUGGED; do
    tg_chan "$c" && echo "24c02 0x50" >"/sys/bus/i2c/devices/i2c-$TG_CH/new_device"
  done
fi
# x86_64: nothing claims the cages' GPIO lines (the sfp driver does on aarch64): export them all,
# so /sys/class/gpio/cage<n>-mod-abs/value and the levels in /sys/kernel/debug/gpio are there.
tg_gpiochip() {
  for g in /sys/class/gpio/gpiochip*; do
    [ -r "$g/ngpio" ] || continue
    read -r n <"$g/ngpio"
    [ "$n" = $((TG_CAGES * 6)) ] && { read -r TG_GPIOBASE <"$g/base"; return 0; }
  done
  return 1
}
if [ "$TG_ARCH" = x86_64 ] && e2e_wait 10 tg_gpiochip; then
  i=0
  while [ $i -lt $((TG_CAGES * 6)) ]; do
    echo $((TG_GPIOBASE + i)) >/sys/class/gpio/export
    i=$((i + 1))
  done
fi

# The aarch64 kernel probes the cages itself (sfp.c polls MOD_DEF0 and reads the EEPROM): wait
# for it, within bounds (a module with a slow-ready fault may take longer).
if [ "$TG_ARCH" = aarch64 ] && [ -n "$TG_PLUGGED" ]; then
  e2e_wait 20 tg_probed || echo "[try-guest] some cages are still being probed: dmesg | grep sfp shows them later"
fi
# Then let the kernel finish what follows a probe (each cage's hwmon, phylink's verdict), so that
# its messages land in the log before the banner rather than on the console after the prompt: the
# log unchanged for a quarter of a second, or 3 s at most.
tg_settled() {
  n=$(dmesg | wc -l)
  [ "$n" = "${TG_LOGN:-}" ] && return 0
  TG_LOGN=$n
  sleep 0.25
  return 1
}
e2e_wait 3 tg_settled || true

# --- the banner ----------------------------------------------------------------------------------
# shellcheck disable=SC2086 # split into the cages
set -- $TG_PLUGGED
C=${1:-1} # the cage of the examples: the first plugged (or, on versal, the first wired) one
WIRED='' NETDEV=''
for m in $TG_MACS; do
  node=${m#*=}
  node=${node##*/}
  dev="${node#*@}.${node%@*}" # ethernet@ff0c0000 -> ff0c0000.ethernet
  n=$(e2e_netdev "$dev") || n="?"
  WIRED="$WIRED ${m%%=*}:$n:$node"
  [ -n "$NETDEV" ] || { C=${m%%=*} NETDEV=$n; }
done
tg_chan "$C" 2>/dev/null || TG_CH='?'
HOSTCMD="./sfpemu"
api=${TG_HOST_API:+ $TG_HOST_API}

echo
echo "======== sfpemu: $TG_BOARD in $(uname -s) $(uname -r) ($TG_ARCH, $TG_MACHINE) ========"
if [ "$TG_ARCH" = aarch64 ]; then
  echo "The kernel's sfp driver found the board's cages (from the device tree):"
  dmesg | sed -n 's/^\[[^]]*\] //p' >/tmp/tg-dmesg
  grep '^sfp sfp[0-9]*: ' /tmp/tg-dmesg | grep -v 'Host maximum power' | sort -s -k2.4bn | sed 's/^/  /'
  grep -v '^sfp sfp[0-9]*: ' /tmp/tg-dmesg | grep 'SFP module' | sed 's/^/  /'
  [ -n "$TG_PLUGGED" ] || echo "  (no cage holds a module)"
else
  echo "No device tree on x86_64: this guest put the PCA9548 muxes ($muxes) and each plugged module's"
  echo "A0h EEPROM (at24 24c02 at 0x50) on the virtio I2C bus i2c-$TG_BUS itself; what they read:"
  for c in $TG_PLUGGED; do
    tg_chan "$c" || continue
    ee=/sys/bus/i2c/devices/$TG_CH-0050/eeprom
    dd if="$ee" of=/tmp/tg-a0 bs=96 count=1 2>/dev/null # one read over I2C, not one per byte
    printf '  cage %s: %s %s sn %s  (i2c-%s, %s)\n' "$c" "$(tg_field /tmp/tg-a0 20 16)" \
      "$(tg_field /tmp/tg-a0 40 16)" "$(tg_field /tmp/tg-a0 68 16)" "$TG_CH" "$ee"
  done
  [ -n "$TG_PLUGGED" ] || echo "  (no cage holds a module)"
  tg_chan "$C" 2>/dev/null || TG_CH='?'
fi
echo "Try, in this shell:"
if [ "$TG_ARCH" = aarch64 ]; then
  tg_hint "dmesg | grep sfp" "the sfp driver's messages"
  tg_hint "cat /sys/kernel/debug/sfp$C/state" "cage $C: module, device and main state, pins"
  if tg_hwmon "sfp$C"; then
    tg_hint "grep . $TG_HW/*_input" "cage $C's readings (m°C, mV, mA, µW)"
  fi
else
  tg_hint "hexdump -C /sys/bus/i2c/devices/$TG_CH-0050/eeprom | head" "cage $C's A0h (identity)"
  tg_hint "cat /sys/class/gpio/cage$C-mod-abs/value" "its MOD_ABS pin (0: a module is in)"
fi
tg_hint "i2cdetect -y $TG_CH" "cage $C's mux channel: A0h at 0x50, A2h at 0x51"
tg_hint "i2ctransfer -y $TG_CH w1@0x51 96 r2" "its temperature now (A2h bytes 96-97, 1/256 °C)"
tg_hint "grep cage$C- /sys/kernel/debug/gpio" "its six GPIO lines and their levels"
case " $TG_EXTRAS " in *" lm75 "*) tg_hwmon lm75 && tg_hint "cat $TG_HW/temp1_input" "the board's LM75 (m°C)" ;; esac
case " $TG_EXTRAS " in *" id "*) tg_hint "hexdump -C /sys/bus/i2c/devices/$TG_BUS-0057/eeprom" "the board's ONIE ID EEPROM" ;; esac
for w in $WIRED; do
  c=${w%%:*} rest=${w#*:}
  n=${rest%%:*}
  tg_hint "ethtool -m $n" "cage $c's module, decoded ($n is the GEM ${rest#*:})"
  tg_hint "ip link set $n up" "starts the kernel's SFP state machine for cage $c"
done
if [ "$TG_MACHINE" = xlnx-versal-virt ] && [ -z "$WIRED" ]; then
  echo "  (no MAC wired: try-guest.sh --mac 1=ethernet@ff0c0000 makes the GEM cage 1's upstream)"
fi
echo "On the host, in $TG_HOST_DIR:"
if [ -z "$TG_PLUGGED" ]; then
  echo "  $HOSTCMD plug $TG_BOARD/$C sfp-10gbase-sr$api"
fi
tg_hint "$HOSTCMD set $TG_BOARD/$C temperatureC=70$api" "then read the temperature again"
if [ "$TG_ARCH" = aarch64 ]; then
  tg_hint "$HOSTCMD unplug $TG_BOARD/$C$api" "the kernel: sfp sfp$C: module removed"
else
  tg_hint "$HOSTCMD unplug $TG_BOARD/$C$api" "then: grep cage$C-mod-abs /sys/kernel/debug/gpio"
fi
if [ -n "$NETDEV" ]; then
  tg_hint "$HOSTCMD plug $TG_BOARD/$C sfp-1000base-t$api" "(the GEM speaks only (R)GMII: phylink refuses optics)"
  tg_hint "$HOSTCMD fault $TG_BOARD/$C tx-fault mode=stuck$api" "with $NETDEV up: module transmit fault indicated"
else
  tg_hint "$HOSTCMD fault $TG_BOARD/$C tx-fault mode=stuck$api" "then: grep cage$C-tx-fault /sys/kernel/debug/gpio"
fi
echo "Kernel messages show here as they come (dmesg -n 1 silences them)."
echo "\"exit\" powers the guest off; Ctrl-A X quits QEMU at once."
echo

# --- the shell -----------------------------------------------------------------------------------
cat >/etc/profile <<EOF
PS1='$TG_BOARD# '
poweroff() { exit; }
halt() { exit; }
EOF
if [ -n "$TG_ROWS" ] && [ -n "$TG_COLS" ]; then echo "stty rows $TG_ROWS cols $TG_COLS" >>/etc/profile; fi
echo 7 >/proc/sys/kernel/printk
# A new session whose controlling terminal is the console's real tty (cttyhack finds it): job
# control and Ctrl-C work, as on a board's serial console.
setsid cttyhack sh -l
echo 1 >/proc/sys/kernel/printk
echo "[try-guest] the shell exited: powering off"
