// The latest figures of build/bench/results/*.json (written by each benchmark) as the Markdown
// tables of BENCHMARKS.md, with the machine, the date and which of issue 8's targets are met.
//
//   deno run -A bench/report.ts
import { fmt } from "./support/stats.ts";
import type { LatencySummary } from "./support/stats.ts";
import type { ProfileSummary } from "./support/cpuprofile.ts";

const RESULTS = new URL("../build/bench/results/", import.meta.url);

interface Saved<T> {
  time: string;
  loadAverage: number;
  result: T;
}

function load<T>(name: string): Saved<T> | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, RESULTS)));
  } catch {
    return undefined;
  }
}

function table(header: string[], rows: (string | number)[][]): string {
  const cell = (c: string | number) => (typeof c === "number" ? fmt(c) : c);
  const align = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, align, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

const met = (ok: boolean) => (ok ? "**met**" : "**not met**");
const lat = (
  name: string,
  s: LatencySummary | undefined,
) => [name, s?.p50Us ?? NaN, s?.p99Us ?? NaN, s?.maxUs ?? NaN];
const out: string[] = [];
const loads: string[] = [];
const note = (name: string, saved: Saved<unknown>) => loads.push(`${name} ${fmt(saved.loadAverage, 2)}`);

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  const kernel = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  const cpus = navigator.hardwareConcurrency;
  const memory = /MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
  return `${cpus} CPUs (${cpu}), ${fmt(Number(memory) / 1024 / 1024, 1)} GiB RAM, Linux ${kernel}, ` +
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); ${new Date().toISOString().slice(0, 10)}`;
}

out.push(`Machine: ${machine()}.`);

const kick = load<
  {
    backend: LatencySummary;
    cRead: LatencySummary;
    cEpoll: LatencySummary;
    waits: Record<string, LatencySummary>;
  }
>(
  "kick_call",
);
if (kick) {
  note("kick_call", kick);
  const r = kick.result;
  out.push("\n### Kick -> call, empty request (issue 2)\n");
  out.push(table(["path", "p50 µs", "p99 µs", "max µs"], [
    lat("sfpemu backend, EmptyDevice (child process)", r.backend),
    lat("C eventfd ping-pong, read(2)", r.cRead),
    lat("C eventfd ping-pong, epoll_wait(2)", r.cEpoll),
    lat("Deno child, awaited nonblocking FFI wait only", r.waits.await),
    lat("Deno child, synchronous epoll_wait(-1) only", r.waits.block),
    lat("Deno child, synchronous epoll_wait(0) spin only", r.waits.spin),
  ]));
}

const eeprom = load<{ eeprom: LatencySummary; cRead: LatencySummary; cEpoll: LatencySummary; ratio: number }>(
  "eeprom_latency",
);
if (eeprom) {
  note("eeprom_latency", eeprom);
  const r = eeprom.result;
  out.push("\n### (1) EEPROM read latency, 16 bytes at 0x51 the sfp way, one in flight\n");
  out.push(table(["path", "p50 µs", "p99 µs", "max µs"], [
    lat("sfpemu run: virtio-i2c → PCA9548 → SfpModule", r.eeprom),
    lat("C eventfd ping-pong, read(2) (the floor)", r.cRead),
    lat("C eventfd ping-pong, epoll_wait(2)", r.cEpoll),
  ]));
  out.push(`\nTarget p50 ≤ 3× the floor: ${fmt(r.ratio, 1)}× → ${met(r.ratio <= 3)}.`);
}

interface ThroughputRow {
  kind: string;
  batch: number;
  perSecond: number;
  perBackendCpuSecond: number;
  backendCpuSeconds: number;
  wallSeconds: number;
}
const throughput = load<{ rows: ThroughputRow[] }>("throughput");
if (throughput) {
  note("throughput", throughput);
  const rows = throughput.result.rows;
  out.push("\n### (2) Throughput, 16-byte transfers at 0x51, N per kick\n");
  out.push(table(
    ["transfer", "per kick", "transfers/s", "per backend CPU-second", "backend CPU"],
    rows.map((r) => [
      r.kind === "read" ? "16-byte read" : "sfp: offset write + read",
      r.batch,
      Math.round(r.perSecond),
      Math.round(r.perBackendCpuSecond),
      `${fmt((100 * r.backendCpuSeconds) / r.wallSeconds, 0)}%`,
    ]),
  ));
  const best = rows.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  out.push(
    `\nTarget ≥ 100,000 transfers/s: best ${
      fmt(Math.round(best.perSecond))
    }/s (${best.kind}, ${best.batch} per kick) → ` +
      `${met(best.perSecond >= 100_000)}.`,
  );
}

const hotplug = load<{ summaries: Record<string, LatencySummary> }>("hotplug");
if (hotplug) {
  note("hotplug", hotplug);
  const s = hotplug.result.summaries;
  out.push("\n### (3) Hot-plug latency, from the API call\n");
  out.push(table(["from the API call to", "p50 µs", "p99 µs", "max µs"], [
    lat("plug → GPIO interrupt completed on the eventq", s["plug.irq"]),
    lat("plug → SSE module-inserted received", s["plug.sse"]),
    lat("plug → HTTP response", s["plug.http"]),
    lat("unplug → GPIO interrupt completed on the eventq", s["unplug.irq"]),
    lat("unplug → SSE module-removed received", s["unplug.sse"]),
    lat("unplug → HTTP response", s["unplug.http"]),
    lat("(floor) GET /health → HTTP response", s.health),
  ]));
  const worst = Math.max(s["plug.irq"].p99Us, s["plug.sse"].p99Us);
  out.push(
    `\nTarget p99 < 2 ms (plug, interrupt and SSE): ${fmt(worst / 1000, 2)} ms → ${met(worst < 2000)}.`,
  );
}

interface StartRow {
  boards: number;
  cages: number;
  sockets: number;
  startupMs: number;
  rssMiB: number;
}
const scale = load<{
  baseline: { startupMs: number; rssMiB: number };
  starts: StartRow[];
  sweep?: {
    boards: number;
    reads: number;
    seconds: number;
    connect: LatencySummary;
    read: LatencySummary;
    rssConnectedMiB: number;
    topologyGet: LatencySummary;
    topologyBytes: number;
  };
}>("scale");
if (scale) {
  note("scale", scale);
  const r = scale.result;
  out.push("\n### (4) Scale, 32 cages per board, every cage plugged\n");
  out.push(table(["topology", "cages", "sockets", "start-up ms", "RSS MiB"], [
    ["bare `deno eval` (for scale)", "-", "-", r.baseline.startupMs, r.baseline.rssMiB],
    ...r.starts.map((s) => [`${s.boards} boards`, s.cages, s.sockets, s.startupMs, s.rssMiB]),
  ]));
  if (r.starts.length >= 2) {
    const a = r.starts[0];
    const b = r.starts[r.starts.length - 1];
    out.push(
      `\nPer additional board (${a.boards} → ${b.boards}): ${
        fmt((b.rssMiB - a.rssMiB) / (b.boards - a.boards), 2)
      } MiB, ` +
        `${fmt((b.startupMs - a.startupMs) / (b.boards - a.boards), 1)} ms of start-up.`,
    );
  }
  if (r.sweep) {
    const s = r.sweep;
    out.push(
      `\nSweep: a frontend on each of ${s.boards} boards, one 16-byte A0h read per cage (${s.reads} reads), ` +
        `${fmt(s.seconds, 2)} s in all; RSS with all ${s.boards} frontends connected ${
          fmt(s.rssConnectedMiB, 1)
        } MiB.\n`,
    );
    out.push(table(["step", "p50 µs", "p99 µs", "max µs"], [
      lat("connect a frontend (QEMU 7.2 sequence)", s.connect),
      lat("read 16 bytes (offset write + read)", s.read),
      lat(`GET /topology (${fmt(s.topologyBytes / 1024, 0)} KiB)`, s.topologyGet),
    ]));
  }
  const big = r.starts.find((s) => s.boards === 64);
  if (big) {
    const rssMB = Math.max(big.rssMiB, r.sweep?.rssConnectedMiB ?? 0) * 1.048576;
    out.push(
      `\nTargets for 2,048 cages: start-up ${fmt(big.startupMs, 0)} ms < 3 s → ${
        met(big.startupMs < 3000)
      }; ` +
        `RSS ${fmt(rssMB, 0)} MB < 300 MB → ${met(rssMB < 300)}.`,
    );
  }
}

interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}
interface I2cLoad {
  perSecond: number;
  p50Us: number;
  p99Us: number;
}
const api = load<{ seconds: number; connections: number; results: Record<string, unknown> }>("api_load");
if (api) {
  note("api_load", api);
  const r = api.result.results;
  const i2cAlone = r.i2cAlone as I2cLoad;
  out.push(
    `\n### (5) API under wrk (1 thread, ${api.result.connections} connections, ${api.result.seconds} s each), 4 boards × 32 cages\n`,
  );
  const rows: (string | number)[][] = [[
    "I2C traffic alone",
    "-",
    "-",
    "-",
    Math.round(i2cAlone.perSecond),
    i2cAlone.p99Us,
  ]];
  for (const route of ["GET /topology", "PATCH .../diagnostics"]) {
    const x = r[route] as { alone: WrkResult; loaded: WrkResult; i2c: I2cLoad } | undefined;
    if (!x) continue;
    rows.push([
      `${route}, alone`,
      Math.round(x.alone.requestsPerSecond),
      x.alone.p50Ms,
      x.alone.p99Ms,
      "-",
      "-",
    ]);
    rows.push([
      `${route}, with I2C traffic`,
      Math.round(x.loaded.requestsPerSecond),
      x.loaded.p50Ms,
      x.loaded.p99Ms,
      Math.round(x.i2c.perSecond),
      x.i2c.p99Us,
    ]);
  }
  out.push(table(["load", "req/s", "p50 ms", "p99 ms", "I2C reads/s", "I2C p99 µs"], rows));
}

type ProfileRun = { did: string; backendCpuSeconds: number; summary: ProfileSummary };
const profile = load<Record<string, ProfileRun>>("profile");
if (profile) {
  note("profile", profile);
  for (const [key, run] of Object.entries(profile.result)) {
    const s = run.summary;
    const pct = (ms: number) => `${fmt((100 * ms) / s.busyMs, 1)}%`;
    out.push(`\n### (6) Profile, ${key}: ${run.did}; busy ${fmt(s.busyMs, 0)} of ${fmt(s.wallMs, 0)} ms\n`);
    out.push(table(
      ["function", "self", "total", "where"],
      s.functions.filter((f) => f.name !== "(idle)").slice(0, 12).map((f) => [
        `\`${f.name}\``,
        pct(f.selfMs),
        pct(f.totalMs),
        f.location ? `\`${f.location}\`` : "",
      ]),
    ));
  }
}

out.push(`\n1-minute load average when each finished: ${loads.join(", ")}.`);
console.log(out.join("\n"));
