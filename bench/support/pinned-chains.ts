// Descriptor chains that keep their descriptors for the whole run, as a kernel driver reuses its
// buffers: a request is rewritten in place and its head made available again. The test
// frontend's DriverRing.add() builds a fresh chain each time (arrays, maps), which is right for
// tests and too slow to keep a backend busy; the ring itself (publish, takeUsed) is shared.
import {
  DESCRIPTOR_SIZE,
  DescriptorFlag,
  type DriverRing,
  viewOf,
  writeDescriptorInto,
} from "../../tests/support/driver-ring.ts";
import type { GuestBuffer, GuestMemory } from "../../tests/support/guest-memory.ts";

/** One buffer of a chain: the first `length` bytes of `buffer`, device-writable or not. */
export interface ChainPart {
  buffer: GuestBuffer;
  length: number;
  write: boolean;
}

export interface PinnedChainsOptions {
  /** One ring descriptor per chain pointing at an indirect table (what Linux does for >1 buffer). */
  indirect: boolean;
  /** Most buffers in one chain. */
  maxParts: number;
}

export class PinnedChains {
  /** The head descriptor of each chain slot. */
  readonly heads: number[] = [];
  readonly #tables: DataView[] = [];
  readonly #tableAddresses: bigint[] = [];
  readonly #descriptors: number[][] = [];

  constructor(
    readonly ring: DriverRing,
    memory: GuestMemory,
    count: number,
    readonly options: PinnedChainsOptions,
  ) {
    for (let slot = 0; slot < count; slot++) {
      if (options.indirect) {
        const [head] = ring.reserveDescriptors(1);
        const table = memory.allocate(DESCRIPTOR_SIZE * options.maxParts, 16);
        this.heads.push(head);
        this.#tables.push(viewOf(table));
        this.#tableAddresses.push(table.guestPhysAddr);
      } else {
        const descriptors = ring.reserveDescriptors(options.maxParts);
        this.heads.push(descriptors[0]);
        this.#descriptors.push(descriptors);
      }
    }
  }

  get count(): number {
    return this.heads.length;
  }

  /** Writes slot's chain: parts in order (device-readable ones first). */
  set(slot: number, parts: readonly ChainPart[]): void {
    if (parts.length === 0 || parts.length > this.options.maxParts) {
      throw new RangeError(`a chain has 1..${this.options.maxParts} parts, not ${parts.length}`);
    }
    const last = parts.length - 1;
    if (this.options.indirect) {
      const table = this.#tables[slot];
      for (let i = 0; i <= last; i++) {
        const p = parts[i];
        writeDescriptorInto(table, i, {
          addr: p.buffer.guestPhysAddr,
          len: p.length,
          flags: (p.write ? DescriptorFlag.WRITE : 0) | (i < last ? DescriptorFlag.NEXT : 0),
          next: i < last ? i + 1 : 0,
        });
      }
      this.ring.writeDescriptor(this.heads[slot], {
        addr: this.#tableAddresses[slot],
        len: DESCRIPTOR_SIZE * parts.length,
        flags: DescriptorFlag.INDIRECT,
        next: 0,
      });
    } else {
      const descriptors = this.#descriptors[slot];
      for (let i = 0; i <= last; i++) {
        const p = parts[i];
        this.ring.writeDescriptor(descriptors[i], {
          addr: p.buffer.guestPhysAddr,
          len: p.length,
          flags: (p.write ? DescriptorFlag.WRITE : 0) | (i < last ? DescriptorFlag.NEXT : 0),
          next: i < last ? descriptors[i + 1] : 0,
        });
      }
    }
  }

  /** Puts slot's head in the avail ring (visible at the next publish). */
  offer(slot: number): void {
    this.ring.pushAvail(this.heads[slot]);
  }
}
