// The command line as a user runs it: `main.ts` with arguments in a separate process, its exit
// code and output collected, for the CLI verb tests.
import assert from "node:assert/strict";

export const ROOT = new URL("../../", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function sfpemu(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, ...args],
    env: { SFPEMU_API: "", SFPEMU_API_TOKEN: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** The output of a run that must have succeeded. */
export function ok(result: CliResult): string {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  return result.stdout;
}

/** A run that must have failed with this exit code and a message on stderr. */
export function failed(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit ${result.code}; stdout: ${result.stdout}; stderr: ${result.stderr}`);
  assert.match(result.stderr, pattern);
}

/** A loopback port nobody listens on. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
