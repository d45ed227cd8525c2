// One frontend connection: reads framed requests (with their fds), keeps the per-connection state
// (features, memory table, vrings) and dispatches each request through the table in requests.ts.
import type { EventLoop, Watch } from "../native/event-loop.ts";
import { closeQuietly, EMSGSIZE, NativeError, receiveWithFds, sendWithFds } from "../native/syscalls.ts";
import type { Logger } from "../log/logger.ts";
import type { VirtioDevice } from "./device.ts";
import { GuestMemory, GuestMemoryError } from "./guest-memory.ts";
import { encodeReply, type Message, ProtocolError, u64Payload } from "./message.ts";
import {
  bit,
  Feature,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION,
  FLAG_VERSION_MASK,
  HEADER_SIZE,
  MAX_FDS_PER_MESSAGE_ACCEPTED,
  MAX_PAYLOAD_SIZE,
  ProtocolFeature,
  requestName,
  SUPPORTED_PROTOCOL_FEATURES,
} from "./protocol.ts";
import { requestTable } from "./requests.ts";
import { Virtqueue, VirtqueueError } from "./virtqueue.ts";

/** Messages handled per readiness callback, so one chatty frontend cannot starve the others. */
const MESSAGES_PER_TURN = 64;

export class VhostUserSession {
  readonly memory = new GuestMemory();
  readonly queues: Virtqueue[];
  /** Feature bits we offer: the device's plus the transport's. */
  readonly offeredFeatures: bigint;
  /** Protocol features we offer: CONFIG only for a device that has a config space. */
  readonly offeredProtocolFeatures: bigint;
  ackedFeatures = 0n;
  ackedProtocolFeatures = 0n;
  owner = false;
  status = 0;
  closed = false;
  /** Queues stopped by GET_VRING_BASE since they last ran (see ringStarting). */
  readonly stoppedQueues = new Set<number>();

  readonly #socketWatch: Watch;
  readonly #kickWatches = new Map<number, Watch>();
  readonly #header = new Uint8Array(HEADER_SIZE);
  #headerHave = 0;
  #payload: Uint8Array | undefined;
  #payloadHave = 0;
  #fds: number[] = [];

  constructor(
    readonly fd: number,
    readonly device: VirtioDevice,
    readonly loop: EventLoop,
    readonly log: Logger,
    readonly onClose: (session: VhostUserSession, reason: string) => void,
  ) {
    this.offeredFeatures = device.deviceFeatures | bit(Feature.VERSION_1) | bit(Feature.INDIRECT_DESC) |
      bit(Feature.EVENT_IDX) | bit(Feature.PROTOCOL_FEATURES);
    // QEMU warns when a backend offers CONFIG for a device it has no config handling for (i2c).
    this.offeredProtocolFeatures = device.readConfig().length > 0
      ? SUPPORTED_PROTOCOL_FEATURES
      : SUPPORTED_PROTOCOL_FEATURES & ~bit(ProtocolFeature.CONFIG);
    this.queues = Array.from({ length: device.queueCount }, (_, i) => new Virtqueue(i, this.memory));
    this.#socketWatch = loop.watchReadable(fd, () => this.#onReadable());
  }

  /** Without PROTOCOL_FEATURES, a ring is enabled as soon as it is started (vhost-user.rst "Ring states"). */
  get ringsStartEnabled(): boolean {
    return (this.ackedFeatures & bit(Feature.PROTOCOL_FEATURES)) === 0n;
  }

  queue(index: number): Virtqueue {
    const queue = this.queues[index];
    if (!queue) {
      throw new ProtocolError(`queue ${index} does not exist (the device has ${this.queues.length})`);
    }
    return queue;
  }

  /** Watches (or stops watching) a queue's kick eventfd. */
  setKick(queue: Virtqueue, fd: number): void {
    this.#dropKick(queue);
    queue.kickFd = fd;
    if (fd >= 0) {
      const watch = this.loop.watchEventFd(fd, (count) => {
        if (count === 0n) {
          // The loop dropped it: not an eventfd, or its writer hung up. No kick can come.
          this.#kickWatches.delete(queue.index);
          queue.markBroken("the kick fd is not a working eventfd");
          this.log.warn("kick fd is not a working eventfd; ring stopped", { queue: queue.index });
          return;
        }
        this.processQueue(queue);
      });
      this.#kickWatches.set(queue.index, watch);
    }
  }

  #dropKick(queue: Virtqueue): void {
    const watch = this.#kickWatches.get(queue.index);
    if (watch) this.loop.unwatch(watch);
    this.#kickWatches.delete(queue.index);
    closeQuietly(queue.kickFd);
    queue.kickFd = -1;
  }

  /**
   * Stops a ring and forgets its kick and call fds (GET_VRING_BASE, reset, disconnect), as
   * libvhost-user does. The err fd stays: QEMU 7.2 sends SET_VRING_ERR once, at device init
   * (vhost_virtqueue_init), never when it restarts a ring (a guest reboot), so closing it here
   * left every later ring error unreported (found by tests/vhost/vring_err_fd_test.ts).
   * resetDevice() drops it.
   */
  stopQueue(queue: Virtqueue): number {
    this.#dropKick(queue);
    closeQuietly(queue.callFd);
    queue.callFd = -1;
    const base = queue.stop();
    this.device.queueStopped?.(queue);
    return base;
  }

  /**
   * A ring is being started (SET_VRING_KICK). When every ring had been stopped and the first to
   * start again starts from index 0, the guest's driver started over (a reboot under the same
   * QEMU, which keeps the connection): the device goes back to power-on state as on a new
   * connection. A pause/resume restarts from the saved indices and keeps the device state (a
   * ring still at 0 then has never been used, so a reset changes nothing the guest did).
   */
  ringStarting(queue: Virtqueue): void {
    const everyRingStopped = this.stoppedQueues.size === this.queues.length;
    this.stoppedQueues.clear();
    if (everyRingStopped && queue.lastAvailIdx === 0) {
      this.log.info("guest driver restarted the device; back to power-on state");
      this.device.driverStarted?.();
    }
  }

  /** Lets the device take what the driver made available, then notifies the driver. */
  processQueue(queue: Virtqueue): void {
    if (!queue.ready) return;
    try {
      this.device.processQueue(queue);
    } catch (error) {
      if (error instanceof VirtqueueError || error instanceof GuestMemoryError) {
        this.log.warn("ring broken by the driver; it stays stopped until the frontend restarts it", {
          queue: queue.index,
          reason: error.message,
        });
      } else {
        this.log.error("device failed while processing a queue", { queue: queue.index, error });
      }
    }
    queue.notify();
  }

  /** Translates every ring again after the memory table changed. */
  remapQueues(): void {
    for (const queue of this.queues) {
      try {
        queue.resolve();
      } catch (error) {
        queue.markBroken(`ring is outside the new memory table: ${(error as Error).message}`);
      }
    }
  }

  /** RESET_OWNER / RESET_DEVICE / disconnect: every ring stops, the device starts over. */
  resetDevice(): void {
    for (const queue of this.queues) {
      this.stopQueue(queue);
      // The frontend sets every fd again after a reset; on a disconnect nobody reads this one.
      closeQuietly(queue.errFd);
      queue.errFd = -1;
      // vhost-user.rst RESET_DEVICE: "disable all rings"; SET_VRING_ENABLE turns them on again.
      queue.enabled = false;
    }
    this.ackedFeatures = 0n;
    this.status = 0;
    this.device.reset();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.loop.unwatch(this.#socketWatch);
    this.resetDevice();
    this.memory.clear();
    for (const fd of this.#fds) closeQuietly(fd);
    this.#fds = [];
    closeQuietly(this.fd);
    this.onClose(this, reason);
  }

  #onReadable(): void {
    for (let handled = 0; handled < MESSAGES_PER_TURN && !this.closed; handled++) {
      if (!this.#readMessage()) return;
    }
  }

  /** Reads what is there of the current message; true when one was complete and dispatched. */
  #readMessage(): boolean {
    if (this.#headerHave < HEADER_SIZE) {
      if (!this.#receive(this.#header.subarray(this.#headerHave), (n) => (this.#headerHave += n))) {
        return false;
      }
      if (this.#headerHave < HEADER_SIZE) return false;
      const view = new DataView(this.#header.buffer);
      const flags = view.getUint32(4, true);
      const size = view.getUint32(8, true);
      // A broken header means we can no longer find message boundaries: the connection ends.
      if ((flags & FLAG_VERSION_MASK) !== FLAG_VERSION || flags & FLAG_REPLY) {
        this.close(`bad header flags 0x${flags.toString(16)} (version 1 request expected)`);
        return false;
      }
      if (size > MAX_PAYLOAD_SIZE) {
        this.close(`payload of ${size} bytes is larger than any request (${MAX_PAYLOAD_SIZE})`);
        return false;
      }
      this.#payload = new Uint8Array(size);
      this.#payloadHave = 0;
    }
    const payload = this.#payload!;
    if (this.#payloadHave < payload.length) {
      if (!this.#receive(payload.subarray(this.#payloadHave), (n) => (this.#payloadHave += n))) return false;
      if (this.#payloadHave < payload.length) return false;
    }
    const view = new DataView(this.#header.buffer);
    const message: Message = {
      request: view.getUint32(0, true),
      flags: view.getUint32(4, true),
      payload,
      view: new DataView(payload.buffer),
      fds: this.#fds,
    };
    this.#headerHave = 0;
    this.#payload = undefined;
    this.#fds = [];
    this.#dispatch(message);
    return true;
  }

  /** One non-blocking read; false when nothing came (or the connection ended). */
  #receive(into: Uint8Array, advance: (n: number) => void): boolean {
    let received;
    try {
      received = receiveWithFds(this.fd, into);
    } catch (error) {
      const tooMany = error instanceof NativeError && error.errno === EMSGSIZE;
      this.close(
        tooMany ? `more than ${MAX_FDS_PER_MESSAGE_ACCEPTED} fds on one message` : `read failed: ${error}`,
      );
      return false;
    }
    if (received === null) return false;
    this.#fds.push(...received.fds);
    if (received.bytes === 0) {
      this.close("frontend closed the connection");
      return false;
    }
    if (this.#fds.length > MAX_FDS_PER_MESSAGE_ACCEPTED) {
      this.close(`more than ${MAX_FDS_PER_MESSAGE_ACCEPTED} fds on one message`);
      return false;
    }
    advance(received.bytes);
    return true;
  }

  #dispatch(message: Message): void {
    const entry = requestTable[message.request];
    const name = requestName(message.request);
    let reply: Uint8Array | undefined;
    let failed = false;
    try {
      if (!entry) throw new ProtocolError(`${name} is not supported`);
      reply = entry.handle(this, message) ?? undefined;
    } catch (error) {
      failed = true;
      const expected = error instanceof ProtocolError || error instanceof GuestMemoryError ||
        error instanceof VirtqueueError || error instanceof NativeError;
      this.log[expected ? "warn" : "error"]("request failed", { request: name, error });
    } finally {
      for (const fd of message.fds) closeQuietly(fd); // whatever the handler did not take
      message.fds.length = 0;
    }
    if (this.closed) return;
    if (entry?.replies) {
      // A request with its own reply answers even on failure: an empty payload, which a
      // frontend rejects as a bad reply instead of waiting forever.
      this.#send(encodeReply(message.request, failed || !reply ? new Uint8Array(0) : reply));
    } else if (message.flags & FLAG_NEED_REPLY) {
      // REPLY_ACK: 0 on success, non-zero on failure.
      this.#send(encodeReply(message.request, u64Payload(failed ? 1n : 0n)));
    }
  }

  #send(frame: Uint8Array): void {
    try {
      sendWithFds(this.fd, frame);
    } catch (error) {
      this.close(`reply failed: ${error}`);
    }
  }
}
