// The emulator under test, as a user runs it: `./sfpemu run TOPOLOGY --state-dir DIR --api
// 127.0.0.1:0`, its stdout and stderr (JSON logs at debug level) kept in a log file, the API address
// taken from its `ready api=...` line. Every wait ends on an observed event or a deadline.
import * as path from "node:path";
import { deadline, REPO_ROOT } from "./qemu.ts";

/**
 * The program under test: SFPEMU_E2E_BIN (e.g. a compiled dist/sfpemu, or another checkout's
 * launcher), else this checkout's ./sfpemu.
 */
export function sfpemuBinary(): string {
  return Deno.env.get("SFPEMU_E2E_BIN") || path.join(REPO_ROOT, "sfpemu");
}

export interface EmulatorOptions {
  topology: string;
  stateDir: string;
  logFile: string;
}

type Timer = ReturnType<typeof setTimeout>;

export class Emulator {
  readonly lines: string[] = [];
  #readyWaiter?: (line: string) => void;
  readonly #child: Deno.ChildProcess;
  readonly #log: Deno.FsFile;
  readonly #done: Promise<Deno.CommandStatus>;
  status: Deno.CommandStatus | null = null;
  api = "";

  private constructor(o: EmulatorOptions) {
    this.#log = Deno.openSync(o.logFile, { write: true, create: true, truncate: true });
    const args = [
      "run",
      o.topology,
      "--state-dir",
      o.stateDir,
      "--api",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--log-level",
      "debug",
    ];
    this.#write(`# ${sfpemuBinary()} ${args.join(" ")}\n`);
    this.#child = new Deno.Command(sfpemuBinary(), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const readers = [this.#read(this.#child.stdout), this.#read(this.#child.stderr)];
    this.#done = this.#child.status.then(async (s) => {
      await Promise.all(readers);
      this.status = s;
      this.#write(`# exited: code ${s.code}${s.signal ? ` signal ${s.signal}` : ""}\n`);
      this.#log.close();
      return s;
    });
  }

  /** Starts the emulator and resolves once its API answers (the `ready` line), within 90 s. */
  static async start(o: EmulatorOptions): Promise<Emulator> {
    const emulator = new Emulator(o);
    const ms = deadline(90_000);
    let timer: Timer | undefined;
    const ready = new Promise<string>((resolve) => (emulator.#readyWaiter = resolve));
    const failed = emulator.#done.then((s) => {
      throw new Error(`sfpemu run exited (code ${s.code}) before it was ready:\n${emulator.tail()}`);
    });
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`sfpemu run not ready within ${ms} ms:\n${emulator.tail()}`)),
        ms,
      );
    });
    try {
      const line = await Promise.race([ready, failed, late]);
      emulator.api = `${/ready api=(\S+)/.exec(line)![1]}/api/v1`;
      return emulator;
    } catch (error) {
      await emulator.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #write(text: string) {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += this.#log.writeSync(bytes.subarray(off));
  }

  async #read(stream: ReadableStream<Uint8Array>) {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        this.#line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    if (pending) this.#line(pending);
  }

  #line(line: string) {
    this.lines.push(line);
    this.#write(line + "\n");
    if (/^ready api=http/.test(line)) this.#readyWaiter?.(line);
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join("\n");
  }

  /** One API request; the parsed JSON answer, or an error with the status and body. */
  async request(method: string, apiPath: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.api}${apiPath}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(deadline(30_000)),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${apiPath}: HTTP ${response.status} ${text}`);
    return JSON.parse(text);
  }

  /** SIGTERM, then SIGKILL if it has not exited within 30 s; resolves to its exit status. */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.status) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* already gone */ }
      let timer: Timer | undefined;
      const grace = new Promise<null>((r) => (timer = setTimeout(() => r(null), deadline(30_000))));
      const s = await Promise.race([this.#done, grace]);
      clearTimeout(timer);
      if (!s) {
        try {
          this.#child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }
    return await this.#done;
  }
}
