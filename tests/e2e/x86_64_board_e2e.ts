// x86_64 q35 guest on the tier's board, attached with `sfpemu vm-config --arch x86_64`: stock
// drivers only (i2c-virtio, gpio-virtio, i2c-dev, i2c-mux-pca954x, at24), the muxes and EEPROMs
// instantiated from user space as on a board without a device tree. What the guest reads is
// compared with the API and with the test's own decoding of SFF-8472 (tests/e2e/sff.ts).
//
// The guest and the host meet on observed events only: the guest prints "E2E: step=X" and polls
// (bounded) for the effect; the host waits for that line, then acts through the API.
//
//   tests/e2e/run.sh   (prepares the guest assets, then runs every *_e2e.ts)
import assert from "node:assert/strict";
import * as path from "node:path";
import { runGuest } from "./qemu.ts";
import {
  apiAddress,
  BOARD,
  cagePath,
  eeprom,
  moduleOf,
  testArtifacts,
  TOPOLOGY,
  vmConfig,
  withEmulator,
} from "./harness.ts";
import { a0Checksums, a0Identity, hexBytes, i2ctransferWord, pnHex, temperatureRaw } from "./sff.ts";

const artifacts = await testArtifacts();
const workDir = artifacts.dir;

const PATCHED_C = -12.25; // signed and fractional: 0xf3c0 in A2h 96-97
const REPLUG = { profile: "sfp-1000base-lx", vendorPn: "E2E-LX-REPLUG" };

/** The guest's side; every wait is bounded, every result an "E2E: key=value" line. */
function guestScript(o: { tempWant: string; pnWant: string }): string {
  return `
TEMP_WANT='${o.tempWant}'
PN_WANT='${o.pnWant}'
hexof() { od -An -v -tx1 "$@" | tr -d ' \\n'; }
addresses() { i2cdetect -y "$1" | awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "--" && $i != "UU") printf "%s ", $i }'; }
virtio_bus() {
  for d in /sys/bus/i2c/devices/i2c-*; do
    [ -e "$d/name" ] || continue
    read -r n <"$d/name"
    case "$n" in *virtio*) BUS=\${d##*-}; return 0 ;; esac
  done
  return 1
}
e2e_wait 30 virtio_bus || { e2e error "no virtio i2c adapter"; exit 1; }
e2e bus "$BUS"
i2cdetect -y "$BUS" | sed 's/^/E2E-OUT: /'
e2e i2cdetect "$(addresses "$BUS")"

# The board's muxes by hand, as on a board without a device tree; both share the bus, so each
# disconnects its channels when idle (else cages 1 and 9, both on channel 0, would answer at once).
for m in 70 71; do
  echo pca9548 0x$m >/sys/bus/i2c/devices/i2c-$BUS/new_device
  echo -2 >/sys/bus/i2c/devices/$BUS-00$m/idle_state
done
chan() { c=$(readlink "/sys/bus/i2c/devices/$BUS-00$1/channel-$2"); echo "\${c##*i2c-}"; }
C1=$(chan 70 0); C3=$(chan 70 2); C9=$(chan 71 0)
e2e channels "$C1 $C3 $C9"
e2e detect.cage1 "$(addresses "$C1")"
e2e detect.cage3 "$(addresses "$C3")"
e2e detect.cage9 "$(addresses "$C9")"
echo 24c02 0x50 >/sys/bus/i2c/devices/i2c-$C1/new_device
echo 24c02 0x50 >/sys/bus/i2c/devices/i2c-$C9/new_device
EE1=/sys/bus/i2c/devices/$C1-0050/eeprom
e2e a0.cage1 "$(hexof $EE1 2>&1)"
e2e a0.cage9 "$(hexof /sys/bus/i2c/devices/$C9-0050/eeprom 2>&1)"

# The GPIO plane: cage 1's MOD_ABS through sysfs.
gpiochip() {
  for g in /sys/class/gpio/gpiochip*; do
    read -r n <"$g/ngpio"
    [ "$n" = 60 ] && { read -r GBASE <"$g/base"; return 0; }
  done
  return 1
}
e2e_wait 30 gpiochip || e2e error "no 60-line gpio chip"
e2e gpio.names "$(grep -o 'cage1-[a-z0-9-]*' /sys/kernel/debug/gpio | tr '\\n' ' ')"
echo $GBASE >/sys/class/gpio/export # the line is named, so sysfs calls it cage1-mod-abs
modabs() { read -r MODABS </sys/class/gpio/cage1-mod-abs/value; }
modabs_is() { modabs; [ "$MODABS" = "$1" ]; }
modabs; e2e modabs.plugged "$MODABS"

# Live temperature, A2h 96-97, through i2c-dev.
temp() { i2ctransfer -y "$C1" w1@0x51 0x60 r2 2>&1; }
temp_is() { [ "$(temp)" = "$TEMP_WANT" ]; }
e2e temp.initial "$(temp)"
e2e step patch
if e2e_wait 30 temp_is; then e2e temp.seen yes; else e2e temp.seen timeout; fi
e2e temp.after "$(temp)"

# Unplugged: the EEPROM stops answering, MOD_ABS goes high.
gone() { ! dd if=$EE1 of=/dev/null bs=16 count=1 2>/dev/null; }
e2e step unplug
if e2e_wait 30 gone; then e2e unplug.seen yes; else e2e unplug.seen timeout; fi
e2e unplug.a0 "$(dd if=$EE1 of=/dev/null bs=16 count=1 2>&1 | head -n 1)"
e2e unplug.a2 "$(temp) rc=$(temp >/dev/null; echo $?)"
e2e_wait 10 modabs_is 1; e2e modabs.unplugged "$MODABS"

# Another module: the guest reads its part number.
pn_is() { [ "$(hexof -j 40 -N 16 $EE1 2>/dev/null)" = "$PN_WANT" ]; }
e2e step plug
if e2e_wait 30 pn_is; then e2e plug.seen yes; else e2e plug.seen timeout; fi
e2e a0.replugged "$(hexof $EE1 2>&1)"
e2e_wait 10 modabs_is 0; e2e modabs.replugged "$MODABS"
`;
}

Deno.test("e2e x86_64: a q35 guest reads the board's muxes, EEPROMs, live temperature and hot-plugs", async () => {
  try {
    await withEmulator(workDir, "x86_64-board", async (emulator, stateDir) => {
      // The user's two ways to get the arguments agree: the topology file, or the running API.
      const fromFile = await vmConfig([
        BOARD,
        "--arch",
        "x86_64",
        "--topology",
        TOPOLOGY,
        "--state-dir",
        stateDir,
      ]);
      const fromApi = await vmConfig([BOARD, "--arch", "x86_64", "--api", apiAddress(emulator)]);
      assert.equal(fromApi, fromFile);
      await Deno.writeTextFile(path.join(workDir, "x86_64-vm-config.txt"), fromFile);

      const before = { 1: await eeprom(emulator, 1), 9: await eeprom(emulator, 9) };
      const described = await moduleOf(emulator, 1);
      const tempWant = i2ctransferWord(temperatureRaw(PATCHED_C));
      let afterPatch: { a0: string; a2: string } | undefined;
      let replugged: { a0: string; a2: string } | undefined;

      const r = await runGuest({
        arch: "x86_64",
        name: "x86_64-board",
        workDir,
        script: guestScript({ tempWant, pnWant: pnHex(REPLUG.vendorPn) }),
        sharedMemory: false, // vm-config brings the memfd backend
        extraArgs: fromFile.trim().split("\n"),
        onStarted: async (vm) => {
          const patch = await vm.waitFor("E2E: step=patch", { timeoutMs: 180_000 });
          await emulator.request("PATCH", `${cagePath(1)}/diagnostics`, { temperatureC: PATCHED_C });
          afterPatch = await eeprom(emulator, 1);
          const unplug = await vm.waitFor("E2E: step=unplug", { fromIndex: patch.index, timeoutMs: 60_000 });
          await emulator.request("DELETE", cagePath(1));
          await vm.waitFor("E2E: step=plug", { fromIndex: unplug.index, timeoutMs: 60_000 });
          await emulator.request("PUT", cagePath(1), REPLUG);
          replugged = await eeprom(emulator, 1);
        },
      });
      const g = r.results;
      assert.equal(g.modules, "ok", `module loading: ${g.modules}`);
      assert.equal(r.rc, 0, `guest script rc ${r.rc}; log ${r.logFile}`);

      // Only the two muxes answer on the adapter (every channel closed); a plugged cage's channel
      // shows the module at 0x50 and 0x51, an empty cage's nothing.
      assert.equal(g.i2cdetect.trim(), "70 71");
      assert.equal(g["detect.cage1"].trim(), "50 51");
      assert.equal(g["detect.cage3"].trim(), "");
      assert.equal(g["detect.cage9"].trim(), "50 51");

      // A0h as the guest reads it = the API's; and it is a well-formed SFF-8472 page that says what
      // the API says the module is.
      assert.equal(g["a0.cage1"], before[1].a0);
      assert.equal(g["a0.cage9"], before[9].a0);
      assert.notEqual(g["a0.cage9"], g["a0.cage1"], "cage 9 (mux 0x71) must not read as cage 1 (mux 0x70)");
      const a0 = hexBytes(g["a0.cage1"]);
      const sums = a0Checksums(a0);
      assert.equal(sums.ccBase, sums.ccBaseComputed, "CC_BASE of the A0h the guest read");
      assert.equal(sums.ccExt, sums.ccExtComputed, "CC_EXT of the A0h the guest read");
      const { vendorName, vendorPn, vendorRev, vendorSn, dateCode } = described;
      assert.deepEqual(a0Identity(a0), { vendorName, vendorPn, vendorRev, vendorSn, dateCode });

      assert.equal(
        g["gpio.names"].trim(),
        "cage1-mod-abs cage1-rx-los cage1-tx-fault cage1-tx-disable cage1-rs0 cage1-rs1",
      );
      assert.equal(g["modabs.plugged"], "0");

      // Live temperature: before, the API's bytes; after the PATCH, the new value (0xf3c0).
      const a2Before = hexBytes(before[1].a2);
      assert.equal(g["temp.initial"], i2ctransferWord((a2Before[96] << 8) | a2Before[97]));
      assert.equal(g["temp.seen"], "yes", `guest never read ${tempWant}; last: ${g["temp.after"]}`);
      const a2After = hexBytes(afterPatch!.a2);
      assert.equal(g["temp.after"], i2ctransferWord((a2After[96] << 8) | a2After[97]));
      assert.equal(g["temp.after"], "0xf3 0xc0");

      // Unplugged: reads fail, MOD_ABS high.
      assert.equal(g["unplug.seen"], "yes");
      assert.match(g["unplug.a0"], /timed out|error|No such device/i);
      // busybox i2ctransfer exits 0 when the adapter transfers no message; it says so.
      assert.match(
        g["unplug.a2"],
        /only 0\/2 messages sent|error/i,
        `0x51 still answered: ${g["unplug.a2"]}`,
      );
      assert.equal(g["modabs.unplugged"], "1");

      // Plugged again with another profile: the guest reads the new module.
      assert.equal(g["plug.seen"], "yes", `guest never read part number ${REPLUG.vendorPn}`);
      assert.equal(g["a0.replugged"], replugged!.a0);
      assert.equal(a0Identity(hexBytes(g["a0.replugged"])).vendorPn, REPLUG.vendorPn);
      assert.equal(g["modabs.replugged"], "0");
      console.log(
        `[e2e] x86_64 board: E2E-END after ${(r.markerMs / 1000).toFixed(1)} s; guest log ${r.logFile}`,
      );
    });
  } catch (error) {
    artifacts.fail();
    throw error;
  }
});
