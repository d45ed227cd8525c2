// Issue 8 (1): EEPROM read latency the way Linux's sfp driver reads (offset write + read, two
// chained requests, FAIL_NEXT on the first, one kick), one transfer in flight, 16 bytes of A2h at
// 0x51, through the real program: a board's virtio-i2c device, its PCA9548, a real SfpModule.
// Beside it, the plain-C eventfd ping-pong measured in the same run. Target: p50 within 3x of it.
//
// Both are measured in rounds (bench/support/rounds.ts), so machine noise falls on both alike.
//
//   deno run -A bench/eeprom_latency.ts [--iterations 20000] [--warmup 2000] [--rounds 5] [--max-seconds 60]
import { nowNs } from "../src/native/syscalls.ts";
import { latencyOptions } from "./support/args.ts";
import { pinnedTo } from "./support/affinity.ts";
import { Emulator } from "./support/emulator.ts";
import {
  DIAGNOSTICS_OFFSET,
  EEPROM_A0,
  EEPROM_A2,
  expectSameBytes,
  fromHex,
  I2cBoard,
  VENDOR_NAME_OFFSET,
} from "./support/i2c-board.ts";
import {
  combineRounds,
  compareWithFloor,
  describeRatio,
  type FloorComparison,
  type FloorRuns,
  measureFloorRound,
  ROUNDS_COLUMNS,
  roundsRow,
  type RoundsSummary,
  timeRoundTrips,
} from "./support/rounds.ts";
import { type LatencySummary, printTable, saveResult } from "./support/stats.ts";

const { iterations, warmup, maxSeconds, rounds, perRound, warmupPerRound } = latencyOptions();
const CAGE = 1;
const SAME_CPU = "0";
const LENGTH = 16;

/** What bench/report.ts reads back. */
export interface EepromLatencyResult extends FloorComparison {
  eeprom: RoundsSummary;
  /** The program and this process pinned to one CPU, like cSameCore. */
  eepromSameCore: RoundsSummary;
  /** eepromSameCore's p50 over cSameCore's. */
  sameCoreRatio: number;
}

/** Throws unless the bytes read over I2C are what the API shows for the same cage. */
async function checkBytes(emulator: Emulator, i2c: I2cBoard): Promise<void> {
  const eeprom = await emulator.get(`olts/olt1/boards/lt1/cages/${CAGE}/module/eeprom`) as {
    a0: string;
    a2: string;
  };
  const a0 = fromHex(eeprom.a0);
  const a2 = fromHex(eeprom.a2);
  expectSameBytes(
    "vendor name",
    i2c.driver.readEeprom(EEPROM_A0, VENDOR_NAME_OFFSET, LENGTH),
    a0.subarray(VENDOR_NAME_OFFSET, VENDOR_NAME_OFFSET + LENGTH),
  );
  expectSameBytes(
    "diagnostics",
    i2c.driver.readEeprom(EEPROM_A2, DIAGNOSTICS_OFFSET, LENGTH),
    a2.subarray(DIAGNOSTICS_OFFSET, DIAGNOSTICS_OFFSET + LENGTH),
  );
}

/** One round of EEPROM reads through an open board. */
function eepromRound(i2c: I2cBoard): LatencySummary {
  return timeRoundTrips(
    { count: perRound, warmup: warmupPerRound, maxSeconds, nowNs },
    () => i2c.driver.readEeprom(EEPROM_A2, DIAGNOSTICS_OFFSET, LENGTH),
  );
}

/** The program on a 1 x 32 topology (pinned to `cpus` when given), with a frontend on its I2C. */
async function openBoard(
  cpus?: string,
): Promise<{ emulator: Emulator; i2c: I2cBoard; close(): Promise<void> }> {
  const emulator = await Emulator.start({ topology: { boards: 1, cagesPerBoard: 32 }, cpus });
  try {
    const [board] = await emulator.boards();
    const i2c = await I2cBoard.connect(board.i2c);
    i2c.selectCage(CAGE);
    await checkBytes(emulator, i2c);
    return {
      emulator,
      i2c,
      close: async () => {
        i2c.close();
        await emulator.stop();
      },
    };
  } catch (error) {
    await emulator.stop().catch(() => {});
    throw error;
  }
}

if (import.meta.main) {
  const runs = { eeprom: [] as LatencySummary[], sameCore: [] as LatencySummary[] };
  const floorRuns: FloorRuns = { read: [], epoll: [], sameCore: [] };
  const free = await openBoard();
  const pinned = await openBoard(SAME_CPU);
  try {
    for (let round = 0; round < rounds; round++) {
      await measureFloorRound(floorRuns, perRound, warmupPerRound);
      runs.eeprom.push(eepromRound(free.i2c));
      runs.sameCore.push(await pinnedTo(SAME_CPU, () => eepromRound(pinned.i2c)));
    }
  } finally {
    await free.close();
    await pinned.close();
  }
  const { path, ...floor } = compareWithFloor(runs.eeprom, floorRuns, { iterations, warmup });
  const sameCore = combineRounds(runs.sameCore);
  const result: EepromLatencyResult = {
    ...floor,
    eeprom: path,
    eepromSameCore: sameCore,
    sameCoreRatio: sameCore.p50Us / floor.cSameCore.p50Us,
  };
  printTable(
    `EEPROM read, ${LENGTH} bytes of A2h at 0x51 the sfp way (offset write + read, one kick), one in flight ` +
      `(${iterations} in ${rounds} rounds, medians of the rounds)`,
    ["path", ...ROUNDS_COLUMNS],
    [
      roundsRow("sfpemu run: virtio-i2c -> PCA9548 -> SfpModule", result.eeprom),
      roundsRow("the same, program and frontend both on CPU 0", result.eepromSameCore),
      roundsRow("C eventfd ping-pong, read(2)", result.cRead),
      roundsRow("C eventfd ping-pong, read(2), both on CPU 0", result.cSameCore),
      roundsRow("C eventfd ping-pong, epoll_wait(2)", result.cEpoll),
    ],
  );
  console.log(
    `target p50 <= 3x the C floor: ${describeRatio(result)} -> ${result.ratio <= 3 ? "met" : "NOT met"}`,
  );
  console.log(
    `both on one CPU: ${result.sameCoreRatio.toFixed(1)}x the C ping-pong on one CPU -> ` +
      `${result.sameCoreRatio <= 3 ? "met" : "NOT met"}`,
  );
  await saveResult("eeprom_latency", result);
}
