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
const LENGTH = 16;

/** What bench/report.ts reads back. */
export interface EepromLatencyResult extends FloorComparison {
  eeprom: RoundsSummary;
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

if (import.meta.main) {
  const runs = { eeprom: [] as LatencySummary[] };
  const floorRuns: FloorRuns = { read: [], epoll: [], sameCore: [] };
  const emulator = await Emulator.start({ topology: { boards: 1, cagesPerBoard: 32 } });
  try {
    const [board] = await emulator.boards();
    const i2c = await I2cBoard.connect(board.i2c);
    try {
      i2c.selectCage(CAGE);
      await checkBytes(emulator, i2c);
      for (let round = 0; round < rounds; round++) {
        await measureFloorRound(floorRuns, perRound, warmupPerRound);
        runs.eeprom.push(
          timeRoundTrips(
            { count: perRound, warmup: warmupPerRound, maxSeconds, nowNs },
            () => i2c.driver.readEeprom(EEPROM_A2, DIAGNOSTICS_OFFSET, LENGTH),
          ),
        );
      }
    } finally {
      i2c.close();
    }
  } finally {
    await emulator.stop();
  }
  const { path, ...floor } = compareWithFloor(runs.eeprom, floorRuns, { iterations, warmup });
  const result: EepromLatencyResult = { ...floor, eeprom: path };
  printTable(
    `EEPROM read, ${LENGTH} bytes of A2h at 0x51 the sfp way (offset write + read, one kick), one in flight ` +
      `(${iterations} in ${rounds} rounds, medians of the rounds)`,
    ["path", ...ROUNDS_COLUMNS],
    [
      roundsRow("sfpemu run: virtio-i2c -> PCA9548 -> SfpModule", result.eeprom),
      roundsRow("C eventfd ping-pong, read(2)", result.cRead),
      roundsRow("C eventfd ping-pong, read(2), both on CPU 0", result.cSameCore),
      roundsRow("C eventfd ping-pong, epoll_wait(2)", result.cEpoll),
    ],
  );
  console.log(
    `target p50 <= 3x the C floor: ${describeRatio(result)} -> ${result.ratio <= 3 ? "met" : "NOT met"}`,
  );
  await saveResult("eeprom_latency", result);
}
