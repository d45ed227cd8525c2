// The driver of the echo device: sends payloads through a queue and returns what came back.
// Buffers are allocated once per ring slot and reused, so long runs stay inside guest memory.
import { type ChainSpec, type UsedElement, writtenBytes } from "./driver-ring.ts";
import type { GuestBuffer, GuestMemory } from "./guest-memory.ts";
import { sliceBuffer } from "./guest-memory.ts";
import type { VhostUserFrontend } from "./frontend.ts";

export const MAX_ECHO_BYTES = 512;

export interface EchoOptions {
  /** Send each chain as one indirect descriptor. */
  indirect?: boolean;
  /** Split each chain's device-readable and device-writable side into this many buffers. */
  parts?: number;
}

/** Where an echo client's buffers live: any guest memory the backend was told about. */
export interface BufferPlacement {
  memory?: GuestMemory;
  regionIndex?: number;
}

interface SlotBuffers {
  out: GuestBuffer;
  in: GuestBuffer;
}

export class EchoClient {
  readonly #slots: SlotBuffers[] = [];

  constructor(
    readonly frontend: VhostUserFrontend,
    readonly queueIndex = 0,
    readonly placement: BufferPlacement = {},
  ) {}

  /** The chain for payload number `slot`: out parts then in parts of the same total length. */
  chainFor(slot: number, payload: Uint8Array, options: EchoOptions = {}): ChainSpec {
    if (payload.length > MAX_ECHO_BYTES) {
      throw new RangeError(`echo payloads are at most ${MAX_ECHO_BYTES} bytes`);
    }
    const buffers = this.#slot(slot);
    buffers.out.bytes.set(payload);
    buffers.in.bytes.fill(0);
    const parts = Math.max(1, Math.min(options.parts ?? 1, payload.length || 1));
    return {
      readable: split(buffers.out, payload.length, parts),
      writable: split(buffers.in, payload.length, parts),
      indirect: options.indirect,
    };
  }

  /** Sends payloads as one batch (one publish, one kick) and returns the echoes in order. */
  async echo(payloads: readonly Uint8Array[], options: EchoOptions = {}): Promise<Uint8Array[]> {
    const queue = this.frontend.queue(this.queueIndex);
    const heads = payloads.map((p, i) => queue.ring.add(this.chainFor(i, p, options)));
    this.frontend.publish(this.queueIndex);
    const used = await this.frontend.waitForUsed(this.queueIndex, payloads.length);
    return heads.map((head) => writtenBytes(findUsed(used, head)));
  }

  /**
   * Adds chains for payloads, publishes (kicking if the device wants it) and returns once an
   * in-process backend has handled them (frontend.sync()): for tests that then look at the ring
   * and the call fd themselves. Returns the heads.
   */
  async submit(payloads: readonly Uint8Array[], options: EchoOptions = {}): Promise<number[]> {
    const ring = this.frontend.queue(this.queueIndex).ring;
    const heads = payloads.map((p, i) => ring.add(this.chainFor(i, p, options)));
    this.frontend.publish(this.queueIndex);
    await this.frontend.sync();
    return heads;
  }

  async echoOne(payload: Uint8Array, options: EchoOptions = {}): Promise<Uint8Array> {
    return (await this.echo([payload], options))[0];
  }

  #slot(slot: number): SlotBuffers {
    while (this.#slots.length <= slot) {
      const memory = this.placement.memory ?? this.frontend.memory;
      const region = this.placement.regionIndex ?? 0;
      this.#slots.push({
        out: memory.allocate(MAX_ECHO_BYTES, 16, region),
        in: memory.allocate(MAX_ECHO_BYTES, 16, region),
      });
    }
    return this.#slots[slot];
  }
}

function split(buffer: GuestBuffer, length: number, parts: number): GuestBuffer[] {
  const size = Math.ceil(length / parts);
  const out: GuestBuffer[] = [];
  for (let at = 0; at < length || out.length === 0; at += size) {
    out.push(sliceBuffer(buffer, at, Math.min(size, length - at)));
    if (length === 0) break;
  }
  return out;
}

export function findUsed(used: readonly UsedElement[], head: number): UsedElement {
  const element = used.find((u) => u.id === head);
  if (!element) {
    throw new Error(`head ${head} was not returned (used ids: ${used.map((u) => u.id).join(", ")})`);
  }
  return element;
}

/** Distinct, recognisable payload bytes. */
export function pattern(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) & 0xff);
}
