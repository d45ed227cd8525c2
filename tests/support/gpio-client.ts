// The guest side of a virtio GPIO controller (virtio 1.2 §5.20), driven the way Linux's
// drivers/gpio/gpio-virtio.c drives it: each request is one chain of an 8-byte request (le16 type,
// le16 gpio, le32 value) and a response (u8 status, u8 value; 1 + gpio_names_size bytes for
// GET_NAMES) on the requestq; interrupts are unmasked by queueing one chain per line on the eventq
// (le16 gpio, then a u8 status the device fills), which comes back when the interrupt fires and is
// queued again once the interrupt was handled.
import { bit, Feature } from "../../src/vhost/protocol.ts";
import type { UsedElement } from "./driver-ring.ts";
import { type GuestBuffer, sliceBuffer } from "./guest-memory.ts";
import type { VhostUserFrontend } from "./frontend.ts";
import { findUsed } from "./echo-client.ts";

// §5.20.6: request types, status, directions, interrupt status.
// Written here from the spec, not imported from src/virtio/: a wrong value there cannot hide.
export const GpioRequestType = {
  GET_NAMES: 0x0001,
  GET_DIRECTION: 0x0002,
  SET_DIRECTION: 0x0003,
  GET_VALUE: 0x0004,
  SET_VALUE: 0x0005,
  IRQ_TYPE: 0x0006,
} as const;
export const GPIO_STATUS_OK = 0;
export const GPIO_STATUS_ERR = 1;
export type GpioDirectionName = "none" | "out" | "in";
const DIRECTION_CODES: Record<GpioDirectionName, number> = { none: 0, out: 1, in: 2 };
const DIRECTION_NAMES: GpioDirectionName[] = ["none", "out", "in"];
/** Trigger types of IRQ_TYPE (the Linux IRQ_TYPE_* values). */
export const GpioIrqType = {
  NONE: 0,
  EDGE_RISING: 1,
  EDGE_FALLING: 2,
  EDGE_BOTH: 3,
  LEVEL_HIGH: 4,
  LEVEL_LOW: 8,
} as const;
export const IRQ_STATUS_INVALID = 0;
export const IRQ_STATUS_VALID = 1;

const REQUEST_SIZE = 8;
const RESPONSE_SIZE = 2;
/** What the client writes into a response before sending it: a device that leaves it shows it. */
export const UNTOUCHED_RESPONSE_BYTE = 0xee;

export interface GpioConfig {
  ngpio: number;
  namesSize: number;
}

export interface GpioResponse {
  status: number;
  value: number;
  /** The used element's len; Linux fails the request unless it is the response size. */
  usedLength: number;
}

/** One returned eventq buffer: which line (known from the buffer, as Linux knows it) and its status. */
export interface GpioInterrupt {
  line: number;
  status: number;
  usedLength: number;
}

/** An eventq buffer as it comes back when the line's interrupt fired. */
export function validInterrupt(line: number): GpioInterrupt {
  return { line, status: IRQ_STATUS_VALID, usedLength: 1 };
}

/** An eventq buffer handed back unused: the interrupt was disabled, or never enabled. */
export function invalidInterrupt(line: number): GpioInterrupt {
  return { line, status: IRQ_STATUS_INVALID, usedLength: 1 };
}

interface IrqBuffers {
  request: GuestBuffer;
  response: GuestBuffer;
  head: number | undefined;
}

export class GpioClient {
  #request: GuestBuffer | undefined;
  #response: GuestBuffer | undefined;
  readonly #irq = new Map<number, IrqBuffers>();

  constructor(
    readonly frontend: VhostUserFrontend,
    readonly requestQueue = 0,
    readonly eventQueue = 1,
  ) {}

  get #indirect(): boolean {
    return (this.frontend.negotiated.ackedFeatures & bit(Feature.INDIRECT_DESC)) !== 0n;
  }

  /** struct virtio_gpio_config through GET_CONFIG, as QEMU fetches it for the guest. */
  async config(): Promise<GpioConfig> {
    const bytes = await this.frontend.getConfig(0, 8);
    const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
    return { ngpio: view.getUint16(0, true), namesSize: view.getUint32(4, true) };
  }

  /** One request and its response; `responseSize` is the writable room the driver gives. */
  async request(type: number, line: number, value = 0, responseSize = RESPONSE_SIZE): Promise<GpioResponse> {
    const memory = this.frontend.memory;
    this.#request ??= memory.allocate(REQUEST_SIZE, 64);
    if (!this.#response || this.#response.sizeBytes < responseSize) {
      this.#response = memory.allocate(Math.max(responseSize, 64), 64);
    }
    const view = new DataView(this.#request.bytes.buffer, this.#request.bytes.byteOffset, REQUEST_SIZE);
    view.setUint16(0, type, true);
    view.setUint16(2, line, true);
    view.setUint32(4, value, true);
    const response = sliceBuffer(this.#response, 0, responseSize);
    response.bytes.fill(UNTOUCHED_RESPONSE_BYTE);
    const ring = this.frontend.queue(this.requestQueue).ring;
    const head = ring.add({ readable: [this.#request], writable: [response], indirect: this.#indirect });
    this.frontend.publish(this.requestQueue);
    const used = findUsed(await this.frontend.waitForUsed(this.requestQueue), head);
    return { status: response.bytes[0], value: response.bytes[1], usedLength: used.len };
  }

  /** The last response's bytes beyond the status (GET_NAMES's names block). */
  responseBytes(length: number): Uint8Array {
    return this.#response!.bytes.slice(1, 1 + length);
  }

  /** GET_NAMES with the room gpio_names_size says, split at the NULs as virtio_gpio_get_names() does. */
  async names(config: GpioConfig): Promise<string[]> {
    const response = await this.request(GpioRequestType.GET_NAMES, 0, 0, 1 + config.namesSize);
    if (response.status !== GPIO_STATUS_OK) {
      throw new Error(`GET_NAMES failed with status ${response.status}`);
    }
    if (response.usedLength !== 1 + config.namesSize) {
      throw new Error(`GET_NAMES returned ${response.usedLength} bytes, want ${1 + config.namesSize}`);
    }
    const block = this.responseBytes(config.namesSize);
    const text = new TextDecoder().decode(block);
    return text.split("\0").slice(0, config.ngpio);
  }

  async getDirection(line: number): Promise<GpioDirectionName | undefined> {
    const response = await this.request(GpioRequestType.GET_DIRECTION, line);
    return response.status === GPIO_STATUS_OK ? DIRECTION_NAMES[response.value] : undefined;
  }

  async setDirection(line: number, direction: GpioDirectionName): Promise<boolean> {
    return (await this.request(GpioRequestType.SET_DIRECTION, line, DIRECTION_CODES[direction])).status ===
      GPIO_STATUS_OK;
  }

  /** The line's level (0 or 1), or undefined when the request failed. */
  async getValue(line: number): Promise<number | undefined> {
    const response = await this.request(GpioRequestType.GET_VALUE, line);
    return response.status === GPIO_STATUS_OK ? response.value : undefined;
  }

  async setValue(line: number, value: number): Promise<boolean> {
    return (await this.request(GpioRequestType.SET_VALUE, line, value)).status === GPIO_STATUS_OK;
  }

  /** virtio_gpio_direction_output(): the value first, then the direction. */
  async directionOutput(line: number, value: number): Promise<boolean> {
    return (await this.setValue(line, value)) && (await this.setDirection(line, "out"));
  }

  async setIrqType(line: number, type: number): Promise<boolean> {
    return (await this.request(GpioRequestType.IRQ_TYPE, line, type)).status === GPIO_STATUS_OK;
  }

  // ---- eventq ---------------------------------------------------------------------------------

  /** Whether the line's interrupt buffer is with the device now. */
  queued(line: number): boolean {
    return this.#irq.get(line)?.head !== undefined;
  }

  /** virtio_gpio_irq_prepare(): queues the line's buffer pair (unmasks it) and kicks. */
  unmask(line: number): void {
    let buffers = this.#irq.get(line);
    if (!buffers) {
      const memory = this.frontend.memory;
      buffers = { request: memory.allocate(2, 64), response: memory.allocate(1, 64), head: undefined };
      this.#irq.set(line, buffers);
    }
    // Linux WARNs and refuses too: one pair per line at a time (§5.20.7 driver requirements).
    if (buffers.head !== undefined) throw new Error(`line ${line} already has its buffer queued`);
    new DataView(buffers.request.bytes.buffer, buffers.request.bytes.byteOffset, 2).setUint16(0, line, true);
    buffers.response.bytes[0] = UNTOUCHED_RESPONSE_BYTE;
    const ring = this.frontend.queue(this.eventQueue).ring;
    buffers.head = ring.add({
      readable: [buffers.request],
      writable: [buffers.response],
      indirect: this.#indirect,
    });
    this.frontend.publish(this.eventQueue);
  }

  /** Interrupt buffers returned so far (synchronous: nothing is waited for). */
  takeInterrupts(): GpioInterrupt[] {
    return this.#interruptsOf(this.frontend.queue(this.eventQueue).ring.takeUsed());
  }

  /**
   * Interrupt buffers returned once the backend handled everything kicked so far (a round trip
   * to a backend in this process): how a test sees that nothing more came.
   */
  async settledInterrupts(): Promise<GpioInterrupt[]> {
    await this.frontend.sync();
    return this.takeInterrupts();
  }

  /** Waits until `count` interrupt buffers came back (more may come in the same batch). */
  async waitForInterrupts(count = 1): Promise<GpioInterrupt[]> {
    return this.#interruptsOf(await this.frontend.waitForUsed(this.eventQueue, count));
  }

  #interruptsOf(used: readonly UsedElement[]): GpioInterrupt[] {
    return used.map((element) => {
      const entry = [...this.#irq.entries()].find(([, b]) => b.head === element.id);
      if (!entry) throw new Error(`the device returned eventq head ${element.id}, which no line has queued`);
      const [line, buffers] = entry;
      buffers.head = undefined;
      return { line, status: buffers.response.bytes[0], usedLength: element.len };
    });
  }
}
