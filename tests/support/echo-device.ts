// A virtio device that exists only for tests: it copies each chain's device-readable bytes into
// its device-writable buffers and returns the chain with used len = bytes written. With it the
// ring, the memory table and the notifications can be exercised without any I2C or GPIO logic.
import type { VirtioDevice } from "../../src/vhost/device.ts";
import type { DescriptorChain, Virtqueue } from "../../src/vhost/virtqueue.ts";

/** Not a registered virtio device id (virtio 1.2 §5 stops well below it). */
export const ECHO_DEVICE_ID = 0xffff;
/** A device-specific feature bit, so tests can see device features offered and acked. */
export const ECHO_F_LOUD = 0n;
/** Config space: magic "ECHO", u32 queue count, then a writable u32 scratch word. */
export const ECHO_CONFIG_MAGIC = 0x4f484345;
export const ECHO_CONFIG_SCRATCH_OFFSET = 8;
const CONFIG_SIZE = 12;

export interface EchoDeviceOptions {
  queueCount?: number;
  maxQueueSize?: number;
}

export class EchoDevice implements VirtioDevice {
  readonly name = "echo";
  readonly deviceId = ECHO_DEVICE_ID;
  readonly deviceFeatures = 1n << ECHO_F_LOUD;
  readonly queueCount: number;
  readonly maxQueueSize: number;
  /** Chains echoed, resets and frontends seen, for assertions. */
  echoed = 0;
  resets = 0;
  frontends = 0;
  negotiatedFeatures: bigint | undefined;
  /**
   * When set, chains are popped but kept instead of returned: a test can then stop the ring
   * with buffers in flight (GET_VRING_BASE) or return them later with releaseHeld().
   */
  holdChains = false;
  readonly #held: { queue: Virtqueue; chain: DescriptorChain }[] = [];
  readonly #config = new Uint8Array(CONFIG_SIZE);

  constructor(options: EchoDeviceOptions = {}) {
    this.queueCount = options.queueCount ?? 1;
    this.maxQueueSize = options.maxQueueSize ?? 256;
    const view = new DataView(this.#config.buffer);
    view.setUint32(0, ECHO_CONFIG_MAGIC, true);
    view.setUint32(4, this.queueCount, true);
  }

  get heldCount(): number {
    return this.#held.length;
  }

  readConfig(): Uint8Array {
    return this.#config;
  }

  /** Only the scratch word is writable, as a device's read-only fields must refuse SET_CONFIG. */
  writeConfig(offset: number, data: Uint8Array): boolean {
    if (offset < ECHO_CONFIG_SCRATCH_OFFSET || offset + data.length > CONFIG_SIZE) return false;
    this.#config.set(data, offset);
    return true;
  }

  featuresNegotiated(features: bigint): void {
    this.negotiatedFeatures = features;
  }

  driverStarted(): void {
    this.frontends++;
  }

  processQueue(queue: Virtqueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (this.holdChains) {
        this.#held.push({ queue, chain });
        continue;
      }
      queue.push(chain, this.#echo(chain));
    }
  }

  /** Returns every held chain (echoed) to the queue it came from and notifies. */
  releaseHeld(): void {
    const queues = new Set<Virtqueue>();
    for (const { queue, chain } of this.#held.splice(0)) {
      queue.push(chain, this.#echo(chain));
      queues.add(queue);
    }
    for (const queue of queues) queue.notify();
  }

  queueStopped(queue: Virtqueue): void {
    // The ring forgot these chains: returning them later would be a use after stop.
    for (let i = this.#held.length - 1; i >= 0; i--) {
      if (this.#held[i].queue === queue) this.#held.splice(i, 1);
    }
  }

  reset(): void {
    this.resets++;
    this.#held.length = 0;
  }

  #echo(chain: DescriptorChain): number {
    this.echoed++;
    return chain.writeAll(chain.readAll());
  }
}
