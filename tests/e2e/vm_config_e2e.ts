// vm-config's device tree against dtc, the reference implementation: the TypeScript FDT writer
// emits byte for byte what dtc emits for the same tree (QEMU's own, and QEMU's with the board
// merged), and dtc reads the merged tree back to the same blob through its source form.
import assert from "node:assert/strict";
import * as path from "node:path";
import { parseFdt, serializeFdt } from "../../src/vm/fdt.ts";
import { aarch64BoardTree, runHost, testArtifacts } from "./harness.ts";

const artifacts = await testArtifacts();
const workDir = artifacts.dir;

const dtc = (from: "dtb" | "dts", to: "dtb" | "dts", input: Uint8Array) =>
  runHost("dtc", ["-q", "-I", from, "-O", to, "-"], input);

Deno.test("e2e vm-config: the FDT writer and dtc agree byte for byte on QEMU's tree and the merged one", async () => {
  try {
    const stateDir = await Deno.makeTempDir({ prefix: "sfpemu-e2e-state-" });
    let tree;
    try {
      tree = await aarch64BoardTree(workDir, "vm-config", stateDir);
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
    const qemuBlob = await Deno.readFile(tree.baseDtb);
    assert.deepEqual(serializeFdt(parseFdt(qemuBlob)), await dtc("dtb", "dtb", qemuBlob));
    const board = await Deno.readFile(tree.dtb);
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
    artifacts.fail();
    throw error;
  }
});
