// The test's own reading of SFF-8472 bytes, written from the standard and the Linux sfp driver, not
// from src/sfp/: the e2e oracle must not share the emulator's code, or a codec bug would agree
// with itself.

export function hexBytes(hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error(`not a hex string: ${hex.slice(0, 40)}...`);
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sum = (bytes: Uint8Array, from: number, to: number) =>
  bytes.subarray(from, to).reduce((a, b) => a + b, 0) & 0xff;

/** SFF-8472 CC_BASE (A0h 63: bytes 0-62) and CC_EXT (A0h 95: bytes 64-94), as found and as computed. */
export function a0Checksums(a0: Uint8Array) {
  return { ccBase: a0[63], ccBaseComputed: sum(a0, 0, 63), ccExt: a0[95], ccExtComputed: sum(a0, 64, 95) };
}

/** An ASCII field, without its space padding. */
export function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return new TextDecoder("latin1").decode(bytes.subarray(offset, offset + length)).trimEnd();
}

/** A0h identity (SFF-8472 table 4-1). */
export function a0Identity(a0: Uint8Array) {
  return {
    vendorName: ascii(a0, 20, 16),
    vendorPn: ascii(a0, 40, 16),
    vendorRev: ascii(a0, 56, 4),
    vendorSn: ascii(a0, 68, 16),
    dateCode: ascii(a0, 84, 8),
  };
}

/** The padded 16-byte A0h encoding of a vendor part number, as hex (what the guest compares). */
export function pnHex(pn: string): string {
  return toHex(new TextEncoder().encode(pn.padEnd(16, " ")));
}

/** SFF-8472 A2h 96-97: temperature, signed, 1/256 °C. */
export function temperatureRaw(celsius: number): number {
  const raw = Math.round(celsius * 256);
  return raw < 0 ? raw + 0x10000 : raw;
}

/** "0x2f 0x80", as busybox i2ctransfer prints a two-byte read. */
export function i2ctransferWord(raw: number): string {
  return `0x${(raw >> 8).toString(16).padStart(2, "0")} 0x${(raw & 0xff).toString(16).padStart(2, "0")}`;
}

/** Live A2h diagnostics words (SFF-8472 table 9-11), raw. */
export function a2Live(a2: Uint8Array) {
  const view = new DataView(a2.buffer, a2.byteOffset, a2.byteLength);
  return {
    temperature: view.getInt16(96),
    vcc: view.getUint16(98),
    bias: view.getUint16(100),
    txPower: view.getUint16(102),
    rxPower: view.getUint16(104),
  };
}

/** The kernel's DIV_ROUND_CLOSEST for a signed dividend. */
function divRoundClosest(x: number, d: number): number {
  const half = Math.trunc(d / 2);
  return Math.trunc(x >= 0 ? (x + half) / d : (x - half) / d);
}

/**
 * What drivers/net/phy/sfp.c's hwmon shows for internally calibrated values: temp1_input (m°C),
 * in0_input (mV), curr1_input (mA), power1_input and power2_input (µW).
 */
export function hwmonExpected(live: ReturnType<typeof a2Live>) {
  return {
    temp1_input: hwmonTemperature(live.temperature),
    in0_input: divRoundClosest(live.vcc, 10),
    curr1_input: divRoundClosest(live.bias, 500),
    power1_input: divRoundClosest(live.txPower, 10),
    power2_input: divRoundClosest(live.rxPower, 10),
  };
}

/** An internally calibrated temperature word (1/256 °C, signed) as the kernel's hwmon shows it: m°C. */
export function hwmonTemperature(raw: number): number {
  return divRoundClosest(raw * 1000, 256);
}

/** SFF-8472 A2h 0-7: the temperature thresholds, raw signed words (1/256 °C). */
export function temperatureThresholds(a2: Uint8Array) {
  const word = (offset: number) => new DataView(a2.buffer, a2.byteOffset + offset, 2).getInt16(0);
  return { highAlarm: word(0), lowAlarm: word(2), highWarning: word(4), lowWarning: word(6) };
}

/** dBm to the A2h power word (0.1 µW). */
export function powerRaw(dbm: number): number {
  return Math.round(10 ** (dbm / 10) * 10_000);
}
