// Issue 8 (5): API requests/s under a loopback load generator (wrk, Debian package; installed
// with apt-get when missing and we are root) while I2C traffic runs. The program runs a topology
// of 4 boards x 32 cages (128 modules). A child process keeps one sfp-way 16-byte read in flight
// on board lt1 the whole time; each route is loaded alone and with that traffic, for a bounded
// duration each.
//
//   deno run -A bench/api_load.ts [--seconds 5] [--connections 4]
import { parseArgs } from "node:util";
import { ChildScript } from "./support/child.ts";
import { Emulator } from "./support/emulator.ts";
import { fmt, printTable, saveResult } from "./support/stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "4" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const PATCH_SCRIPT = new URL("./support/patch-diagnostics.lua", import.meta.url).pathname;

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface I2cLoadResult {
  transfers: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
}

async function commandExists(name: string): Promise<boolean> {
  const { success } = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
    .output();
  return success;
}

/** wrk on PATH, installing the Debian package when missing (root only). */
async function ensureWrk(): Promise<boolean> {
  if (await commandExists("wrk")) return true;
  if (Deno.uid() !== 0) {
    console.log("wrk is missing and we are not root: apt-get install wrk, then run again");
    return false;
  }
  const apt = (args: string[]) =>
    new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "null",
    })
      .output();
  console.log("installing the Debian package wrk");
  if (!(await apt(["install", "-y", "-q", "--no-install-recommends", "wrk"])).success) {
    await apt(["update", "-q"]);
    await apt(["install", "-y", "-q", "--no-install-recommends", "wrk"]);
  }
  return await commandExists("wrk");
}

function milliseconds(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) return NaN;
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as "us" | "ms" | "s" | "m"];
  return Number(match[1]) * scale;
}

async function wrk(url: string, script?: string): Promise<WrkResult> {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s"];
  if (script) args.push("-s", script);
  const { success, stdout, stderr } = await new Deno.Command("wrk", {
    args: [...args, url],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(`wrk failed: ${new TextDecoder().decode(stderr)}\n${text}`);
  const number = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: milliseconds(/^\s+50%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    p99Ms: milliseconds(/^\s+99%\s+(\S+)/m.exec(text)?.[1] ?? ""),
    errors: (number(/Non-2xx or 3xx responses:\s+(\d+)/) || 0) +
      (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}

/** What bench/report.ts reads back. */
export interface ApiLoadResult {
  seconds: number;
  connections: number;
  i2cAlone: I2cLoadResult;
  /** By route name: wrk alone, wrk with I2C traffic, and that traffic. */
  routes: Record<string, { alone: WrkResult; loaded: WrkResult; i2c: I2cLoadResult }>;
}

/** Runs `during` while a child keeps I2C reads going on the socket; returns both results. */
async function withI2cTraffic<T>(socket: string, during: () => Promise<T>): Promise<[T, I2cLoadResult]> {
  const load = new ChildScript(new URL("./support/i2c-load.ts", import.meta.url), [socket, String(seconds)]);
  await load.waitFor("ready");
  const result = await during();
  const lines = await load.exited();
  return [result, JSON.parse(lines[lines.length - 1]) as I2cLoadResult];
}

if (import.meta.main) {
  if (!(await ensureWrk())) Deno.exit(0);
  const emulator = await Emulator.start({ topology: { boards: 4, cagesPerBoard: 32 } });
  const rows: (string | number)[][] = [];
  const routeResults: ApiLoadResult["routes"] = {};
  let i2cAloneResult: I2cLoadResult | undefined;
  try {
    const [board] = await emulator.boards();
    const base = `${emulator.apiUrl}/api/v1`;
    const routes = [
      { name: "GET /topology", url: `${base}/topology` },
      {
        name: "PATCH .../diagnostics",
        url: `${base}/olts/olt1/boards/lt1/cages/2/module/diagnostics`,
        script: PATCH_SCRIPT,
      },
    ];
    const [, i2cAlone] = await withI2cTraffic(
      board.i2c,
      () => new Promise((r) => setTimeout(r, seconds * 1000)),
    );
    i2cAloneResult = i2cAlone;
    rows.push([
      "(none: I2C traffic alone)",
      "-",
      "-",
      "-",
      "-",
      Math.round(i2cAlone.perSecond),
      i2cAlone.p50Us,
      i2cAlone.p99Us,
    ]);
    for (const route of routes) {
      const alone = await wrk(route.url, route.script);
      rows.push([
        `${route.name}, alone`,
        Math.round(alone.requestsPerSecond),
        alone.p50Ms,
        alone.p99Ms,
        alone.errors,
        "-",
        "-",
        "-",
      ]);
      const [loaded, i2c] = await withI2cTraffic(board.i2c, () => wrk(route.url, route.script));
      rows.push([
        `${route.name}, with I2C traffic`,
        Math.round(loaded.requestsPerSecond),
        loaded.p50Ms,
        loaded.p99Ms,
        loaded.errors,
        Math.round(i2c.perSecond),
        i2c.p50Us,
        i2c.p99Us,
      ]);
      routeResults[route.name] = { alone, loaded, i2c };
    }
  } finally {
    await emulator.stop();
  }
  printTable(
    `API under wrk (1 thread, ${connections} connections, ${seconds} s each), 4 boards x 32 cages; ` +
      `I2C: one sfp-way 16-byte read in flight on lt1`,
    ["load", "req/s", "p50 ms", "p99 ms", "errors", "I2C reads/s", "I2C p50 us", "I2C p99 us"],
    rows,
  );
  console.log(`(${fmt(seconds, 0)} s per row; wrk, the program and the I2C child share the machine's cores)`);
  const result: ApiLoadResult = { seconds, connections, i2cAlone: i2cAloneResult!, routes: routeResults };
  await saveResult("api_load", result);
}
