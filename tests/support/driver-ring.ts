// The DRIVER side of a split virtqueue (virtio 1.2 §2.7 "Split Virtqueues"), living in test
// guest memory: what the guest kernel's virtio_ring.c does, reduced to what tests need, plus
// raw setters so hostile tests can corrupt any field the device reads.
import type { GuestBuffer, GuestMemory } from "./guest-memory.ts";

/** virtio 1.2 §2.7.5: descriptor flags. */
export const DescriptorFlag = { NEXT: 1, WRITE: 2, INDIRECT: 4 } as const;
/** §2.7.6: the driver asks the device not to interrupt (ignored by devices with EVENT_IDX). */
export const AVAIL_F_NO_INTERRUPT = 1;
/** §2.7.8: the device asks the driver not to kick (ignored by drivers with EVENT_IDX). */
export const USED_F_NO_NOTIFY = 1;

export const DESCRIPTOR_SIZE = 16;
const USED_ELEMENT_SIZE = 8;
/** flags u16 + idx u16 before the ring entries of both the avail and the used ring. */
const RING_HEADER_SIZE = 4;
/** Legacy PCI virtio puts the used ring on its own 4 KiB page (virtio 1.2 §2.7.2 legacy). */
const LEGACY_USED_ALIGN = 4096;

/** One 16-byte descriptor: addr u64 (guest-physical), len u32, flags u16, next u16. */
export interface Descriptor {
  addr: bigint;
  len: number;
  flags: number;
  next: number;
}

/** A chain as the driver built it: device-readable buffers first, then device-writable ones. */
export interface Chain {
  readonly head: number;
  readonly readable: readonly GuestBuffer[];
  readonly writable: readonly GuestBuffer[];
  readonly indirect: boolean;
}

export interface UsedElement {
  readonly id: number;
  readonly len: number;
  /** The chain this id was given for; undefined when the head was never added (or raw). */
  readonly chain?: Chain;
}

export interface ChainSpec {
  readable?: readonly GuestBuffer[];
  writable?: readonly GuestBuffer[];
  /** Put the whole chain in ONE indirect table behind a single ring descriptor (§2.7.5.3). */
  indirect?: boolean;
}

/**
 * virtio 1.2 §2.7.10 vring_need_event: whether moving an index from oldIdx to newIdx crosses
 * the other side's event index (all arithmetic mod 2^16).
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export interface DriverRingOptions {
  /** VIRTIO_F_EVENT_IDX negotiated: use used_event/avail_event instead of the flags. */
  eventIdx?: boolean;
  /** Place the used ring as legacy PCI virtio does (page aligned). */
  legacyLayout?: boolean;
  /** Region of the memory the rings and indirect tables are allocated in. */
  regionIndex?: number;
}

export class DriverRing {
  readonly size: number;
  readonly eventIdx: boolean;
  readonly memory: GuestMemory;
  readonly descriptorTable: GuestBuffer;
  readonly availRing: GuestBuffer;
  readonly usedRing: GuestBuffer;
  readonly #regionIndex: number;
  readonly #desc: DataView;
  readonly #avail: DataView;
  readonly #used: DataView;
  /** Free descriptor indices; the lowest is handed out first. */
  readonly #free: number[];
  readonly #chains = new Map<number, Chain & { descriptors: number[] }>();
  /** Indirect tables kept per head index and reused, so long runs do not exhaust memory. */
  readonly #indirectTables = new Map<number, GuestBuffer>();
  /** The driver's avail idx (written to the ring by publish()). */
  #nextAvailIdx = 0;
  /** avail idx at the last publish(), the "old" of the kick decision. */
  #publishedIdx = 0;
  #lastUsedIdx = 0;

  constructor(memory: GuestMemory, size: number, options: DriverRingOptions = {}) {
    if (size < 1 || size > 32768 || (size & (size - 1)) !== 0) {
      throw new RangeError(`split virtqueue size must be a power of 2 in 1..32768, not ${size}`);
    }
    this.size = size;
    this.memory = memory;
    this.eventIdx = options.eventIdx ?? false;
    this.#regionIndex = options.regionIndex ?? 0;
    // §2.7: alignment 16 for the table, 2 for avail, 4 for used; sizes include the event words.
    this.descriptorTable = memory.allocate(DESCRIPTOR_SIZE * size, 16, this.#regionIndex);
    this.availRing = memory.allocate(RING_HEADER_SIZE + 2 * size + 2, 2, this.#regionIndex);
    this.usedRing = memory.allocate(
      RING_HEADER_SIZE + USED_ELEMENT_SIZE * size + 2,
      options.legacyLayout ? LEGACY_USED_ALIGN : 4,
      this.#regionIndex,
    );
    for (const part of [this.descriptorTable, this.availRing, this.usedRing]) part.bytes.fill(0);
    this.#desc = viewOf(this.descriptorTable);
    this.#avail = viewOf(this.availRing);
    this.#used = viewOf(this.usedRing);
    this.#free = Array.from({ length: size }, (_, i) => size - 1 - i);
  }

  /** The three addresses SET_VRING_ADDR carries: frontend-virtual, as QEMU sends them. */
  get addresses(): { descriptorTable: bigint; availRing: bigint; usedRing: bigint } {
    return {
      descriptorTable: this.descriptorTable.userspaceAddr,
      availRing: this.availRing.userspaceAddr,
      usedRing: this.usedRing.userspaceAddr,
    };
  }

  get freeDescriptorCount(): number {
    return this.#free.length;
  }

  /** Chains added and not yet returned by the device. */
  get inFlightCount(): number {
    return this.#chains.size;
  }

  /** The avail idx the driver will publish next (what GET_VRING_BASE should report once drained). */
  get nextAvailIdx(): number {
    return this.#nextAvailIdx;
  }

  get lastUsedIdx(): number {
    return this.#lastUsedIdx;
  }

  /**
   * Builds a chain and puts its head in the avail ring, unpublished. Returns the head index.
   * Throws when the ring has too few free descriptors (a test bug, not a device one).
   */
  add(spec: ChainSpec): number {
    const readable = spec.readable ?? [];
    const writable = spec.writable ?? [];
    const buffers = [
      ...readable.map((b) => ({ b, write: false })),
      ...writable.map((b) => ({ b, write: true })),
    ];
    if (buffers.length === 0) throw new RangeError("a descriptor chain needs at least one buffer");
    const indirect = spec.indirect ?? false;
    const needed = indirect ? 1 : buffers.length;
    if (this.#free.length < needed) {
      throw new RangeError(`ring full: ${needed} descriptors wanted, ${this.#free.length} free`);
    }
    const descriptors = Array.from({ length: needed }, () => this.#free.pop()!);
    const head = descriptors[0];
    if (indirect) {
      const table = this.#indirectTable(head, buffers.length);
      const tableView = viewOf(table);
      buffers.forEach(({ b, write }, i) => {
        const last = i === buffers.length - 1;
        writeDescriptorInto(tableView, i, {
          addr: b.guestPhysAddr,
          len: b.sizeBytes,
          flags: (write ? DescriptorFlag.WRITE : 0) | (last ? 0 : DescriptorFlag.NEXT),
          next: last ? 0 : i + 1,
        });
      });
      this.writeDescriptor(head, {
        addr: table.guestPhysAddr,
        len: DESCRIPTOR_SIZE * buffers.length,
        flags: DescriptorFlag.INDIRECT,
        next: 0,
      });
    } else {
      buffers.forEach(({ b, write }, i) => {
        const last = i === buffers.length - 1;
        this.writeDescriptor(descriptors[i], {
          addr: b.guestPhysAddr,
          len: b.sizeBytes,
          flags: (write ? DescriptorFlag.WRITE : 0) | (last ? 0 : DescriptorFlag.NEXT),
          next: last ? 0 : descriptors[i + 1],
        });
      });
    }
    this.#chains.set(head, { head, readable, writable, indirect, descriptors });
    this.pushAvail(head);
    return head;
  }

  /**
   * Makes every added chain visible (avail idx store) and says whether the device wants a
   * kick (§2.7.13.4: avail_event with EVENT_IDX, else the used ring's NO_NOTIFY flag).
   */
  publish(): boolean {
    const oldIdx = this.#publishedIdx;
    const newIdx = this.#nextAvailIdx;
    this.setAvailIdx(newIdx);
    this.#publishedIdx = newIdx;
    if (this.eventIdx) return vringNeedEvent(this.availEvent, newIdx, oldIdx);
    return (this.usedFlags & USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Everything the device returned since the last call, in order; frees those chains. With
   * EVENT_IDX it then sets used_event to ask for a call on the very next used element, as
   * Linux's virtqueue_enable_cb does.
   */
  takeUsed(): UsedElement[] {
    const usedIdx = this.usedIdx;
    const elements: UsedElement[] = [];
    while (this.#lastUsedIdx !== usedIdx) {
      const slot = this.#lastUsedIdx % this.size;
      const id = this.#used.getUint32(RING_HEADER_SIZE + USED_ELEMENT_SIZE * slot, true);
      const len = this.#used.getUint32(RING_HEADER_SIZE + USED_ELEMENT_SIZE * slot + 4, true);
      const chain = this.#chains.get(id);
      if (chain) {
        this.#chains.delete(id);
        this.#free.push(...chain.descriptors);
      }
      elements.push({ id, len, chain });
      this.#lastUsedIdx = (this.#lastUsedIdx + 1) & 0xffff;
    }
    if (this.eventIdx) this.setUsedEvent(this.#lastUsedIdx);
    return elements;
  }

  // ---- raw access: every field the device reads or writes --------------------------------

  writeDescriptor(index: number, descriptor: Descriptor): void {
    writeDescriptorInto(this.#desc, index, descriptor);
  }

  readDescriptor(index: number): Descriptor {
    const at = DESCRIPTOR_SIZE * index;
    return {
      addr: this.#desc.getBigUint64(at, true),
      len: this.#desc.getUint32(at + 8, true),
      flags: this.#desc.getUint16(at + 12, true),
      next: this.#desc.getUint16(at + 14, true),
    };
  }

  /** Takes descriptors out of the free list, for hand-made (hostile) chains. */
  reserveDescriptors(count: number): number[] {
    if (this.#free.length < count) {
      throw new RangeError(`${count} descriptors wanted, ${this.#free.length} free`);
    }
    return Array.from({ length: count }, () => this.#free.pop()!);
  }

  /** Puts a head in the next avail slot without tracking a chain (publish() still needed). */
  pushAvail(head: number): void {
    this.setAvailEntry(this.#nextAvailIdx % this.size, head);
    this.#nextAvailIdx = (this.#nextAvailIdx + 1) & 0xffff;
  }

  setAvailEntry(slot: number, head: number): void {
    this.#avail.setUint16(RING_HEADER_SIZE + 2 * slot, head, true);
  }

  get availFlags(): number {
    return this.#avail.getUint16(0, true);
  }

  setAvailFlags(flags: number): void {
    this.#avail.setUint16(0, flags, true);
  }

  get availIdx(): number {
    return this.#avail.getUint16(2, true);
  }

  /** Raw avail idx store; also moves the driver's own idx so later adds follow it. */
  setAvailIdx(idx: number): void {
    this.#avail.setUint16(2, idx, true);
    this.#nextAvailIdx = idx & 0xffff;
    this.#publishedIdx = idx & 0xffff;
  }

  get usedEvent(): number {
    return this.#avail.getUint16(RING_HEADER_SIZE + 2 * this.size, true);
  }

  setUsedEvent(idx: number): void {
    this.#avail.setUint16(RING_HEADER_SIZE + 2 * this.size, idx & 0xffff, true);
  }

  get usedFlags(): number {
    return this.#used.getUint16(0, true);
  }

  get usedIdx(): number {
    return this.#used.getUint16(2, true);
  }

  /** Raw store into the device-owned used idx (a device reads it back when a ring is set up). */
  setUsedIdx(idx: number): void {
    this.#used.setUint16(2, idx & 0xffff, true);
  }

  usedEntry(slot: number): { id: number; len: number } {
    return {
      id: this.#used.getUint32(RING_HEADER_SIZE + USED_ELEMENT_SIZE * slot, true),
      len: this.#used.getUint32(RING_HEADER_SIZE + USED_ELEMENT_SIZE * slot + 4, true),
    };
  }

  /** The device's avail_event (meaningful with EVENT_IDX). */
  get availEvent(): number {
    return this.#used.getUint16(RING_HEADER_SIZE + USED_ELEMENT_SIZE * this.size, true);
  }

  /**
   * Restarts the driver's bookkeeping at given indices, as a guest does after the frontend
   * stopped the ring with GET_VRING_BASE and restarted it with SET_VRING_BASE.
   */
  resetIndices(availIdx: number, usedIdx: number): void {
    this.setAvailIdx(availIdx);
    this.#lastUsedIdx = usedIdx & 0xffff;
  }

  #indirectTable(head: number, entries: number): GuestBuffer {
    const existing = this.#indirectTables.get(head);
    if (existing && existing.sizeBytes >= DESCRIPTOR_SIZE * entries) return existing;
    const table = this.memory.allocate(DESCRIPTOR_SIZE * Math.max(entries, 4), 16, this.#regionIndex);
    this.#indirectTables.set(head, table);
    return table;
  }
}

/** Writes a descriptor into any table: the ring's own or an indirect one. */
export function writeDescriptorInto(table: DataView, index: number, d: Descriptor): void {
  const at = DESCRIPTOR_SIZE * index;
  table.setBigUint64(at, d.addr, true);
  table.setUint32(at + 8, d.len >>> 0, true);
  table.setUint16(at + 12, d.flags, true);
  table.setUint16(at + 14, d.next, true);
}

export function viewOf(buffer: GuestBuffer): DataView {
  return new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, buffer.bytes.byteLength);
}

/** The bytes the device wrote into a used chain's writable buffers (`len` of them, in order). */
export function writtenBytes(element: UsedElement): Uint8Array {
  if (!element.chain) throw new Error(`used id ${element.id} is not a chain this driver added`);
  const out = new Uint8Array(element.len);
  let filled = 0;
  for (const buffer of element.chain.writable) {
    if (filled >= element.len) break;
    const take = Math.min(buffer.sizeBytes, element.len - filled);
    out.set(buffer.bytes.subarray(0, take), filled);
    filled += take;
  }
  if (filled < element.len) {
    throw new Error(
      `used id ${element.id} claims ${element.len} bytes written into ${filled} writable bytes`,
    );
  }
  return out;
}
