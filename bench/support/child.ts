// A benchmark helper script as a child process (its own event loop), with a readiness line.
import { withTimeout } from "./deadline.ts";

const DENO = Deno.execPath();
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

export class ChildScript {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: Promise<string>;
  readonly #collected: string[] = [];

  constructor(script: URL, args: string[], denoFlags: string[] = []) {
    this.child = new Deno.Command(DENO, {
      args: ["run", "--allow-all", "--quiet", "--config", CONFIG, ...denoFlags, script.pathname, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#lines = lines(this.child.stdout)[Symbol.asyncIterator]();
    this.#stderr = new Response(this.child.stderr).text();
  }

  get pid(): number {
    return this.child.pid;
  }

  /** The next line the child prints; rejects at the deadline or when it exits first. */
  async nextLine(timeoutMs = 30_000): Promise<string> {
    const next = await withTimeout(this.#lines.next(), timeoutMs, "line from the child");
    if (next.done) throw new Error(`child exited: ${await this.#stderr}`);
    this.#collected.push(next.value);
    return next.value;
  }

  /** Waits for a line equal to `line`. */
  async waitFor(line: string, timeoutMs = 30_000): Promise<void> {
    while ((await this.nextLine(timeoutMs)) !== line) { /* skip other output */ }
  }

  /** SIGTERM and the exit; throws with the child's stderr when it failed. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await this.exited();
  }

  /** Waits for the exit (every line read); throws with stderr when the child failed. */
  async exited(): Promise<string[]> {
    for (;;) {
      const next = await this.#lines.next();
      if (next.done) break;
      this.#collected.push(next.value);
    }
    const status = await this.child.status;
    const stderr = await this.#stderr;
    if (!status.success) throw new Error(`child failed (${status.code}): ${stderr}`);
    return this.#collected;
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered) yield buffered;
}
