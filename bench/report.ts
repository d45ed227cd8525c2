// The latest figures of build/bench/results/*.json (written by each benchmark) as the Markdown
// tables of BENCHMARKS.md, with the machine, the date and which of issue 8's targets are met.
//
//   deno run -A bench/report.ts
import type { ApiLoadResult } from "./api_load.ts";
import type { EepromLatencyResult } from "./eeprom_latency.ts";
import type { HotplugResult } from "./hotplug.ts";
import type { KickCallResult } from "./kick_call.ts";
import type { ProfileResult } from "./profile.ts";
import type { ScaleResult } from "./scale.ts";
import type { ThroughputResult } from "./throughput.ts";
import type { RoundsSummary } from "./support/rounds.ts";
import { fmt, type LatencySummary } from "./support/stats.ts";

const RESULTS = new URL("../build/bench/results/", import.meta.url);

interface Saved<T> {
  time: string;
  loadAverage: number;
  result: T;
}

const out: string[] = [];
const loads: string[] = [];

/** A saved result, noting the load average it was measured under. */
function load<T>(name: string): T | undefined {
  let saved: Saved<T>;
  try {
    saved = JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, RESULTS)));
  } catch {
    return undefined;
  }
  loads.push(`${name} ${fmt(saved.loadAverage, 2)}`);
  return saved.result;
}

function table(header: string[], rows: (string | number)[][]): string {
  const cell = (c: string | number) => (typeof c === "number" ? fmt(c) : c);
  // Numbers (and percentages, ranges) right-aligned, text left-aligned.
  const numeric = header.map((_, i) =>
    i > 0 && rows.every((r) => typeof r[i] === "number" || /^[-\d.,%–]*$/.test(String(r[i])))
  );
  const align = numeric.map((n) => (n ? "---:" : "---"));
  return [header, align, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** A section: heading, then a table of p50/p99/max per labelled summary. */
function latencySection(heading: string, first: string, rows: [string, LatencySummary | undefined][]): void {
  out.push(`\n### ${heading}\n`);
  const ranged = rows.some(([, s]) => s && "p50MinUs" in s);
  out.push(table(
    [first, "p50 µs", ...(ranged ? ["p50 of rounds"] : []), "p99 µs", "max µs"],
    rows.map(([name, s]) => [
      name,
      s?.p50Us ?? NaN,
      ...(ranged && s && "p50MinUs" in s
        ? [`${fmt((s as RoundsSummary).p50MinUs)}–${fmt((s as RoundsSummary).p50MaxUs)}`]
        : []),
      s?.p99Us ?? NaN,
      s?.maxUs ?? NaN,
    ]),
  ));
}

const met = (ok: boolean) => (ok ? "**met**" : "**not met**");

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  const kernel = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  const memory = /MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
  return `${navigator.hardwareConcurrency} CPUs (${cpu}), ${fmt(Number(memory) / 1024 / 1024, 1)} GiB RAM, ` +
    `Linux ${kernel}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); ${
      new Date().toISOString().slice(0, 10)
    }`;
}

out.push(`Machine: ${machine()}.`);

const kick = load<KickCallResult>("kick_call");
if (kick) {
  latencySection("Kick → call, empty request (issue 2)", "path", [
    ["sfpemu backend, EmptyDevice (child process)", kick.backend],
    ["C eventfd ping-pong, read(2)", kick.cRead],
    ["C eventfd ping-pong, read(2), both on CPU 0", kick.cSameCore],
    ["C eventfd ping-pong, epoll_wait(2)", kick.cEpoll],
    ["Deno child, awaited nonblocking FFI wait only", kick.waits.await],
    ["Deno child, synchronous epoll_wait(-1) only", kick.waits.block],
    ["Deno child, synchronous epoll_wait(0) spin only", kick.waits.spin],
  ]);
  out.push(
    `\nBackend p50 = ${fmt(kick.ratio, 1)}× the floor (${fmt(kick.floorUs, 1)} µs, the best C read round), ` +
      `${fmt(kick.roundRatio, 1)}× by round.`,
  );
}

const eeprom = load<EepromLatencyResult>("eeprom_latency");
if (eeprom) {
  latencySection("(1) EEPROM read latency, 16 bytes at 0x51 the sfp way, one in flight", "path", [
    ["sfpemu run: virtio-i2c → PCA9548 → SfpModule", eeprom.eeprom],
    ["the same, program and frontend both on CPU 0", eeprom.eepromSameCore],
    ["C eventfd ping-pong, read(2)", eeprom.cRead],
    ["C eventfd ping-pong, read(2), both on CPU 0", eeprom.cSameCore],
    ["C eventfd ping-pong, epoll_wait(2)", eeprom.cEpoll],
  ]);
  out.push(
    `\nTarget p50 ≤ 3× the floor: ${fmt(eeprom.ratio, 1)}× (floor ${fmt(eeprom.floorUs, 1)} µs, the best C ` +
      `read round; ${fmt(eeprom.roundRatio, 1)}× by round) → ${met(eeprom.ratio <= 3)}.`,
  );
  out.push(
    `Both ends on one CPU: ${fmt(eeprom.sameCoreRatio, 1)}× the C ping-pong on one CPU → ` +
      `${met(eeprom.sameCoreRatio <= 3)}.`,
  );
}

const throughput = load<ThroughputResult>("throughput");
if (throughput) {
  const rows = throughput.rows;
  out.push(`\n### (2) Throughput, 16-byte transfers at 0x51, N per kick (median of ${throughput.repeat})\n`);
  out.push(table(
    ["transfer", "per kick", "transfers/s", "min–max", "per backend CPU-second", "backend CPU"],
    rows.map((r) => [
      r.kind === "read" ? "16-byte read" : "sfp: offset write + read",
      r.batch,
      Math.round(r.perSecond),
      `${fmt(Math.round(r.minPerSecond))}–${fmt(Math.round(r.maxPerSecond))}`,
      Math.round(r.perBackendCpuSecond),
      `${fmt((100 * r.backendCpuSeconds) / r.wallSeconds, 0)}%`,
    ]),
  ));
  const best = rows.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  out.push(
    `\nTarget ≥ 100,000 transfers/s: best ${
      fmt(Math.round(best.perSecond))
    }/s (${best.kind}, ${best.batch} ` +
      `per kick) → ${met(best.perSecond >= 100_000)}.`,
  );
}

const hotplug = load<HotplugResult>("hotplug");
if (hotplug) {
  const s = hotplug.summaries;
  latencySection("(3) Hot-plug latency, from the API call", "from the API call to", [
    ["plug → GPIO interrupt completed on the eventq", s["plug.irq"]],
    ["plug → SSE module-inserted received", s["plug.sse"]],
    ["plug → HTTP response", s["plug.http"]],
    ["unplug → GPIO interrupt completed on the eventq", s["unplug.irq"]],
    ["unplug → SSE module-removed received", s["unplug.sse"]],
    ["unplug → HTTP response", s["unplug.http"]],
    ["(floor) GET /health → HTTP response", s.health],
  ]);
  const worst = Math.max(s["plug.irq"].p99Us, s["plug.sse"].p99Us);
  out.push(
    `\nTarget p99 < 2 ms (plug, interrupt and SSE): ${fmt(worst / 1000, 2)} ms → ${met(worst < 2000)}.`,
  );
}

const scale = load<ScaleResult>("scale");
if (scale) {
  out.push(`\n### (4) Scale, ${scale.cagesPerBoard} cages per board, every cage plugged\n`);
  out.push(table(["topology", "cages", "sockets", "start-up ms", "RSS MiB"], [
    ["bare `deno eval` (for scale)", "-", "-", scale.baseline.startupMs, scale.baseline.rssMiB],
    ...scale.starts.map((s) => [`${s.boards} boards`, s.cages, s.sockets, s.startupMs, s.rssMiB]),
  ]));
  if (scale.starts.length >= 2) {
    const a = scale.starts[0];
    const b = scale.starts[scale.starts.length - 1];
    out.push(
      `\nPer additional board (${a.boards} → ${b.boards}): ${
        fmt((b.rssMiB - a.rssMiB) / (b.boards - a.boards), 2)
      } ` +
        `MiB, ${fmt((b.startupMs - a.startupMs) / (b.boards - a.boards), 1)} ms of start-up.`,
    );
  }
  const sweep = scale.sweep;
  if (sweep) {
    latencySection(
      `Sweep: a frontend on each of ${sweep.boards} boards, one 16-byte A0h read per cage (${sweep.reads} reads, ` +
        `${fmt(sweep.seconds, 2)} s; RSS then ${fmt(sweep.rssConnectedMiB, 1)} MiB)`,
      "step",
      [
        ["connect a frontend (QEMU 7.2 sequence)", sweep.connect],
        ["read 16 bytes (offset write + read)", sweep.read],
        [`GET /topology (${fmt(sweep.topologyBytes / 1024, 0)} KiB)`, sweep.topologyGet],
      ],
    );
  }
  const big = scale.starts.find((s) => s.boards === 64);
  if (big) {
    const rssMB = Math.max(big.rssMiB, sweep?.rssConnectedMiB ?? 0) * 1.048576;
    out.push(
      `\nTargets for 2,048 cages: start-up ${fmt(big.startupMs, 0)} ms < 3 s → ${
        met(big.startupMs < 3000)
      }; ` +
        `RSS ${fmt(rssMB, 0)} MB < 300 MB → ${met(rssMB < 300)}.`,
    );
  }
}

const api = load<ApiLoadResult>("api_load");
if (api) {
  out.push(
    `\n### (5) API under wrk (1 thread, ${api.connections} connections, ${api.seconds} s each), 4 × 32 cages\n`,
  );
  const rows: (string | number)[][] = [
    ["I2C traffic alone", "-", "-", "-", Math.round(api.i2cAlone.perSecond), api.i2cAlone.p99Us],
  ];
  for (const [route, r] of Object.entries(api.routes)) {
    rows.push([
      `${route}, alone`,
      Math.round(r.alone.requestsPerSecond),
      r.alone.p50Ms,
      r.alone.p99Ms,
      "-",
      "-",
    ]);
    rows.push([
      `${route}, with I2C traffic`,
      Math.round(r.loaded.requestsPerSecond),
      r.loaded.p50Ms,
      r.loaded.p99Ms,
      Math.round(r.i2c.perSecond),
      r.i2c.p99Us,
    ]);
  }
  out.push(table(["load", "req/s", "p50 ms", "p99 ms", "I2C reads/s", "I2C p99 µs"], rows));
}

const profile = load<ProfileResult>("profile");
for (const [key, run] of Object.entries(profile ?? {})) {
  const s = run.summary;
  const pct = (ms: number) => `${fmt((100 * ms) / s.busyMs, 1)}%`;
  out.push(`\n### (6) Profile, ${key}: ${run.did}; busy ${fmt(s.busyMs, 0)} of ${fmt(s.wallMs, 0)} ms\n`);
  const areas = s.areas.filter((a) => !["(idle)", "(root)"].includes(a.area) && a.selfMs > 0.01 * s.busyMs);
  out.push(`Self time by folder: ${areas.map((a) => `${a.area} ${pct(a.selfMs)}`).join(", ")}.\n`);
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

out.push(`\n1-minute load average when each finished: ${loads.join(", ")}.`);
console.log(out.join("\n"));
