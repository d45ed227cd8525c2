// The board's temperature sensor: an LM75-compatible device on the root I2C segment, as the Linux
// `lm75` hwmon driver reads it. Registers (LM75 datasheet): 0 temperature (read-only, 2 bytes),
// 1 configuration (1 byte), 2 T_HYST and 3 T_OS (2 bytes); a write's first byte is the pointer.
import type { I2cTarget } from "./i2c-bus.ts";

export const LM75_ADDRESS = 0x48;
const REGISTER_SIZES = [2, 1, 2, 2];

/** LM75 two-byte format: 9-bit two's complement in 0.5 °C steps, left-aligned in 16 bits. */
export function encodeLm75Celsius(celsius: number): number {
  const halfDegrees = Math.max(-110, Math.min(250, Math.round(celsius * 2))); // -55..125 °C
  return (halfDegrees << 7) & 0xff80;
}

export function decodeLm75Celsius(word: number): number {
  return ((word << 16) >> 23) / 2; // sign-extend the top 9 bits
}

export class Lm75Sensor implements I2cTarget {
  #pointer = 0;
  #temperatureC: number;
  #registers: number[];

  constructor(temperatureC = 35, readonly address = LM75_ADDRESS) {
    this.#temperatureC = temperatureC;
    this.#registers = this.#powerOn();
  }

  get temperatureC(): number {
    return this.#temperatureC;
  }

  /** The board's temperature as the sensor measures it (quantised to 0.5 °C on the wire). */
  setTemperature(celsius: number): void {
    if (!Number.isFinite(celsius)) throw new RangeError("board temperature must be a finite number of °C");
    this.#temperatureC = celsius;
    this.#registers[0] = encodeLm75Celsius(celsius);
  }

  read(address: number, buffer: Uint8Array): boolean {
    if (address !== this.address) return false;
    const size = REGISTER_SIZES[this.#pointer];
    const value = this.#registers[this.#pointer];
    // Reading past a register's size repeats it, as the part does.
    for (let i = 0; i < buffer.length; i++) {
      const byte = i % size;
      buffer[i] = size === 2 ? (byte === 0 ? value >> 8 : value & 0xff) : value & 0xff;
    }
    return true;
  }

  write(address: number, data: Uint8Array): boolean {
    if (address !== this.address) return false;
    if (data.length === 0) return true;
    this.#pointer = data[0] & 0x03;
    const size = REGISTER_SIZES[this.#pointer];
    if (this.#pointer !== 0 && data.length > size) {
      this.#registers[this.#pointer] = size === 2 ? ((data[1] << 8) | data[2]) & 0xff80 : data[1];
    }
    return true;
  }

  reset(): void {
    this.#pointer = 0;
    this.#registers = this.#powerOn();
  }

  #powerOn(): number[] {
    // Power-on defaults: T_HYST 75 °C, T_OS 80 °C, comparator mode.
    return [encodeLm75Celsius(this.#temperatureC), 0, encodeLm75Celsius(75), encodeLm75Celsius(80)];
  }
}
