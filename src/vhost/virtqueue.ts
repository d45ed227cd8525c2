// The device side of a split virtqueue (virtio 1.2 §2.7): descriptor chains (direct and
// indirect), the used ring, EVENT_IDX in both directions and notification suppression.
// Everything in the rings is written by the guest and is untrusted: every index, length and
// address is checked, and a ring that breaks a rule is marked broken instead of being followed.
import { notifyEventFd } from "../native/syscalls.ts";
import { type GuestMemory, GuestMemoryError, type Location } from "./guest-memory.ts";

export class VirtqueueError extends Error {
  override name = "VirtqueueError";
}

// virtio 1.2 §2.7.5 descriptor flags, §2.7.6/§2.7.8 ring flags.
const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
const DESC_F_INDIRECT = 4;
const AVAIL_F_NO_INTERRUPT = 1;
const DESC_SIZE = 16;
const USED_ELEM_SIZE = 8;
/** Guest-physical addresses above 2^53 cannot be in any region we map (see guest-memory.ts). */
const MAX_ADDRESS_HIGH_WORD = 0x1f_ffff;

/**
 * A full memory barrier. The buffers are shared with another process but are not
 * SharedArrayBuffers, and JS has no plain fence: an Atomics read-modify-write on a
 * SharedArrayBuffer compiles to a locked instruction, which orders every earlier store before
 * every later load (virtio §2.7.10's "suppress then re-check" needs exactly that).
 */
const fenceWord = new Int32Array(new SharedArrayBuffer(4));
function memoryBarrier(): void {
  Atomics.add(fenceWord, 0, 0);
}

/** One request the driver made available: device-readable buffers, then device-writable ones. */
export class DescriptorChain {
  readable: Uint8Array[] = [];
  writable: Uint8Array[] = [];
  readableLength = 0;
  writableLength = 0;
  /**
   * Each buffer's guest-physical address and length, readable ones first, as flat number pairs
   * (no object per descriptor on the hot path): what retranslate maps again.
   */
  readonly #segments: number[] = [];

  constructor(readonly head: number) {}

  /** Appends the next buffer of the chain (the virtqueue's walk). */
  add(bytes: Uint8Array, address: number, deviceWritable: boolean): void {
    this.#segments.push(address, bytes.length);
    if (deviceWritable) {
      this.writable.push(bytes);
      this.writableLength += bytes.length;
    } else {
      this.readable.push(bytes);
      this.readableLength += bytes.length;
    }
  }

  /** All readable bytes as one array (copies only when there is more than one buffer). */
  readAll(): Uint8Array {
    if (this.readable.length === 1) return this.readable[0];
    const out = new Uint8Array(this.readableLength);
    let at = 0;
    for (const b of this.readable) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  }

  /** Writes data across the writable buffers from the start; returns the bytes written. */
  writeAll(data: Uint8Array): number {
    let at = 0;
    for (const b of this.writable) {
      if (at >= data.length) break;
      const n = Math.min(b.length, data.length - at);
      b.set(data.subarray(at, at + n));
      at += n;
    }
    return at;
  }

  /**
   * The ring let go of this chain (stopped, restarted or broken): it keeps no view of guest
   * memory, so a device still holding it writes nothing (0 bytes) instead of writing through a
   * mapping the memory table no longer has (a detached view throws a TypeError; found by
   * tests/virtio/gpio_memory_change_test.ts).
   */
  release(): void {
    this.readable = [];
    this.writable = [];
    this.readableLength = this.writableLength = 0;
  }

  /** Translates the buffers again (after the memory table changed). */
  retranslate(memory: GuestMemory): void {
    const buffers: Uint8Array[] = [];
    for (let i = 0; i < this.#segments.length; i += 2) {
      buffers.push(memory.bytes(this.#segments[i], this.#segments[i + 1]));
    }
    this.readable = buffers.slice(0, this.readable.length);
    this.writable = buffers.slice(this.readable.length);
  }
}

export class Virtqueue {
  /** Queue size (SET_VRING_NUM); 0 until set. */
  size = 0;
  /** Ring addresses as the frontend gave them (frontend-virtual). */
  addresses: { desc: number; avail: number; used: number } | undefined;
  lastAvailIdx = 0;
  usedIdx = 0;
  /** SET_VRING_ENABLE; rings start disabled when protocol features are negotiated. */
  enabled = false;
  /** A kick fd arrived (SET_VRING_KICK): the ring is started. */
  started = false;
  kickFd = -1;
  callFd = -1;
  errFd = -1;
  eventIdx = false;
  /** Why the ring stopped being trusted; a broken ring is not processed until restarted. */
  broken: string | undefined;

  #desc: Location | undefined;
  #avail: Location | undefined;
  #used: Location | undefined;
  #outstanding = new Map<number, DescriptorChain>();
  #signalledUsed = 0;
  #signalledValid = false;
  #pushedSinceNotify = false;

  constructor(readonly index: number, readonly memory: GuestMemory) {}

  /** Everything needed to process buffers is in place. */
  get ready(): boolean {
    return this.enabled && this.started && this.#desc !== undefined && this.broken === undefined;
  }

  /** Chains popped and not yet pushed back. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /**
   * Whether this chain is still the driver's buffer in flight on this ring: false once the ring
   * stopped, restarted or broke (a memory table that no longer maps it breaks the ring).
   */
  holds(chain: DescriptorChain): boolean {
    return this.#outstanding.get(chain.head) === chain;
  }

  /** SET_VRING_ADDR: translate and check the three rings; the used index is read from the ring. */
  setAddresses(desc: number, avail: number, used: number): void {
    this.addresses = { desc, avail, used };
    this.resolve();
    this.usedIdx = this.#used!.region.view.getUint16(this.#used!.offset + 2, true);
    this.#signalledValid = false;
  }

  /** Translates the rings (and chains in flight) against the current memory table. */
  resolve(): void {
    this.#desc = this.#avail = this.#used = undefined;
    if (!this.addresses || this.size === 0) return;
    const n = this.size;
    try {
      this.#desc = this.memory.fromFrontendVirtual(this.addresses.desc, DESC_SIZE * n);
      this.#avail = this.memory.fromFrontendVirtual(this.addresses.avail, 6 + 2 * n);
      this.#used = this.memory.fromFrontendVirtual(this.addresses.used, 6 + USED_ELEM_SIZE * n);
      for (const chain of this.#outstanding.values()) chain.retranslate(this.memory);
    } catch (error) {
      this.#desc = this.#avail = this.#used = undefined;
      throw error;
    }
  }

  /** GET_VRING_BASE: stop the ring; returns where the next request would be read. */
  stop(): number {
    this.started = false;
    this.#releaseOutstanding();
    return this.lastAvailIdx;
  }

  /** The frontend reset the ring state (SET_VRING_BASE or a new session). */
  restart(base: number): void {
    this.lastAvailIdx = base & 0xffff;
    this.broken = undefined;
    this.#releaseOutstanding();
    this.#signalledValid = false;
  }

  markBroken(reason: string): void {
    if (this.broken !== undefined) return;
    this.broken = reason;
    this.#releaseOutstanding();
    // SET_VRING_ERR's eventfd exists to tell the frontend exactly this.
    if (this.errFd >= 0) notifyEventFd(this.errFd);
  }

  /** The next available chain, or null. Throws VirtqueueError (and marks the ring broken). */
  pop(): DescriptorChain | null {
    if (!this.ready) return null;
    const avail = this.#avail!;
    const view = avail.region.view;
    let availIdx = view.getUint16(avail.offset + 2, true);
    if (availIdx === this.lastAvailIdx) {
      if (!this.eventIdx) return null;
      // §2.7.10: publish where we are, then look again, so a buffer added meanwhile is not missed.
      this.#setAvailEvent(this.lastAvailIdx);
      memoryBarrier();
      availIdx = view.getUint16(avail.offset + 2, true);
      if (availIdx === this.lastAvailIdx) return null;
    }
    const pending = (availIdx - this.lastAvailIdx) & 0xffff;
    if (pending > this.size) {
      return this.#fail(`available index moved by ${pending}, more than the queue size ${this.size}`);
    }
    const head = view.getUint16(avail.offset + 4 + 2 * (this.lastAvailIdx % this.size), true);
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    if (this.eventIdx) this.#setAvailEvent(this.lastAvailIdx);
    if (this.#outstanding.has(head)) {
      return this.#fail(`descriptor ${head} made available again while the device still holds it`);
    }
    let chain: DescriptorChain;
    try {
      chain = this.#walk(head);
    } catch (error) {
      if (error instanceof VirtqueueError || error instanceof GuestMemoryError) {
        return this.#fail(error.message);
      }
      throw error;
    }
    this.#outstanding.set(head, chain);
    return chain;
  }

  /** Returns a chain to the driver with the number of bytes written into it. */
  push(chain: DescriptorChain, writtenBytes: number): void {
    if (!this.#outstanding.delete(chain.head) || !this.#used) return; // ring stopped meanwhile
    const used = this.#used;
    const slot = used.offset + 4 + USED_ELEM_SIZE * (this.usedIdx % this.size);
    used.region.view.setUint32(slot, chain.head, true);
    used.region.view.setUint32(slot + 4, Math.max(0, Math.min(writtenBytes, chain.writableLength)), true);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    // x86 and the JS memory model keep these two stores in order: element before index.
    used.region.view.setUint16(used.offset + 2, this.usedIdx, true);
    this.#pushedSinceNotify = true;
  }

  /** Signals the call eventfd if the driver wants to hear about what was pushed. */
  notify(): void {
    if (!this.#pushedSinceNotify || !this.#avail || this.callFd < 0) return;
    this.#pushedSinceNotify = false;
    memoryBarrier();
    const view = this.#avail.region.view;
    let needed: boolean;
    if (this.eventIdx) {
      // §2.7.10 vring_need_event: signal if used_event lies in (old, new].
      const usedEvent = view.getUint16(this.#avail.offset + 4 + 2 * this.size, true);
      const old = this.#signalledUsed;
      needed = !this.#signalledValid ||
        ((this.usedIdx - usedEvent - 1) & 0xffff) < ((this.usedIdx - old) & 0xffff);
      this.#signalledUsed = this.usedIdx;
      this.#signalledValid = true;
    } else {
      needed = (view.getUint16(this.#avail.offset, true) & AVAIL_F_NO_INTERRUPT) === 0;
    }
    if (needed) notifyEventFd(this.callFd);
  }

  /** Forgets every chain in flight; a device holding one can no longer write through it. */
  #releaseOutstanding(): void {
    for (const chain of this.#outstanding.values()) chain.release();
    this.#outstanding.clear();
  }

  #setAvailEvent(value: number): void {
    const used = this.#used!;
    used.region.view.setUint16(used.offset + 4 + USED_ELEM_SIZE * this.size, value, true);
  }

  #fail(reason: string): never {
    this.markBroken(reason);
    throw new VirtqueueError(`queue ${this.index}: ${reason}`);
  }

  #walk(head: number): DescriptorChain {
    const chain = new DescriptorChain(head);
    let table = this.#desc!;
    let tableSize = this.size;
    let index = head;
    let count = 0;
    let inIndirect = false;
    for (;;) {
      if (index >= tableSize) {
        throw new VirtqueueError(`descriptor index ${index} is outside its table of ${tableSize}`);
      }
      // §2.7.5.1: a chain is never longer than the queue; this also ends every loop.
      if (++count > this.size) {
        throw new VirtqueueError(`descriptor chain from head ${head} is longer than the queue`);
      }
      const base = table.offset + DESC_SIZE * index;
      const view = table.region.view;
      const low = view.getUint32(base, true);
      const high = view.getUint32(base + 4, true);
      const length = view.getUint32(base + 8, true);
      const flags = view.getUint16(base + 12, true);
      const next = view.getUint16(base + 14, true);
      if (high > MAX_ADDRESS_HIGH_WORD) {
        throw new VirtqueueError(
          `descriptor ${index} address 0x${high.toString(16)}${
            low.toString(16).padStart(8, "0")
          } is outside guest memory`,
        );
      }
      const address = high * 2 ** 32 + low;
      if (flags & DESC_F_INDIRECT) {
        // §2.7.5.3.1: only as the sole descriptor of the chain, never nested, never with NEXT.
        if (inIndirect) throw new VirtqueueError("indirect descriptor inside an indirect table");
        if (count !== 1 || flags & DESC_F_NEXT) {
          throw new VirtqueueError("indirect descriptor is not alone in its chain");
        }
        if (length === 0 || length % DESC_SIZE !== 0) {
          throw new VirtqueueError(`indirect table length ${length} is not a multiple of ${DESC_SIZE}`);
        }
        table = this.memory.fromGuestPhysical(address, length);
        tableSize = length / DESC_SIZE;
        index = 0;
        count = 0;
        inIndirect = true;
        continue;
      }
      const deviceWritable = (flags & DESC_F_WRITE) !== 0;
      if (!deviceWritable && chain.writable.length) {
        throw new VirtqueueError("device-readable descriptor after a device-writable one");
      }
      chain.add(this.memory.bytes(address, length), address, deviceWritable);
      if (!(flags & DESC_F_NEXT)) return chain;
      index = next;
    }
  }
}
