// A virtio device that does nothing: every chain goes back at once with 0 bytes written. Behind
// it, a kick-to-call round trip measures the backend stack alone (event loop, vhost-user session,
// split ring, notification), with no device work.
import type { VirtioDevice } from "../../src/vhost/device.ts";
import type { Virtqueue } from "../../src/vhost/virtqueue.ts";

/** Not a registered virtio device id (tests/support/echo-device.ts uses 0xffff). */
export const EMPTY_DEVICE_ID = 0xfffe;

export class EmptyDevice implements VirtioDevice {
  readonly name = "empty";
  readonly deviceId = EMPTY_DEVICE_ID;
  readonly deviceFeatures = 0n;
  readonly queueCount = 1;
  readonly maxQueueSize = 1024;

  readConfig(): Uint8Array {
    return new Uint8Array(0);
  }

  processQueue(queue: Virtqueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) queue.push(chain, 0);
  }

  reset(): void {}
}
