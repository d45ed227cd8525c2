// virtio GPIO controller (virtio 1.2 §5.20, device id 41) over the vhost-user backend: the
// requestq serves line requests, the eventq carries interrupts (VIRTIO_GPIO_F_IRQ): the driver
// queues one buffer per line and the device returns it when the line's interrupt fires.
// The device talks to a GpioController (the board's GPIO plane implements it).
import type { VirtioDevice } from "../vhost/device.ts";
import type { DescriptorChain, Virtqueue } from "../vhost/virtqueue.ts";

export type GpioDirection = "none" | "out" | "in";

export interface GpioController {
  readonly lineCount: number;
  lineNames(): readonly string[];
  direction(line: number): GpioDirection;
  /** false when the line cannot take that direction (an input pin driven by a module). */
  setDirection(line: number, direction: GpioDirection): boolean;
  /** The level the guest reads now: true = high. */
  level(line: number): boolean;
  setValue(line: number, high: boolean): boolean;
  /** Level changes of any line, whoever caused them; returns an unsubscribe function. */
  onLevelChange(listener: (line: number, high: boolean) => void): () => void;
  /** A new driver took the controller (the VM booted): lines go to their power-on state. */
  reset?(): void;
}

export const VIRTIO_ID_GPIO = 41;
export const VIRTIO_GPIO_F_IRQ = 0n;

// §5.20.6 request types, status, directions, interrupt types.
const MSG_GET_NAMES = 0x0001;
const MSG_GET_DIRECTION = 0x0002;
const MSG_SET_DIRECTION = 0x0003;
const MSG_GET_VALUE = 0x0004;
const MSG_SET_VALUE = 0x0005;
const MSG_IRQ_TYPE = 0x0006;
const STATUS_OK = 0;
const STATUS_ERR = 1;
const DIRECTION_CODES: Record<GpioDirection, number> = { none: 0, out: 1, in: 2 };
const DIRECTIONS: GpioDirection[] = ["none", "out", "in"];
export const IrqType = {
  NONE: 0,
  EDGE_RISING: 1,
  EDGE_FALLING: 2,
  EDGE_BOTH: 3,
  LEVEL_HIGH: 4,
  LEVEL_LOW: 8,
} as const;
const IRQ_TYPES = new Set<number>(Object.values(IrqType));
const IRQ_STATUS_INVALID = 0;
const IRQ_STATUS_VALID = 1;

const REQUEST_SIZE = 8; // le16 type, le16 gpio, le32 value
const REQUEST_QUEUE = 0;
const EVENT_QUEUE = 1;

interface LineInterrupt {
  type: number;
  /** The driver's buffer waiting for this line's next interrupt (one at most). */
  buffer: DescriptorChain | undefined;
  /** An edge that came while no buffer was queued: delivered when one arrives. */
  pending: boolean;
}

export interface GpioCounters {
  requests: number;
  failed: number;
  interrupts: number;
}

export class VirtioGpioDevice implements VirtioDevice {
  readonly name = "gpio";
  readonly deviceId = VIRTIO_ID_GPIO;
  readonly deviceFeatures = 1n << VIRTIO_GPIO_F_IRQ;
  readonly queueCount = 2;
  readonly maxQueueSize = 1024;
  readonly counters: GpioCounters = { requests: 0, failed: 0, interrupts: 0 };
  readonly #config: Uint8Array;
  readonly #names: Uint8Array;
  readonly #interrupts: LineInterrupt[];
  #eventQueue: Virtqueue | undefined;

  constructor(readonly controller: GpioController) {
    const encoder = new TextEncoder();
    const parts = controller.lineNames().map((n) => encoder.encode(n + "\0"));
    this.#names = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const p of parts) {
      this.#names.set(p, at);
      at += p.length;
    }
    // §5.20.4: le16 ngpio, le16 padding, le32 gpio_names_size.
    this.#config = new Uint8Array(8);
    const view = new DataView(this.#config.buffer);
    view.setUint16(0, controller.lineCount, true);
    view.setUint32(4, this.#names.length, true);
    this.#interrupts = Array.from(
      { length: controller.lineCount },
      () => ({ type: 0, buffer: undefined, pending: false }),
    );
    controller.onLevelChange((line, high) => this.#lineChanged(line, high));
  }

  readConfig(): Uint8Array {
    return this.#config;
  }

  driverStarted(): void {
    this.controller.reset?.();
  }

  reset(): void {
    for (const irq of this.#interrupts) Object.assign(irq, { type: 0, buffer: undefined, pending: false });
    this.#eventQueue = undefined;
  }

  queueStopped(queue: Virtqueue): void {
    if (queue.index !== EVENT_QUEUE) return;
    for (const irq of this.#interrupts) irq.buffer = undefined;
    this.#eventQueue = undefined;
  }

  processQueue(queue: Virtqueue): void {
    if (queue.index === REQUEST_QUEUE) {
      for (let chain = queue.pop(); chain; chain = queue.pop()) queue.push(chain, this.#serve(chain));
    } else if (queue.index === EVENT_QUEUE) {
      this.#eventQueue = queue;
      for (let chain = queue.pop(); chain; chain = queue.pop()) this.#queueInterruptBuffer(queue, chain);
    }
  }

  /** Which lines have a buffer queued (for status and tests). */
  armedLines(): number[] {
    return this.#interrupts.flatMap((irq, line) => (irq.buffer ? [line] : []));
  }

  #serve(chain: DescriptorChain): number {
    this.counters.requests++;
    if (chain.writableLength < 1) {
      this.counters.failed++;
      return 0;
    }
    const request = chain.readAll();
    if (request.length < REQUEST_SIZE) return this.#respond(chain, STATUS_ERR, 0);
    const view = new DataView(request.buffer, request.byteOffset, REQUEST_SIZE);
    const type = view.getUint16(0, true);
    const line = view.getUint16(2, true);
    const value = view.getUint32(4, true);
    if (type === MSG_GET_NAMES) {
      if (chain.writableLength < 1 + this.#names.length) return this.#respond(chain, STATUS_ERR, 0);
      const response = new Uint8Array(1 + this.#names.length);
      response[0] = STATUS_OK;
      response.set(this.#names, 1);
      return chain.writeAll(response);
    }
    if (line >= this.controller.lineCount) return this.#respond(chain, STATUS_ERR, 0);
    switch (type) {
      case MSG_GET_DIRECTION:
        return this.#respond(chain, STATUS_OK, DIRECTION_CODES[this.controller.direction(line)]);
      case MSG_SET_DIRECTION: {
        const direction = DIRECTIONS[value];
        const ok = direction !== undefined && this.controller.setDirection(line, direction);
        // §5.20.6 device requirements: a line set to none forgets all its state, its interrupt too.
        if (ok && direction === "none") this.#setIrqType(line, IrqType.NONE);
        return this.#respond(chain, ok ? STATUS_OK : STATUS_ERR, 0);
      }
      case MSG_GET_VALUE:
        return this.#respond(chain, STATUS_OK, this.controller.level(line) ? 1 : 0);
      case MSG_SET_VALUE: {
        const ok = value <= 1 && this.controller.setValue(line, value === 1);
        return this.#respond(chain, ok ? STATUS_OK : STATUS_ERR, 0);
      }
      case MSG_IRQ_TYPE:
        return this.#respond(chain, this.#setIrqType(line, value) ? STATUS_OK : STATUS_ERR, 0);
      default:
        return this.#respond(chain, STATUS_ERR, 0);
    }
  }

  #respond(chain: DescriptorChain, status: number, value: number): number {
    if (status !== STATUS_OK) this.counters.failed++;
    // struct virtio_gpio_response: u8 status, u8 value.
    return chain.writeAll(new Uint8Array([status, value]));
  }

  #setIrqType(line: number, type: number): boolean {
    if (!IRQ_TYPES.has(type)) return false;
    const irq = this.#interrupts[line];
    irq.type = type;
    irq.pending = false; // edges before the interrupt was (re)configured do not count
    if (type === IrqType.NONE) {
      // §5.20.6.2: a disabled line's queued buffer goes back marked invalid.
      if (irq.buffer) this.#complete(line, IRQ_STATUS_INVALID);
    } else {
      this.#fireIfDue(line);
    }
    return true;
  }

  #queueInterruptBuffer(queue: Virtqueue, chain: DescriptorChain): void {
    const request = chain.readAll();
    const line = request.length >= 2 ? request[0] | (request[1] << 8) : -1;
    const irq = line >= 0 ? this.#interrupts[line] : undefined;
    if (!irq || irq.type === IrqType.NONE || irq.buffer || chain.writableLength < 1) {
      // Unknown line, interrupt disabled, or a second buffer for the same line.
      queue.push(chain, chain.writeAll(new Uint8Array([IRQ_STATUS_INVALID])));
      return;
    }
    irq.buffer = chain;
    this.#fireIfDue(line);
  }

  #lineChanged(line: number, high: boolean): void {
    const irq = this.#interrupts[line];
    if (!irq || irq.type === IrqType.NONE) return;
    const edge = (high && irq.type & IrqType.EDGE_RISING) || (!high && irq.type & IrqType.EDGE_FALLING);
    if (edge) irq.pending = true;
    this.#fireIfDue(line);
  }

  /** Delivers the interrupt if a buffer waits and an edge is pending or the level holds. */
  #fireIfDue(line: number): void {
    const irq = this.#interrupts[line];
    if (!irq.buffer) return;
    const high = this.controller.level(line);
    const levelHolds = (irq.type === IrqType.LEVEL_HIGH && high) || (irq.type === IrqType.LEVEL_LOW && !high);
    if (!irq.pending && !levelHolds) return;
    irq.pending = false;
    if (this.#complete(line, IRQ_STATUS_VALID)) this.counters.interrupts++;
  }

  /** Hands the line's buffer back with this status; false when it was dropped instead. */
  #complete(line: number, status: number): boolean {
    const irq = this.#interrupts[line];
    const chain = irq.buffer!;
    irq.buffer = undefined;
    const queue = this.#eventQueue;
    // The eventq let go of the buffer: it broke (e.g. a memory-table change that no longer maps
    // the buffer; the err eventfd said so) or restarted. The buffer is the guest's no more: drop
    // it, never write into it (found by tests/virtio/gpio_memory_change_test.ts).
    if (!queue?.holds(chain)) return false;
    queue.push(chain, chain.writeAll(new Uint8Array([status])));
    queue.notify();
    return true;
  }
}
