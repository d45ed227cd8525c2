// Runs tests/support/echo-backend-process.ts as a child process and watches it.
import { DeadlineError } from "./frontend.ts";

const SCRIPT = new URL("./echo-backend-process.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

export class BackendProcess {
  readonly child: Deno.ChildProcess;
  readonly #stdout: ReadableStreamDefaultReader<string>;
  output = "";
  readonly #stderr: Promise<string>;

  constructor(readonly socketPaths: readonly string[]) {
    this.child = new Deno.Command(DENO, {
      args: ["run", "-A", SCRIPT, ...socketPaths],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.#stdout = this.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stderr = new Response(this.child.stderr).text();
  }

  /** Resolves when the child printed `line`; rejects at the deadline or if it exited first. */
  async waitForLine(line: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.split("\n").includes(line)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DeadlineError(`backend process did not print "${line}" in ${timeoutMs} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#stdout.read(),
        new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), remaining))),
      ]);
      clearTimeout(timer);
      if (chunk === "timeout") continue;
      if (chunk.done) throw new Error(`backend process exited before "${line}": ${await this.#stderr}`);
      this.output += chunk.value;
    }
  }

  /** The exit status and everything the child wrote to stderr. */
  async exit(): Promise<{ status: Deno.CommandStatus; stderr: string }> {
    // Drain stdout so the child never blocks on a full pipe.
    for (;;) {
      const chunk = await this.#stdout.read();
      if (chunk.done) break;
      this.output += chunk.value;
    }
    return { status: await this.child.status, stderr: await this.#stderr };
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }
}
