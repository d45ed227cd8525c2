// Shared by the sfp tests: the catalog, a settable clock, and I2C access the way Linux does it.
import { type Catalog, loadCatalog } from "../../src/sfp/catalog.ts";
import { type ModuleEvent, SfpModule } from "../../src/sfp/module.ts";
import type { ModuleOverrides, ModuleProfile } from "../../src/sfp/profile.ts";

export const catalog: Catalog = await loadCatalog();

export function profile(id: string): ModuleProfile {
  return catalog.require(id);
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public ms = 1_000) {}
  readonly now = (): number => this.ms;
}

/** A module long past its Data_Ready_Bar time unless a clock is given. */
export function moduleOf(
  id: string,
  options: { clock?: ManualClock; overrides?: ModuleOverrides; insertedAtMs?: number; seed?: number } = {},
): SfpModule {
  const clock = options.clock ?? new ManualClock(1e9);
  return new SfpModule(profile(id), {
    now: clock.now,
    overrides: options.overrides,
    insertedAtMs: options.insertedAtMs ?? (options.clock ? undefined : 0),
    seed: options.seed ?? 1,
  });
}

/** Random read: a 1-byte offset write, then a read of length bytes (one Linux chunk). */
export function readAt(module: SfpModule, address: number, offset: number, length: number): Uint8Array {
  if (!module.write(address, Uint8Array.of(offset))) {
    throw new Error(`NACK writing offset at 0x${address.toString(16)}`);
  }
  const buffer = new Uint8Array(length);
  if (!module.read(address, buffer)) throw new Error(`NACK reading 0x${address.toString(16)}`);
  return buffer;
}

/** Low 8 bits of the sum of bytes first..last, written here independently of src/sfp/checksum.ts. */
export function independentSum(bytes: Uint8Array, first: number, last: number): number {
  let total = 0;
  for (let i = first; i <= last; i++) total += bytes[i];
  return total % 256;
}

/** SFF-8472 I2C addresses of A0h and A2h. */
export const A0 = 0x50;
export const A2 = 0x51;

/** SFF-8472 A2h bytes a host writes besides the user EEPROM, and their bits. */
export const CONTROL = {
  /** Byte 110, status/control: soft TX_DISABLE and soft RS0 are the host's. */
  status: 110,
  softTxDisable: 0x40,
  softRs0: 0x08,
  /** Byte 118, extended control: soft RS1 and the power level select are the host's. */
  extendedControl: 118,
  softRs1: 0x08,
  powerLevelSelect: 0x01,
  /** Byte 127: the page select, with paging. */
  pageSelect: 127,
} as const;

/** A2h byte 110 (status/control) read over I2C. */
export function statusByte(module: SfpModule): number {
  return readAt(module, A2, 110, 1)[0];
}

/** Every event the module raises from now on, in order. */
export function recordEvents(module: SfpModule): ModuleEvent[] {
  const seen: ModuleEvent[] = [];
  module.onChange((event) => seen.push(event));
  return seen;
}
