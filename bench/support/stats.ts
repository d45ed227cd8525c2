// Latency summaries and the plain-text tables every benchmark prints.

/** p50/p99/max/mean of a set of samples, in microseconds. */
export interface LatencySummary {
  samples: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
}

/** Nearest-rank percentile of ascending samples (the same rule as bench/pingpong.c). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** Summarises nanosecond samples (a Float64Array filled by the caller) as microseconds. */
export function summarizeNs(samplesNs: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(samplesNs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    samples: sorted.length,
    p50Us: percentile(sorted, 50) / 1000,
    p99Us: percentile(sorted, 99) / 1000,
    maxUs: sorted.length ? sorted[sorted.length - 1] / 1000 : NaN,
    meanUs: sorted.length ? sum / sorted.length / 1000 : NaN,
  };
}

/** A number for a table: a fixed number of decimals, thousands separated for big ones. */
export function fmt(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return "-";
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  if (Math.abs(value) >= 10_000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(decimals);
}

/** Prints rows as an aligned text table: numbers right-aligned, text left-aligned. */
export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) =>
    i > 0 && rows.some((r) => typeof r[i] === "number" || /^[-\d.,%x]+$/.test(String(r[i] ?? "")))
  );
  const line = (r: string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  console.log(`\n${title}`);
  console.log(line(cells[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of cells.slice(1)) console.log(line(r));
}

/** The figures of one benchmark, kept as JSON under build/bench/results/ for bench/report.ts. */
export async function saveResult(name: string, result: unknown): Promise<void> {
  const dir = new URL("../../build/bench/results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const record = { name, time: new Date().toISOString(), loadAverage: loadAverage(), result };
  await Deno.writeTextFile(new URL(`${name}.json`, dir), JSON.stringify(record, null, 2) + "\n");
}

/** The 1-minute load average now (how busy the machine was), or NaN where /proc is missing. */
export function loadAverage(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}
