// Issue 8 (1): EEPROM read latency the way Linux's sfp driver reads (offset write + read, two
// chained requests, FAIL_NEXT on the first, one kick), one transfer in flight, 16 bytes of A2h at
// 0x51, through the real program: a board's virtio-i2c device, its PCA9548, a real SfpModule.
// Beside it, the plain-C eventfd ping-pong measured in the same run. Target: p50 within 3x of it.
//
//   deno run -A bench/eeprom_latency.ts [--iterations 20000] [--warmup 2000] [--max-seconds 60]
import { nowNs } from "../src/native/syscalls.ts";
import { latencyOptions } from "./support/args.ts";
import { cPingPong } from "./support/c-floor.ts";
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
import { type LatencySummary, printTable, saveResult, summarizeNs } from "./support/stats.ts";

const { iterations, warmup, maxSeconds } = latencyOptions();

/** What bench/report.ts reads back. */
export interface EepromLatencyResult {
  iterations: number;
  warmup: number;
  eeprom: LatencySummary;
  cRead: LatencySummary;
  cEpoll: LatencySummary;
  /** p50 over the C read floor's p50. */
  ratio: number;
}
const CAGE = 1;
const LENGTH = 16;

async function eepromReads(): Promise<LatencySummary> {
  const emulator = await Emulator.start({ topology: { boards: 1, cagesPerBoard: 32 } });
  try {
    const [board] = await emulator.boards();
    const i2c = await I2cBoard.connect(board.i2c);
    try {
      i2c.selectCage(CAGE);
      // The bytes must be the module's: compare with what the API shows for the same cage.
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
      const samples = new Float64Array(iterations);
      let measured = 0;
      const deadline = performance.now() + maxSeconds * 1000;
      for (let i = 0; i < warmup + iterations && performance.now() < deadline; i++) {
        const start = nowNs();
        i2c.driver.readEeprom(EEPROM_A2, DIAGNOSTICS_OFFSET, LENGTH);
        const elapsed = Number(nowNs() - start);
        if (i >= warmup) samples[measured++] = elapsed;
      }
      return summarizeNs(samples.subarray(0, measured));
    } finally {
      i2c.close();
    }
  } finally {
    await emulator.stop();
  }
}

if (import.meta.main) {
  const cRead = await cPingPong("read", iterations, warmup);
  const cEpoll = await cPingPong("epoll", iterations, warmup);
  const eeprom = await eepromReads();
  const row = (name: string, s: LatencySummary) => [name, s.samples, s.p50Us, s.p99Us, s.maxUs, s.meanUs];
  printTable(
    `EEPROM read, ${LENGTH} bytes of A2h at 0x51 the sfp way (offset write + read, one kick), one in flight`,
    ["path", "samples", "p50 us", "p99 us", "max us", "mean us"],
    [
      row("sfpemu run: virtio-i2c -> PCA9548 -> SfpModule", eeprom),
      row("C eventfd ping-pong, read(2) (the floor)", cRead),
      row("C eventfd ping-pong, epoll_wait(2)", cEpoll),
    ],
  );
  const ratio = eeprom.p50Us / cRead.p50Us;
  console.log(
    `target p50 <= 3x the C floor: ${ratio.toFixed(1)}x -> ${ratio <= 3 ? "met" : "NOT met"} ` +
      `(${(eeprom.p50Us / cEpoll.p50Us).toFixed(1)}x the epoll ping-pong)`,
  );
  const result: EepromLatencyResult = { iterations, warmup, eeprom, cRead, cEpoll, ratio };
  await saveResult("eeprom_latency", result);
}
