// A benchmark's view of one board's I2C plane: a frontend on the board's virtio-i2c socket with
// the features Linux and QEMU 7.2 use for i2c (EVENT_IDX, INDIRECT_DESC), a synchronous driver,
// and the board wiring (cage n behind channel (n-1) mod 8 of the PCA9548 at 0x70 + (n-1)/8).
import { cageI2cLocation } from "../../src/board/board.ts";
import { VhostUserFrontend } from "../../tests/support/frontend.ts";
import { GuestMemory, MiB } from "../../tests/support/guest-memory.ts";
import { I2cDriver } from "./i2c-driver.ts";

/** SFF-8472: A0h identity at 0x50, A2h diagnostics at 0x51. */
export const EEPROM_A0 = 0x50;
export const EEPROM_A2 = 0x51;
/** A2h 96-111: temperature, Vcc, bias, TX and RX power, and the bytes after (what sfp polls). */
export const DIAGNOSTICS_OFFSET = 96;
/** A0h 20-35: vendor name. */
export const VENDOR_NAME_OFFSET = 20;

export interface I2cBoardOptions {
  queueSize?: number;
  slots?: number;
  memoryBytes?: number;
}

export class I2cBoard {
  #openMux: number | null = null;

  private constructor(
    readonly frontend: VhostUserFrontend,
    readonly driver: I2cDriver,
    readonly memory: GuestMemory,
  ) {}

  static async connect(socket: string, options: I2cBoardOptions = {}): Promise<I2cBoard> {
    const memory = new GuestMemory({ sizeBytes: options.memoryBytes ?? MiB });
    let frontend: VhostUserFrontend | undefined;
    try {
      frontend = await VhostUserFrontend.start(socket, {
        queues: [{ size: options.queueSize ?? 1024 }],
        eventIdx: true,
        indirect: true,
        memory,
      });
      return new I2cBoard(frontend, new I2cDriver(frontend, { slots: options.slots ?? 256 }), memory);
    } catch (error) {
      frontend?.disconnect();
      memory.close();
      throw error;
    }
  }

  /** Opens the cage's mux channel (closing the previously used mux first, so one cage answers). */
  selectCage(cageId: number): void {
    const { muxAddress, channel } = cageI2cLocation(cageId);
    if (this.#openMux !== null && this.#openMux !== muxAddress) {
      this.driver.selectChannel(this.#openMux, null);
    }
    this.driver.selectChannel(muxAddress, channel);
    this.#openMux = muxAddress;
  }

  close(): void {
    this.driver.close();
    this.frontend.disconnect();
    this.memory.close();
  }
}

/** Hex text (as GET .../eeprom returns it) to bytes. */
export function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Throws unless the bytes read over I2C are those the API shows for the same EEPROM range. */
export function expectSameBytes(what: string, read: Uint8Array, expected: Uint8Array): void {
  const same = read.length === expected.length && read.every((b, i) => b === expected[i]);
  if (!same) {
    throw new Error(
      `${what}: read ${[...read].join(",")} over I2C, the API shows ${[...expected].join(",")}`,
    );
  }
}
