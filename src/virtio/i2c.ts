// virtio I2C adapter (virtio 1.2 §5.21, device id 34) over the vhost-user backend.
// Each request is one chain: out header (addr, flags) + buffer + a 1-byte status written into the
// LAST device-writable byte. The device knows nothing of what is on the bus: it talks to an
// I2cAdapter (the board's I2C plane implements it).
//
// A slow device (a module with a "slow" fault) is honoured without sleeping: its request is held
// on a timer and answered when it fires, and the requests after it wait in the ring until then,
// as they would behind a stretched clock on the wire. Everything else in the process (other
// boards, this board's GPIO controller, the API) keeps running meanwhile.
import type { VirtioDevice } from "../vhost/device.ts";
import type { DescriptorChain, Virtqueue } from "../vhost/virtqueue.ts";

/**
 * The bus behind the adapter: 7-bit addresses; false means nobody acknowledged (NACK). Given a
 * `hold`, a bus whose device would hold the transfer makes none, returns false and sets
 * `hold.delayMs` (> 0): the device makes it again without a hold once that time has passed. So
 * the check and the transfer are one call, and a bus without slow devices ignores `hold`.
 */
export interface I2cAdapter {
  read(address: number, buffer: Uint8Array, hold?: I2cHold): boolean;
  write(address: number, data: Uint8Array, hold?: I2cHold): boolean;
  /** A new driver took the adapter (the VM booted): bus devices go to their power-on state. */
  reset?(): void;
}

export interface I2cHold {
  delayMs: number;
}

export interface VirtioI2cOptions {
  /**
   * Told of what went wrong while resuming after a slow request, where no caller is left to
   * throw to (a ring the driver broke meanwhile is one). Default: console.error.
   */
  onError?: (error: unknown) => void;
}

/** A request held until its device answers; the ring waits behind it. */
interface HeldRequest {
  readonly queue: Virtqueue;
  readonly chain: DescriptorChain;
  readonly timer: ReturnType<typeof setTimeout>;
}

export const VIRTIO_ID_I2C_ADAPTER = 34;
/** §5.21.3: zero-length requests (SMBus quick); the Linux driver refuses to probe without it. */
export const VIRTIO_I2C_F_ZERO_LENGTH_REQUEST = 0n;

const OUT_HEADER_SIZE = 8; // le16 addr, le16 padding, le32 flags
const FLAG_FAIL_NEXT = 1 << 0;
const FLAG_M_RD = 1 << 1;
const STATUS_OK = 0;
const STATUS_ERR = 1;
/** A read that nobody drives returns the bus pull-ups: all ones. */
const IDLE_BUS_BYTE = 0xff;
/** drivers/i2c/i2c-dev.c refuses messages longer than this ("a sane amount"): no Linux client sends more. */
const MAX_MESSAGE_BYTES = 8192;
const QUEUE_SIZE_MAX = 1024;
/** #serve's answer for a request a device holds: nothing was done, the chain waits. */
const HELD = -1;

export interface I2cCounters {
  requests: number;
  /** Answered with an error status: NACKs, the rest of a failed group, and malformed requests. */
  failed: number;
  /** Requests the bus could not carry (bad header, wrong buffer direction, oversized, 10-bit). */
  malformed: number;
}

export class VirtioI2cDevice implements VirtioDevice {
  readonly name = "i2c";
  readonly deviceId = VIRTIO_ID_I2C_ADAPTER;
  readonly deviceFeatures = 1n << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST;
  readonly queueCount = 1;
  readonly maxQueueSize = QUEUE_SIZE_MAX;
  readonly counters: I2cCounters = { requests: 0, failed: 0, malformed: 0 };
  /** A failed request with FAIL_NEXT fails the rest of its group (§5.21.6.1). */
  #failGroup = false;
  readonly #scratch = new Uint8Array(MAX_MESSAGE_BYTES);
  readonly #headerBytes = new Uint8Array(OUT_HEADER_SIZE);
  readonly #headerView = new DataView(this.#headerBytes.buffer);
  readonly #hold: I2cHold = { delayMs: 0 };
  #held: HeldRequest | undefined;
  readonly #onError: (error: unknown) => void;

  constructor(readonly adapter: I2cAdapter, options: VirtioI2cOptions = {}) {
    this.#onError = options.onError ?? ((error) => console.error("virtio-i2c:", error));
  }

  readConfig(): Uint8Array {
    return new Uint8Array(0); // virtio-i2c has no config space
  }

  driverStarted(): void {
    this.adapter.reset?.();
  }

  reset(): void {
    this.#failGroup = false;
    this.#dropHeld();
  }

  /** The ring stopped (GET_VRING_BASE, disconnect): a held request is the driver's no more. */
  queueStopped(queue: Virtqueue): void {
    if (this.#held?.queue === queue) this.#dropHeld();
  }

  /** Whether a slow request is being held (for status and tests). */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  processQueue(queue: Virtqueue): void {
    // Transfers are serialized on the bus: nothing overtakes a request still being answered.
    if (this.#held) return;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      this.#hold.delayMs = 0;
      const used = this.#serve(chain, this.#hold);
      if (used === HELD) {
        this.#holdRequest(queue, chain, this.#hold.delayMs);
        return;
      }
      queue.push(chain, used);
    }
  }

  #holdRequest(queue: Virtqueue, chain: DescriptorChain, delayMs: number): void {
    const timer = setTimeout(() => this.#answerHeld(), delayMs);
    // A held answer is no reason to keep the process alive: the event loop's wait is.
    Deno.unrefTimer(timer);
    this.#held = { queue, chain, timer };
  }

  /** The slow device answers: serve its request, then go on with what queued up behind it. */
  #answerHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    if (!held) return;
    const { queue, chain } = held;
    // A ring the driver broke, or one whose memory went away, takes no more answers.
    if (!queue.ready) return;
    try {
      queue.push(chain, this.#serve(chain));
      this.processQueue(queue);
    } catch (error) {
      // pop() has already marked the ring broken when the driver broke it.
      this.#onError(error);
    }
    queue.notify();
  }

  #dropHeld(): void {
    if (!this.#held) return;
    clearTimeout(this.#held.timer);
    this.#held = undefined;
  }

  /**
   * Serves one request; returns the bytes written into the chain (data + status), or HELD when
   * `hold` (delayMs 0) was given and the device holds the transfer: then nothing was done or
   * counted, and the request is served again without a hold when the time has passed.
   */
  #serve(chain: DescriptorChain, hold?: I2cHold): number {
    // The status is the last device-writable byte; everything writable before it is read data.
    const dataRoom = chain.writableLength - 1;
    if (dataRoom < 0) {
      // Nowhere to put a status: the driver learns nothing, but the ring moves on.
      this.counters.requests++;
      this.counters.malformed++;
      this.#failGroup = false;
      return 0;
    }
    if (chain.readableLength < OUT_HEADER_SIZE) {
      this.counters.requests++;
      this.counters.malformed++;
      this.#failGroup = false;
      return this.#fail(chain, dataRoom);
    }
    const header = this.#readHeader(chain);
    const wireAddress = header.getUint16(0, true);
    const flags = header.getUint32(4, true);
    const address = wireAddress >> 1; // the 7-bit address travels shifted left by one
    const isRead = (flags & FLAG_M_RD) !== 0;
    const writeLength = chain.readableLength - OUT_HEADER_SIZE;
    let ok = false;
    if (this.#failGroup) {
      // §5.21.6: an earlier request of the group failed: fail this one without attempting it.
    } else if (!this.#wellFormed(wireAddress, isRead, dataRoom, writeLength)) {
      this.counters.malformed++;
    } else if (isRead) {
      // Straight into the driver's buffer when one descriptor holds it all (Linux: always).
      const direct = chain.writable[0].length >= dataRoom;
      const data = direct ? chain.writable[0].subarray(0, dataRoom) : this.#scratch.subarray(0, dataRoom);
      data.fill(IDLE_BUS_BYTE);
      ok = this.adapter.read(address, data, hold);
      if (hold && hold.delayMs > 0) return HELD;
      if (ok && !direct) chain.writeAll(data);
    } else {
      ok = this.adapter.write(address, this.#writeData(chain), hold);
      if (hold && hold.delayMs > 0) return HELD;
    }
    this.counters.requests++;
    this.#failGroup = !ok && (flags & FLAG_FAIL_NEXT) !== 0;
    if (!ok) return this.#fail(chain, dataRoom);
    return this.#finish(chain, dataRoom, STATUS_OK);
  }

  /**
   * A write request's data: the device-readable bytes after the header. A view of the driver's
   * buffer when one descriptor holds them all (Linux: header, data and status are one descriptor
   * each); copied only when the driver split them (the size is already known to be sane).
   */
  #writeData(chain: DescriptorChain): Uint8Array {
    let skip = OUT_HEADER_SIZE;
    const buffers = chain.readable;
    for (let i = 0; i < buffers.length; i++) {
      const buffer = buffers[i];
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      if (i === buffers.length - 1) return buffer.subarray(skip);
      break;
    }
    return chain.readAll().subarray(OUT_HEADER_SIZE);
  }

  /** The out header: the first 8 device-readable bytes, wherever the descriptors cut them. */
  #readHeader(chain: DescriptorChain): DataView {
    let at = 0;
    for (const buffer of chain.readable) {
      const n = Math.min(buffer.length, OUT_HEADER_SIZE - at);
      this.#headerBytes.set(buffer.subarray(0, n), at);
      at += n;
      if (at === OUT_HEADER_SIZE) break;
    }
    return this.#headerView;
  }

  /**
   * A request this bus can carry: a 7-bit address (a 10-bit one has bits above 7 set, or lands on
   * the reserved 0x78-0x7b where nothing answers), a buffer
   * that goes the way M_RD says (device-writable data only for reads, device-readable data only
   * for writes), and no longer than Linux's i2c-dev lets any message be.
   */
  #wellFormed(wireAddress: number, isRead: boolean, dataRoom: number, writeLength: number): boolean {
    if (wireAddress > 0xff) return false;
    if (isRead) return writeLength === 0 && dataRoom <= MAX_MESSAGE_BYTES;
    return dataRoom === 0 && writeLength <= MAX_MESSAGE_BYTES;
  }

  /**
   * A failed request. Read data is filled with what an undriven bus reads BEFORE the status is
   * set, so a driver that looks at the buffer anyway (i2cdetect does) never sees stale bytes.
   */
  #fail(chain: DescriptorChain, dataRoom: number): number {
    this.counters.failed++;
    let left = dataRoom;
    for (const buffer of chain.writable) {
      if (left === 0) break;
      const n = Math.min(buffer.length, left);
      buffer.fill(IDLE_BUS_BYTE, 0, n);
      left -= n;
    }
    return this.#finish(chain, dataRoom, STATUS_ERR);
  }

  /** Writes the status into the last writable byte (after any data) and returns the used length. */
  #finish(chain: DescriptorChain, dataLength: number, status: number): number {
    for (let i = chain.writable.length - 1; i >= 0; i--) {
      const buffer = chain.writable[i];
      if (buffer.length === 0) continue; // a zero-length descriptor holds no status byte
      buffer[buffer.length - 1] = status;
      break;
    }
    return dataLength + 1;
  }
}
