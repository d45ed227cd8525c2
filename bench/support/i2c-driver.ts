// The guest side of virtio-i2c for benchmarks, the way Linux's i2c-virtio driver builds requests
// (virtio 1.2 §5.21.6): per message one chain of out header (le16 addr << 1, le16 padding, le32
// flags), the buffer (device-readable for a write, device-writable for a read) and a 1-byte
// status; every message of a transfer but the last carries FAIL_NEXT; one kick per transfer.
// Waiting is synchronous (CallWaiter): the backend must run in another process.
import type { VhostUserFrontend } from "../../tests/support/frontend.ts";
import type { GuestBuffer } from "../../tests/support/guest-memory.ts";
import { CallWaiter } from "./call-waiter.ts";
import { PinnedChains } from "./pinned-chains.ts";

const FLAG_FAIL_NEXT = 1;
const FLAG_M_RD = 2;
const MAX_DATA_BYTES = 256;

export class I2cTransferError extends Error {
  override name = "I2cTransferError";
}

interface Slot {
  header: GuestBuffer;
  data: GuestBuffer;
  status: GuestBuffer;
}

export interface I2cDriverOptions {
  queueIndex?: number;
  /** Requests that may be in flight at once (each holds one ring descriptor when indirect). */
  slots?: number;
  indirect?: boolean;
  /** Longest wait for the backend to return a batch. */
  timeoutMs?: number;
}

export class I2cDriver {
  readonly #frontend: VhostUserFrontend;
  readonly #queueIndex: number;
  readonly #chains: PinnedChains;
  readonly #slots: Slot[] = [];
  readonly #waiter: CallWaiter;
  readonly #timeoutMs: number;
  #next = 0;
  /** Kicks sent and calls received, since the start. */
  kicks = 0;
  calls = 0;
  requests = 0;

  constructor(frontend: VhostUserFrontend, options: I2cDriverOptions = {}) {
    this.#frontend = frontend;
    this.#queueIndex = options.queueIndex ?? 0;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    const queue = frontend.queue(this.#queueIndex);
    const slots = options.slots ?? 256;
    this.#chains = new PinnedChains(queue.ring, frontend.memory, slots, {
      indirect: options.indirect ?? true,
      maxParts: 3,
    });
    for (let i = 0; i < slots; i++) {
      this.#slots.push({
        header: frontend.memory.allocate(8, 8),
        data: frontend.memory.allocate(MAX_DATA_BYTES, 16),
        status: frontend.memory.allocate(1, 1),
      });
    }
    this.#waiter = new CallWaiter(queue.callFd);
  }

  get slotCount(): number {
    return this.#slots.length;
  }

  /** Queues a write of data to a 7-bit address; returns its slot. */
  addWrite(address: number, data: Uint8Array, failNext = false): number {
    const slot = this.#take(address, failNext ? FLAG_FAIL_NEXT : 0);
    const s = this.#slots[slot];
    s.data.bytes.set(data);
    const parts = [{ buffer: s.header, length: 8, write: false }];
    if (data.length) parts.push({ buffer: s.data, length: data.length, write: false });
    parts.push({ buffer: s.status, length: 1, write: true });
    this.#chains.set(slot, parts);
    this.#chains.offer(slot);
    return slot;
  }

  /** Queues a read of length bytes from a 7-bit address; returns its slot. */
  addRead(address: number, length: number, failNext = false): number {
    if (length > MAX_DATA_BYTES) throw new RangeError(`reads are at most ${MAX_DATA_BYTES} bytes`);
    const slot = this.#take(address, FLAG_M_RD | (failNext ? FLAG_FAIL_NEXT : 0));
    const s = this.#slots[slot];
    const parts = [{ buffer: s.header, length: 8, write: false }];
    if (length) parts.push({ buffer: s.data, length, write: true });
    parts.push({ buffer: s.status, length: 1, write: true });
    this.#chains.set(slot, parts);
    this.#chains.offer(slot);
    return slot;
  }

  /**
   * Publishes what was queued, kicks if the device asks for it (EVENT_IDX), and blocks until
   * every queued request came back. Slots are free again afterwards.
   */
  run(): void {
    const expected = this.#next;
    this.#next = 0;
    if (expected === 0) return;
    const queue = this.#frontend.queue(this.#queueIndex);
    if (this.#frontend.publish(this.#queueIndex)) this.kicks++;
    let returned = 0;
    const deadline = performance.now() + this.#timeoutMs;
    for (;;) {
      returned += queue.ring.takeUsed().length;
      if (returned >= expected) break;
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        throw new I2cTransferError(
          `the backend returned ${returned} of ${expected} requests in ${this.#timeoutMs} ms`,
        );
      }
      if (this.#waiter.wait(Math.ceil(remaining))) this.calls++;
    }
    this.requests += expected;
  }

  /** The status byte of a completed request: 0 OK, 1 error. */
  status(slot: number): number {
    return this.#slots[slot].status.bytes[0];
  }

  /** The bytes a completed read returned (a view, valid until the slot is reused). */
  data(slot: number, length: number): Uint8Array {
    return this.#slots[slot].data.bytes.subarray(0, length);
  }

  /** Opens one channel of a PCA9548 (and closes the others): one single-message transfer. */
  selectChannel(muxAddress: number, channel: number | null): void {
    const slot = this.addWrite(muxAddress, Uint8Array.of(channel === null ? 0 : 1 << channel));
    this.run();
    if (this.status(slot) !== 0) {
      throw new I2cTransferError(`mux at 0x${muxAddress.toString(16)} did not ACK`);
    }
  }

  /** Queues one EEPROM read the Linux sfp way: write the offset, then read (FAIL_NEXT on the first). */
  addEepromRead(address: number, offset: number, length: number): number {
    this.addWrite(address, Uint8Array.of(offset), true);
    return this.addRead(address, length);
  }

  /** One EEPROM read, the sfp way, one transfer in flight; returns a copy of the bytes. */
  readEeprom(address: number, offset: number, length: number): Uint8Array {
    const slot = this.addEepromRead(address, offset, length);
    this.run();
    if (this.status(slot) !== 0 || this.status(slot - 1) !== 0) {
      throw new I2cTransferError(
        `no ACK from 0x${address.toString(16)} reading ${length} bytes at ${offset}`,
      );
    }
    return this.data(slot, length).slice();
  }

  close(): void {
    this.#waiter.close();
  }

  #take(address: number, flags: number): number {
    if (this.#next >= this.#slots.length) {
      throw new RangeError(`more than ${this.#slots.length} requests queued before run()`);
    }
    const slot = this.#next++;
    const view = new DataView(
      this.#slots[slot].header.bytes.buffer,
      this.#slots[slot].header.bytes.byteOffset,
      8,
    );
    view.setUint16(0, address << 1, true);
    view.setUint16(2, 0, true);
    view.setUint32(4, flags, true);
    this.#slots[slot].status.bytes[0] = 0xff; // not yet answered
    return slot;
  }
}
