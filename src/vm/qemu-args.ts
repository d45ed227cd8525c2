// The QEMU arguments that attach one emulated board to a VM: shared guest memory (vhost-user
// needs the backend to map it), a socket chardev per device with the board's socket path (QEMU is
// the client), and the vhost-user device for the machine's transport (PCI on x86_64 q35,
// virtio-mmio on aarch64 virt). Facts: QEMU 7.2 as shipped by Debian 12.

export const VM_ARCHES = ["x86_64", "aarch64"] as const;
export type VmArch = (typeof VM_ARCHES)[number];

export const DEFAULT_MEMORY = "256M";
const MEMORY_ID = "sfpemu-mem";

export interface VmBoard {
  olt: string;
  board: string;
  sockets: { i2c: string; gpio: string };
  cageCount: number;
  /** The board's own devices on the root I2C segment (src/board/board.ts BoardLayout.extras). */
  extras?: { idEeprom: boolean; temperatureSensor: boolean };
}

export interface QemuArgsOptions {
  arch: VmArch;
  /**
   * Size of the shared memory backend and of the guest's RAM (`-m`), e.g. "256M" or "1G"; null
   * when the VM's own command line already has a `share=on` backend as its RAM.
   */
  memory: string | null;
  /** aarch64: the merged device tree to boot with (`-dtb`). */
  dtb?: string;
}

/** QEMU's option syntax: a comma inside a value is written twice. */
export function qemuOptionValue(text: string): string {
  return text.replaceAll(",", ",,");
}

/** A size QEMU's -m and memory backends accept: a number with an optional K, M, G or T. */
export function checkMemorySize(text: string): string {
  if (!/^[1-9][0-9]*[KMGT]?$/i.test(text)) {
    throw new RangeError(`memory size "${text}" is not a size like 256M or 1G`);
  }
  return text.toUpperCase();
}

/** The ids of the board's chardevs: unique per board, valid QEMU ids (a letter first). */
export function chardevIds(board: Pick<VmBoard, "olt" | "board">): { i2c: string; gpio: string } {
  const stem = `sfpemu-${board.olt}-${board.board}`.replace(/[^A-Za-z0-9._-]/g, "_");
  return { i2c: `${stem}-i2c`, gpio: `${stem}-gpio` };
}

export function qemuBoardArgs(board: VmBoard, options: QemuArgsOptions): string[] {
  const { arch } = options;
  const args: string[] = [];
  if (options.memory !== null) {
    const size = checkMemorySize(options.memory);
    args.push("-object", `memory-backend-memfd,id=${MEMORY_ID},size=${size},share=on`, "-m", size);
    // x86_64 q35 takes the backend as a NUMA node's memory, aarch64 virt as the machine's RAM.
    if (arch === "x86_64") args.push("-numa", `node,memdev=${MEMORY_ID}`);
    else args.push("-machine", `memory-backend=${MEMORY_ID}`);
  }
  // Modern virtio-mmio (VERSION_1), as on PCI; QEMU 7.2 defaults to the legacy transport.
  if (arch === "aarch64") args.push("-global", "virtio-mmio.force-legacy=false");
  const ids = chardevIds(board);
  const transport = arch === "x86_64" ? "pci" : "device";
  // On aarch64 the order matters: the first virtio-mmio device takes the highest transport, where
  // the device tree (board-tree.ts) puts the I2C adapter, and the second the next one (GPIO).
  for (const kind of ["i2c", "gpio"] as const) {
    args.push(
      "-chardev",
      `socket,id=${ids[kind]},path=${qemuOptionValue(board.sockets[kind])}`,
      "-device",
      `vhost-user-${kind}-${transport},chardev=${ids[kind]}`,
    );
  }
  if (options.dtb !== undefined) {
    if (arch !== "aarch64") throw new RangeError("a device tree is for aarch64 guests");
    args.push("-dtb", options.dtb);
  }
  return args;
}

/** One line a POSIX shell reads back as the same arguments. */
export function shellQuote(args: string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(
    " ",
  );
}
