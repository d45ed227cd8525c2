// The guest side of virtio-gpio for benchmarks (virtio 1.2 §5.20): line requests on the requestq,
// one interrupt buffer per line on the eventq (VIRTIO_GPIO_F_IRQ). Waits are awaited (the event
// loop keeps running, so HTTP and SSE in this process make progress meanwhile).
import { writtenBytes } from "../../tests/support/driver-ring.ts";
import type { GuestBuffer } from "../../tests/support/guest-memory.ts";
import { VhostUserFrontend } from "../../tests/support/frontend.ts";
import { GuestMemory, MiB } from "../../tests/support/guest-memory.ts";

const REQUEST_QUEUE = 0;
const EVENT_QUEUE = 1;
const MSG_IRQ_TYPE = 0x0006;
export const IRQ_TYPE_EDGE_BOTH = 3;
export const IRQ_STATUS_VALID = 1;

export class GpioDriver {
  readonly #request: GuestBuffer;
  readonly #response: GuestBuffer;
  readonly #irqRequests = new Map<number, GuestBuffer>();
  readonly #irqStatus = new Map<number, GuestBuffer>();

  private constructor(readonly frontend: VhostUserFrontend, readonly memory: GuestMemory) {
    this.#request = memory.allocate(8, 8);
    this.#response = memory.allocate(2, 2);
  }

  static async connect(socket: string): Promise<GpioDriver> {
    const memory = new GuestMemory({ sizeBytes: MiB });
    try {
      const frontend = await VhostUserFrontend.start(socket, {
        queues: [{ size: 64 }, { size: 64 }],
        eventIdx: true,
        indirect: true,
        memory,
      });
      return new GpioDriver(frontend, memory);
    } catch (error) {
      memory.close();
      throw error;
    }
  }

  /** One requestq message (le16 type, le16 line, le32 value); returns [status, value]. */
  async request(type: number, line: number, value: number): Promise<[number, number]> {
    const view = new DataView(this.#request.bytes.buffer, this.#request.bytes.byteOffset, 8);
    view.setUint16(0, type, true);
    view.setUint16(2, line, true);
    view.setUint32(4, value, true);
    const ring = this.frontend.queue(REQUEST_QUEUE).ring;
    ring.add({ readable: [this.#request], writable: [this.#response] });
    this.frontend.publish(REQUEST_QUEUE);
    const [used] = await this.frontend.waitForUsed(REQUEST_QUEUE, 1);
    const bytes = writtenBytes(used);
    return [bytes[0], bytes[1]];
  }

  /** Sets a line's interrupt type; throws when the device refuses. */
  async setIrqType(line: number, type: number): Promise<void> {
    const [status] = await this.request(MSG_IRQ_TYPE, line, type);
    if (status !== 0) throw new Error(`IRQ_TYPE ${type} on line ${line} refused (status ${status})`);
  }

  /** Queues the line's interrupt buffer (virtio_gpio_irq_request) on the eventq. */
  armInterrupt(line: number): void {
    let request = this.#irqRequests.get(line);
    let status = this.#irqStatus.get(line);
    if (!request || !status) {
      request = this.memory.allocate(2, 2);
      status = this.memory.allocate(1, 1);
      this.#irqRequests.set(line, request);
      this.#irqStatus.set(line, status);
    }
    new DataView(request.bytes.buffer, request.bytes.byteOffset, 2).setUint16(0, line, true);
    status.bytes[0] = 0xff;
    this.frontend.queue(EVENT_QUEUE).ring.add({ readable: [request], writable: [status] });
    this.frontend.publish(EVENT_QUEUE);
  }

  /** Resolves with the status of the next completed interrupt buffer. */
  async interrupt(timeoutMs: number): Promise<number> {
    const [used] = await this.frontend.waitForUsed(EVENT_QUEUE, 1, timeoutMs);
    return writtenBytes(used)[0];
  }

  close(): void {
    this.frontend.disconnect();
    this.memory.close();
  }
}
