// What `sfpemu vm-config` computes for one board: the QEMU arguments, the board's wiring as the
// guest sees it, and for aarch64 the merged device tree. Pure: the CLI does the reading and writing.
import { CAGE_LINE_SUFFIXES, cageI2cLocation, cageLineIndex } from "../board/board.ts";
import { addBoardNodes, type BoardTreeSummary, type MacLink } from "./board-tree.ts";
import { parseFdt, serializeFdt } from "./fdt.ts";
import { qemuBoardArgs, type VmArch, type VmBoard } from "./qemu-args.ts";

export interface VmConfigOptions {
  arch: VmArch;
  /** See QemuArgsOptions.memory. */
  memory: string | null;
  maxPowerMw?: number;
  mmioBefore?: number;
  /** aarch64, with dtb: Ethernet MACs of the base tree to wire to cages. */
  macs?: readonly MacLink[];
  /** aarch64: QEMU's dumped tree and where the merged tree will be written. */
  dtb?: { base: Uint8Array; out: string };
}

export interface CageWiring {
  cage: number;
  /** 7-bit address of the cage's PCA9548 on the board's virtio-i2c adapter. */
  mux: number;
  channel: number;
  /** GPIO line offsets on the board's virtio-gpio controller, by signal. */
  lines: Record<(typeof CAGE_LINE_SUFFIXES)[number], number>;
}

export interface VmConfig {
  board: string;
  arch: VmArch;
  sockets: VmBoard["sockets"];
  args: string[];
  cages: CageWiring[];
  dtb?: { file: string; bytes: Uint8Array; nodes: BoardTreeSummary };
}

export function cageWiring(cage: number): CageWiring {
  const { muxAddress, channel } = cageI2cLocation(cage);
  const lines = Object.fromEntries(CAGE_LINE_SUFFIXES.map((s) => [s, cageLineIndex(cage, s)]));
  return { cage, mux: muxAddress, channel, lines: lines as CageWiring["lines"] };
}

/** Throws FdtError (a bad base tree) or RangeError (bad options). */
export function vmConfig(board: VmBoard, options: VmConfigOptions): VmConfig {
  let dtb: VmConfig["dtb"];
  if (options.macs?.length && !options.dtb) {
    throw new RangeError("wiring a MAC to a cage is done in the device tree: give the base tree too");
  }
  if (options.dtb) {
    if (options.arch !== "aarch64") {
      throw new RangeError("a device tree is for aarch64 guests (--arch aarch64)");
    }
    const tree = parseFdt(options.dtb.base);
    const nodes = addBoardNodes(tree, {
      cageCount: board.cageCount,
      maxPowerMw: options.maxPowerMw,
      mmioBefore: options.mmioBefore,
      extras: board.extras,
      macs: options.macs,
    });
    dtb = { file: options.dtb.out, bytes: serializeFdt(tree), nodes };
  }
  return {
    board: `${board.olt}/${board.board}`,
    arch: options.arch,
    sockets: { ...board.sockets },
    args: qemuBoardArgs(board, { arch: options.arch, memory: options.memory, dtb: dtb?.file }),
    cages: Array.from({ length: board.cageCount }, (_, i) => cageWiring(i + 1)),
    dtb,
  };
}
