// Issue 8 (4): scale. Generated topologies of 16, 32 and 64 boards x 32 cages, every cage holding
// a module (64 x 32 = 2,048 cages, 128 sockets). For each: start-up time (spawn until the program
// printed that every socket listens and the API is up), resident memory, and memory per
// additional board. On the largest: a sweep where a frontend connects to every board's
// virtio-i2c socket and reads one 16-byte EEPROM chunk from every cage (through its mux), the
// memory with all those frontends connected, and GET /topology on it.
// Targets: 2,048-cage start-up < 3 s, resident memory < 300 MB.
//
//   deno run -A bench/scale.ts [--boards 16,32,64] [--cages 32]
import { parseArgs } from "node:util";
import { nowNs } from "../src/native/syscalls.ts";
import { timedFetch } from "./support/deadline.ts";
import { Emulator } from "./support/emulator.ts";
import { EEPROM_A0, I2cBoard, VENDOR_NAME_OFFSET } from "./support/i2c-board.ts";
import { fmt, type LatencySummary, printTable, saveResult, summarizeNs } from "./support/stats.ts";

const { values } = parseArgs({
  options: {
    boards: { type: "string", default: "16,32,64" },
    cages: { type: "string", default: "32" },
  },
});
const boardCounts = values.boards!.split(",").map(Number);
const cagesPerBoard = Number(values.cages);
const TARGET_STARTUP_MS = 3000;
const TARGET_RSS_MB = 300;

export interface StartRow {
  boards: number;
  cages: number;
  sockets: number;
  startupMs: number;
  rssMiB: number;
}

export interface Sweep {
  boards: number;
  reads: number;
  seconds: number;
  connect: LatencySummary;
  read: LatencySummary;
  rssConnectedMiB: number;
  topologyGet: LatencySummary;
  topologyBytes: number;
}

/** What bench/report.ts reads back. */
export interface ScaleResult {
  cagesPerBoard: number;
  baseline: { startupMs: number; rssMiB: number };
  starts: StartRow[];
  sweep?: Sweep;
}

/** How long a bare `deno` takes to start and how much memory it holds (the runtime's share). */
async function denoBaseline(): Promise<{ startupMs: number; rssMiB: number }> {
  const started = performance.now();
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "console.log(/VmRSS:\\s+(\\d+)/.exec(Deno.readTextFileSync('/proc/self/status'))[1])"],
    stdout: "piped",
  }).output();
  const startupMs = performance.now() - started;
  if (!success) throw new Error("deno eval failed");
  return { startupMs, rssMiB: Number(new TextDecoder().decode(stdout)) / 1024 };
}

function expectSockets(paths: string[]): void {
  const missing = paths.filter((p) => {
    try {
      return !Deno.statSync(p).isSocket;
    } catch {
      return true;
    }
  });
  if (missing.length) throw new Error(`${missing.length} sockets do not exist, e.g. ${missing[0]}`);
}

async function sweep(emulator: Emulator): Promise<Sweep> {
  const boards = await emulator.boards();
  const connected: I2cBoard[] = [];
  const connectNs: number[] = [];
  const readNs: number[] = [];
  const started = performance.now();
  try {
    for (const board of boards) {
      let t = nowNs();
      const i2c = await I2cBoard.connect(board.i2c, { queueSize: 64, slots: 8 });
      connectNs.push(Number(nowNs() - t));
      connected.push(i2c);
      for (let cage = 1; cage <= cagesPerBoard; cage++) {
        i2c.selectCage(cage);
        t = nowNs();
        const name = i2c.driver.readEeprom(EEPROM_A0, VENDOR_NAME_OFFSET, 16);
        readNs.push(Number(nowNs() - t));
        if (name.every((b) => b === 0xff)) throw new Error(`${board.path} cage ${cage}: empty vendor name`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const rssConnectedMiB = emulator.rssKiB() / 1024;
    const topologyNs: number[] = [];
    let topologyBytes = 0;
    for (let i = 0; i < 10; i++) {
      const t = nowNs();
      const response = await timedFetch(`${emulator.apiUrl}/api/v1/topology`);
      topologyBytes = (await response.arrayBuffer()).byteLength;
      topologyNs.push(Number(nowNs() - t));
    }
    return {
      boards: boards.length,
      reads: readNs.length,
      seconds,
      connect: summarizeNs(connectNs),
      read: summarizeNs(readNs),
      rssConnectedMiB,
      topologyGet: summarizeNs(topologyNs),
      topologyBytes,
    };
  } finally {
    for (const i2c of connected) i2c.close();
  }
}

if (import.meta.main) {
  const baseline = await denoBaseline();
  const starts: StartRow[] = [];
  let sweepResult: Sweep | undefined;
  const largest = Math.max(...boardCounts);
  for (const boards of boardCounts) {
    const emulator = await Emulator.start({ topology: { boards, cagesPerBoard } });
    try {
      const sockets = (await emulator.boards()).flatMap((b) => [b.i2c, b.gpio]);
      expectSockets(sockets);
      starts.push({
        boards,
        cages: boards * cagesPerBoard,
        sockets: sockets.length,
        startupMs: emulator.startupMs,
        rssMiB: emulator.rssKiB() / 1024,
      });
      if (boards === largest) sweepResult = await sweep(emulator);
    } finally {
      await emulator.stop();
    }
  }
  printTable(
    `start-up and memory, ${cagesPerBoard} cages per board, every cage plugged`,
    ["topology", "cages", "sockets", "start-up ms", "RSS MiB"],
    [
      ["bare deno (eval, for scale)", "-", "-", baseline.startupMs, baseline.rssMiB],
      ...starts.map((r) => [`${r.boards} boards`, r.cages, r.sockets, r.startupMs, r.rssMiB]),
    ],
  );
  if (starts.length >= 2) {
    const first = starts[0];
    const last = starts[starts.length - 1];
    const perBoardMiB = (last.rssMiB - first.rssMiB) / (last.boards - first.boards);
    const perBoardMs = (last.startupMs - first.startupMs) / (last.boards - first.boards);
    console.log(
      `per additional board (${first.boards} -> ${last.boards}): ${fmt(perBoardMiB, 2)} MiB RSS, ` +
        `${fmt(perBoardMs, 1)} ms start-up`,
    );
  }
  if (sweepResult) {
    const s = sweepResult;
    printTable(
      `sweep: a frontend on each of ${s.boards} boards, one 16-byte A0h read per cage (${s.reads} reads, ${
        fmt(s.seconds, 2)
      } s in all)`,
      ["step", "samples", "p50 us", "p99 us", "max us"],
      [
        [
          "connect a frontend (QEMU 7.2 sequence)",
          s.connect.samples,
          s.connect.p50Us,
          s.connect.p99Us,
          s.connect.maxUs,
        ],
        ["read 16 bytes (offset write + read)", s.read.samples, s.read.p50Us, s.read.p99Us, s.read.maxUs],
        [
          `GET /topology (${fmt(s.topologyBytes / 1024, 0)} KiB)`,
          s.topologyGet.samples,
          s.topologyGet.p50Us,
          s.topologyGet.p99Us,
          s.topologyGet.maxUs,
        ],
      ],
    );
    console.log(`RSS with ${s.boards} frontends connected: ${fmt(s.rssConnectedMiB, 1)} MiB`);
  }
  const big = starts.find((r) => r.boards === 64);
  if (big) {
    const rss = Math.max(big.rssMiB, sweepResult?.rssConnectedMiB ?? 0) * 1.048576; // MiB -> MB
    console.log(
      `targets for 2,048 cages: start-up ${fmt(big.startupMs, 0)} ms < ${TARGET_STARTUP_MS} -> ${
        big.startupMs < TARGET_STARTUP_MS ? "met" : "NOT met"
      }; RSS ${fmt(rss, 0)} MB < ${TARGET_RSS_MB} -> ${rss < TARGET_RSS_MB ? "met" : "NOT met"}`,
    );
  }
  const result: ScaleResult = { cagesPerBoard, baseline, starts, sweep: sweepResult };
  await saveResult("scale", result);
}
