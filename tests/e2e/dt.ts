// Device-tree editing for aarch64 e2e guests: take the tree QEMU dumped (qemu.ts dumpAarch64Dtb),
// describe the vhost-user virtio-i2c / virtio-gpio devices under their virtio-mmio transports, add
// PCA9548 muxes and `sff,sfp` cages, and hand the text to compileDts(). The kernel's own sfp driver
// then drives the cages through the emulator (see shared/reference/guest-rig.md).
//
// Labels are plain dtc labels: `&label` references become phandles when dtc compiles the tree.

/** dt-bindings/gpio/gpio.h */
export const GPIO_ACTIVE_HIGH = 0;
export const GPIO_ACTIVE_LOW = 1;

/** One vhost-user device, in the order of the QEMU -device arguments. */
export interface VirtioSlot {
  kind: "i2c" | "gpio";
  /** dtc label of the virtio child node (the I2C adapter / the GPIO controller). */
  label: string;
}

export interface MuxSpec {
  /** Label of the bus the mux sits on (a virtio i2c slot or another mux's channel). */
  bus: string;
  /** 7-bit address (0x70..0x77 for a PCA9548). */
  addr: number;
  label: string;
  /** Number of channels (8 for a PCA9548); channel n gets the label `${label}_ch${n}`. */
  channels?: number;
  compatible?: string;
  /**
   * Close every channel when idle (default true). With two or more muxes on one bus it is
   * required, or two cages answer at 0x50 at once.
   */
  idleDisconnect?: boolean;
}

/** GPIO line numbers of one cage on its controller (the emulator's line layout decides them). */
export interface CageLines {
  modDef0: number;
  los?: number;
  txFault?: number;
  txDisable?: number;
  rateSelect0?: number;
  rateSelect1?: number;
}

export interface CageSpec {
  /** Root-level node name; the sfp driver's device name (`sfp sfp0: module ...`). */
  name: string;
  /** Label of the cage's I2C bus (a virtio i2c slot or a mux channel). */
  i2cBus: string;
  /** Label of the GPIO controller. */
  gpio: string;
  lines: CageLines;
  maxPowerMw?: number;
}

export interface BoardTree {
  /** In -device order: the first lands at the highest virtio-mmio address. */
  slots: VirtioSlot[];
  muxes?: MuxSpec[];
  cages?: CageSpec[];
  /** Raw dts text to put inside the node with this label (a bus or channel), e.g. an at24. */
  extra?: { parent: string; text: string }[];
}

const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;
const hex = (n: number) => `0x${n.toString(16)}`;

/** The virtio-mmio transports of a dumped tree, highest address first (QEMU's fill order). */
export function virtioMmioSlots(dts: string): string[] {
  const addrs = [...dts.matchAll(/\bvirtio_mmio@([0-9a-f]+) \{/g)].map((m) => m[1]);
  return addrs.sort((a, b) => parseInt(b, 16) - parseInt(a, 16));
}

function indent(text: string, tabs: number): string {
  const pad = "\t".repeat(tabs);
  return text.split("\n").map((l) => (l ? pad + l : l)).join("\n");
}

/** Insert `text` just before the closing `};` of the first node whose header matches `header`. */
function insertIntoNode(dts: string, header: RegExp, text: string): string {
  const m = header.exec(dts);
  if (!m) throw new Error(`node ${header} not found in the tree`);
  // Walk braces from the node's opening brace to its matching close.
  let depth = 0;
  for (let i = m.index + m[0].length - 1; i < dts.length; i++) {
    const c = dts[i];
    if (c === '"') { // skip string literals
      i = dts.indexOf('"', i + 1);
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      const lineStart = dts.lastIndexOf("\n", i) + 1;
      return dts.slice(0, lineStart) + text + (text.endsWith("\n") ? "" : "\n") + dts.slice(lineStart);
    }
  }
  throw new Error(`unbalanced braces after ${header}`);
}

/** Return `base` (a dumped tree as dtc prints it) with the board's devices added. */
export function boardDts(base: string, board: BoardTree): string {
  const muxes = board.muxes ?? [];
  const extra = board.extra ?? [];
  const labels = new Set<string>();
  const claim = (l: string) => {
    if (!LABEL.test(l)) throw new Error(`bad dtc label '${l}'`);
    if (labels.has(l)) throw new Error(`duplicate label '${l}'`);
    labels.add(l);
  };
  for (const s of board.slots) claim(s.label);
  for (const m of muxes) {
    claim(m.label);
    for (let c = 0; c < (m.channels ?? 8); c++) claim(`${m.label}_ch${c}`);
  }

  // Everything that hangs off one I2C bus (recursively through mux channels).
  const busChildren = (bus: string): string => {
    const parts: string[] = [];
    for (const m of muxes.filter((m) => m.bus === bus)) {
      const chans: string[] = [];
      for (let c = 0; c < (m.channels ?? 8); c++) {
        chans.push(
          `${m.label}_ch${c}: i2c@${c} {\n\treg = <${c}>;\n\t#address-cells = <1>;\n\t#size-cells = <0>;\n` +
            indent(busChildren(`${m.label}_ch${c}`), 1) + `};\n`,
        );
      }
      parts.push(
        `${m.label}: i2c-mux@${m.addr.toString(16)} {\n` +
          `\tcompatible = "${m.compatible ?? "nxp,pca9548"}";\n\treg = <${hex(m.addr)}>;\n` +
          `\t#address-cells = <1>;\n\t#size-cells = <0>;\n` +
          (m.idleDisconnect ?? true ? "\ti2c-mux-idle-disconnect;\n" : "") +
          indent(chans.join(""), 1) + `};\n`,
      );
    }
    for (const e of extra.filter((e) => e.parent === bus)) {
      parts.push(e.text.endsWith("\n") ? e.text : e.text + "\n");
    }
    return parts.join("");
  };
  for (const m of muxes) {
    if (!labels.has(m.bus)) throw new Error(`mux ${m.label}: unknown bus '${m.bus}'`);
  }

  const slots = virtioMmioSlots(base);
  if (board.slots.length > slots.length) throw new Error(`only ${slots.length} virtio-mmio transports`);
  let dts = base;
  board.slots.forEach((s, i) => {
    const child = s.kind === "i2c"
      ? `${s.label}: i2c {\n\tcompatible = "virtio,device22";\n\t#address-cells = <1>;\n\t#size-cells = <0>;\n` +
        indent(busChildren(s.label), 1) + `};\n`
      : `${s.label}: gpio {\n\tcompatible = "virtio,device29";\n\tgpio-controller;\n\t#gpio-cells = <2>;\n` +
        `\tinterrupt-controller;\n\t#interrupt-cells = <2>;\n};\n`;
    dts = insertIntoNode(dts, new RegExp(`\\bvirtio_mmio@${slots[i]} \\{`), indent(child, 2));
  });

  const cages = (board.cages ?? []).map((c) => {
    if (!labels.has(c.i2cBus)) throw new Error(`cage ${c.name}: unknown i2c bus '${c.i2cBus}'`);
    if (!board.slots.some((s) => s.kind === "gpio" && s.label === c.gpio)) {
      throw new Error(`cage ${c.name}: unknown gpio controller '${c.gpio}'`);
    }
    const pin = (prop: string, line: number | undefined, flags: number) =>
      line === undefined ? "" : `\t${prop}-gpios = <&${c.gpio} ${line} ${flags}>;\n`;
    return `${c.name} {\n\tcompatible = "sff,sfp";\n\ti2c-bus = <&${c.i2cBus}>;\n` +
      pin("mod-def0", c.lines.modDef0, GPIO_ACTIVE_LOW) +
      pin("los", c.lines.los, GPIO_ACTIVE_HIGH) +
      pin("tx-fault", c.lines.txFault, GPIO_ACTIVE_HIGH) +
      pin("tx-disable", c.lines.txDisable, GPIO_ACTIVE_HIGH) +
      pin("rate-select0", c.lines.rateSelect0, GPIO_ACTIVE_HIGH) +
      pin("rate-select1", c.lines.rateSelect1, GPIO_ACTIVE_HIGH) +
      `\tmaximum-power-milliwatt = <${c.maxPowerMw ?? 1000}>;\n};\n`;
  });
  if (cages.length) {
    // The root node is the first "/ {" of the tree; its closing brace is the file's last "};".
    const end = dts.lastIndexOf("};");
    if (end < 0) throw new Error("root node end not found");
    dts = dts.slice(0, end) + indent(cages.join("\n"), 1) + dts.slice(end);
  }
  return dts;
}
