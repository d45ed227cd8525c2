// What the board e2e tests share: where artifacts go, the emulator on the tier's board topology,
// `sfpemu vm-config` run as a user runs it, and the API shapes the tests read.
import * as path from "node:path";
import { Emulator, sfpemuBinary } from "./emulator.ts";
import { type Aarch64Machine, deadline, E2E_DIR, machineArgs, qemuBinary } from "./qemu.ts";

/** The tier's board: olt1/lt1, 10 cages, modules in cages 1, 2 and 9. */
export const TOPOLOGY = path.join(E2E_DIR, "board.yaml");
export const BOARD = "olt1/lt1";
export const BOARD_PATH = "/olts/olt1/boards/lt1";

/**
 * Artifacts (guest serial logs, emulator logs, device trees, vm-config output) of one test file go
 * to SFPEMU_E2E_WORK, which tests/e2e/run.sh sets to build/e2e-artifacts/<timestamp>/; without it,
 * to a temp dir that is removed at unload unless a test called fail() (and then printed).
 */
export interface TestArtifacts {
  dir: string;
  /** Keep the artifacts: something failed. */
  fail: () => void;
  /**
   * A checker of named steps of test `t`: a failed step does not throw (the later checks still
   * run); it fails the test, and the artifacts are kept.
   */
  checker: (t: Deno.TestContext) => (name: string, fn: () => void) => Promise<void>;
}

export async function testArtifacts(): Promise<TestArtifacts> {
  const env = Deno.env.get("SFPEMU_E2E_WORK");
  const dir = env ?? await Deno.makeTempDir({ prefix: "sfpemu-e2e-" });
  if (env) await Deno.mkdir(env, { recursive: true });
  let failed = false;
  globalThis.addEventListener("unload", () => {
    if (!env && !failed) Deno.removeSync(dir, { recursive: true });
    else console.log(`[e2e] artifacts in ${dir}`);
  });
  const fail = () => (failed = true);
  const checker = (t: Deno.TestContext) => async (name: string, fn: () => void) => {
    if (!(await t.step(name, fn))) fail();
  };
  return { dir, fail, checker };
}

/**
 * Runs `fn` with a fresh emulator on the tier's topology (its own state directory, so its sockets
 * and state are its own; the socket directory is a short temp path, as unix socket paths are
 * limited to 107 bytes), then stops it and checks it exited cleanly.
 */
export async function withEmulator<T>(
  workDir: string,
  name: string,
  fn: (emulator: Emulator, stateDir: string) => Promise<T>,
): Promise<T> {
  const stateDir = await Deno.makeTempDir({ prefix: "sfpemu-e2e-state-" });
  const emulator = await Emulator.start({
    topology: TOPOLOGY,
    stateDir,
    logFile: path.join(workDir, `${name}-emulator.log`),
  });
  let result: T;
  try {
    result = await fn(emulator, stateDir);
  } catch (error) {
    await emulator.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    throw error;
  }
  const status = await emulator.stop();
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  if (status.code !== 0) {
    throw new Error(`sfpemu run exited with code ${status.code} after the test:\n${emulator.tail()}`);
  }
  return result;
}

/** `sfpemu vm-config ARGS...`; its stdout, or an error with its stderr. */
export async function vmConfig(args: string[]): Promise<string> {
  const child = new Deno.Command(sfpemuBinary(), {
    args: ["vm-config", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), deadline(60_000));
  try {
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`sfpemu vm-config ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return stdout;
  } finally {
    clearTimeout(timer);
  }
}

/** The API's host:port, for `--api`. */
export function apiAddress(emulator: Emulator): string {
  return new URL(emulator.api).host;
}

export interface ApiModule {
  profile: string;
  vendorName: string;
  vendorPn: string;
  vendorRev: string;
  vendorSn: string;
  dateCode: string;
  diagnostics: {
    temperatureC: number;
    vccV: number;
    txBiasMa: number;
    txPowerDbm: number;
    rxPowerDbm: number;
  };
}

export interface ApiTopology {
  olts: {
    id: string;
    boards: {
      id: string;
      sockets: { i2c: string; gpio: string };
      cages: { id: number; module: unknown }[];
    }[];
  }[];
}

export const cagePath = (cage: number) => `${BOARD_PATH}/cages/${cage}/module`;

export async function eeprom(emulator: Emulator, cage: number): Promise<{ a0: string; a2: string }> {
  return await emulator.request("GET", `${cagePath(cage)}/eeprom`) as { a0: string; a2: string };
}

export async function moduleOf(emulator: Emulator, cage: number): Promise<ApiModule> {
  return await emulator.request("GET", cagePath(cage)) as ApiModule;
}

/** The cages that hold a module at the start, from the API. */
export async function pluggedCages(emulator: Emulator): Promise<number[]> {
  const topology = await emulator.request("GET", "/topology") as ApiTopology;
  const board = topology.olts.find((o) => o.id === "olt1")!.boards.find((b) => b.id === "lt1")!;
  return board.cages.filter((c) => c.module).map((c) => c.id);
}

/** Runs a host tool (qemu, dtc); its stdout, or an error with its stderr. */
export async function runHost(cmd: string, args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return out.stdout;
}

/** The aarch64 guests' RAM, for the dump and for vm-config's backend alike. */
export const AARCH64_MEMORY = "256M";

export interface BoardTreeOptions {
  /** Default virt. */
  machine?: Aarch64Machine;
  /** The guest's RAM (default AARCH64_MEMORY). */
  memory?: string;
  /** vm-config --mac CAGE=NODE arguments. */
  macs?: string[];
}

/**
 * What a user does for an aarch64 board VM: dump QEMU's own tree of the machine (the machine the
 * guests boot, without vm-config's arguments), then `sfpemu vm-config --base-dtb --dtb-out`. Files
 * are `<stem>-<machine>.dtb` and `<stem>.dtb` in workDir; `args` end with `-dtb <stem>.dtb`.
 */
export async function aarch64BoardTree(
  workDir: string,
  stem: string,
  stateDir: string,
  o: BoardTreeOptions = {},
): Promise<{ args: string[]; baseDtb: string; dtb: string }> {
  const machine = o.machine ?? "virt";
  const memory = o.memory ?? AARCH64_MEMORY;
  const baseDtb = path.join(workDir, `${stem}-${machine}.dtb`);
  const dtb = path.join(workDir, `${stem}.dtb`);
  await runHost(qemuBinary("aarch64"), [
    ...machineArgs("aarch64", 256, 1, false, machine),
    "-m",
    memory,
    "-machine",
    `dumpdtb=${baseDtb}`,
  ]);
  const out = await vmConfig([
    BOARD,
    ...["--arch", "aarch64", "--topology", TOPOLOGY, "--state-dir", stateDir, "--memory", memory],
    ...["--base-dtb", baseDtb, "--dtb-out", dtb],
    ...(o.macs ?? []).flatMap((link) => ["--mac", link]),
  ]);
  await Deno.writeTextFile(path.join(workDir, `${stem}-vm-config.txt`), out);
  return { args: out.trim().split("\n"), baseDtb, dtb };
}

// ---------------------------------------------------------------------------------------------
// The kernel's sfp driver, as the aarch64 guests see it

/** The text of a kernel record the guest streamed (e2e_kmsg_stream), or undefined for other lines. */
export const kmsg = (line: string) => /^E2E-KMSG: \d+ (.*)$/.exec(line)?.[1];

/** "sfp sfp9: module SFPEMU           SE-XGSPON-OLT-N1 rev 1.0  sn SEXGS0000001     dc 240115  " */
export function parseModuleLine(text: string) {
  const m = /^sfp sfp(\d+): module (.{16}) (.{16}) rev (.{4}) sn (.{16}) dc (.{8})/.exec(text);
  if (!m) return undefined;
  return {
    cage: Number(m[1]),
    vendorName: m[2].trimEnd(),
    vendorPn: m[3].trimEnd(),
    vendorRev: m[4].trimEnd(),
    vendorSn: m[5].trimEnd(),
    dateCode: m[6].trimEnd(),
  };
}

/** The identity fields of the driver's "module ..." line, from the API's description of a cage. */
export function moduleIdentity(cage: number, m: ApiModule) {
  const { vendorName, vendorPn, vendorRev, vendorSn, dateCode } = m;
  return { cage, vendorName, vendorPn, vendorRev, vendorSn, dateCode };
}

/** The lines of a file the guest printed with `e2e_file NAME PATH`. */
export function guestFile(lines: string[], name: string): string[] {
  const prefix = `E2E-FILE: ${name}: `;
  return lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

/** The lines of a debugfs sfp state file (e2e_file) as KEY -> VALUE. */
export function debugfsState(lines: string[]): Record<string, string> {
  return Object.fromEntries(lines.map((l) => l.split(": ")).map(([k, ...v]) => [k, v.join(": ")]));
}

/**
 * Guest shell functions for the sfp driver's files (builtins only, so e2e_wait can poll them):
 * `hwmon_of NAME` sets HW to the hwmon directory named NAME (the driver names them after the cage
 * node: sfp1, sfp2, ...); `state_is CAGE KEY VALUE` is true when /sys/kernel/debug/sfpCAGE/state
 * has the line "KEY: VALUE"; `wait_state KEY CAGE FIELD VALUE SECONDS` waits for that and prints
 * "E2E: KEY=VALUE", or "E2E: KEY=timeout".
 */
export const SFP_GUEST_FUNCTIONS = `
hwmon_of() {
  for h in /sys/class/hwmon/hwmon*; do
    # Only a complete hwmon: device_add() makes the class link, then the attributes (name first,
    # then temp1_input ...), then power/, so a poll that catches a registration half-way would read
    # a missing file; device_del() removes power/ first, so a going hwmon counts as gone at once.
    [ -d "$h/power" ] || continue
    # A hwmon can go between the test and the read (a module just unplugged): skip it quietly.
    { read -r n <"$h/name"; } 2>/dev/null || continue
    [ "$n" = "$1" ] && { HW=$h; return 0; }
  done
  return 1
}
state_is() {
  [ -r "/sys/kernel/debug/sfp$1/state" ] || return 1
  while IFS= read -r l; do [ "$l" = "$2: $3" ] && return 0; done <"/sys/kernel/debug/sfp$1/state"
  return 1
}
wait_state() {
  if e2e_wait "$5" state_is "$2" "$3" "$4"; then e2e "$1" "$4"; else e2e "$1" timeout; fi
}
`;

/** One event of the API's stream (GET /events), as JSON. */
export interface ApiEvent {
  seq: number;
  type: string;
  path: string;
  [key: string]: unknown;
}

/**
 * The events the emulator has kept with seq > since, up to the newest at the time of the call:
 * reads GET /events?since=N (server-sent events) until the seq its "hello" announced, then hangs up.
 */
export async function pastEvents(emulator: Emulator, since = 0): Promise<ApiEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), deadline(30_000));
  try {
    const response = await fetch(`${emulator.api}/events?since=${since}`, { signal: abort.signal });
    if (!response.ok || !response.body) throw new Error(`GET /events: HTTP ${response.status}`);
    const events: ApiEvent[] = [];
    let last: number | undefined;
    let pending = "";
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let end: number;
      while ((end = pending.indexOf("\n\n")) >= 0) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!type || data === undefined) continue;
        const json = JSON.parse(data);
        if (type === "hello") last = json.lastEvent;
        else events.push(json as ApiEvent);
        if (last !== undefined && (last <= since || events.at(-1)?.seq === last)) return events;
      }
    }
    throw new Error("GET /events ended before the announced last event");
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
