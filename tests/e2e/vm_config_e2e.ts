// vm-config's device tree against dtc, the reference implementation: the TypeScript FDT writer
// emits byte for byte what dtc emits for the same tree (QEMU's own, and QEMU's with the board
// merged), and dtc reads the merged tree back to the same blob through its source form.
import assert from "node:assert/strict";
import * as path from "node:path";
import { parseFdt, serializeFdt } from "../../src/vm/fdt.ts";
import { machineArgs, qemuBinary } from "./qemu.ts";
import { artifactsDir, BOARD, TOPOLOGY, vmConfig } from "./harness.ts";

const { dir: workDir, keep } = await artifactsDir();
let failed = false;

async function run(cmd: string, args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return out.stdout;
}

const dtc = (from: "dtb" | "dts", to: "dtb" | "dts", input: Uint8Array) =>
  run("dtc", ["-q", "-I", from, "-O", to, "-"], input);

Deno.test("e2e vm-config: the FDT writer and dtc agree byte for byte on QEMU's tree and the merged one", async () => {
  try {
    const base = path.join(workDir, "vm-config-base.dtb");
    const merged = path.join(workDir, "vm-config-board.dtb");
    await run(qemuBinary("aarch64"), [
      ...machineArgs("aarch64", 256, 1, false),
      "-m",
      "256M",
      "-machine",
      `dumpdtb=${base}`,
    ]);
    const qemuBlob = await Deno.readFile(base);
    assert.deepEqual(serializeFdt(parseFdt(qemuBlob)), await dtc("dtb", "dtb", qemuBlob));

    const stateDir = await Deno.makeTempDir({ prefix: "sfpemu-e2e-state-" });
    try {
      await vmConfig([
        BOARD,
        "--arch",
        "aarch64",
        "--topology",
        TOPOLOGY,
        "--state-dir",
        stateDir,
        "--base-dtb",
        base,
        "--dtb-out",
        merged,
      ]);
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
    const board = await Deno.readFile(merged);
    assert.deepEqual(await dtc("dtb", "dtb", board), board);
    const source = await dtc("dtb", "dts", board);
    assert.deepEqual(await dtc("dts", "dtb", source), board, "dtb -> dts -> dtb changes nothing");
    const text = new TextDecoder().decode(source);
    await Deno.writeTextFile(path.join(workDir, "vm-config-board.dts"), text);
    assert.match(
      text,
      /\n\tsfp9 \{\n\t\tcompatible = "sff,sfp";\n\t\ti2c-bus = <0x[0-9a-f]+>;\n\t\tmod-def0-gpios = <0x[0-9a-f]+ 0x30 0x01>;/,
    );
    assert.match(text, /virtio_mmio@a003e00 \{[^}]*\n\t\ti2c \{\n\t\t\tcompatible = "virtio,device22";/);
    assert.match(
      text,
      /i2c-mux@71 \{\n\t\t\t\tcompatible = "nxp,pca9548";\n\t\t\t\treg = <0x71>;[^}]*i2c-mux-idle-disconnect;/,
    );
    assert.match(
      text,
      /virtio_mmio@a003c00 \{[^}]*\n\t\tgpio \{\n\t\t\tcompatible = "virtio,device29";\n\t\t\tgpio-controller;/,
    );
  } catch (error) {
    failed = true;
    throw error;
  }
});

globalThis.addEventListener("unload", () => {
  if (!keep && !failed) Deno.removeSync(workDir, { recursive: true });
});
