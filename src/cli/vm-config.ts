// sfpemu vm-config: the QEMU arguments that attach one board of a topology to a VM, and for aarch64
// the device tree with the board's I2C muxes, GPIO controller and SFP cages merged into QEMU's own.
// Reads the topology exactly as `sfpemu run` does (same file, same state directory, same socket
// paths), or asks a running emulator's API.
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { ApiClient, ApiClientError } from "./api-client.ts";
import { defaultStateDir } from "./run.ts";
import { loadCatalog } from "../sfp/catalog.ts";
import { loadDefaultTopology } from "../topology/default.ts";
import { formatIssue, TopologyError } from "../topology/issue.ts";
import { loadTopologyFile } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";
import { DEFAULT_MAX_POWER_MW, type MacLink } from "../vm/board-tree.ts";
import { FdtError, MAX_FDT_SIZE } from "../vm/fdt.ts";
import { DEFAULT_MEMORY, shellQuote, VM_ARCHES, type VmArch, type VmBoard } from "../vm/qemu-args.ts";
import { type VmConfig, vmConfig } from "../vm/vm-config.ts";

const usage = `usage: sfpemu vm-config OLT/BOARD --arch x86_64|aarch64 [options]

Prints the QEMU arguments that attach the board's devices to a VM: a shared memory backend
(vhost-user maps the guest's memory), one socket chardev per device with the board's socket
path, and vhost-user-i2c/-gpio as PCI (x86_64 q35) or virtio-mmio (aarch64: virt, or any
machine whose tree has virtio-mmio transports, e.g. xlnx-versal-virt) devices.
Start "sfpemu run" first: QEMU connects to its sockets.

  --arch x86_64|aarch64  the VM's architecture (required)
  --topology FILE        the topology "sfpemu run" was given (default: its built-in one)
  --state-dir DIR        the --state-dir "sfpemu run" was given (default $XDG_STATE_HOME/sfpemu
                         or ~/.local/state/sfpemu): socket paths depend on it
  --api HOST:PORT        ask a running "sfpemu run" instead of reading the topology
  --api-token TOKEN      its bearer token, if it has one (or SFPEMU_API_TOKEN)
  --base-dtb FILE        aarch64: QEMU's own tree (qemu-system-aarch64 ... -machine dumpdtb=FILE)
  --dtb-out FILE         aarch64, with --base-dtb: write the tree with the board's nodes here;
                         the printed arguments then end with -dtb FILE
  --memory SIZE|none     guest RAM as a shared memfd backend (default ${DEFAULT_MEMORY}): prints -object,
                         -m and -numa (x86_64) or -machine memory-backend= (aarch64); "none" when
                         your command line already has a share=on backend as the guest's RAM
  --max-power-mw N       maximum-power-milliwatt of every cage in the tree (default ${DEFAULT_MAX_POWER_MW})
  --mmio-before N        aarch64: virtio-mmio devices placed before these on your command line
                         (default 0); QEMU fills the transports from the highest address down
  --mac CAGE=NODE        aarch64, with --base-dtb: wire the base tree's Ethernet MAC NODE (a path,
                         or a node name such as ethernet@ff0c0000) to cage CAGE, as on a line card:
                         the MAC loses its PHY / fixed-link and gets sfp = <&sfpCAGE> and managed =
                         "in-band-status". Bringing its netdev up then runs the kernel's full SFP
                         state machine (TX_FAULT recovery, LOS, link) for the cage. Repeatable.
                         The virt machine has no such MAC; xlnx-versal-virt has two Cadence GEMs.
  --format args|shell|json
                         args: one argument per line (default); shell: one quoted line;
                         json: arguments, sockets, each cage's mux, channel and GPIO lines

In the device tree the cage n is the node /sfp<n> (the guest's kernel names it sfp<n>), on channel
(n-1) mod 8 of the PCA9548 at 0x70 + floor((n-1)/8), with GPIO lines (n-1)*6 .. (n-1)*6+5.`;

interface VmConfigArgs {
  board: { olt: string; board: string };
  arch: VmArch;
  topologyFile?: string;
  stateDir?: string;
  api?: string;
  apiToken?: string;
  baseDtb?: string;
  dtbOut?: string;
  memory: string | null;
  maxPowerMw: number;
  mmioBefore: number;
  macs: MacLink[];
  format: "args" | "shell" | "json";
}

/** "3=ethernet@ff0c0000" -> { cage: 3, mac: "ethernet@ff0c0000" }. */
function parseMacLink(text: string): MacLink {
  const m = /^([0-9]+)=(.+)$/.exec(text);
  if (!m || Number(m[1]) < 1) {
    throw new UsageError(`--mac wants CAGE=NODE (e.g. 1=ethernet@ff0c0000), not "${text}"`);
  }
  return { cage: Number(m[1]), mac: m[2] };
}

function wholeNumber(text: string | undefined, option: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) {
    throw new UsageError(`${option} wants a whole number from ${min} to ${max}, not "${text}"`);
  }
  return n;
}

export function parseVmConfigArgs(args: string[]): VmConfigArgs {
  const { values, positionals } = parseCommandArgs({
    args,
    options: {
      arch: { type: "string" },
      topology: { type: "string" },
      "state-dir": { type: "string" },
      api: { type: "string" },
      "api-token": { type: "string" },
      "base-dtb": { type: "string" },
      "dtb-out": { type: "string" },
      memory: { type: "string", default: DEFAULT_MEMORY },
      "max-power-mw": { type: "string" },
      "mmio-before": { type: "string" },
      mac: { type: "string", multiple: true },
      format: { type: "string", default: "args" },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("give exactly one board as OLT/BOARD (e.g. olt1/lt1)");
  const parts = positionals[0].split("/");
  if (parts.length !== 2 || parts.some((p) => p === "")) {
    throw new UsageError(
      `expected a board as OLT/BOARD (e.g. olt1/lt1), not ${JSON.stringify(positionals[0])}`,
    );
  }
  const arch = values.arch;
  if (!VM_ARCHES.includes(arch as VmArch)) {
    throw new UsageError(`--arch is ${VM_ARCHES.join(" or ")}${arch === undefined ? "" : `, not "${arch}"`}`);
  }
  const format = values.format!;
  if (format !== "args" && format !== "shell" && format !== "json") {
    throw new UsageError(`--format is args, shell or json, not "${format}"`);
  }
  if (values.api !== undefined && (values.topology !== undefined || values["state-dir"] !== undefined)) {
    throw new UsageError("--api asks the running emulator; leave out --topology and --state-dir");
  }
  if ((values["base-dtb"] === undefined) !== (values["dtb-out"] === undefined)) {
    throw new UsageError("--base-dtb and --dtb-out go together");
  }
  if (values["base-dtb"] !== undefined && arch !== "aarch64") {
    throw new UsageError("a device tree is for aarch64 guests: --base-dtb needs --arch aarch64");
  }
  const macs = (values.mac ?? []).map(parseMacLink);
  if (macs.length && values["base-dtb"] === undefined) {
    throw new UsageError("--mac edits the device tree: it needs --base-dtb and --dtb-out");
  }
  const memory = values.memory === "none" ? null : values.memory!;
  if (memory !== null && !/^[1-9][0-9]*[KMGTkmgt]?$/.test(memory)) {
    throw new UsageError(`--memory wants a size like 256M or 1G, or none, not "${memory}"`);
  }
  return {
    board: { olt: parts[0], board: parts[1] },
    arch: arch as VmArch,
    topologyFile: values.topology,
    stateDir: values["state-dir"],
    api: values.api,
    apiToken: values["api-token"] ?? (Deno.env.get("SFPEMU_API_TOKEN") || undefined),
    baseDtb: values["base-dtb"],
    dtbOut: values["dtb-out"],
    memory,
    maxPowerMw: wholeNumber(values["max-power-mw"], "--max-power-mw", 1, 100_000) ?? DEFAULT_MAX_POWER_MW,
    mmioBefore: wholeNumber(values["mmio-before"], "--mmio-before", 0, 30) ?? 0,
    macs,
    format,
  };
}

/** Thrown for what the user can fix (an unknown board, a bad file): one line, exit code 1. */
class VmConfigError extends Error {}

function boardOfTopology(topology: Topology, want: VmConfigArgs["board"]): VmBoard {
  const olt = topology.olts.find((o) => o.id === want.olt);
  const board = olt?.boards.find((b) => b.id === want.board);
  if (!board) {
    const known = topology.olts.flatMap((o) => o.boards.map((b) => `${o.id}/${b.id}`)).join(", ");
    throw new VmConfigError(
      `no board ${want.olt}/${want.board} in topology "${topology.name}"; it has ${known}`,
    );
  }
  return {
    olt: want.olt,
    board: want.board,
    sockets: board.sockets,
    cageCount: board.cageCount,
    extras: { idEeprom: board.extras.idEeprom, temperatureSensor: board.extras.temperatureSensor },
  };
}

async function boardFromTopologyFile(o: VmConfigArgs): Promise<VmBoard> {
  const catalog = await loadCatalog();
  // As `sfpemu run` loads it: sockets under the state directory unless the topology says otherwise.
  const loadOptions = {
    knownProfiles: new Set(catalog.keys()),
    env: Deno.env.toObject(),
    socketDir: o.stateDir ?? defaultStateDir(),
  };
  try {
    const topology = o.topologyFile
      ? await loadTopologyFile(o.topologyFile, loadOptions)
      : loadDefaultTopology(loadOptions);
    return boardOfTopology(topology, o.board);
  } catch (error) {
    if (!(error instanceof TopologyError)) throw error;
    throw new VmConfigError(
      `the topology has ${error.issues.length} problem(s):\n${error.issues.map(formatIssue).join("\n")}`,
    );
  }
}

interface ApiTopology {
  name: string;
  olts: {
    id: string;
    boards: {
      id: string;
      sockets: VmBoard["sockets"];
      cages: unknown[];
      extras?: { idEeprom?: boolean; temperatureSensor?: boolean };
    }[];
  }[];
}

async function boardFromApi(o: VmConfigArgs): Promise<VmBoard> {
  const client = new ApiClient(o.api!, o.apiToken);
  const topology = await client.request("GET", "/topology") as ApiTopology;
  const board = topology.olts?.find((x) => x.id === o.board.olt)?.boards.find((b) => b.id === o.board.board);
  if (!board) {
    const known = (topology.olts ?? []).flatMap((x) => x.boards.map((b) => `${x.id}/${b.id}`)).join(", ");
    throw new VmConfigError(`no board ${o.board.olt}/${o.board.board} at ${client.baseUrl}; it has ${known}`);
  }
  return {
    ...o.board,
    sockets: board.sockets,
    cageCount: board.cages.length,
    extras: {
      idEeprom: board.extras?.idEeprom === true,
      temperatureSensor: board.extras?.temperatureSensor === true,
    },
  };
}

async function readBaseDtb(file: string): Promise<Uint8Array> {
  try {
    const info = await Deno.stat(file);
    if (info.size > MAX_FDT_SIZE) {
      throw new VmConfigError(`${file}: ${info.size} bytes is too large for a device tree`);
    }
    return await Deno.readFile(file);
  } catch (error) {
    if (error instanceof VmConfigError) throw error;
    throw new VmConfigError(`cannot read the base device tree ${file}: ${(error as Error).message}`);
  }
}

function render(config: VmConfig, format: VmConfigArgs["format"]): string {
  if (format === "args") return config.args.join("\n");
  if (format === "shell") return shellQuote(config.args);
  const { dtb, ...rest } = config;
  return JSON.stringify({ ...rest, ...(dtb ? { dtb: { file: dtb.file, nodes: dtb.nodes } } : {}) }, null, 2);
}

export const vmConfigCommand: Command = {
  name: "vm-config",
  summary: "print the QEMU arguments (and for aarch64 the device tree) that attach a board to a VM",
  usage,
  async run(args: string[]): Promise<number> {
    const o = parseVmConfigArgs(args);
    try {
      const board = o.api ? await boardFromApi(o) : await boardFromTopologyFile(o);
      const config = vmConfig(board, {
        arch: o.arch,
        memory: o.memory,
        maxPowerMw: o.maxPowerMw,
        mmioBefore: o.mmioBefore,
        macs: o.macs,
        dtb: o.baseDtb ? { base: await readBaseDtb(o.baseDtb), out: o.dtbOut! } : undefined,
      });
      if (config.dtb) {
        try {
          await Deno.writeFile(config.dtb.file, config.dtb.bytes);
        } catch (error) {
          throw new VmConfigError(`cannot write ${config.dtb.file}: ${(error as Error).message}`);
        }
      }
      console.log(render(config, o.format));
      return 0;
    } catch (error) {
      if (error instanceof FdtError) {
        console.error(`sfpemu vm-config: ${o.baseDtb}: ${error.message}`);
        return 1;
      }
      if (error instanceof VmConfigError || error instanceof ApiClientError) {
        console.error(`sfpemu vm-config: ${error.message}`);
        return 1;
      }
      throw error;
    }
  },
};
