// The board's device-tree nodes (src/vm/board-tree.ts) merged into QEMU's own aarch64 virt tree:
// every cage wired to the channel and GPIO lines the emulated board gives it (src/board/board.ts).
import assert from "node:assert/strict";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import { addBoardNodes, virtioMmioTransports } from "../../src/vm/board-tree.ts";
import {
  type Fdt,
  FdtError,
  type FdtNode,
  nodeAt,
  parseFdt,
  property,
  readCells,
  readStrings,
  serializeFdt,
  walk,
} from "../../src/vm/fdt.ts";
import { qemuVersalDtb, qemuVirtDtb } from "./support.ts";

const base = async () => parseFdt(await qemuVirtDtb());
const cellsOf = (node: FdtNode, name: string) => readCells(property(node, name)!);
const stringsOf = (node: FdtNode, name: string) => readStrings(property(node, name)!);

function byPhandle(fdt: Fdt): Map<number, string> {
  const map = new Map<number, string>();
  for (const { node, path } of walk(fdt.root)) {
    const ph = property(node, "phandle");
    if (ph) {
      const [value] = readCells(ph);
      assert.ok(!map.has(value), `phandle ${value} used twice (${map.get(value)} and ${path})`);
      map.set(value, path);
    }
  }
  return map;
}

Deno.test("board tree: QEMU fills virtio-mmio transports from the highest address down", async () => {
  const transports = virtioMmioTransports(await base());
  assert.equal(transports.length, 32);
  assert.equal(transports[0].path, "/virtio_mmio@a003e00");
  assert.equal(transports[1].path, "/virtio_mmio@a003c00");
  assert.equal(transports[31].path, "/virtio_mmio@a000000");
});

Deno.test("board tree: 10 cages = virtio i2c with two idle-disconnect PCA9548s, virtio gpio, 10 sfp nodes", async () => {
  const fdt = await base();
  const summary = addBoardNodes(fdt, { cageCount: 10 });
  assert.equal(summary.i2c, "/virtio_mmio@a003e00/i2c");
  assert.equal(summary.gpio, "/virtio_mmio@a003c00/gpio");
  assert.deepEqual(summary.muxes, [
    "/virtio_mmio@a003e00/i2c/i2c-mux@70",
    "/virtio_mmio@a003e00/i2c/i2c-mux@71",
  ]);

  // Through a blob and back: what the guest's kernel will read.
  const tree = parseFdt(serializeFdt(fdt));
  const i2c = nodeAt(tree, summary.i2c)!;
  assert.deepEqual(stringsOf(i2c, "compatible"), ["virtio,device22"]);
  assert.deepEqual(cellsOf(i2c, "#address-cells"), [1]);
  assert.deepEqual(cellsOf(i2c, "#size-cells"), [0]);
  for (const [i, path] of summary.muxes.entries()) {
    const mux = nodeAt(tree, path)!;
    assert.deepEqual(stringsOf(mux, "compatible"), ["nxp,pca9548"]);
    assert.deepEqual(cellsOf(mux, "reg"), [0x70 + i]);
    assert.ok(property(mux, "i2c-mux-idle-disconnect"), "idle-disconnect: two muxes share the bus");
    assert.deepEqual(mux.children.map((c) => c.name), [0, 1, 2, 3, 4, 5, 6, 7].map((n) => `i2c@${n}`));
    for (const [n, ch] of mux.children.entries()) assert.deepEqual(cellsOf(ch, "reg"), [n]);
  }
  const gpio = nodeAt(tree, summary.gpio)!;
  assert.deepEqual(stringsOf(gpio, "compatible"), ["virtio,device29"]);
  assert.equal(property(gpio, "gpio-controller")!.length, 0);
  assert.equal(property(gpio, "interrupt-controller")!.length, 0);
  assert.deepEqual(cellsOf(gpio, "#gpio-cells"), [2]);
  assert.deepEqual(cellsOf(gpio, "#interrupt-cells"), [2]);

  const phandles = byPhandle(tree);
  const gpioPhandle = cellsOf(gpio, "phandle")[0];
  assert.ok(gpioPhandle > 0x8004, "new phandles come after QEMU's");
  for (let cage = 1; cage <= 10; cage++) {
    const node = nodeAt(tree, `/sfp${cage}`)!;
    assert.deepEqual(stringsOf(node, "compatible"), ["sff,sfp"]);
    const { muxAddress, channel } = cageI2cLocation(cage);
    const bus = phandles.get(cellsOf(node, "i2c-bus")[0]);
    assert.equal(bus, `/virtio_mmio@a003e00/i2c/i2c-mux@${muxAddress.toString(16)}/i2c@${channel}`);
    assert.equal(summary.cages[cage - 1].i2cBus, bus);
    const pins: [string, Parameters<typeof cageLineIndex>[1], number][] = [
      ["mod-def0-gpios", "mod-abs", 1], // active low: MOD_ABS low = module present
      ["los-gpios", "rx-los", 0],
      ["tx-fault-gpios", "tx-fault", 0],
      ["tx-disable-gpios", "tx-disable", 0],
      ["rate-select0-gpios", "rs0", 0],
      ["rate-select1-gpios", "rs1", 0],
    ];
    for (const [prop, line, flags] of pins) {
      assert.deepEqual(
        cellsOf(node, prop),
        [gpioPhandle, cageLineIndex(cage, line), flags],
        `sfp${cage} ${prop}`,
      );
    }
    assert.deepEqual(cellsOf(node, "maximum-power-milliwatt"), [1000]);
  }
  assert.equal(nodeAt(tree, "/sfp11"), undefined);
  // QEMU's own nodes are untouched.
  assert.deepEqual(
    (await base()).root.children.map((c) => c.name),
    tree.root.children.map((c) => c.name).filter((n) => !/^sfp\d+$/.test(n)),
  );
});

Deno.test("board tree: one mux for up to 8 cages; power and the transports are options", async () => {
  const fdt = await base();
  const summary = addBoardNodes(fdt, { cageCount: 8, maxPowerMw: 1500, mmioBefore: 3 });
  assert.deepEqual(summary.muxes, ["/virtio_mmio@a003800/i2c/i2c-mux@70"]);
  assert.equal(summary.gpio, "/virtio_mmio@a003600/gpio");
  assert.deepEqual(cellsOf(nodeAt(fdt, "/sfp8")!, "maximum-power-milliwatt"), [1500]);
  assert.equal(summary.cages[7].i2cBus, "/virtio_mmio@a003800/i2c/i2c-mux@70/i2c@7");
});

Deno.test("board tree: 64 cages, eight muxes 0x70..0x77", async () => {
  const summary = addBoardNodes(await base(), { cageCount: 64 });
  assert.equal(summary.muxes.length, 8);
  assert.match(summary.muxes[7], /i2c-mux@77$/);
  assert.equal(summary.cages[63].i2cBus, "/virtio_mmio@a003e00/i2c/i2c-mux@77/i2c@7");
});

Deno.test("board tree: refuses a tree that cannot take the board", async () => {
  const merged = await base();
  addBoardNodes(merged, { cageCount: 2 });
  assert.throws(() => addBoardNodes(merged, { cageCount: 2 }), (e: Error) => {
    assert.ok(e instanceof FdtError);
    assert.match(e.message, /virtio_mmio@a003e00 already has a device node \(i2c\)/);
    return true;
  });
  assert.throws(
    () => addBoardNodes(parseFdt(serializeFdt(merged)), { cageCount: 2, mmioBefore: 2 }),
    /already has a node \/sfp1/,
  );
  const fresh = await base();
  assert.throws(() => addBoardNodes(fresh, { cageCount: 2, mmioBefore: 31 }), /32 virtio-mmio transports/);
  const bare: Fdt = { root: { name: "", properties: [], children: [] }, reservations: [], bootCpuId: 0 };
  assert.throws(() => addBoardNodes(bare, { cageCount: 1 }), /0 virtio-mmio transports.*dumpdtb/);
  assert.throws(() => addBoardNodes(bare, { cageCount: 0 }), RangeError);
});

Deno.test("board tree: the board's ID EEPROM and LM75 sit on the virtio i2c root bus when the board has them", async () => {
  const fdt = await base();
  const summary = addBoardNodes(fdt, { cageCount: 2, extras: { idEeprom: true, temperatureSensor: true } });
  const tree = parseFdt(serializeFdt(fdt));
  const eeprom = nodeAt(tree, `${summary.i2c}/eeprom@57`)!;
  assert.deepEqual(stringsOf(eeprom, "compatible"), ["atmel,24c02"]);
  assert.deepEqual(cellsOf(eeprom, "reg"), [0x57]);
  assert.ok(property(eeprom, "read-only"), "the ID EEPROM is write-protected");
  const sensor = nodeAt(tree, `${summary.i2c}/temperature-sensor@48`)!;
  assert.deepEqual(stringsOf(sensor, "compatible"), ["national,lm75"]);
  assert.deepEqual(cellsOf(sensor, "reg"), [0x48]);

  const bare = await base();
  const plain = addBoardNodes(bare, { cageCount: 2 });
  assert.equal(nodeAt(bare, `${plain.i2c}/eeprom@57`), undefined);
  assert.equal(nodeAt(bare, `${plain.i2c}/temperature-sensor@48`), undefined);
});

Deno.test("board tree: xlnx-versal-virt's 8 transports; a GEM wired to a cage becomes its SFP upstream", async () => {
  const fdt = parseFdt(await qemuVersalDtb());
  const transports = virtioMmioTransports(fdt);
  assert.equal(transports.length, 8);
  assert.equal(transports[0].path, "/virtio_mmio@a0000e00");
  const gem0 = nodeAt(fdt, "/ethernet@ff0c0000")!;
  assert.ok(property(gem0, "phy-handle") && gem0.children.some((c) => c.name === "fixed-link"));

  const summary = addBoardNodes(fdt, {
    cageCount: 10,
    macs: [{ cage: 3, mac: "ethernet@ff0c0000" }, { cage: 10, mac: "/ethernet@ff0d0000" }],
  });
  assert.equal(summary.i2c, "/virtio_mmio@a0000e00/i2c");
  assert.equal(summary.gpio, "/virtio_mmio@a0000c00/gpio");
  assert.deepEqual(
    summary.cages.filter((c) => c.mac).map((c) => [c.cage, c.mac]),
    [[3, "/ethernet@ff0c0000"], [10, "/ethernet@ff0d0000"]],
  );

  const tree = parseFdt(serializeFdt(fdt));
  const phandles = byPhandle(tree); // also: no phandle twice
  for (const [mac, cage] of [["/ethernet@ff0c0000", 3], ["/ethernet@ff0d0000", 10]] as const) {
    const node = nodeAt(tree, mac)!;
    assert.equal(phandles.get(cellsOf(node, "sfp")[0]), `/sfp${cage}`, `${mac}'s sfp`);
    assert.deepEqual(stringsOf(node, "managed"), ["in-band-status"]);
    // phylink refuses a fixed-link with in-band status; the PHY is the module's business now.
    assert.equal(property(node, "phy-handle"), undefined);
    assert.deepEqual(node.children.map((c) => c.name), []);
    // What the MAC is stays as QEMU made it.
    assert.deepEqual(stringsOf(node, "compatible"), ["cdns,zynqmp-gem", "cdns,gem"]);
    assert.deepEqual(stringsOf(node, "phy-mode"), ["rgmii-id"]);
  }
  // Every cage can be pointed at, wired or not.
  for (let cage = 1; cage <= 10; cage++) {
    assert.equal(phandles.get(cellsOf(nodeAt(tree, `/sfp${cage}`)!, "phandle")[0]), `/sfp${cage}`);
  }
});

Deno.test("board tree: MAC wiring mistakes name what the tree has", async () => {
  const cases: [{ cage: number; mac: string }[], RegExp][] = [
    [
      [{ cage: 1, mac: "eth0" }],
      /no node eth0 in the base tree; the tree's Ethernet nodes: \/ethernet@ff0c0000, \/ethernet@ff0d0000/,
    ],
    [[{ cage: 11, mac: "ethernet@ff0c0000" }], /wired to cage 11, but the board's cages are 1-10/],
    [[{ cage: 0, mac: "ethernet@ff0c0000" }], /cage 0/],
    [[{ cage: 1, mac: "/" }], /\/ is not a device/],
    [[{ cage: 1, mac: "/cpus" }], /\/cpus is not a device \(no compatible property\)/],
    [
      [{ cage: 1, mac: "ethernet@ff0c0000" }, { cage: 1, mac: "ethernet@ff0d0000" }],
      /cage 1 is wired to two MACs/,
    ],
    [
      [{ cage: 1, mac: "ethernet@ff0c0000" }, { cage: 2, mac: "/ethernet@ff0c0000" }],
      /ethernet@ff0c0000 is wired to two cages/,
    ],
  ];
  for (const [macs, message] of cases) {
    const fdt = parseFdt(await qemuVersalDtb());
    const before = serializeFdt(fdt);
    assert.throws(() => addBoardNodes(fdt, { cageCount: 10, macs }), (e: Error) => {
      assert.ok(e instanceof FdtError, String(e));
      assert.match(e.message, message);
      return true;
    });
    // Refused before anything was added.
    assert.deepEqual(serializeFdt(fdt), before, JSON.stringify(macs));
  }
  // The virt machine has no MAC at all.
  await assert.rejects(
    (async () => addBoardNodes(await base(), { cageCount: 2, macs: [{ cage: 1, mac: "ethernet" }] }))(),
    /no node ethernet in the base tree; the tree has no ethernet@ nodes/,
  );
});
