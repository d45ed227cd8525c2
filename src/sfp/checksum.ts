// SFF-8472 check codes: the low 8 bits of the sum of a byte range. Which ranges, and where each
// code is stored, comes from the field map's checksum fields (CC_BASE, CC_EXT, CC_DMI).
import { type ChecksumField, type Device, SFF8472_FIELDS } from "./field-map.ts";

/** Low 8 bits of the sum of bytes first..last (inclusive). */
export function sum8(bytes: Uint8Array, first: number, last: number): number {
  let sum = 0;
  for (let i = first; i <= last; i++) sum += bytes[i];
  return sum & 0xff;
}

export function checksumFields(device: Device): ChecksumField[] {
  return SFF8472_FIELDS.filter((f): f is ChecksumField => f.encoding === "checksum" && f.device === device);
}

/** Stores every check code of one device image; call after the last change to the bytes it covers. */
export function writeChecksums(image: Uint8Array, device: Device): void {
  for (const spec of checksumFields(device)) image[spec.offset] = sum8(image, spec.covers[0], spec.covers[1]);
}

export interface ChecksumCheck {
  readonly name: string;
  readonly stored: number;
  readonly computed: number;
  readonly valid: boolean;
}

/** What a host would find checking the codes of one device image. */
export function checkChecksums(image: Uint8Array, device: Device): ChecksumCheck[] {
  return checksumFields(device).map((spec) => {
    const stored = image[spec.offset];
    const computed = sum8(image, spec.covers[0], spec.covers[1]);
    return { name: spec.name, stored, computed, valid: stored === computed };
  });
}
