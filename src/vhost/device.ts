// The seam between the vhost-user backend and a virtio device model (rust-vmm's VhostUserBackend
// role): the backend owns sockets, memory and rings; the device only sees queues and config.
import type { Virtqueue } from "./virtqueue.ts";

export interface VirtioDevice {
  /** For logs: "i2c", "gpio". */
  readonly name: string;
  /** Virtio device id (virtio spec §5): 34 i2c, 41 gpio. */
  readonly deviceId: number;
  /** Device-specific feature bits offered; the backend adds VERSION_1, INDIRECT_DESC, EVENT_IDX. */
  readonly deviceFeatures: bigint;
  readonly queueCount: number;
  /** Largest queue size the device accepts (a power of 2). */
  readonly maxQueueSize: number;

  /** The device's config space as the guest reads it now (GET_CONFIG). */
  readConfig(): Uint8Array;
  /** SET_CONFIG; false (or absent) when the config space is read-only. */
  writeConfig?(offset: number, data: Uint8Array): boolean;

  /** Features the frontend acknowledged (SET_FEATURES). */
  featuresNegotiated?(features: bigint): void;
  /** The queue has new buffers: pop chains until null, push each back when done. */
  processQueue(queue: Virtqueue): void;
  /** The queue stopped (GET_VRING_BASE, reset, disconnect): forget chains held from it. */
  queueStopped?(queue: Virtqueue): void;
  /**
   * A driver starts from scratch, so the device goes to its power-on state: a new frontend
   * connected (QEMU started), or the guest rebooted under the same QEMU — which keeps the socket
   * and only stops every ring (GET_VRING_BASE) and starts them again from index 0.
   */
  driverStarted?(): void;
  /** The frontend went away or reset the device. */
  reset(): void;
}
