// `sfpemu run` as a child process on a state directory, for tests that stop it the hard way
// (SIGKILL) or the orderly way (SIGTERM) and start it again on the same state. Its output is
// collected line by line; every wait is for a line it prints, up to a generous deadline.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
/** Generous: a deadline only ends a test that already failed, on a shared and noisy machine. */
export const PROCESS_DEADLINE_MS = 30_000;

export class EmulatorProcess {
  #text = "";
  readonly #child: Deno.ChildProcess;
  readonly #collected: Promise<unknown>;
  #status: Deno.CommandStatus | undefined;

  private constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, "run", ...args],
      env: { SFPEMU_API_TOKEN: "" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child.status.then((status) => this.#status = status);
    this.#collected = Promise.all([this.#collect(this.#child.stdout), this.#collect(this.#child.stderr)]);
  }

  /**
   * Starts `sfpemu run examples/minimal.yaml` on `stateDir` with an API on a free loopback port
   * (and `args` besides); resolves with it once it printed its ready line.
   */
  static async start(stateDir: string, args: string[] = []): Promise<EmulatorProcess> {
    const topology = `${ROOT}examples/minimal.yaml`;
    const emulator = new EmulatorProcess([topology, "--state-dir", stateDir, "--api=127.0.0.1:0", ...args]);
    try {
      await emulator.waitForLine((line) => line.startsWith("ready "), "the ready line");
    } catch (error) {
      await emulator.kill("SIGKILL");
      throw error;
    }
    return emulator;
  }

  /** The API's HOST:PORT, from the ready line. */
  get api(): string {
    const line = this.output.find((l) => l.startsWith("ready "));
    const match = line && /^ready api=http:\/\/(\S+) /.exec(line);
    assert.ok(match, `no ready line with an API address in:\n${this.output.join("\n")}`);
    return match[1];
  }

  /** What it printed so far (stdout and stderr, each line whole). */
  get output(): string[] {
    return this.#text.split("\n").filter((line) => line !== "");
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let pending = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const end = (pending + text).lastIndexOf("\n") + 1;
      this.#text += (pending + text).slice(0, end);
      pending = (pending + text).slice(end);
    }
    this.#text += pending && `${pending}\n`;
  }

  /** The first line it printed that satisfies the predicate, once it did; throws when it ended first. */
  async waitForLine(predicate: (line: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + PROCESS_DEADLINE_MS;
    let line: string | undefined;
    while ((line = this.output.find(predicate)) === undefined) {
      const ended = this.#status ? `sfpemu run exited (${this.#status.code})` : undefined;
      const late = Date.now() > deadline ? `${PROCESS_DEADLINE_MS} ms passed` : undefined;
      if (ended ?? late) throw new Error(`${ended ?? late} before ${what}:\n${this.#text}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return line;
  }

  /** Sends the signal (unless it has ended) and resolves with how it ended, its output all read. */
  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      try {
        this.#child.kill(signal);
      } catch {
        // It ended meanwhile.
      }
    }
    const status = await this.#child.status;
    await this.#collected;
    return status;
  }
}
