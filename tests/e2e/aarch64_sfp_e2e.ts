// aarch64 virt guest booted with the device tree from `sfpemu vm-config --base-dtb`: the kernel's
// own sfp driver, through i2c-virtio, the PCA9548 driver and gpio-virtio, finds every cage of the
// tier's board. The strongest oracle available: code nobody here wrote parses the EEPROM, checks
// its checksums, registers hwmon with the diagnostics, and follows MOD_DEF0 for hot-plug.
//
// The guest streams the sfp driver's kernel messages to the console as they are logged
// (e2e_kmsg_stream); the host waits for them with deadlines and times hot-plug from its API call.
//
//   tests/e2e/run.sh   (prepares the guest assets, then runs every *_e2e.ts)
import assert from "node:assert/strict";
import * as path from "node:path";
import { deadline, type LineMatch, runGuest } from "./qemu.ts";
import {
  aarch64BoardTree,
  type ApiModule,
  cagePath,
  eeprom,
  kmsg,
  moduleIdentity,
  moduleOf,
  parseModuleLine,
  pluggedCages,
  runHost,
  SFP_GUEST_FUNCTIONS,
  testArtifacts,
  withEmulator,
} from "./harness.ts";
import { a2Live, hexBytes, hwmonExpected, powerRaw } from "./sff.ts";

const artifacts = await testArtifacts();
const workDir = artifacts.dir;

const PATCH = { temperatureC: 61.25, rxPowerDbm: -7.5 };
const REPLUG = { profile: "sfp-10gbase-sr", vendorPn: "E2E-REPLUG-1" };
/** The spec: the kernel reports an API unplug within a second. */
const REMOVAL_LIMIT_MS = deadline(1000);
const HWMON_FILES = ["temp1_input", "in0_input", "curr1_input", "power1_input", "power2_input"] as const;

function guestScript(o: { hwmonCount: number; tempWant: number }): string {
  return `
e2e_kmsg_stream 'sfp[0-9]+: '
${SFP_GUEST_FUNCTIONS}
hwmon_count() {
  c=0
  # Complete ones only: a hwmon's power/ comes after all its attributes (see hwmon_of).
  for h in /sys/class/hwmon/hwmon*; do [ -d "$h/power" ] && c=$((c + 1)); done
  [ $c -ge ${o.hwmonCount} ]
}
hwmon_show() { # KEY HWMON_NAME
  if hwmon_of "$2"; then
    v=
    # A failed read says so (else x would keep the file before's value).
    for f in ${HWMON_FILES.join(" ")}; do read -r x <"$HW/$f" || x=unreadable; v="$v $f=$x"; done
    e2e "$1" "$v"
  else
    e2e "$1" "absent"
  fi
}
if e2e_wait 60 hwmon_count; then e2e hwmon.seen yes; else e2e hwmon.seen timeout; fi
for h in /sys/class/hwmon/hwmon*; do { read -r n <"$h/name"; } 2>/dev/null && hwmon_show "hwmon.$n" "$n"; done

temp_is() { hwmon_of sfp1 && read -r t <"$HW/temp1_input" && [ "$t" = "${o.tempWant}" ]; }
e2e step patch
if e2e_wait 30 temp_is; then e2e patch.seen yes; else e2e patch.seen timeout; fi
hwmon_show hwmon.patched.sfp1 sfp1

# Unplugged, the driver unregisters the cage's hwmon; plugged again, it probes and registers anew.
e2e step unplug
if e2e_wait 30 eval '! hwmon_of sfp1'; then e2e unplug.seen yes; else e2e unplug.seen timeout; fi
e2e step replug
if e2e_wait 30 hwmon_of sfp1; then e2e replug.seen yes; else e2e replug.seen timeout; fi
hwmon_show hwmon.replugged.sfp1 sfp1
e2e_file sfp1.state /sys/kernel/debug/sfp1/state
# The re-probe's "module ..." line, logged before its hwmon came, on the console before the poweroff.
e2e_kmsg_mark end || e2e kmsg.mark timeout
`;
}

function parseHwmon(value: string | undefined): Record<string, number> {
  assert.ok(value && value !== "absent", `hwmon: ${value}`);
  return Object.fromEntries(
    value.trim().split(" ").map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]),
  );
}

Deno.test("e2e aarch64: the kernel's sfp driver probes every plugged cage from vm-config's device tree", async () => {
  try {
    await withEmulator(workDir, "aarch64-sfp", async (emulator, stateDir) => {
      const { args, dtb } = await aarch64BoardTree(workDir, "aarch64-sfp", stateDir);
      // dtc (not the product) reads the merged tree back: kept as an artifact to read.
      const dts = await runHost("dtc", ["-q", "-I", "dtb", "-O", "dts", dtb]);
      await Deno.writeFile(path.join(workDir, "aarch64-sfp.dts"), dts);

      const plugged = await pluggedCages(emulator);
      assert.deepEqual(plugged, [1, 2, 9]);
      const modules = new Map<number, ApiModule>();
      const a2 = new Map<number, Uint8Array>();
      for (const cage of plugged) {
        modules.set(cage, await moduleOf(emulator, cage));
        a2.set(cage, hexBytes((await eeprom(emulator, cage)).a2));
      }
      let patchedA2: Uint8Array | undefined;
      let patchedModule: ApiModule | undefined;
      const timing = { removalMs: NaN, reprobeMs: NaN };
      const probes = new Map<number, LineMatch>();

      const r = await runGuest({
        arch: "aarch64",
        name: "aarch64-sfp",
        workDir,
        script: guestScript({ hwmonCount: plugged.length, tempWant: PATCH.temperatureC * 1000 }),
        sharedMemory: false,
        extraArgs: args,
        onStarted: async (vm) => {
          for (const cage of plugged) {
            // The probe, or the driver's refusal (a bad checksum, an I2C error): fail at once on that.
            const said = new RegExp(`^sfp sfp${cage}: (module |.*(checksum|fail|error))`, "i");
            const line = await vm.waitFor((l) => said.test(kmsg(l) ?? ""), { timeoutMs: 180_000 });
            assert.ok(
              kmsg(line.line)!.startsWith(`sfp sfp${cage}: module `),
              `the kernel: ${kmsg(line.line)}`,
            );
            probes.set(cage, line);
          }
          const patch = await vm.waitFor("E2E: step=patch", { timeoutMs: 120_000 });
          await emulator.request("PATCH", `${cagePath(1)}/diagnostics`, PATCH);
          patchedA2 = hexBytes((await eeprom(emulator, 1)).a2);
          patchedModule = await moduleOf(emulator, 1);

          const unplug = await vm.waitFor("E2E: step=unplug", { fromIndex: patch.index, timeoutMs: 60_000 });
          const t0 = vm.elapsedMs();
          await emulator.request("DELETE", cagePath(1));
          const removed = await vm.waitFor((l) => kmsg(l) === "sfp sfp1: module removed", {
            fromIndex: unplug.index,
            timeoutMs: 30_000,
          });
          timing.removalMs = removed.atMs - t0;

          // From the unplug step, not from "module removed": the driver drops the hwmon before it
          // logs that line, and the streamer may print it after the guest, seeing no hwmon, has
          // already said step=replug (the script's own lines are the only ones in a known order).
          const replug = await vm.waitFor("E2E: step=replug", {
            fromIndex: unplug.index,
            timeoutMs: 60_000,
          });
          const t1 = vm.elapsedMs();
          await emulator.request("PUT", cagePath(1), REPLUG);
          const reprobed = await vm.waitFor(
            (l) => parseModuleLine(kmsg(l) ?? "")?.vendorPn === REPLUG.vendorPn,
            { fromIndex: replug.index, timeoutMs: 30_000 },
          );
          timing.reprobeMs = reprobed.atMs - t1;
        },
      });
      const g = r.results;
      assert.equal(g.modules, "ok", `module loading: ${g.modules}`);
      assert.equal(r.rc, 0, `guest script rc ${r.rc}; log ${r.logFile}`);
      console.log(
        `[e2e] aarch64 sfp: E2E-END after ${
          (r.markerMs / 1000).toFixed(1)
        } s; API unplug -> "module removed" ` +
          `${timing.removalMs.toFixed(0)} ms, API plug -> re-probe ${
            timing.reprobeMs.toFixed(0)
          } ms; log ${r.logFile}`,
      );

      // "module VENDOR PN rev REV sn SN dc DATE" for every plugged cage, as the API describes it;
      // no cage without a module says anything of a module, and the kernel rejected nothing.
      const messages = r.lines.map(kmsg).filter((m): m is string => m !== undefined);
      for (const cage of plugged) {
        const seen = parseModuleLine(kmsg(probes.get(cage)!.line)!);
        assert.deepEqual(seen, moduleIdentity(cage, modules.get(cage)!));
      }
      const probed = messages.map(parseModuleLine).filter((m) => m).map((m) => m!.cage);
      assert.deepEqual([...new Set(probed)].sort((a, b) => a - b), plugged);
      const complaints = messages.filter((m) => /checksum|failed|error|unsupported|not support/i.test(m));
      assert.deepEqual(complaints, [], "the sfp driver complained");

      // hwmon: exactly what the kernel computes from the A2h bytes the API shows, and the API's
      // own readings in °C and dBm.
      assert.equal(
        g["hwmon.seen"],
        "yes",
        "the sfp driver registered fewer hwmon devices than plugged cages",
      );
      for (const cage of plugged) {
        const shown = parseHwmon(g[`hwmon.sfp${cage}`]);
        assert.deepEqual(shown, hwmonExpected(a2Live(a2.get(cage)!)), `sfp${cage} hwmon vs the API's A2h`);
        const d = modules.get(cage)!.diagnostics;
        assert.ok(Math.abs(shown.temp1_input - d.temperatureC * 1000) <= 4, `sfp${cage} temperature`);
        const rxMicroW = 10 ** (d.rxPowerDbm / 10) * 1000;
        assert.ok(
          Math.abs(shown.power2_input - rxMicroW) <= Math.max(1, rxMicroW * 0.01),
          `sfp${cage} rx power`,
        );
      }

      // After PATCH diagnostics: the new temperature and Rx power, as the API reports them.
      assert.equal(g["patch.seen"], "yes", `hwmon never showed ${PATCH.temperatureC} °C`);
      const patched = parseHwmon(g["hwmon.patched.sfp1"]);
      assert.deepEqual(patched, hwmonExpected(a2Live(patchedA2!)));
      assert.equal(patched.temp1_input, 61250);
      assert.equal(patched.power2_input, Math.round(powerRaw(PATCH.rxPowerDbm) / 10));
      assert.equal(patchedModule!.diagnostics.temperatureC, PATCH.temperatureC);
      assert.equal(patchedModule!.diagnostics.rxPowerDbm, PATCH.rxPowerDbm);

      // Hot-plug through the API.
      assert.equal(g["unplug.seen"], "yes", "sfp1's hwmon stayed after the unplug");
      assert.ok(
        timing.removalMs < REMOVAL_LIMIT_MS,
        `"module removed" ${
          timing.removalMs.toFixed(0)
        } ms after the API unplug (limit ${REMOVAL_LIMIT_MS} ms)`,
      );
      assert.equal(g["replug.seen"], "yes", "sfp1's hwmon did not come back after the re-plug");
      assert.notEqual(g["hwmon.replugged.sfp1"], "absent");
    });
  } catch (error) {
    artifacts.fail();
    throw error;
  }
});
