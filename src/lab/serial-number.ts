// Vendor serial numbers of modules plugged without one. Every module of a profile would otherwise
// carry the profile's serial number, and firmware that keys its inventory on the serial number
// (most OLT software does) would see one module in many cages. So a module without an override
// gets the profile's serial number with its running number replaced by a hash of the cage it sits
// in: unique in practice, the same on every run and after every restart, and recognisably of its
// profile.
import { hashParts } from "../sfp/random.ts";

/** SFF-8472 A0h bytes 68-83: 16 ASCII characters. */
const SERIAL_NUMBER_LENGTH = 16;
/** 8 base-36 digits hold the 41 hash bits (36^8 > 2^41): ~2e-6 odds of a clash among 2,048 cages. */
const TAIL_LENGTH = 8;
const PREFIX_LENGTH = SERIAL_NUMBER_LENGTH - TAIL_LENGTH;

/**
 * The serial number of a module in `cagePath` (`olt/board/cage`) whose profile says `profileSn`:
 * the profile's without its trailing digits (at most 8 characters), then 8 base-36 digits from
 * the cage path. "SEGPB0000001" in olt1/lt1/3 → "SEGPB" + 8 digits.
 */
export function cageSerialNumber(profileSn: string, cagePath: string): string {
  const prefix = profileSn.trim().replace(/[0-9]+$/, "").slice(0, PREFIX_LENGTH);
  const bytes = new TextEncoder().encode(cagePath);
  const high = hashParts(1, ...bytes);
  const low = hashParts(2, ...bytes) & 0x1ff;
  const tail = (high * 2 ** 9 + low).toString(36).toUpperCase().padStart(TAIL_LENGTH, "0");
  return prefix + tail;
}
