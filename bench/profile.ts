// Issue 8 (6): where the time goes on the I2C hot path. The real program runs under
// `deno run --cpu-prof`; this process drives sfp-way 16-byte reads of A2h at 0x51 for a while,
// once with one transfer in flight (latency path) and once with 32 per kick (throughput path);
// then, for the hot-plug figures, unplug/plug calls through the API.
// Only the samples taken while traffic ran are summarised (V8's profile clock and nowNs() are
// both CLOCK_MONOTONIC). The raw profiles stay in build/bench/profiles/ (open them in Chrome
// DevTools or speedscope).
//
// V8 samples on the wall clock: time a call spends descheduled (e.g. right after waking the
// frontend, which may then run on the same core) counts as that call's self time.
//
//   deno run -A bench/profile.ts [--seconds 4] [--top 20] [--interval 100] [--cpus 0]
import { parseArgs } from "node:util";
import { nowNs } from "../src/native/syscalls.ts";
import { printProfileSummary } from "./cpuprofile_summary.ts";
import {
  type CpuProfile,
  newestProfile,
  type ProfileSummary,
  summarizeProfile,
} from "./support/cpuprofile.ts";
import { timedFetch } from "./support/deadline.ts";
import { Emulator } from "./support/emulator.ts";
import { DIAGNOSTICS_OFFSET, EEPROM_A2, I2cBoard } from "./support/i2c-board.ts";
import { saveResult } from "./support/stats.ts";
import { BENCH_PROFILE } from "./support/topology.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "4" },
    top: { type: "string", default: "20" },
    interval: { type: "string", default: "100" },
    cpus: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const top = Number(values.top);
const ROOT = new URL("../", import.meta.url).pathname;
const PROFILES = new URL("../build/bench/profiles/", import.meta.url).pathname;
const MAX_BATCHES = 5_000_000;

/** Drives the program for `seconds`; returns what it did, e.g. "1234 sfp-way reads". */
type Workload = (emulator: Emulator, end: number) => Promise<string>;

/** One transfer of 16 bytes of A2h the sfp way, perKick of them per kick, until `end`. */
function i2cReads(perKick: number): Workload {
  return async (emulator, end) => {
    const [board] = await emulator.boards();
    const i2c = await I2cBoard.connect(board.i2c);
    let transfers = 0;
    try {
      i2c.selectCage(1);
      for (let batches = 0; performance.now() < end && batches < MAX_BATCHES; batches++) {
        for (let i = 0; i < perKick; i++) i2c.driver.addEepromRead(EEPROM_A2, DIAGNOSTICS_OFFSET, 16);
        i2c.driver.run();
        transfers += perKick;
      }
    } finally {
      i2c.close();
    }
    return `${transfers} sfp-way 16-byte reads, ${perKick} per kick`;
  };
}

/** Unplug and plug a module through the API, one call at a time, until `end`. */
const apiHotPlug: Workload = async (emulator, end) => {
  const url = `${emulator.apiUrl}/api/v1/olts/olt1/boards/lt1/cages/5/module`;
  let calls = 0;
  for (; performance.now() < end && calls < MAX_BATCHES; calls += 2) {
    for (const method of ["DELETE", "PUT"]) {
      const response = await timedFetch(url, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "PUT" ? JSON.stringify({ profile: BENCH_PROFILE }) : undefined,
      });
      const body = await response.text();
      if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${body}`);
    }
  }
  return `${calls} API calls (unplug, plug, ...)`;
};

export interface ProfileRun {
  did: string;
  seconds: number;
  backendCpuSeconds: number;
  summary: ProfileSummary;
}

/** What bench/report.ts reads back, by workload. */
export type ProfileResult = Record<string, ProfileRun>;

async function profile(name: string, workload: Workload): Promise<ProfileRun> {
  const dir = Deno.makeTempDirSync({ prefix: "sfpb-prof-" });
  const kept = `${PROFILES}${name}.cpuprofile`;
  let fromUs = 0;
  let toUs = 0;
  let did = "";
  let backendCpuSeconds = 0;
  try {
    const emulator = await Emulator.start({
      topology: { boards: 1, cagesPerBoard: 32 },
      cpus: values.cpus,
      denoFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${values.interval}`],
    });
    try {
      fromUs = Number(nowNs() / 1000n);
      const cpuBefore = emulator.cpuSeconds();
      did = await workload(emulator, performance.now() + seconds * 1000);
      toUs = Number(nowNs() / 1000n);
      backendCpuSeconds = emulator.cpuSeconds() - cpuBefore;
    } finally {
      await emulator.stop();
    }
    Deno.mkdirSync(PROFILES, { recursive: true });
    Deno.copyFileSync(newestProfile(dir), kept);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  const summary = summarizeProfile(JSON.parse(Deno.readTextFileSync(kept)) as CpuProfile, ROOT, {
    fromUs,
    toUs,
  });
  printProfileSummary(
    `CPU profile of sfpemu run, ${name}: ${did} in ${seconds} s; backend CPU ${
      backendCpuSeconds.toFixed(2)
    } s ` +
      `(/proc, all threads); ${kept.slice(ROOT.length)}`,
    summary,
    top,
  );
  return {
    did,
    seconds,
    backendCpuSeconds,
    summary: { ...summary, functions: summary.functions.slice(0, 40) },
  };
}

if (import.meta.main) {
  const oneInFlight = await profile("i2c-one-in-flight", i2cReads(1));
  const perKick32 = await profile("i2c-32-per-kick", i2cReads(32));
  const hotPlug = await profile("api-hot-plug", apiHotPlug);
  const result: ProfileResult = { oneInFlight, perKick32, hotPlug };
  await saveResult("profile", result);
}
