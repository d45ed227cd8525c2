// A board's devices as device-tree nodes, merged into QEMU's own tree of an aarch64 machine with
// virtio-mmio transports (`virt`, `xlnx-versal-virt`), so the guest's stock drivers find
// everything without a line of board code: the virtio I2C adapter (`virtio,device22`) with one
// PCA9548 per 8 cages and their channels, the virtio GPIO controller (`virtio,device29`), and one
// `sff,sfp` node per cage for the kernel's sfp driver, wired to its channel and its six GPIO lines
// exactly as src/board/board.ts wires the emulated board. Optionally, Ethernet MACs of the base
// tree are wired to cages (`sfp = <&sfpN>`), as on a real line card: the MAC's driver then becomes
// the cage's phylink upstream, and bringing its netdev up starts the sfp driver's main state
// machine (TX_FAULT handling, LOS, link), which a cage without an upstream never runs.
import { cageI2cLocation, cageLineIndex, CAGES_PER_MUX } from "../board/board.ts";
import { ID_EEPROM_ADDRESS } from "../board/id-eeprom.ts";
import { LM75_ADDRESS } from "../board/lm75.ts";
import {
  cells,
  EMPTY,
  type Fdt,
  FdtError,
  type FdtNode,
  maxPhandle,
  property,
  readCells,
  readStrings,
  setProperty,
  strings,
  walk,
} from "./fdt.ts";

const GPIO_ACTIVE_HIGH = 0;
const GPIO_ACTIVE_LOW = 1;

/** The SFF-8419 baseline (power level 1), also the kernel's default without the property. */
export const DEFAULT_MAX_POWER_MW = 1000;

export interface BoardTreeOptions {
  cageCount: number;
  /** `maximum-power-milliwatt` of every cage. */
  maxPowerMw?: number;
  /**
   * How many virtio-mmio devices come before the board's two on the QEMU command line: QEMU fills
   * the transports from the highest address down, so the board's I2C device sits at transport
   * `mmioBefore` (counting from the highest) and its GPIO device at the next one.
   */
  mmioBefore?: number;
  /** Describe the board's ONIE ID EEPROM (at24) and LM75 sensor on the virtio I2C bus. */
  extras?: { idEeprom: boolean; temperatureSensor: boolean };
  /** Ethernet MACs of the base tree to wire to cages (see MacLink). */
  macs?: readonly MacLink[];
}

/**
 * One MAC of the base tree wired to one cage: `mac` is a node path ("/ethernet@ff0c0000") or a
 * node name found once in the tree ("ethernet@ff0c0000"). The MAC node loses its PHY
 * (`phy-handle`, `phy`, `phy-device`, `fixed-link`) and gets `sfp = <&sfp<cage>>` and
 * `managed = "in-band-status"`, the binding of a MAC that talks to an SFP cage; `phy-mode` stays.
 */
export interface MacLink {
  cage: number;
  mac: string;
}

export interface CageNode {
  cage: number;
  /** The node's path: `/sfp<cage>`; the guest's kernel names the device `sfp<cage>`. */
  path: string;
  /** Path of the mux channel the cage's `i2c-bus` points at. */
  i2cBus: string;
  /** The MAC node wired to this cage (MacLink), if any. */
  mac?: string;
}

export interface BoardTreeSummary {
  i2c: string;
  gpio: string;
  muxes: string[];
  cages: CageNode[];
}

/** Properties that tie a MAC to a PHY; an SFP cage replaces them. */
const MAC_PHY_PROPERTIES = ["phy-handle", "phy", "phy-device"];

/** Finds each link's MAC node; throws FdtError naming the MACs the tree has when one is missing. */
function resolveMacLinks(
  fdt: Fdt,
  links: readonly MacLink[],
  cageCount: number,
): { cage: number; node: FdtNode; path: string }[] {
  const all = [...walk(fdt.root)];
  const macNames = all.filter(({ node }) => /^ethernet(@|$)/.test(node.name)).map(({ path }) => path);
  const known = macNames.length
    ? `the tree's Ethernet nodes: ${macNames.join(", ")}`
    : "the tree has no ethernet@ nodes";
  const seenCages = new Set<number>();
  const seenMacs = new Set<string>();
  return links.map(({ cage, mac }) => {
    if (!Number.isInteger(cage) || cage < 1 || cage > cageCount) {
      throw new FdtError(`MAC ${mac} wired to cage ${cage}, but the board's cages are 1-${cageCount}`);
    }
    const found = mac.startsWith("/")
      ? all.filter(({ path }) => path === mac)
      : all.filter(({ node }) => node.name === mac);
    if (found.length === 0) throw new FdtError(`no node ${mac} in the base tree; ${known}`);
    if (found.length > 1) {
      throw new FdtError(
        `${mac} names ${found.length} nodes (${found.map((f) => f.path).join(", ")}); give a path`,
      );
    }
    const [{ node, path }] = found;
    if (path === "/" || !property(node, "compatible")) {
      throw new FdtError(`${path} is not a device (no compatible property); ${known}`);
    }
    if (seenCages.has(cage)) throw new FdtError(`cage ${cage} is wired to two MACs`);
    if (seenMacs.has(path)) throw new FdtError(`${path} is wired to two cages`);
    seenCages.add(cage);
    seenMacs.add(path);
    return { cage, node, path };
  });
}

/** The virtio-mmio transports of a tree, highest address first (the order QEMU fills them in). */
export function virtioMmioTransports(fdt: Fdt): { node: FdtNode; path: string; address: bigint }[] {
  const found: { node: FdtNode; path: string; address: bigint }[] = [];
  const visit = (node: FdtNode, path: string) => {
    const own = property(node, "#address-cells");
    const childCells = own?.length === 4 ? readCells(own)[0] : 2;
    for (const c of node.children) {
      const childPath = path === "/" ? `/${c.name}` : `${path}/${c.name}`;
      const compatible = property(c, "compatible");
      const reg = property(c, "reg");
      if (compatible && readStrings(compatible).includes("virtio,mmio") && reg) {
        const words = readCells(reg);
        if (words.length < childCells || childCells < 1 || childCells > 2) {
          throw new FdtError(`${childPath}: cannot read its address from reg`);
        }
        const address = words.slice(0, childCells).reduce((a, w) => (a << 32n) | BigInt(w), 0n);
        found.push({ node: c, path: childPath, address });
      }
      visit(c, childPath);
    }
  };
  visit(fdt.root, "/");
  return found.sort((a, b) => (a.address > b.address ? -1 : a.address < b.address ? 1 : 0));
}

/** Adds the board's nodes to `fdt` (in place). Throws FdtError when the tree cannot take them. */
export function addBoardNodes(fdt: Fdt, options: BoardTreeOptions): BoardTreeSummary {
  const { cageCount } = options;
  const maxPowerMw = options.maxPowerMw ?? DEFAULT_MAX_POWER_MW;
  const mmioBefore = options.mmioBefore ?? 0;
  if (!Number.isInteger(cageCount) || cageCount < 1) throw new RangeError(`cage count ${cageCount}`);

  const transports = virtioMmioTransports(fdt);
  if (transports.length < mmioBefore + 2) {
    throw new FdtError(
      `the tree describes ${transports.length} virtio-mmio transports; the board needs 2` +
        (mmioBefore ? ` after the first ${mmioBefore}` : "") +
        ` (is this QEMU's aarch64 virt tree, from -machine virt,dumpdtb=FILE?)`,
    );
  }
  const [i2cSlot, gpioSlot] = transports.slice(mmioBefore, mmioBefore + 2);
  for (const slot of [i2cSlot, gpioSlot]) {
    if (slot.node.children.length) {
      throw new FdtError(
        `${slot.path} already has a device node (${slot.node.children.map((c) => c.name).join(", ")}); ` +
          "give QEMU's own dump as the base tree, not a tree made by vm-config",
      );
    }
  }
  for (let cage = 1; cage <= cageCount; cage++) {
    if (fdt.root.children.some((c) => c.name === `sfp${cage}`)) {
      throw new FdtError(`the base tree already has a node /sfp${cage}`);
    }
  }

  const macLinks = resolveMacLinks(fdt, options.macs ?? [], cageCount);

  let nextPhandle = maxPhandle(fdt) + 1;
  const phandle = () => nextPhandle++;
  const node = (name: string, props: [string, Uint8Array][], children: FdtNode[] = []): FdtNode => ({
    name,
    properties: props.map(([n, value]) => ({ name: n, value })),
    children,
  });
  const busCells: [string, Uint8Array][] = [["#address-cells", cells(1)], ["#size-cells", cells(0)]];

  const muxCount = Math.ceil(cageCount / CAGES_PER_MUX);
  const channelPhandles = new Map<string, number>();
  const muxes: FdtNode[] = [];
  for (let m = 0; m < muxCount; m++) {
    const { muxAddress } = cageI2cLocation(m * CAGES_PER_MUX + 1);
    const channels: FdtNode[] = [];
    for (let ch = 0; ch < CAGES_PER_MUX; ch++) {
      const ph = phandle();
      channelPhandles.set(`${muxAddress}/${ch}`, ph);
      channels.push(node(`i2c@${ch}`, [["reg", cells(ch)], ...busCells, ["phandle", cells(ph)]]));
    }
    muxes.push(node(`i2c-mux@${muxAddress.toString(16)}`, [
      ["compatible", strings("nxp,pca9548")],
      ["reg", cells(muxAddress)],
      ...busCells,
      // With two or more muxes on one bus, a channel left open would put two cages at 0x50.
      ["i2c-mux-idle-disconnect", EMPTY],
    ], channels));
  }
  // The board's own devices sit on the root segment, beside the muxes (src/board/board.ts).
  const boardDevices: FdtNode[] = [];
  if (options.extras?.temperatureSensor) {
    boardDevices.push(node(`temperature-sensor@${LM75_ADDRESS.toString(16)}`, [
      ["compatible", strings("national,lm75")],
      ["reg", cells(LM75_ADDRESS)],
    ]));
  }
  if (options.extras?.idEeprom) {
    boardDevices.push(node(`eeprom@${ID_EEPROM_ADDRESS.toString(16)}`, [
      ["compatible", strings("atmel,24c02")],
      ["reg", cells(ID_EEPROM_ADDRESS)],
      ["read-only", EMPTY],
    ]));
  }
  const i2c = node("i2c", [["compatible", strings("virtio,device22")], ...busCells, [
    "phandle",
    cells(phandle()),
  ]], [...boardDevices, ...muxes]);
  const gpioPhandle = phandle();
  const gpio = node("gpio", [
    ["compatible", strings("virtio,device29")],
    ["gpio-controller", EMPTY],
    ["#gpio-cells", cells(2)],
    ["interrupt-controller", EMPTY],
    ["#interrupt-cells", cells(2)],
    // An interrupt provider states its address cells (dtc warns otherwise); it has no children.
    ["#address-cells", cells(0)],
    ["phandle", cells(gpioPhandle)],
  ]);
  i2cSlot.node.children.push(i2c);
  gpioSlot.node.children.push(gpio);

  const line = (cage: number, signal: Parameters<typeof cageLineIndex>[1], flags: number) =>
    cells(gpioPhandle, cageLineIndex(cage, signal), flags);
  const cages: CageNode[] = [];
  const cagePhandles: number[] = [];
  for (let cage = 1; cage <= cageCount; cage++) {
    const { muxAddress, channel } = cageI2cLocation(cage);
    // Every cage has a phandle, so a MAC (here, or in the user's own overlay) can point at it.
    const cagePhandle = phandle();
    cagePhandles[cage] = cagePhandle;
    const link = macLinks.find((l) => l.cage === cage);
    fdt.root.children.push(node(`sfp${cage}`, [
      ["compatible", strings("sff,sfp")],
      ["i2c-bus", cells(channelPhandles.get(`${muxAddress}/${channel}`)!)],
      ["mod-def0-gpios", line(cage, "mod-abs", GPIO_ACTIVE_LOW)],
      ["los-gpios", line(cage, "rx-los", GPIO_ACTIVE_HIGH)],
      ["tx-fault-gpios", line(cage, "tx-fault", GPIO_ACTIVE_HIGH)],
      ["tx-disable-gpios", line(cage, "tx-disable", GPIO_ACTIVE_HIGH)],
      ["rate-select0-gpios", line(cage, "rs0", GPIO_ACTIVE_HIGH)],
      ["rate-select1-gpios", line(cage, "rs1", GPIO_ACTIVE_HIGH)],
      ["maximum-power-milliwatt", cells(maxPowerMw)],
      ["phandle", cells(cagePhandle)],
    ]));
    cages.push({
      cage,
      path: `/sfp${cage}`,
      i2cBus: `${i2cSlot.path}/i2c/i2c-mux@${muxAddress.toString(16)}/i2c@${channel}`,
      ...(link && { mac: link.path }),
    });
  }
  for (const { cage, node: mac } of macLinks) {
    mac.properties = mac.properties.filter((p) =>
      !MAC_PHY_PROPERTIES.includes(p.name) && p.name !== "fixed-link"
    );
    // phylink refuses "fixed-link" together with in-band status.
    mac.children = mac.children.filter((c) => c.name !== "fixed-link");
    setProperty(mac, "sfp", cells(cagePhandles[cage]));
    setProperty(mac, "managed", strings("in-band-status"));
  }
  return {
    i2c: `${i2cSlot.path}/i2c`,
    gpio: `${gpioSlot.path}/gpio`,
    muxes: muxes.map((m) => `${i2cSlot.path}/i2c/${m.name}`),
    cages,
  };
}
