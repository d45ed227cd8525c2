// Helpers for the end-to-end tier: guest assets from the cache made by prepare-assets.sh, initramfs
// packing, QEMU command lines, and a QEMU process whose serial console is streamed to a log file
// and scanned line by line. Every wait ends on an observed event (a console line, the process'
// exit) or on a generous deadline; nothing sleeps for a fixed time.
//
// Deadlines are multiplied by SFPEMU_E2E_TIMEOUT_SCALE (default 1) for slow or noisy machines.
// SFPEMU_E2E_ECHO=1 copies every console line to stderr as it arrives.

import * as path from "node:path";
import { fileURLToPath } from "node:url";

export type Arch = "x86_64" | "aarch64";
/**
 * The aarch64 machines of the tier: `virt` (virtio-mmio, no Ethernet MAC in the tree), and
 * `xlnx-versal-virt` (8 virtio-mmio transports and two Cadence GEMs, whose Linux driver, macb,
 * uses phylink: wired to a cage, a GEM is the cage's upstream). Versal fixes its own CPUs.
 */
export type Aarch64Machine = "virt" | "xlnx-versal-virt";

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(E2E_DIR, "..", "..");

/** The asset cache: SFPEMU_E2E_CACHE, else $HOME/.cache/sfpemu-e2e. */
export function defaultCacheDir(): string {
  const env = Deno.env.get("SFPEMU_E2E_CACHE");
  if (env) return path.resolve(env);
  return path.join(Deno.env.get("HOME") ?? "/root", ".cache", "sfpemu-e2e");
}

/** Scale a deadline by SFPEMU_E2E_TIMEOUT_SCALE. */
export function deadline(ms: number): number {
  const s = Number(Deno.env.get("SFPEMU_E2E_TIMEOUT_SCALE") ?? "1");
  return Math.round(ms * (Number.isFinite(s) && s > 0 ? s : 1));
}

// ---------------------------------------------------------------------------------------------
// Assets

export interface GuestAssets {
  arch: Arch;
  kver: string;
  /**
   * Kernel for -kernel: on x86_64 the uncompressed ELF vmlinux, booted through its PVH entry (no
   * self-decompression: ~2.5 s faster under TCG than the bzImage); on aarch64 the Image.
   */
  kernel: string;
  /** x86_64: the Debian bzImage, booted through SeaBIOS + linuxboot (slower, same kernel). */
  bzImage?: string;
  busybox: string;
  /** Root of the module tree: <modulesRoot>/lib/modules/<kver>. */
  modulesRoot: string;
}

export function guestAssets(arch: Arch, cacheDir = defaultCacheDir()): GuestAssets {
  const dir = path.join(cacheDir, arch);
  const hint = `run: tests/e2e/prepare-assets.sh ${cacheDir}`;
  let kver: string;
  try {
    Deno.statSync(path.join(cacheDir, "stamp"));
    kver = Deno.readTextFileSync(path.join(dir, "kver")).trim();
  } catch {
    throw new Error(`e2e asset cache ${cacheDir} is missing or incomplete; ${hint}`);
  }
  return {
    arch,
    kver,
    kernel: path.join(dir, arch === "x86_64" ? "vmlinux" : "Image"),
    bzImage: arch === "x86_64" ? path.join(dir, "vmlinuz") : undefined,
    busybox: path.join(dir, "busybox"),
    modulesRoot: path.join(dir, "modules"),
  };
}

/** Run a helper and return its stderr+stdout; throw with that output when it fails. */
async function run(cmd: string, args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}) {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  return text;
}

/** Run tests/e2e/prepare-assets.sh (fast when the cache is complete). */
export async function prepareAssets(cacheDir = defaultCacheDir()): Promise<string> {
  return await run("bash", [path.join(E2E_DIR, "prepare-assets.sh"), cacheDir]);
}

export interface InitramfsOptions {
  arch: Arch;
  /** The guest script's text (busybox sh, sourced after /lib/e2e.sh). */
  script: string;
  out: string;
  cacheDir?: string;
  /** Guest path -> host path of extra files. */
  files?: Record<string, string>;
  /** Replace the default module list (dependencies are added and ordered automatically). */
  modules?: string[];
}

/** Pack an initramfs with tests/e2e/make-initramfs.sh. */
export async function makeInitramfs(o: InitramfsOptions): Promise<string> {
  const extra = Object.entries(o.files ?? {}).map(([guest, host]) => `${host}=${guest}`);
  const env: Record<string, string> = {};
  if (o.modules) env.E2E_MODULES = o.modules.join(" ");
  await run(
    "bash",
    [path.join(E2E_DIR, "make-initramfs.sh"), o.arch, o.cacheDir ?? defaultCacheDir(), "-", o.out, ...extra],
    { env, stdin: o.script },
  );
  return o.out;
}

// ---------------------------------------------------------------------------------------------
// Command lines

export interface MachineOptions {
  arch: Arch;
  kernel: string;
  initrd: string;
  /** aarch64 only: boot with this device tree instead of QEMU's own. */
  dtb?: string;
  /** Appended to the kernel command line. */
  append?: string;
  memMiB?: number;
  smp?: number;
  /**
   * false: the bare machine, as a user's own command line has it: no memory options and no
   * virtio-mmio -global; `sfpemu vm-config`'s arguments in extraArgs bring them. Default true.
   */
  sharedMemory?: boolean;
  /** Extra QEMU arguments: -chardev/-device lists, -global, ... */
  extraArgs?: string[];
  /** aarch64 only (default virt). */
  machine?: Aarch64Machine;
}

export function qemuBinary(arch: Arch): string {
  return arch === "x86_64" ? "qemu-system-x86_64" : "qemu-system-aarch64";
}

/**
 * The machine without a kernel: TCG, shared memfd guest memory (vhost-user needs it: with
 * share=off the guest hangs, with no backend QEMU refuses vhost-user devices), no default devices.
 * sharedMemory=false leaves out the memory and the virtio-mmio -global: `sfpemu vm-config`'s
 * arguments bring them (the board tests boot exactly "a user's line + vm-config's output").
 */
export function machineArgs(
  arch: Arch,
  memMiB = 256,
  smp = 1,
  sharedMemory = true,
  machine: Aarch64Machine = "virt",
): string[] {
  const mem = sharedMemory
    ? [`-object`, `memory-backend-memfd,id=mem,size=${memMiB}M,share=on`, "-m", `${memMiB}M`]
    : [];
  const common = ["-nodefaults", "-no-user-config", "-display", "none"];
  if (arch === "aarch64" && machine === "xlnx-versal-virt") {
    return [
      "-machine",
      sharedMemory ? "xlnx-versal-virt,accel=tcg,memory-backend=mem" : "xlnx-versal-virt,accel=tcg",
      ...mem,
      ...(sharedMemory ? ["-global", "virtio-mmio.force-legacy=false"] : []),
      ...common,
    ];
  }
  common.unshift("-smp", String(smp));
  if (arch === "x86_64") {
    return [
      "-machine",
      "q35,accel=tcg",
      "-cpu",
      "max",
      ...mem,
      ...(sharedMemory ? ["-numa", "node,memdev=mem"] : []),
      ...common,
    ];
  }
  return [
    "-machine",
    sharedMemory ? "virt,accel=tcg,memory-backend=mem" : "virt,accel=tcg",
    "-cpu",
    "cortex-a57",
    ...mem,
    // Modern virtio-mmio (VERSION_1); without it QEMU 7.2 uses the legacy transport.
    ...(sharedMemory ? ["-global", "virtio-mmio.force-legacy=false"] : []),
    ...common,
  ];
}

/** A full command line that boots a kernel + initramfs with the console on stdio. */
export function qemuCommand(o: MachineOptions): { binary: string; args: string[] } {
  const console = o.arch === "x86_64" ? "ttyS0" : "ttyAMA0";
  const append = `console=${console} panic=-1 ${o.append ?? ""}`.trim();
  const args = [
    ...machineArgs(o.arch, o.memMiB, o.smp, o.sharedMemory, o.machine),
    "-no-reboot", // a panic (panic=-1) or a reboot ends QEMU
    "-serial",
    "stdio",
    "-kernel",
    o.kernel,
    "-initrd",
    o.initrd,
    "-append",
    append,
    ...(o.dtb ? ["-dtb", o.dtb] : []),
    ...(o.extraArgs ?? []),
  ];
  return { binary: qemuBinary(o.arch), args };
}

// ---------------------------------------------------------------------------------------------
// Device tree (aarch64)

export interface DumpDtbOptions {
  memMiB?: number;
  smp?: number;
  /** Extra QEMU arguments. Leave vhost-user devices out: see below. */
  extraArgs?: string[];
  /** Where to write the .dtb; the .dts is returned. */
  dtbOut: string;
}

/**
 * Dump QEMU's own device tree for the aarch64 virt machine and decompile it with dtc.
 *
 * QEMU 7.2 describes all 32 virtio-mmio transports in the tree whether or not a device sits on
 * them, so the tree does not depend on the -device list (only /chosen's rng-seed and kaslr-seed
 * change from run to run). Dump it WITHOUT the vhost-user devices: with them, QEMU connects to
 * their sockets and performs the vhost-user handshake even for dumpdtb. Memory size and -smp must
 * match the real boot (they appear in /memory and /cpus).
 */
export async function dumpAarch64Dtb(o: DumpDtbOptions): Promise<string> {
  await run(qemuBinary("aarch64"), [
    ...machineArgs("aarch64", o.memMiB, o.smp),
    "-machine",
    `dumpdtb=${o.dtbOut}`,
    ...(o.extraArgs ?? []),
  ]);
  return await run("dtc", ["-q", "-I", "dtb", "-O", "dts", o.dtbOut]);
}

/** Compile a .dts (text) into a .dtb file with dtc. */
export async function compileDts(dts: string, dtbOut: string): Promise<void> {
  await run("dtc", ["-q", "-I", "dts", "-O", "dtb", "-o", dtbOut, "-"], { stdin: dts });
}

// ---------------------------------------------------------------------------------------------
// The QEMU process

export interface LineMatch {
  line: string;
  /** Index into Qemu.lines. */
  index: number;
  match: RegExpMatchArray | null;
  /** Milliseconds since spawn when the line arrived. */
  atMs: number;
}

type Timer = ReturnType<typeof setTimeout>;
type Matcher = RegExp | string | ((line: string) => boolean);

interface Waiter {
  test: (line: string) => RegExpMatchArray | null | boolean;
  fromIndex: number;
  resolve: (m: LineMatch) => void;
  reject: (e: Error) => void;
  timer: Timer | undefined;
}

export interface StartOptions {
  /** Serial console and QEMU's stderr ("[qemu] " prefixed) go here. */
  logFile: string;
  /** Copy console lines to stderr as they arrive (default: SFPEMU_E2E_ECHO=1). */
  echo?: boolean;
}

/** A running QEMU. Always end it with kill() (or `await using`). */
export class Qemu {
  readonly lines: string[] = [];
  readonly lineTimes: number[] = [];
  readonly startedAt = performance.now();
  status: Deno.CommandStatus | null = null;
  readonly #child: Deno.ChildProcess;
  readonly #log: Deno.FsFile;
  readonly #echo: boolean;
  readonly #waiters = new Set<Waiter>();
  readonly #readers: Promise<void>[];
  readonly #exited: Promise<Deno.CommandStatus>;
  #logClosed = false;

  private constructor(binary: string, args: string[], o: StartOptions) {
    this.#echo = o.echo ?? Deno.env.get("SFPEMU_E2E_ECHO") === "1";
    this.#log = Deno.openSync(o.logFile, { write: true, create: true, truncate: true });
    this.#writeLog(`# ${binary} ${args.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n`);
    this.#child = new Deno.Command(binary, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
    this.#readers = [this.#read(this.#child.stdout, ""), this.#read(this.#child.stderr, "[qemu] ")];
    this.#exited = this.#child.status.then(async (s) => {
      await Promise.all(this.#readers);
      this.status = s;
      for (const w of this.#waiters) {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        w.reject(
          new Error(`QEMU exited (code ${s.code}${s.signal ? `, ${s.signal}` : ""}) ${this.#context()}`),
        );
      }
      return s;
    });
  }

  static start(binary: string, args: string[], o: StartOptions): Qemu {
    return new Qemu(binary, args, o);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Milliseconds since spawn. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  #writeLog(s: string) {
    if (this.#logClosed) return;
    const b = new TextEncoder().encode(s);
    let off = 0;
    while (off < b.length) off += this.#log.writeSync(b.subarray(off));
  }

  async #read(stream: ReadableStream<Uint8Array>, prefix: string) {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        this.#addLine(prefix + pending.slice(0, nl).replace(/\r+$/, ""));
        pending = pending.slice(nl + 1);
      }
    }
    if (pending) this.#addLine(prefix + pending.replace(/\r+$/, ""));
  }

  #addLine(line: string) {
    // The console may emit stray carriage returns mid-line; keep what follows the last one.
    const clean = line.includes("\r") ? line.slice(line.lastIndexOf("\r") + 1) : line;
    for (const part of splitAtMarkers(clean)) this.#addConsoleLine(part);
  }

  #addConsoleLine(clean: string) {
    const index = this.lines.push(clean) - 1;
    this.lineTimes.push(this.elapsedMs());
    this.#writeLog(clean + "\n");
    if (this.#echo) console.error(clean);
    for (const w of this.#waiters) this.#check(w, index);
  }

  #check(w: Waiter, index: number): boolean {
    if (index < w.fromIndex) return false;
    const r = w.test(this.lines[index]);
    if (!r) return false;
    clearTimeout(w.timer);
    this.#waiters.delete(w);
    w.resolve({
      line: this.lines[index],
      index,
      match: typeof r === "boolean" ? null : r,
      atMs: this.lineTimes[index],
    });
    return true;
  }

  #context(): string {
    const tail = this.lines.slice(-25).join("\n");
    return `after ${(this.elapsedMs() / 1000).toFixed(1)} s; last console lines:\n${tail}`;
  }

  /**
   * Wait for a console line matching `m` (a RegExp, a substring, or a predicate), looking at lines
   * from `fromIndex` on (default: all lines so far). Rejects when QEMU exits first or when the
   * deadline (scaled by SFPEMU_E2E_TIMEOUT_SCALE) passes; QEMU is left running either way.
   */
  waitFor(m: Matcher, o: { timeoutMs?: number; fromIndex?: number } = {}): Promise<LineMatch> {
    const test = typeof m === "string"
      ? (l: string) => l.includes(m)
      : m instanceof RegExp
      ? (l: string) => l.match(m)
      : m;
    const timeoutMs = deadline(o.timeoutMs ?? 120_000);
    return new Promise<LineMatch>((resolve, reject) => {
      const w: Waiter = { test, fromIndex: o.fromIndex ?? 0, resolve, reject, timer: undefined };
      for (let i = w.fromIndex; i < this.lines.length; i++) if (this.#check(w, i)) return;
      if (this.status) {
        reject(new Error(`QEMU already exited (code ${this.status.code}) ${this.#context()}`));
        return;
      }
      w.timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`no console line matching ${String(m)} within ${timeoutMs} ms ${this.#context()}`));
      }, timeoutMs);
      this.#waiters.add(w);
    });
  }

  /** Wait for QEMU to exit by itself (e.g. after the guest's poweroff), within the deadline. */
  async waitExit(timeoutMs = 60_000): Promise<Deno.CommandStatus> {
    const ms = deadline(timeoutMs);
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`QEMU did not exit within ${ms} ms ${this.#context()}`)), ms);
    });
    try {
      return await Promise.race([this.#exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop QEMU (SIGTERM, then SIGKILL if it has not exited within 10 s) and close the log. */
  async kill(): Promise<Deno.CommandStatus> {
    if (!this.status) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* already gone */ }
      let timer: Timer | undefined;
      const grace = new Promise<null>((r) => (timer = setTimeout(() => r(null), 10_000)));
      const s = await Promise.race([this.#exited, grace]);
      clearTimeout(timer);
      if (!s) {
        try {
          this.#child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }
    const status = await this.#exited;
    if (!this.#logClosed) {
      this.#logClosed = true;
      this.#log.close();
    }
    return status;
  }

  async [Symbol.asyncDispose]() {
    await this.kill();
  }

  /** The guest's "E2E: key=value" lines (the last value of a key wins). */
  results(): Record<string, string> {
    return parseResults(this.lines);
  }
}

/** Where a guest marker line starts: "E2E: k=v", "E2E-KMSG: ", "E2E-DMESG: ", "E2E-FILE: ", "E2E-END ". */
const MARKER = /E2E(?:: |-KMSG: |-DMESG: |-FILE: |-END )/g;

/**
 * One console line as the lines it holds. The guest's script, its background kernel-log streamer
 * and their error messages share the serial console: a shell writes "/init: eval: " and the rest
 * of its message in separate write(2)s, and a streamed "E2E-KMSG: ..." line can land in between,
 * giving "/init: eval: E2E-KMSG: 17 sfp sfp1: module removed". Each marker then starts a line of its
 * own again, so a wait anchored at ^E2E sees it (a CI run once missed "module removed" so).
 */
export function splitAtMarkers(line: string): string[] {
  const starts = [...line.matchAll(MARKER)].map((m) => m.index).filter((i) => i > 0);
  if (starts.length === 0) return [line];
  const parts: string[] = [];
  let from = 0;
  for (const at of starts) {
    parts.push(line.slice(from, at));
    from = at;
  }
  parts.push(line.slice(from));
  return parts;
}

/** Parse "E2E: key=value" console lines; later lines override earlier ones. */
export function parseResults(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const m = l.match(/^E2E: ([^=]+)=(.*)$/);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One guest run: pack, boot, wait for E2E-END, wait for poweroff.

export interface GuestRunOptions {
  arch: Arch;
  /** The guest script (busybox sh); see make-initramfs.sh for the helpers it can call. */
  script: string;
  /** Directory for the initramfs and the console log. */
  workDir: string;
  /** File name stem in workDir (default: the arch). */
  name?: string;
  cacheDir?: string;
  modules?: string[];
  files?: Record<string, string>;
  dtb?: string;
  /** Boot this kernel instead of the cache's default (e.g. GuestAssets.bzImage). */
  kernel?: string;
  append?: string;
  memMiB?: number;
  smp?: number;
  /** See MachineOptions.sharedMemory. */
  sharedMemory?: boolean;
  extraArgs?: string[];
  /** aarch64 only (default virt). */
  machine?: Aarch64Machine;
  /** Deadline for the E2E-END marker, from spawn (default 180 s, scaled). */
  timeoutMs?: number;
  /** Called once QEMU runs, before waiting: drive the backend from here. */
  onStarted?: (vm: Qemu) => void | Promise<void>;
}

export interface GuestRun {
  /** The guest script's exit status from "E2E-END rc=N" (>= 100: /init failed before it). */
  rc: number;
  results: Record<string, string>;
  lines: string[];
  logFile: string;
  /** Spawn to the E2E-END line, and spawn to QEMU's exit, in ms (host wall clock). */
  markerMs: number;
  exitMs: number;
  qemuExitCode: number;
}

export async function runGuest(o: GuestRunOptions): Promise<GuestRun> {
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const assets = guestAssets(o.arch, cacheDir);
  const name = o.name ?? o.arch;
  await Deno.mkdir(o.workDir, { recursive: true });
  const initrd = await makeInitramfs({
    arch: o.arch,
    script: o.script,
    out: path.join(o.workDir, `${name}.cpio`),
    cacheDir,
    files: o.files,
    modules: o.modules,
  });
  const { binary, args } = qemuCommand({
    arch: o.arch,
    kernel: o.kernel ?? assets.kernel,
    initrd,
    dtb: o.dtb,
    append: o.append,
    memMiB: o.memMiB,
    smp: o.smp,
    sharedMemory: o.sharedMemory,
    extraArgs: o.extraArgs,
    machine: o.machine,
  });
  const logFile = path.join(o.workDir, `${name}.log`);
  await using vm = Qemu.start(binary, args, { logFile });
  await o.onStarted?.(vm);
  const end = await vm.waitFor(/^E2E-END rc=(\d+)/, { timeoutMs: o.timeoutMs ?? 180_000 });
  const status = await vm.waitExit(60_000);
  return {
    rc: Number(end.match![1]),
    results: vm.results(),
    lines: vm.lines,
    logFile,
    markerMs: end.atMs,
    exitMs: vm.elapsedMs(),
    qemuExitCode: status.code,
  };
}

// ---------------------------------------------------------------------------------------------
// Guest tools from the cache

/**
 * Debian's arm64 ethtool and the shared libraries it needs, which prepare-assets.sh puts into the
 * cache's aarch64/ethtool/, as runGuest's `files`: the binary as /usr/sbin/ethtool, the dynamic
 * loader where the binary's ELF interpreter points (/lib/ld-linux-aarch64.so.1), the libraries
 * where Debian's loader looks for them (/lib/aarch64-linux-gnu/).
 */
export function ethtoolFiles(cacheDir = defaultCacheDir()): Record<string, string> {
  const dir = path.join(cacheDir, "aarch64", "ethtool");
  const files: Record<string, string> = { "/usr/sbin/ethtool": path.join(dir, "ethtool") };
  try {
    for (const entry of Deno.readDirSync(path.join(dir, "lib"))) {
      const guest = entry.name.startsWith("ld-linux-")
        ? `/lib/${entry.name}`
        : `/lib/aarch64-linux-gnu/${entry.name}`;
      files[guest] = path.join(dir, "lib", entry.name);
    }
    Deno.statSync(files["/usr/sbin/ethtool"]);
  } catch {
    throw new Error(
      `no ethtool in the e2e asset cache ${cacheDir}; run: tests/e2e/prepare-assets.sh ${cacheDir}`,
    );
  }
  return files;
}
