// The flattened device tree reader and writer (src/vm/fdt.ts) on QEMU's own tree and on broken blobs.
import assert from "node:assert/strict";
import {
  cells,
  EMPTY,
  type Fdt,
  FdtError,
  maxPhandle,
  nodeAt,
  parseFdt,
  property,
  readCells,
  readStrings,
  serializeFdt,
  setProperty,
  strings,
  walk,
} from "../../src/vm/fdt.ts";
import { qemuVirtDtb } from "./support.ts";

const u32 = (bytes: Uint8Array, offset: number) =>
  new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset);

Deno.test("fdt: reads QEMU's aarch64 virt tree", async () => {
  const blob = await qemuVirtDtb();
  assert.equal(blob.length, 1 << 20, "QEMU dumps its tree with 1 MiB of room");
  const fdt = parseFdt(blob);
  assert.equal(fdt.root.name, "");
  assert.deepEqual(readStrings(property(fdt.root, "compatible")!), ["linux,dummy-virt"]);
  assert.deepEqual(readCells(property(fdt.root, "#address-cells")!), [2]);
  const mmio = fdt.root.children.filter((c) => c.name.startsWith("virtio_mmio@"));
  assert.equal(mmio.length, 32);
  assert.deepEqual(readCells(property(nodeAt(fdt, "/virtio_mmio@a003e00")!, "reg")!), [
    0,
    0xa003e00,
    0,
    0x200,
  ]);
  assert.deepEqual(readStrings(property(nodeAt(fdt, "/psci")!, "compatible")!), [
    "arm,psci-1.0",
    "arm,psci-0.2",
    "arm,psci",
  ]);
  assert.equal(property(nodeAt(fdt, "/virtio_mmio@a000000")!, "dma-coherent")!.length, 0);
  assert.equal(maxPhandle(fdt), 0x8004);
  assert.deepEqual(fdt.reservations, []);
  assert.equal(nodeAt(fdt, "/no-such-node"), undefined);
});

Deno.test("fdt: write then read gives the same tree; the blob is compact and well-formed", async () => {
  const fdt = parseFdt(await qemuVirtDtb());
  const out = serializeFdt(fdt);
  assert.ok(out.length < 16_384, `${out.length} bytes`);
  assert.equal(u32(out, 0), 0xd00dfeed);
  assert.equal(u32(out, 4), out.length, "totalsize");
  assert.equal(u32(out, 20), 17, "version");
  assert.equal(u32(out, 24), 16, "last compatible version");
  const structOffset = u32(out, 8), stringsOffset = u32(out, 12);
  assert.equal(u32(out, 16), 40, "reservation block right after the header");
  assert.equal(structOffset % 4, 0);
  assert.equal(structOffset + u32(out, 36), stringsOffset, "strings follow the structure block");
  assert.equal(stringsOffset + u32(out, 32), out.length);
  assert.deepEqual(parseFdt(out), fdt);
  // Writing is deterministic, and a second round trip changes nothing.
  assert.deepEqual(serializeFdt(parseFdt(out)), out);
});

Deno.test("fdt: reservations, the boot CPU and new nodes survive a round trip", () => {
  const fdt: Fdt = {
    root: { name: "", properties: [{ name: "model", value: strings("test") }], children: [] },
    reservations: [{ address: 0x8000_0000_0000n, size: 0x1000n }, { address: 0x4000n, size: 1n }],
    bootCpuId: 3,
  };
  fdt.root.children.push({
    name: "gpio",
    properties: [
      { name: "gpio-controller", value: EMPTY },
      { name: "odd", value: new Uint8Array([1, 2, 3]) }, // padded to 4 in the blob, kept as 3 bytes
      { name: "phandle", value: cells(7) },
    ],
    children: [{ name: "child@1", properties: [], children: [] }],
  });
  const back = parseFdt(serializeFdt(fdt));
  assert.deepEqual(back, fdt);
  assert.equal(maxPhandle(back), 7);
  assert.deepEqual([...walk(back.root)].map((w) => w.path), ["/", "/gpio", "/gpio/child@1"]);
});

Deno.test("fdt: property helpers", () => {
  assert.deepEqual([...cells(1, 0xffffffff)], [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => cells(-1), RangeError);
  assert.throws(() => cells(2 ** 32), RangeError);
  assert.throws(() => cells(1.5), RangeError);
  assert.deepEqual(readStrings(strings("a", "bc")), ["a", "bc"]);
  assert.deepEqual(readStrings(new Uint8Array([0x61])), [], "not NUL-terminated: not a string");
  assert.throws(() => readCells(new Uint8Array(3)), FdtError);
  const node = { name: "n", properties: [], children: [] };
  setProperty(node, "x", cells(1));
  setProperty(node, "x", cells(2));
  assert.deepEqual(node.properties, [{ name: "x", value: cells(2) }]);
});

/** A valid small blob to break in the tests below. */
function smallBlob(): Uint8Array {
  return serializeFdt({
    root: { name: "", properties: [{ name: "a", value: cells(1) }], children: [] },
    reservations: [],
    bootCpuId: 0,
  });
}

function broken(edit: (b: Uint8Array, view: DataView) => void): Uint8Array {
  const b = smallBlob();
  edit(b, new DataView(b.buffer));
  return b;
}

Deno.test("fdt: a malformed blob is an FdtError that says what is wrong", () => {
  const structOffset = u32(smallBlob(), 8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(10), /only 10 bytes/],
    ["bad magic", broken((_, v) => v.setUint32(0, 0x12345678)), /magic 0x12345678/],
    ["truncated", smallBlob().subarray(0, 60), /truncated device tree blob/],
    ["old version", broken((_, v) => v.setUint32(20, 15)), /unsupported device tree version 15/],
    ["struct outside", broken((_, v) => v.setUint32(8, 1 << 20)), /structure block .* outside/],
    ["strings outside", broken((_, v) => v.setUint32(32, 1 << 20)), /strings block .* outside/],
    ["unknown token", broken((_, v) => v.setUint32(structOffset, 7)), /unknown token 0x7/],
    ["property first", broken((_, v) => v.setUint32(structOffset, 3)), /property outside any node/],
    ["no FDT_END", broken((_, v) => v.setUint32(36, 8)), /ends without FDT_END|ends inside/],
    // root begin (4) + name "" padded (4) + PROP (4) + len (4): the name offset is next.
    ["name offset", broken((_, v) => v.setUint32(structOffset + 16, 999)), /name offset 999/],
    ["huge property", broken((_, v) => v.setUint32(structOffset + 12, 1 << 30)), /runs past/],
    ["END_NODE first", broken((_, v) => v.setUint32(structOffset, 2)), /unmatched FDT_END_NODE/],
    [
      "END inside",
      broken((_, v) => v.setUint32(u32(smallBlob(), 36) + structOffset - 8, 9)),
      /FDT_END inside/,
    ],
  ];
  for (const [what, blob, message] of cases) {
    assert.throws(() => parseFdt(blob), (e: unknown) => {
      assert.ok(e instanceof FdtError, `${what}: ${e}`);
      assert.match(e.message, message, what);
      return true;
    });
  }
});

Deno.test("fdt: names the writer cannot represent are refused", () => {
  const bad = (name: string, prop: string) => ({
    root: { name, properties: [{ name: prop, value: EMPTY }], children: [] },
    reservations: [],
    bootCpuId: 0,
  });
  assert.throws(() => serializeFdt(bad("a\0b", "p")), FdtError);
  assert.throws(() => serializeFdt(bad("", "")), FdtError);
  assert.throws(() => serializeFdt(bad("", "p\0")), FdtError);
});
