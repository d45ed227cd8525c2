// The guest side of a virtio I2C adapter (virtio 1.2 §5.21), building requests exactly the way
// Linux's drivers/i2c/busses/i2c-virtio.c does: one descriptor chain per i2c_msg — the 8-byte out
// header (le16 addr << 1, le16 padding, le32 flags), the message buffer (device-readable for a
// write, device-writable for a read, left out when zero-length) and the 1-byte in header that
// takes the status — FAIL_NEXT on every message but the last of a transfer, one kick per
// transfer, indirect descriptors whenever they were negotiated (virtio_ring.c uses them for any
// chain of more than one buffer, and every I2C chain has at least two).
import { bit, Feature } from "../../src/vhost/protocol.ts";
import { type ChainSpec, type UsedElement } from "./driver-ring.ts";
import { type GuestBuffer, sliceBuffer } from "./guest-memory.ts";
import type { VhostUserFrontend } from "./frontend.ts";
import { findUsed } from "./echo-client.ts";

// §5.21.6: header flags and status values.
// Written here from the spec, not imported from src/virtio/: a wrong value there cannot hide.
export const I2C_FLAG_FAIL_NEXT = 1 << 0;
export const I2C_FLAG_M_RD = 1 << 1;
export const I2C_STATUS_OK = 0;
export const I2C_STATUS_ERR = 1;
export const I2C_OUT_HEADER_SIZE = 8;

/** What the client writes into a read buffer before sending it: a device that leaves it shows it. */
export const UNTOUCHED_DATA_BYTE = 0xa5;
/** What the client writes into the status byte: neither OK nor ERR, so a missing status shows. */
export const UNTOUCHED_STATUS = 0xee;

/** One i2c_msg: a write of some bytes, or a read of some length; either may be zero-length. */
export type I2cMessage =
  | { readonly address: number; readonly write: Uint8Array }
  | { readonly address: number; readonly readLength: number };

export function writeMessage(address: number, ...bytes: number[]): I2cMessage {
  return { address, write: Uint8Array.from(bytes) };
}

export function readMessage(address: number, readLength: number): I2cMessage {
  return { address, readLength };
}

/** What came back for one message. */
export interface I2cMessageResult {
  readonly message: I2cMessage;
  /** The in header as the device left it. */
  readonly status: number;
  /** For reads: the whole read buffer after completion (filled or not); empty for writes. */
  readonly data: Uint8Array;
  /** The used element's len: bytes the device says it wrote (data + status). */
  readonly usedLength: number;
}

export interface I2cTransferResult {
  readonly messages: I2cMessageResult[];
  /** Messages that succeeded before the first failure: what i2c_transfer() returns to Linux. */
  readonly count: number;
  readonly ok: boolean;
}

/** Buffers of one message position, allocated once and reused, as Linux reuses its request slab. */
interface Slot {
  header: GuestBuffer;
  status: GuestBuffer;
  data: GuestBuffer | undefined;
}

export class I2cClient {
  readonly #slots: Slot[] = [];

  constructor(readonly frontend: VhostUserFrontend, readonly queueIndex = 0) {}

  /** Whether chains go out as one indirect descriptor each (INDIRECT_DESC negotiated). */
  get indirect(): boolean {
    return (this.frontend.negotiated.ackedFeatures & bit(Feature.INDIRECT_DESC)) !== 0n;
  }

  /** The chain Linux would build for message `index` of a transfer of `total` messages. */
  chainFor(message: I2cMessage, index: number, total: number): ChainSpec {
    const slot = this.#slot(index);
    const isRead = "readLength" in message;
    const length = isRead ? message.readLength : message.write.length;
    const header = new DataView(slot.header.bytes.buffer, slot.header.bytes.byteOffset, I2C_OUT_HEADER_SIZE);
    header.setUint16(0, message.address << 1, true);
    header.setUint16(2, 0, true);
    header.setUint32(4, (isRead ? I2C_FLAG_M_RD : 0) | (index < total - 1 ? I2C_FLAG_FAIL_NEXT : 0), true);
    slot.status.bytes[0] = UNTOUCHED_STATUS;
    const readable = [slot.header];
    const writable: GuestBuffer[] = [];
    if (length > 0) {
      const data = this.#dataBuffer(slot, length);
      if (isRead) {
        data.bytes.fill(UNTOUCHED_DATA_BYTE);
        writable.push(data);
      } else {
        data.bytes.set(message.write);
        readable.push(data);
      }
    }
    writable.push(slot.status);
    return { readable, writable, indirect: this.indirect };
  }

  /** One i2c_transfer(): every message queued, one kick, then every status collected. */
  async transfer(messages: readonly I2cMessage[]): Promise<I2cTransferResult> {
    if (messages.length === 0) throw new RangeError("a transfer has at least one message");
    const ring = this.frontend.queue(this.queueIndex).ring;
    const heads = messages.map((message, i) => ring.add(this.chainFor(message, i, messages.length)));
    this.frontend.publish(this.queueIndex);
    const used = await this.frontend.waitForUsed(this.queueIndex, messages.length);
    const results = messages.map((message, i): I2cMessageResult => {
      const slot = this.#slots[i];
      const length = "readLength" in message ? message.readLength : 0;
      return {
        message,
        status: slot.status.bytes[0],
        data: length > 0 ? slot.data!.bytes.slice(0, length) : new Uint8Array(0),
        usedLength: findUsed(used, heads[i]).len,
      };
    });
    // virtio_i2c_complete_reqs(): everything after the first failure counts as failed.
    const firstFailure = results.findIndex((r) => r.status !== I2C_STATUS_OK);
    const count = firstFailure < 0 ? results.length : firstFailure;
    return { messages: results, count, ok: count === results.length };
  }

  /** Sends hand-made chains (malformed requests) as one batch and returns their used elements. */
  async submitRaw(chains: readonly ChainSpec[]): Promise<UsedElement[]> {
    const ring = this.frontend.queue(this.queueIndex).ring;
    const heads = chains.map((chain) => ring.add(chain));
    this.frontend.publish(this.queueIndex);
    const used = await this.frontend.waitForUsed(this.queueIndex, chains.length);
    return heads.map((head) => findUsed(used, head));
  }

  // ---- the transfers Linux clients make -----------------------------------------------------

  /** SMBus quick write (i2cdetect's default probe): does anything ACK the address? */
  async quick(address: number): Promise<boolean> {
    return (await this.transfer([{ address, write: new Uint8Array(0) }])).ok;
  }

  /** SMBus receive byte (i2cdetect -r): a 1-byte read; undefined on NACK. */
  async receiveByte(address: number): Promise<number | undefined> {
    const result = await this.transfer([readMessage(address, 1)]);
    return result.ok ? result.messages[0].data[0] : undefined;
  }

  /** A plain write; true when acknowledged. */
  async write(address: number, ...bytes: number[]): Promise<boolean> {
    return (await this.transfer([writeMessage(address, ...bytes)])).ok;
  }

  /**
   * Random read as Linux's sfp driver does it (sfp_i2c_read): a 1-byte offset write and a read,
   * as one transfer. Undefined when the transfer failed.
   */
  async readAt(address: number, offset: number, length: number): Promise<Uint8Array | undefined> {
    const result = await this.transfer([writeMessage(address, offset), readMessage(address, length)]);
    return result.ok ? result.messages[1].data : undefined;
  }

  /** A whole device read in chunks of `chunk` bytes, one transfer each; throws on a failed chunk. */
  async readDevice(address: number, length = 256, chunk = 16): Promise<Uint8Array> {
    const image = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += chunk) {
      const bytes = await this.readAt(address, offset, Math.min(chunk, length - offset));
      if (!bytes) throw new Error(`read of 0x${address.toString(16)} at offset ${offset} failed`);
      image.set(bytes, offset);
    }
    return image;
  }

  /** Writes a PCA9548 control register: bit n opens channel n. */
  async selectChannels(muxAddress: number, mask: number): Promise<void> {
    if (!(await this.write(muxAddress, mask))) {
      throw new Error(`mux at 0x${muxAddress.toString(16)} did not acknowledge`);
    }
  }

  /** Addresses that acknowledge a probe, from `first` to `last` (i2cdetect's 0x03..0x77). */
  async scan(probe: "quick" | "read", first = 0x03, last = 0x77): Promise<number[]> {
    const found: number[] = [];
    for (let address = first; address <= last; address++) {
      const acked = probe === "quick"
        ? await this.quick(address)
        : (await this.receiveByte(address)) !== undefined;
      if (acked) found.push(address);
    }
    return found;
  }

  #slot(index: number): Slot {
    const memory = this.frontend.memory;
    while (this.#slots.length <= index) {
      // Separate allocations, as Linux puts each part of a request on its own cache line.
      this.#slots.push({
        header: memory.allocate(I2C_OUT_HEADER_SIZE, 64),
        status: memory.allocate(1, 64),
        data: undefined,
      });
    }
    return this.#slots[index];
  }

  #dataBuffer(slot: Slot, length: number): GuestBuffer {
    if (!slot.data || slot.data.sizeBytes < length) {
      slot.data = this.frontend.memory.allocate(Math.max(length, 256), 64);
    }
    // A descriptor of exactly the message length, as i2c_get_dma_safe_msg_buf() maps it.
    return sliceBuffer(slot.data, 0, length);
  }
}
