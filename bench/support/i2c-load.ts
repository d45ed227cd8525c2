// Child process of bench/api_load.ts: steady I2C traffic on one board while the API is loaded.
// Connects to the virtio-i2c socket, opens cage 1's mux channel, prints "ready", then reads 16
// bytes of A2h the sfp way, one in flight, for the given seconds, and prints one JSON line.
//
//   i2c-load.ts SOCKET SECONDS
import { nowNs } from "../../src/native/syscalls.ts";
import { DIAGNOSTICS_OFFSET, EEPROM_A2, I2cBoard } from "./i2c-board.ts";
import { summarizeNs } from "./stats.ts";

const MAX_READS = 10_000_000;

async function main(socket: string, seconds: number): Promise<void> {
  const i2c = await I2cBoard.connect(socket);
  try {
    i2c.selectCage(1);
    console.log("ready");
    const samples: number[] = [];
    const start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end && samples.length < MAX_READS) {
      const t = nowNs();
      i2c.driver.readEeprom(EEPROM_A2, DIAGNOSTICS_OFFSET, 16);
      samples.push(Number(nowNs() - t));
    }
    const elapsed = (performance.now() - start) / 1000;
    console.log(
      JSON.stringify({
        transfers: samples.length,
        perSecond: samples.length / elapsed,
        ...summarizeNs(samples),
      }),
    );
  } finally {
    i2c.close();
  }
}

if (import.meta.main) await main(Deno.args[0], Number(Deno.args[1]));
