// Boot smoke test of the e2e tier's guests, with no vhost-user device attached: each Debian kernel
// boots to the busybox /init, every module of the default list (including the out-of-tree
// i2c-virtio, gpio-virtio and, on x86_64, i2c-mux-pca954x) loads, and the guest powers off. On
// aarch64 it also proves the device-tree path: dump QEMU's tree, edit it, boot with -dtb, and the
// virtio-mmio slot order (first -device at the highest address).
//
//   tests/e2e/boot-smoke.sh [CACHE_DIR]        (prepares the cache, then runs this file)
//   SFPEMU_E2E_CACHE=DIR deno test --allow-all tests/e2e/boot_smoke_e2e.ts
//
// SFPEMU_E2E_WORK=DIR keeps the initramfs images and console logs there (default: a temp dir,
// removed when the tests pass).

import assert from "node:assert/strict";
import * as path from "node:path";
import {
  type Arch,
  compileDts,
  defaultCacheDir,
  dumpAarch64Dtb,
  guestAssets,
  type GuestRun,
  makeInitramfs,
  Qemu,
  qemuCommand,
  runGuest,
} from "./qemu.ts";
import { addBoardNodes } from "../../src/vm/board-tree.ts";
import { parseFdt, serializeFdt } from "../../src/vm/fdt.ts";

const cacheDir = defaultCacheDir();
const keepWork = Deno.env.get("SFPEMU_E2E_WORK");
const workDir = keepWork ?? await Deno.makeTempDir({ prefix: "sfpemu-e2e-smoke-" });
let failures = 0;

const EXPECTED: Record<Arch, string[]> = {
  x86_64: ["virtio_pci", "i2c_virtio", "gpio_virtio", "i2c_dev", "i2c_mux_pca954x", "at24"],
  aarch64: ["virtio_mmio", "i2c_virtio", "gpio_virtio", "i2c_dev", "i2c_mux_pca954x", "at24", "sfp"],
};

const SMOKE_SCRIPT = `
e2e loaded "$(cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' ')"
e2e virtio_drivers "$(ls /sys/bus/virtio/drivers | tr '\\n' ' ')"
e2e virtio_devices "$(ls /sys/bus/virtio/devices | wc -l)"
e2e tainted "$(cat /proc/sys/kernel/tainted)"
e2e debugfs "$(test -d /sys/kernel/debug/gpio -o -f /sys/kernel/debug/gpio && echo yes || echo no)"
e2e i2cdetect "$(command -v i2cdetect >/dev/null && echo yes || echo no)"
`;

function report(arch: string, what: string, r: GuestRun) {
  const up = (k: string) => r.results[`uptime.${k}`] ?? "?";
  console.log(
    `[e2e] ${arch} ${what}: E2E-END after ${(r.markerMs / 1000).toFixed(2)} s, QEMU exit after ` +
      `${(r.exitMs / 1000).toFixed(2)} s (wall); guest uptime at /init ${up("init")} s, modules loaded ` +
      `${up("modules")} s, end ${up("end")} s; kernel ${r.results.init}; log ${r.logFile}`,
  );
}

async function check(fn: () => Promise<void>) {
  try {
    await fn();
  } catch (e) {
    failures++;
    throw e;
  }
}

for (const arch of ["x86_64", "aarch64"] as Arch[]) {
  Deno.test(`e2e boot smoke: ${arch} boots, loads the modules, powers off`, () =>
    check(async () => {
      guestAssets(arch, cacheDir); // a clear error when the cache is missing
      const r = await runGuest({ arch, script: SMOKE_SCRIPT, workDir, cacheDir, name: `smoke-${arch}` });
      report(arch, "boot", r);
      assert.equal(r.results.modules, "ok", `module loading failed: ${r.results.modules}`);
      assert.equal(r.rc, 0, "guest script failed");
      const loaded = r.results.loaded.split(" ");
      for (const m of EXPECTED[arch]) assert.ok(loaded.includes(m), `${m} not loaded: ${r.results.loaded}`);
      // No device attached: the drivers register and find nothing.
      assert.match(r.results.virtio_drivers, /gpio_virtio/);
      assert.match(r.results.virtio_drivers, /i2c_virtio/);
      assert.equal(r.results.virtio_devices, "0");
      assert.equal(r.results.debugfs, "yes");
      assert.equal(r.results.i2cdetect, "yes");
      assert.equal(r.qemuExitCode, 0);
    }));
}

const TRANSPORT_SCRIPT = `
for d in /sys/bus/virtio/devices/*; do
  e2e "virtio.$(cat $d/device)" "$(basename $(readlink -f $d/..))"
done
`;

Deno.test("e2e boot smoke: x86_64 PVH boot (vmlinux) enumerates a virtio-pci device; the bzImage boots too", () =>
  check(async () => {
    const assets = guestAssets("x86_64", cacheDir);
    const common = {
      arch: "x86_64" as const,
      workDir,
      cacheDir,
      modules: ["virtio_pci"],
      extraArgs: ["-device", "virtio-rng-pci"],
      script: TRANSPORT_SCRIPT,
    };
    const pvh = await runGuest({ ...common, name: "smoke-x86_64-pci" });
    report("x86_64", "PVH boot + virtio-rng-pci", pvh);
    assert.equal(pvh.rc, 0);
    assert.match(pvh.results["virtio.0x0004"] ?? "", /^0000:00:0[0-9a-f]\.0$/);
    const bz = await runGuest({ ...common, name: "smoke-x86_64-bzimage", kernel: assets.bzImage });
    report("x86_64", "bzImage boot + virtio-rng-pci", bz);
    assert.equal(bz.rc, 0);
    assert.equal(bz.results["virtio.0x0004"], pvh.results["virtio.0x0004"]);
  }));

Deno.test("e2e boot smoke: aarch64 boots a dumped, edited and recompiled device tree", () =>
  check(async () => {
    const dtb = path.join(workDir, "virt.dtb");
    // Same -machine/-m/-smp as the boot; the -device list does not change QEMU's tree.
    const dts = await dumpAarch64Dtb({ dtbOut: dtb });
    assert.match(dts, /virtio_mmio@a003e00/, "the highest virtio-mmio transport is missing");
    assert.equal((dts.match(/compatible = "virtio,mmio"/g) ?? []).length, 32);
    const edited = dts.replace(
      /\n};\s*$/,
      `
	sfpemu-e2e {
		marker = "dtb-roundtrip";
	};
};
`,
    );
    assert.notEqual(edited, dts, "could not find the root node's end in the dumped tree");
    const edtb = path.join(workDir, "virt-edited.dtb");
    await compileDts(edited, edtb);
    const r = await runGuest({
      arch: "aarch64",
      name: "smoke-aarch64-dtb",
      workDir,
      cacheDir,
      dtb: edtb,
      modules: ["virtio_mmio"],
      // Two plain virtio-mmio devices (no backend needed): rng (id 4) first, balloon (id 5) second.
      extraArgs: ["-device", "virtio-rng-device", "-device", "virtio-balloon-device"],
      script: `e2e marker "$(tr -d '\\000' </proc/device-tree/sfpemu-e2e/marker)"\n${TRANSPORT_SCRIPT}`,
    });
    report("aarch64", "boot with -dtb", r);
    assert.equal(r.rc, 0);
    assert.equal(r.results.marker, "dtb-roundtrip");
    // virtio-mmio slots fill from the highest address down.
    assert.equal(r.results["virtio.0x0004"], "a003e00.virtio_mmio");
    assert.equal(r.results["virtio.0x0005"], "a003c00.virtio_mmio");
  }));

Deno.test("e2e boot smoke: aarch64 accepts a board tree (virtio children, two PCA9548, sfp cages)", () =>
  check(async () => {
    const baseDtb = path.join(workDir, "virt-board-base.dtb");
    await dumpAarch64Dtb({ dtbOut: baseDtb });
    // The product's own merge (src/vm, as `sfpemu vm-config --base-dtb` does it), 10 cages.
    const tree = parseFdt(await Deno.readFile(baseDtb));
    addBoardNodes(tree, { cageCount: 10, maxPowerMw: 1500 });
    const dtb = path.join(workDir, "virt-board.dtb");
    await Deno.writeFile(dtb, serializeFdt(tree));
    // No backend here: the virtio devices are absent, so the cages wait for their I2C adapter.
    const r = await runGuest({
      arch: "aarch64",
      name: "smoke-aarch64-board-dt",
      workDir,
      cacheDir,
      dtb,
      script: `
dt=/proc/device-tree
e2e i2c_child "$(tr -d '\\000' <$dt/virtio_mmio@a003e00/i2c/compatible)"
e2e gpio_child "$(tr -d '\\000' <$dt/virtio_mmio@a003c00/gpio/compatible)"
e2e mux1 "$(tr -d '\\000' <$dt/virtio_mmio@a003e00/i2c/i2c-mux@71/compatible)"
e2e sfp10 "$(tr -d '\\000' <$dt/sfp10/compatible)"
deferred() { grep -q sfp10 /sys/kernel/debug/devices_deferred; }
e2e_wait 30 deferred
e2e deferred "$(cut -f1 /sys/kernel/debug/devices_deferred | sort | tr '\\n' ' ')"
`,
    });
    report("aarch64", "board tree", r);
    assert.equal(r.rc, 0);
    assert.equal(r.results.i2c_child, "virtio,device22");
    assert.equal(r.results.gpio_child, "virtio,device29");
    assert.equal(r.results.mux1, "nxp,pca9548");
    assert.equal(r.results.sfp10, "sff,sfp");
    assert.match(r.results.deferred, /\bsfp1\b.*\bsfp10\b/);
  }));

Deno.test("e2e boot smoke: a guest that never finishes is reported at the deadline and killed", () =>
  check(async () => {
    const assets = guestAssets("aarch64", cacheDir);
    const initrd = await makeInitramfs({
      arch: "aarch64",
      cacheDir,
      out: path.join(workDir, "smoke-hang.cpio"),
      modules: [],
      script: "e2e waiting 1\nsleep 600\n",
    });
    const { binary, args } = qemuCommand({ arch: "aarch64", kernel: assets.kernel, initrd });
    const vm = Qemu.start(binary, args, { logFile: path.join(workDir, "smoke-hang.log") });
    try {
      const w = await vm.waitFor("E2E: waiting=1", { timeoutMs: 120_000 });
      assert.ok(w.atMs > 0);
      await assert.rejects(
        vm.waitFor(/^E2E-END/, { timeoutMs: 500, fromIndex: w.index }),
        /no console line matching/,
      );
      assert.equal(vm.status, null, "QEMU must still run after a failed wait");
    } finally {
      await vm.kill(); // QEMU exits by itself on SIGTERM ("terminating on signal 15")
    }
    assert.notEqual(vm.status, null);
    assert.throws(() => Deno.kill(vm.pid, "SIGCONT"), "the QEMU process is gone");
  }));

// Runs also when --filter leaves some tests out.
globalThis.addEventListener("unload", () => {
  if (!keepWork && failures === 0) Deno.removeSync(workDir, { recursive: true });
  else console.log(`[e2e] logs kept in ${workDir}`);
});
