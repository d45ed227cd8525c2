// The plain-C eventfd ping-pong (bench/pingpong.c), compiled with cc into build/bench/ when its
// source is newer than the binary, and run in the same process tree as the benchmark beside it.
import type { LatencySummary } from "./stats.ts";

const SOURCE = new URL("../pingpong.c", import.meta.url).pathname;
const BINARY = new URL("../../build/bench/pingpong", import.meta.url).pathname;

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

async function build(): Promise<void> {
  if (mtime(BINARY) >= mtime(SOURCE)) return;
  Deno.mkdirSync(BINARY.replace(/\/[^/]*$/, ""), { recursive: true });
  const cc = Deno.env.get("CC") ?? "cc";
  const { success, stderr } = await new Deno.Command(cc, {
    args: ["-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-o", BINARY, SOURCE],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`${cc} failed on ${SOURCE}:\n${new TextDecoder().decode(stderr)}`);
}

export type PingPongMode = "read" | "epoll";

/**
 * Round trips between two processes: "read" blocks in read(2), "epoll" in epoll_wait(2) then read;
 * with `cpu`, both processes are pinned to that CPU (no inter-processor wake-ups).
 */
export async function cPingPong(
  mode: PingPongMode,
  iterations: number,
  warmup: number,
  cpu?: number,
): Promise<LatencySummary> {
  await build();
  const { success, stdout, stderr } = await new Deno.Command(BINARY, {
    args: [mode, String(iterations), String(warmup), ...(cpu === undefined ? [] : [String(cpu)])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`pingpong ${mode} failed: ${new TextDecoder().decode(stderr)}`);
  const r = JSON.parse(new TextDecoder().decode(stdout));
  return { samples: r.iterations, p50Us: r.p50_us, p99Us: r.p99_us, maxUs: r.max_us, meanUs: r.mean_us };
}
