// The real program (`main.ts run`, what ./sfpemu runs) as a child process on a topology, with its
// API on a free loopback port and its sockets in a fresh directory; plus what /proc says about it.
import { timedFetch } from "./deadline.ts";
import type { GeneratedTopology } from "./topology.ts";
import { topologyYaml } from "./topology.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

export interface EmulatorOptions {
  topology: GeneratedTopology;
  /** Extra `deno run` flags, e.g. ["--cpu-prof", "--cpu-prof-dir=..."]. */
  denoFlags?: string[];
  /** Pin the program to these CPUs (taskset -c), e.g. "0". */
  cpus?: string;
  /** Longest wait for the program to print that it runs. */
  startTimeoutMs?: number;
}

export interface BoardSockets {
  path: string;
  i2c: string;
  gpio: string;
}

export class Emulator {
  #exited = false;

  private constructor(
    readonly child: Deno.ChildProcess,
    /** http://127.0.0.1:PORT */
    readonly apiUrl: string,
    /** Topology, state and sockets; removed by stop(). */
    readonly directory: string,
    /** From spawn until the program printed its summary: every socket listens, and the API. */
    readonly startupMs: number,
    readonly done: Promise<void>,
    readonly output: { stdout: () => string; stderr: () => string },
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  static async start(options: EmulatorOptions): Promise<Emulator> {
    const directory = Deno.makeTempDirSync({ prefix: "sfpb-" });
    const topologyFile = `${directory}/topology.yaml`;
    Deno.writeTextFileSync(topologyFile, topologyYaml(options.topology));
    const started = performance.now();
    const deno = [Deno.execPath()];
    if (options.cpus !== undefined) deno.unshift("taskset", "-c", options.cpus);
    const child = new Deno.Command(deno[0], {
      args: [
        ...deno.slice(1),
        "run",
        "--allow-all",
        "--quiet",
        "--config",
        `${ROOT}deno.json`,
        ...(options.denoFlags ?? []),
        `${ROOT}main.ts`,
        "run",
        topologyFile,
        "--state-dir",
        `${directory}/state`,
        "--api",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--log-level",
        "warn",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stdout = "";
    let stderr = "";
    const ready = Promise.withResolvers<string>();
    const decoder = new TextDecoder();
    const readStdout = (async () => {
      for await (const chunk of child.stdout) {
        stdout += decoder.decode(chunk, { stream: true });
        const match = /API\s+(http:\/\/\S+)\/api\/v1/.exec(stdout);
        if (match) ready.resolve(match[1]);
      }
    })();
    const readStderr = (async () => {
      for await (const chunk of child.stderr) {
        stderr = (stderr + decoder.decode(chunk, { stream: true })).slice(-20_000);
      }
    })();
    const done = Promise.all([readStdout, readStderr, child.status]).then(() => {});
    child.status.then((s) =>
      ready.reject(new Error(`sfpemu run exited with ${s.code} before it was ready:\n${stderr}`))
    );
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const timer = setTimeout(
      () => ready.reject(new Error(`sfpemu run was not ready in ${timeoutMs} ms`)),
      timeoutMs,
    );
    let apiUrl: string;
    try {
      apiUrl = await ready.promise;
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await done;
      Deno.removeSync(directory, { recursive: true });
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const startupMs = performance.now() - started;
    return new Emulator(child, apiUrl, directory, startupMs, done, {
      stdout: () => stdout,
      stderr: () => stderr,
    });
  }

  get stderr(): string {
    return this.output.stderr();
  }

  /** GET /api/v1/<path> as JSON. */
  async get(path: string): Promise<unknown> {
    const response = await timedFetch(`${this.apiUrl}/api/v1/${path}`);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return await response.json();
  }

  /** Every board with its socket paths, from GET /topology. */
  async boards(): Promise<BoardSockets[]> {
    const topology = await this.get("topology") as {
      olts: { id: string; boards: { id: string; sockets: { i2c: string; gpio: string } }[] }[];
    };
    return topology.olts.flatMap((olt) =>
      olt.boards.map((b) => ({ path: `${olt.id}/${b.id}`, i2c: b.sockets.i2c, gpio: b.sockets.gpio }))
    );
  }

  /** Resident memory now, in KiB (VmRSS). */
  rssKiB(): number {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  }

  /** CPU time used so far (user + system), in seconds. */
  cpuSeconds(): number {
    const stat = Deno.readTextFileSync(`/proc/${this.pid}/stat`);
    // Fields after the command name (which may hold spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  /** SIGTERM, the orderly shutdown (a --cpu-prof profile is written then), and the files removed. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.#exited) return;
    this.#exited = true;
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, timeoutMs);
    const status = await this.child.status;
    clearTimeout(timer);
    await this.done;
    Deno.removeSync(this.directory, { recursive: true });
    if (!status.success) {
      throw new Error(`sfpemu run exited with ${status.code} (signal ${status.signal}):\n${this.stderr}`);
    }
  }
}
