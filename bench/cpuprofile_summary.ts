// Summarises a V8 .cpuprofile (from `deno run --cpu-prof`): top functions by self time, with
// their total (inclusive) time, and self time per source folder. Percentages are of busy time
// (everything but "(idle)").
//
//   deno run -A bench/cpuprofile_summary.ts FILE.cpuprofile [--top 25]
import { parseArgs } from "node:util";
import { type CpuProfile, type ProfileSummary, summarizeProfile } from "./support/cpuprofile.ts";
import { fmt, printTable } from "./support/stats.ts";

const ROOT = new URL("../", import.meta.url).pathname;

export function printProfileSummary(title: string, summary: ProfileSummary, top = 25): void {
  const pct = (ms: number) => `${fmt((100 * ms) / summary.busyMs, 1)}%`;
  console.log(
    `\n${title}: ${summary.samples} samples over ${fmt(summary.wallMs, 0)} ms; busy ${
      fmt(summary.busyMs, 0)
    } ms, ` +
      `idle ${fmt(summary.idleMs, 0)} ms (percentages below are of busy time)`,
  );
  printTable(
    "self time by source folder",
    ["folder", "self ms", "self %"],
    summary.areas.filter((a) => a.area !== "(idle)" && a.area !== "(root)").slice(0, 12).map((
      a,
    ) => [a.area, a.selfMs, pct(a.selfMs)]),
  );
  printTable(
    `top ${top} functions by self time`,
    ["function", "self ms", "self %", "total %", "where"],
    summary.functions.filter((f) => f.name !== "(idle)").slice(0, top).map((f) => [
      f.name,
      f.selfMs,
      pct(f.selfMs),
      pct(f.totalMs),
      f.location,
    ]),
  );
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string", default: "25" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error("usage: deno run -A bench/cpuprofile_summary.ts FILE.cpuprofile [--top N]");
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(positionals[0])) as CpuProfile;
  printProfileSummary(positionals[0], summarizeProfile(profile, ROOT), Number(values.top));
}
