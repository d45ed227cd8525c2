// The board's own identity EEPROM: a 24C02-style 256-byte device on the root I2C segment holding an
// ONIE "TlvInfo" record — the format switch and line-card software (ONIE, SONiC's syseeprom, many
// vendor BSPs) reads product name, part and serial number and the base MAC address from.
import { crc32 } from "node:zlib";
import type { I2cTarget } from "./i2c-bus.ts";

/** Where boards usually keep it; clear of the modules' 0x50/0x51 behind the muxes. */
export const ID_EEPROM_ADDRESS = 0x57;
const EEPROM_SIZE = 256;

// ONIE TlvInfo (onie.org "Hardware Design Requirements", EEPROM format): header, then TLVs.
const HEADER_ID = "TlvInfo\0";
const HEADER_VERSION = 0x01;
export const TlvType = {
  PRODUCT_NAME: 0x21,
  PART_NUMBER: 0x22,
  SERIAL_NUMBER: 0x23,
  MAC_BASE: 0x24,
  MANUFACTURE_DATE: 0x25,
  PLATFORM_NAME: 0x28,
  MANUFACTURER: 0x2b,
  VENDOR: 0x2d,
  CRC_32: 0xfe,
} as const;

export interface BoardIdentityRecord {
  productName: string;
  partNumber: string;
  serialNumber: string;
  /** Six bytes, e.g. "02:5f:00:00:01:01". */
  macBase: string;
  /** "MM/DD/YYYY HH:NN:SS" as ONIE writes it. */
  manufactureDate: string;
  platformName: string;
  manufacturer: string;
}

function ascii(text: string, what: string): Uint8Array {
  if (!/^[\x20-\x7e]{0,255}$/.test(text)) {
    throw new RangeError(`${what} must be printable ASCII of at most 255 characters`);
  }
  return new TextEncoder().encode(text);
}

function macBytes(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new RangeError(`MAC base "${text}" is not six hex bytes like 02:5f:00:00:01:01`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** The text fields of a record, in the order encodeTlvInfo writes them. */
const TEXT_FIELDS = [
  "productName",
  "partNumber",
  "serialNumber",
  "manufactureDate",
  "platformName",
  "manufacturer",
] as const;
/** Header (11 bytes), the MAC TLV (2 + 6), one type-and-length pair per text field, the CRC TLV (6). */
const FIXED_BYTES = 11 + 8 + 2 * TEXT_FIELDS.length + 6;

/**
 * The record made to fit the EEPROM as encodeTlvInfo needs it: each text field printable ASCII
 * (anything else becomes "?"), and the longest fields shortened, one character at a time, until
 * the whole record fits the 256 bytes.
 */
export function fitBoardIdentity(record: BoardIdentityRecord): BoardIdentityRecord {
  const fitted = { ...record };
  for (const name of TEXT_FIELDS) fitted[name] = fitted[name].replace(/[^\x20-\x7e]/g, "?").slice(0, 255);
  const size = () => FIXED_BYTES + TEXT_FIELDS.reduce((n, name) => n + fitted[name].length, 0);
  while (size() > EEPROM_SIZE) {
    const longest = TEXT_FIELDS.reduce((a, b) => (fitted[b].length > fitted[a].length ? b : a));
    fitted[longest] = fitted[longest].slice(0, -1);
  }
  return fitted;
}

/** Encodes a TlvInfo record (header, TLVs, CRC-32 TLV), padded with 0xFF to the EEPROM size. */
export function encodeTlvInfo(record: BoardIdentityRecord): Uint8Array {
  const tlvs: [number, Uint8Array][] = [
    [TlvType.PRODUCT_NAME, ascii(record.productName, "product name")],
    [TlvType.PART_NUMBER, ascii(record.partNumber, "part number")],
    [TlvType.SERIAL_NUMBER, ascii(record.serialNumber, "serial number")],
    [TlvType.MAC_BASE, macBytes(record.macBase)],
    [TlvType.MANUFACTURE_DATE, ascii(record.manufactureDate, "manufacture date")],
    [TlvType.PLATFORM_NAME, ascii(record.platformName, "platform name")],
    [TlvType.MANUFACTURER, ascii(record.manufacturer, "manufacturer")],
  ];
  const body = tlvs.reduce((n, [, value]) => n + 2 + value.length, 0) + 6; // + the CRC TLV
  const total = 11 + body;
  if (total > EEPROM_SIZE) {
    throw new RangeError(`board identity needs ${total} bytes; the EEPROM has ${EEPROM_SIZE}`);
  }
  const image = new Uint8Array(EEPROM_SIZE).fill(0xff);
  image.set(new TextEncoder().encode(HEADER_ID), 0);
  image[8] = HEADER_VERSION;
  image[9] = body >> 8;
  image[10] = body & 0xff;
  let at = 11;
  for (const [type, value] of tlvs) {
    image[at] = type;
    image[at + 1] = value.length;
    image.set(value, at + 2);
    at += 2 + value.length;
  }
  // The CRC covers everything from the header up to and including the CRC TLV's type and length.
  image[at] = TlvType.CRC_32;
  image[at + 1] = 4;
  const crc = crc32(image.subarray(0, at + 2));
  new DataView(image.buffer).setUint32(at + 2, crc >>> 0, false);
  return image;
}

/** A write-protected 24C02: a 1-byte write sets the address pointer, reads auto-increment and wrap. */
export class BoardIdEeprom implements I2cTarget {
  #pointer = 0;

  constructor(readonly image: Uint8Array, readonly address = ID_EEPROM_ADDRESS) {}

  read(address: number, buffer: Uint8Array): boolean {
    if (address !== this.address) return false;
    for (let i = 0; i < buffer.length; i++) {
      buffer[i] = this.image[this.#pointer];
      this.#pointer = (this.#pointer + 1) % EEPROM_SIZE;
    }
    return true;
  }

  write(address: number, data: Uint8Array): boolean {
    if (address !== this.address) return false;
    // Data bytes after the address are acknowledged and dropped: the board's WP pin is tied high.
    if (data.length > 0) this.#pointer = (data[0] + data.length - 1) % EEPROM_SIZE;
    return true;
  }

  reset(): void {
    this.#pointer = 0;
  }
}
