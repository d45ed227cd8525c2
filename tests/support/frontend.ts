// A vhost-user FRONTEND in TypeScript: the role QEMU plays (vhost-user.rst), so integration tests
// and benchmarks can drive the backend over a real unix socket, with real memfd guest memory and
// real eventfds, and no VM. connect() replays QEMU 7.2's message sequence
// (/work/shared/reference/guest-rig.md "Protocol facts learned from QEMU 7.2").
//
// Waiting: every wait (a reply, a call, a close) is one awaited epoll wait on this frontend's own
// Poller, bounded by a deadline, and never more than one at a time per frontend (DESIGN.md: the
// nonblocking FFI calls of a process are a shared, small pool). Eventfds are watched as plain
// readable fds, so the kernel counter stays put until a test drains it: "was there a call?" is a
// synchronous, race-free question.
import {
  bit,
  CONFIG_HEADER_SIZE,
  Feature,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION,
  HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  MEMORY_REGION_SIZE,
  ProtocolFeature,
  Request,
  requestName,
  VRING_ADDR_SIZE,
  VRING_NOFD_FLAG,
} from "../../src/vhost/protocol.ts";
import {
  closeQuietly,
  connectUnix,
  createEventFd,
  drainEventFd,
  NativeError,
  Poller,
  receiveWithFds,
  sendWithFds,
  signalEventFd,
  WATCH_READABLE,
} from "../../src/native/syscalls.ts";
import { DriverRing, type UsedElement } from "./driver-ring.ts";
import { GuestMemory, type GuestRegion } from "./guest-memory.ts";

/** A message as it came off the socket. The receiver owns (and must close) its fds. */
export interface Message {
  readonly request: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly fds: number[];
}

/** The backend answered a request with a non-zero REPLY_ACK, or an error-shaped reply. */
export class RequestFailedError extends Error {
  override name = "RequestFailedError";
  constructor(readonly request: number, readonly status: bigint) {
    super(`${requestName(request)} failed: backend replied ${status}`);
  }
}

/** The backend closed the connection. */
export class ConnectionClosedError extends Error {
  override name = "ConnectionClosedError";
}

/** What we waited for did not happen in time. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** A reply that breaks the protocol (wrong code, flags or size). */
export class ProtocolViolationError extends Error {
  override name = "ProtocolViolationError";
}

/** Requests that always have a reply body (vhost-user.rst "Communication" + later additions). */
const REQUESTS_WITH_REPLY: ReadonlySet<number> = new Set([
  Request.GET_FEATURES,
  Request.GET_PROTOCOL_FEATURES,
  Request.GET_VRING_BASE,
  Request.GET_QUEUE_NUM,
  Request.GET_CONFIG,
  Request.GET_MAX_MEM_SLOTS,
  Request.GET_STATUS,
]);

/** Where QEMU 7.2 sets need_reply when REPLY_ACK is negotiated (no dirty logging). */
const QEMU_ACKED_REQUESTS: ReadonlySet<number> = new Set([
  Request.SET_MEM_TABLE,
  Request.ADD_MEM_REG,
  Request.REM_MEM_REG,
  Request.SET_CONFIG,
]);

/** Protocol features this frontend knows how to use (QEMU acks what it knows of the offer). */
export const FRONTEND_PROTOCOL_FEATURES = [
  ProtocolFeature.MQ,
  ProtocolFeature.REPLY_ACK,
  ProtocolFeature.CONFIG,
  ProtocolFeature.RESET_DEVICE,
  ProtocolFeature.CONFIGURE_MEM_SLOTS,
  ProtocolFeature.STATUS,
].reduce((mask: bigint, b) => mask | bit(b), 0n);

/** Device-specific feature bits are 0-23 (virtio 1.2 §6). */
const DEVICE_FEATURE_MASK = (1n << 24n) - 1n;

export const DEFAULT_TIMEOUT_MS = 5000;

// ---- payload encoders (exported: hostile tests start from a valid payload and break it) ------

export function encodeMessage(
  request: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, request, true);
  view.setUint32(4, flags, true);
  view.setUint32(8, payload.length, true);
  bytes.set(payload, HEADER_SIZE);
  return bytes;
}

export function encodeU64(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  return bytes;
}

export function decodeU64(payload: Uint8Array): bigint {
  if (payload.length < 8) throw new ProtocolViolationError(`u64 payload has ${payload.length} bytes`);
  return new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, true);
}

/** struct vhost_vring_state: index u32, num u32. */
export function encodeVringState(index: number, num: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, index, true);
  view.setUint32(4, num >>> 0, true);
  return bytes;
}

export interface VringAddresses {
  descriptorTable: bigint;
  availRing: bigint;
  usedRing: bigint;
  log?: bigint;
  flags?: number;
}

/** struct vhost_vring_addr: index, flags, desc, used, avail, log (note: used before avail). */
export function encodeVringAddr(index: number, a: VringAddresses): Uint8Array {
  const bytes = new Uint8Array(VRING_ADDR_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, index, true);
  view.setUint32(4, a.flags ?? 0, true);
  view.setBigUint64(8, a.descriptorTable, true);
  view.setBigUint64(16, a.usedRing, true);
  view.setBigUint64(24, a.availRing, true);
  view.setBigUint64(32, a.log ?? 0n, true);
  return bytes;
}

/** The four u64 of one region: guest address, size, user address, mmap offset. */
export interface RegionDescription {
  guestPhysAddr: bigint;
  sizeBytes: number | bigint;
  userspaceAddr: bigint;
  mmapOffset: number | bigint;
}

function writeRegion(view: DataView, at: number, r: RegionDescription): void {
  view.setBigUint64(at, r.guestPhysAddr, true);
  view.setBigUint64(at + 8, BigInt.asUintN(64, BigInt(r.sizeBytes)), true);
  view.setBigUint64(at + 16, r.userspaceAddr, true);
  view.setBigUint64(at + 24, BigInt.asUintN(64, BigInt(r.mmapOffset)), true);
}

/** SET_MEM_TABLE payload: nregions u32, padding u32, then the regions (only those sent). */
export function encodeMemTable(regions: readonly RegionDescription[], nregions = regions.length): Uint8Array {
  const bytes = new Uint8Array(8 + MEMORY_REGION_SIZE * regions.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, nregions, true);
  regions.forEach((r, i) => writeRegion(view, 8 + MEMORY_REGION_SIZE * i, r));
  return bytes;
}

/** ADD_MEM_REG / REM_MEM_REG payload: u64 padding, then one region (VhostUserMemRegMsg). */
export function encodeMemReg(region: RegionDescription): Uint8Array {
  const bytes = new Uint8Array(8 + MEMORY_REGION_SIZE);
  writeRegion(new DataView(bytes.buffer), 8, region);
  return bytes;
}

/** GET/SET_CONFIG payload: offset u32, size u32, flags u32, then size bytes. */
export function encodeConfig(offset: number, data: Uint8Array, flags = 0): Uint8Array {
  const bytes = new Uint8Array(CONFIG_HEADER_SIZE + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, offset, true);
  view.setUint32(4, data.length, true);
  view.setUint32(8, flags, true);
  bytes.set(data, CONFIG_HEADER_SIZE);
  return bytes;
}

/** One queue as the frontend set it up: the ring in guest memory and its three eventfds. */
export interface FrontendQueue {
  readonly index: number;
  readonly ring: DriverRing;
  readonly kickFd: number;
  readonly callFd: number;
  readonly errFd: number;
}

export interface ConnectOptions {
  queues: readonly { size: number }[];
  /** Leave VERSION_1 out of SET_FEATURES (a legacy virtio-mmio guest) and lay rings out as legacy. */
  legacy?: boolean;
  /** Ack VIRTIO_F_EVENT_IDX, as QEMU does for i2c whatever the backend offers. */
  eventIdx?: boolean;
  /** Ack VIRTIO_F_INDIRECT_DESC, likewise. */
  indirect?: boolean;
  /** Exactly these virtio features in SET_FEATURES (bit 30 is added when negotiated). */
  features?: bigint;
  /**
   * false: behave as a frontend older than protocol features (no GET/SET_PROTOCOL_FEATURES, bit
   * 30 not acked, no SET_VRING_ENABLE). Default true when the backend offers bit 30.
   */
  useProtocolFeatures?: boolean;
  /** Mask over the offered protocol features; default FRONTEND_PROTOCOL_FEATURES. */
  protocolFeatures?: bigint;
  /**
   * "every-message" (default): with REPLY_ACK, every request without a reply body asks for an
   * ack, so a failure surfaces at the message that caused it. "qemu": only where QEMU 7.2 does.
   */
  acks?: "every-message" | "qemu";
  /**
   * Also send what QEMU 7.2's code sends only for some offers, which guest-rig.md's recorded
   * sequence does not show: GET_QUEUE_NUM after SET_PROTOCOL_FEATURES when MQ is negotiated,
   * GET_MAX_MEM_SLOTS when CONFIGURE_MEM_SLOTS is, and then ADD_MEM_REG per region instead of
   * SET_MEM_TABLE.
   */
  conditionalRequests?: boolean;
  /** Guest memory to use (the caller keeps ownership); default a fresh 4 MiB memfd. */
  memory?: GuestMemory;
  /** Region of that memory the rings are placed in; default 0. */
  ringRegionIndex?: number;
}

/** What connect() negotiated. */
export interface Negotiated {
  readonly offeredFeatures: bigint;
  readonly ackedFeatures: bigint;
  readonly offeredProtocolFeatures: bigint;
  readonly protocolFeatures: bigint;
}

export class VhostUserFrontend {
  readonly socketPath: string;
  /** Default deadline of every wait. */
  timeoutMs: number;
  /** Names of the requests sent, in order (the QEMU-sequence test reads it). */
  readonly sent: string[] = [];
  readonly #socket: number;
  readonly #poller = new Poller(4);
  readonly #ownedFds: number[] = [];
  readonly #queues: FrontendQueue[] = [];
  #inbox = new Uint8Array(0);
  #inboxFds: number[] = [];
  readonly #receiveBuffer = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD_SIZE + 64);
  #peerClosed = false;
  #closed = false;
  #waiting = false;
  #ackEveryMessage = true;
  #memory: GuestMemory | undefined;
  #ownsMemory = false;
  #negotiated: Negotiated | undefined;

  /** Connects the socket (a blocking unix connect: the backend must already listen). */
  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      this.#socket = connectUnix(socketPath);
    } catch (error) {
      this.#poller.close();
      throw error;
    }
  }

  /** Connects and negotiates in one step. */
  static async start(socketPath: string, options: ConnectOptions): Promise<VhostUserFrontend> {
    const frontend = new VhostUserFrontend(socketPath);
    try {
      await frontend.connect(options);
    } catch (error) {
      frontend.disconnect();
      throw error;
    }
    return frontend;
  }

  get negotiated(): Negotiated {
    if (!this.#negotiated) throw new Error("connect() has not run");
    return this.#negotiated;
  }

  get memory(): GuestMemory {
    if (!this.#memory) throw new Error("connect() has not run: no guest memory yet");
    return this.#memory;
  }

  get queues(): readonly FrontendQueue[] {
    return this.#queues;
  }

  queue(index: number): FrontendQueue {
    const queue = this.#queues[index];
    if (!queue) throw new RangeError(`queue ${index} was not set up (${this.#queues.length} queues)`);
    return queue;
  }

  get replyAck(): boolean {
    return this.#negotiatedProtocol(ProtocolFeature.REPLY_ACK);
  }

  /**
   * QEMU 7.2's start-up sequence (guest-rig.md), generalised to n queues the way QEMU's code
   * orders it: per-queue init (CALL, ERR), unmask (CALL), features, memory, per-queue start
   * (NUM, BASE, ADDR, KICK), enable all, and the final CALL of the guest notifier.
   */
  async connect(options: ConnectOptions): Promise<Negotiated> {
    this.#ackEveryMessage = (options.acks ?? "every-message") === "every-message";
    this.#memory = options.memory ?? new GuestMemory();
    this.#ownsMemory = options.memory === undefined;

    const offeredFeatures = await this.getFeatures();
    const hasProtocolFeatures = (options.useProtocolFeatures ?? true) &&
      (offeredFeatures & bit(Feature.PROTOCOL_FEATURES)) !== 0n;
    let offeredProtocolFeatures = 0n;
    let protocolFeatures = 0n;
    if (hasProtocolFeatures) {
      offeredProtocolFeatures = await this.getProtocolFeatures();
      protocolFeatures = offeredProtocolFeatures & (options.protocolFeatures ?? FRONTEND_PROTOCOL_FEATURES);
      // Recorded before sending: the ack of SET_PROTOCOL_FEATURES itself depends on it.
      this.#negotiated = { offeredFeatures, ackedFeatures: 0n, offeredProtocolFeatures, protocolFeatures };
      await this.setProtocolFeatures(protocolFeatures);
      if (options.conditionalRequests) await this.#conditionalInitRequests(options.queues.length);
    }
    await this.setOwner();
    await this.getFeatures();

    let ackedFeatures = options.features ?? ((offeredFeatures & DEVICE_FEATURE_MASK) |
      (options.legacy ? 0n : bit(Feature.VERSION_1) & offeredFeatures) |
      (options.eventIdx ? bit(Feature.EVENT_IDX) : 0n) |
      (options.indirect ? bit(Feature.INDIRECT_DESC) : 0n));
    if (hasProtocolFeatures) ackedFeatures |= bit(Feature.PROTOCOL_FEATURES);
    this.#negotiated = { offeredFeatures, ackedFeatures, offeredProtocolFeatures, protocolFeatures };

    const eventIdx = (ackedFeatures & bit(Feature.EVENT_IDX)) !== 0n;
    options.queues.forEach(({ size }, index) => {
      const ring = new DriverRing(this.memory, size, {
        eventIdx,
        legacyLayout: options.legacy,
        regionIndex: options.ringRegionIndex,
      });
      const queue = {
        index,
        ring,
        kickFd: this.#ownFd(createEventFd()),
        callFd: this.#ownFd(createEventFd()),
        errFd: this.#ownFd(createEventFd()),
      };
      this.#queues.push(queue);
    });

    for (const q of this.#queues) {
      // QEMU's masked notifier: a call fd that the backend must later let go of.
      await this.setVringCall(q.index, this.#ownFd(createEventFd()));
      await this.setVringErr(q.index, q.errFd);
    }
    for (const q of this.#queues) await this.setVringCall(q.index, q.callFd);
    await this.setFeatures(ackedFeatures);
    if (options.conditionalRequests && this.#negotiatedProtocol(ProtocolFeature.CONFIGURE_MEM_SLOTS)) {
      for (const region of this.memory.regions) await this.addMemReg(region);
    } else {
      await this.setMemTable(this.memory.regions);
    }
    for (const q of this.#queues) {
      await this.setVringNum(q.index, q.ring.size);
      await this.setVringBase(q.index, 0);
      await this.setVringAddr(q.index, q.ring.addresses);
      await this.setVringKick(q.index, q.kickFd);
    }
    if (hasProtocolFeatures) {
      for (const q of this.#queues) await this.setVringEnable(q.index, true);
    }
    for (const q of this.#queues) await this.setVringCall(q.index, q.callFd);
    return this.#negotiated;
  }

  // ---- raw messaging ------------------------------------------------------------------------

  /** Sends bytes as they are (malformed input welcome); fds are dup'ed by the kernel. */
  sendRaw(bytes: Uint8Array, fds: readonly number[] = []): void {
    this.#send(bytes, fds);
  }

  /**
   * Sends one request and, when it has a reply body or needReply is set, returns the reply
   * (checked for code and flags). A REPLY_ACK status is NOT interpreted here: see ack().
   */
  async request(
    code: number,
    payload: Uint8Array = new Uint8Array(0),
    fds: readonly number[] = [],
    options: { needReply?: boolean; flags?: number } = {},
  ): Promise<Message | undefined> {
    const flags = options.flags ?? (FLAG_VERSION | (options.needReply ? FLAG_NEED_REPLY : 0));
    this.sent.push(requestName(code));
    this.#send(encodeMessage(code, flags, payload), fds);
    if (!REQUESTS_WITH_REPLY.has(code) && (flags & FLAG_NEED_REPLY) === 0) return undefined;
    const reply = await this.readMessage();
    if (reply.request !== code) {
      closeAll(reply.fds);
      throw new ProtocolViolationError(`${requestName(code)} answered with ${requestName(reply.request)}`);
    }
    if (reply.flags !== (FLAG_VERSION | FLAG_REPLY)) {
      closeAll(reply.fds);
      throw new ProtocolViolationError(
        `${requestName(code)} reply has flags 0x${reply.flags.toString(16)}, want 0x${
          (FLAG_VERSION | FLAG_REPLY).toString(16)
        }`,
      );
    }
    return reply;
  }

  /** Sends a request that has no reply body with need_reply set; returns the ack status. */
  async ack(code: number, payload?: Uint8Array, fds: readonly number[] = []): Promise<bigint> {
    const reply = await this.request(code, payload, fds, { needReply: true });
    closeAll(reply!.fds);
    if (reply!.payload.length !== 8) {
      throw new ProtocolViolationError(`${requestName(code)} ack has ${reply!.payload.length} bytes, want 8`);
    }
    return decodeU64(reply!.payload);
  }

  /** The next message from the backend; throws ConnectionClosedError if it hung up instead. */
  async readMessage(timeoutMs = this.timeoutMs): Promise<Message> {
    const message = await this.readMessageOrClose(timeoutMs);
    if (!message) throw new ConnectionClosedError(`backend at ${this.socketPath} closed the connection`);
    return message;
  }

  /** The next message, or null when the backend closed the connection. */
  readMessageOrClose(timeoutMs = this.timeoutMs): Promise<Message | null> {
    return this.#waitFor(this.#socket, timeoutMs, () => "a message from the backend", () => {
      for (;;) {
        const message = this.#parseInbox();
        if (message) return message;
        if (this.#peerClosed) return null;
        if (!this.#receive()) return undefined;
      }
    });
  }

  /** Resolves when the backend closes the connection; a message arriving instead is an error. */
  async expectClosed(timeoutMs = this.timeoutMs): Promise<void> {
    const message = await this.readMessageOrClose(timeoutMs);
    if (message) {
      closeAll(message.fds);
      throw new ProtocolViolationError(
        `expected the backend to close the connection, got ${requestName(message.request)} ` +
          `(flags 0x${message.flags.toString(16)}, ${message.payload.length} bytes)`,
      );
    }
  }

  /** True once the backend was seen closing the connection. */
  get peerClosed(): boolean {
    return this.#peerClosed;
  }

  // ---- typed requests -----------------------------------------------------------------------

  async getFeatures(): Promise<bigint> {
    return decodeU64(await this.#replyBody(Request.GET_FEATURES));
  }

  setFeatures(features: bigint): Promise<void> {
    return this.#command(Request.SET_FEATURES, encodeU64(features));
  }

  async getProtocolFeatures(): Promise<bigint> {
    return decodeU64(await this.#replyBody(Request.GET_PROTOCOL_FEATURES));
  }

  setProtocolFeatures(features: bigint): Promise<void> {
    return this.#command(Request.SET_PROTOCOL_FEATURES, encodeU64(features));
  }

  setOwner(): Promise<void> {
    return this.#command(Request.SET_OWNER);
  }

  async getQueueNum(): Promise<bigint> {
    return decodeU64(await this.#replyBody(Request.GET_QUEUE_NUM));
  }

  async getMaxMemSlots(): Promise<bigint> {
    return decodeU64(await this.#replyBody(Request.GET_MAX_MEM_SLOTS));
  }

  setVringNum(index: number, size: number): Promise<void> {
    return this.#command(Request.SET_VRING_NUM, encodeVringState(index, size));
  }

  setVringBase(index: number, availIdx: number): Promise<void> {
    return this.#command(Request.SET_VRING_BASE, encodeVringState(index, availIdx));
  }

  /** Stops the ring (vhost-user.rst "Ring states") and returns the next avail idx it would read. */
  async getVringBase(index: number): Promise<number> {
    const body = await this.#replyBody(Request.GET_VRING_BASE, encodeVringState(index, 0));
    if (body.length !== 8) throw new ProtocolViolationError(`GET_VRING_BASE reply has ${body.length} bytes`);
    const view = new DataView(body.buffer, body.byteOffset, 8);
    if (view.getUint32(0, true) !== index) {
      throw new ProtocolViolationError(
        `GET_VRING_BASE for ring ${index} answered for ring ${view.getUint32(0, true)}`,
      );
    }
    return view.getUint32(4, true);
  }

  setVringAddr(index: number, addresses: VringAddresses): Promise<void> {
    return this.#command(Request.SET_VRING_ADDR, encodeVringAddr(index, addresses));
  }

  /** fd null sends the "no fd" flag (polling mode). */
  setVringKick(index: number, fd: number | null): Promise<void> {
    return this.#vringFd(Request.SET_VRING_KICK, index, fd);
  }

  setVringCall(index: number, fd: number | null): Promise<void> {
    return this.#vringFd(Request.SET_VRING_CALL, index, fd);
  }

  setVringErr(index: number, fd: number | null): Promise<void> {
    return this.#vringFd(Request.SET_VRING_ERR, index, fd);
  }

  setVringEnable(index: number, enabled: boolean): Promise<void> {
    return this.#command(Request.SET_VRING_ENABLE, encodeVringState(index, enabled ? 1 : 0));
  }

  /** SET_MEM_TABLE with one fd per region, in region order. */
  setMemTable(regions: readonly GuestRegion[]): Promise<void> {
    return this.#command(Request.SET_MEM_TABLE, encodeMemTable(regions), regions.map((r) => r.fd));
  }

  addMemReg(region: GuestRegion): Promise<void> {
    return this.#command(Request.ADD_MEM_REG, encodeMemReg(region), [region.fd]);
  }

  remMemReg(region: RegionDescription): Promise<void> {
    return this.#command(Request.REM_MEM_REG, encodeMemReg(region));
  }

  /** GET_CONFIG; the backend signals failure with an empty payload. */
  async getConfig(offset: number, size: number): Promise<Uint8Array> {
    const body = await this.#replyBody(Request.GET_CONFIG, encodeConfig(offset, new Uint8Array(size)));
    if (body.length === 0) throw new RequestFailedError(Request.GET_CONFIG, 1n);
    if (body.length !== CONFIG_HEADER_SIZE + size) {
      throw new ProtocolViolationError(
        `GET_CONFIG reply has ${body.length} bytes, want ${CONFIG_HEADER_SIZE + size}`,
      );
    }
    return body.slice(CONFIG_HEADER_SIZE);
  }

  setConfig(offset: number, data: Uint8Array): Promise<void> {
    return this.#command(Request.SET_CONFIG, encodeConfig(offset, data));
  }

  resetDevice(): Promise<void> {
    return this.#command(Request.RESET_DEVICE);
  }

  setStatus(status: number): Promise<void> {
    return this.#command(Request.SET_STATUS, encodeU64(BigInt(status)));
  }

  async getStatus(): Promise<number> {
    return Number(decodeU64(await this.#replyBody(Request.GET_STATUS)));
  }

  /**
   * Restarts a ring stopped by GET_VRING_BASE (or a reset) the way QEMU's vhost_virtqueue_start
   * does: size, base, addresses, kick, enable, then the call fd, since the backend let go of its fds.
   */
  async restartQueue(index: number, base: number): Promise<void> {
    const queue = this.queue(index);
    await this.setVringNum(index, queue.ring.size);
    await this.setVringBase(index, base);
    await this.setVringAddr(index, queue.ring.addresses);
    await this.setVringKick(index, queue.kickFd);
    if (this.#negotiated && this.#negotiated.protocolFeatures !== 0n) await this.setVringEnable(index, true);
    await this.setVringCall(index, queue.callFd);
  }

  /**
   * A round trip through a backend that runs in THIS process (GET_FEATURES). Kicks written
   * before it are in the backend's epoll set by then, so they are handled in the same batch as
   * the request or an earlier one, and that batch is dispatched synchronously before this
   * resolves: whatever the backend does for them (used elements, calls) is done. A backend in
   * another process may answer before it handles the kick: use pollUsed() there.
   */
  async sync(): Promise<void> {
    await this.getFeatures();
  }

  // ---- data path ----------------------------------------------------------------------------

  /** Writes the queue's kick eventfd. */
  kick(index: number): void {
    signalEventFd(this.queue(index).kickFd);
  }

  /** Publishes what was added to the ring and kicks if the device asked for it. Returns whether it kicked. */
  publish(index: number): boolean {
    const queue = this.queue(index);
    const kicked = queue.ring.publish();
    if (kicked) signalEventFd(queue.kickFd);
    return kicked;
  }

  /** Calls signalled on the queue since the last drain (0n: none). Synchronous and exact. */
  takeCalls(index: number): bigint {
    return drainEventFd(this.queue(index).callFd);
  }

  /** Error notifications signalled on the queue's err eventfd since the last drain. */
  takeErrors(index: number): bigint {
    return drainEventFd(this.queue(index).errFd);
  }

  /** Waits for the queue's call eventfd; resolves with the drained count. */
  waitForCall(index: number, timeoutMs = this.timeoutMs): Promise<bigint> {
    const queue = this.queue(index);
    return this.#waitFor(queue.callFd, timeoutMs, () => this.#ringState(queue, "a call"), () => {
      const count = drainEventFd(queue.callFd);
      return count > 0n ? count : undefined;
    });
  }

  /** Collects used elements, waiting on calls, until at least `count` arrived. */
  waitForUsed(index: number, count = 1, timeoutMs = this.timeoutMs): Promise<UsedElement[]> {
    return this.#collectUsed(index, count, timeoutMs, async (remainingMs) => {
      // Running out of time is reported by #collectUsed, with the ring's state.
      await this.waitForCall(index, remainingMs).catch((error) => {
        if (!(error instanceof DeadlineError)) throw error;
      });
    });
  }

  /**
   * Collects used elements by looking at the used ring every millisecond until `count` arrived,
   * for when calls do not come to this frontend (a call fd handed elsewhere, or suppressed).
   */
  pollUsed(index: number, count = 1, timeoutMs = this.timeoutMs): Promise<UsedElement[]> {
    return this.#collectUsed(index, count, timeoutMs, () => new Promise((resolve) => setTimeout(resolve, 1)));
  }

  async #collectUsed(
    index: number,
    count: number,
    timeoutMs: number,
    waitForMore: (remainingMs: number) => Promise<unknown>,
  ): Promise<UsedElement[]> {
    const queue = this.queue(index);
    const deadline = performance.now() + timeoutMs;
    const elements: UsedElement[] = [];
    for (;;) {
      elements.push(...queue.ring.takeUsed());
      if (elements.length >= count) return elements;
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        throw new DeadlineError(
          `waited ${Math.round(timeoutMs)} ms for ${this.#ringState(queue, `${count} used elements`)}, ` +
            `got ${elements.length}`,
        );
      }
      await waitForMore(remaining);
    }
  }

  /** Releases every fd this frontend created and the guest memory it owns. Idempotent. */
  disconnect(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#socket);
    closeAll(this.#inboxFds);
    closeAll(this.#ownedFds);
    this.#ownedFds.length = 0;
    this.#poller.close();
    if (this.#ownsMemory) this.#memory?.close();
  }

  [Symbol.dispose](): void {
    this.disconnect();
  }

  // ---- internals ---------------------------------------------------------------------------

  #negotiatedProtocol(feature: bigint): boolean {
    return ((this.#negotiated?.protocolFeatures ?? 0n) & bit(feature)) !== 0n;
  }

  /** QEMU 7.2 vhost_user_backend_init: queue count and memory slots, when negotiated. */
  async #conditionalInitRequests(queueCount: number): Promise<void> {
    if (this.#negotiatedProtocol(ProtocolFeature.MQ)) {
      const backendQueues = await this.getQueueNum();
      if (backendQueues < BigInt(queueCount)) {
        throw new RequestFailedError(Request.GET_QUEUE_NUM, backendQueues);
      }
    }
    if (this.#negotiatedProtocol(ProtocolFeature.CONFIGURE_MEM_SLOTS)) {
      const slots = await this.getMaxMemSlots();
      if (slots < BigInt(this.memory.regions.length)) {
        throw new RequestFailedError(Request.GET_MAX_MEM_SLOTS, slots);
      }
    }
  }

  #ownFd(fd: number): number {
    this.#ownedFds.push(fd);
    return fd;
  }

  #needsAck(code: number): boolean {
    return this.replyAck && (this.#ackEveryMessage || QEMU_ACKED_REQUESTS.has(code));
  }

  /** A request without a reply body: acked (and checked) when REPLY_ACK says so. */
  async #command(code: number, payload?: Uint8Array, fds: readonly number[] = []): Promise<void> {
    if (!this.#needsAck(code)) {
      await this.request(code, payload, fds);
      return;
    }
    const status = await this.ack(code, payload, fds);
    if (status !== 0n) throw new RequestFailedError(code, status);
  }

  async #replyBody(code: number, payload?: Uint8Array): Promise<Uint8Array> {
    const reply = await this.request(code, payload, [], { needReply: this.#needsAck(code) });
    closeAll(reply!.fds);
    return reply!.payload;
  }

  #vringFd(code: number, index: number, fd: number | null): Promise<void> {
    const payload = encodeU64(BigInt(index) | (fd === null ? VRING_NOFD_FLAG : 0n));
    return this.#command(code, payload, fd === null ? [] : [fd]);
  }

  #send(bytes: Uint8Array, fds: readonly number[]): void {
    if (this.#closed) throw new ConnectionClosedError("this frontend is disconnected");
    try {
      sendWithFds(this.#socket, bytes, fds);
    } catch (error) {
      if (error instanceof NativeError && (error.errno === 32 || error.errno === 104)) {
        this.#peerClosed = true;
        throw new ConnectionClosedError(
          `backend at ${this.socketPath} closed the connection (${error.message})`,
        );
      }
      throw error;
    }
  }

  /** Reads what is waiting into the inbox; false when nothing was there. */
  #receive(): boolean {
    let received;
    try {
      received = receiveWithFds(this.#socket, this.#receiveBuffer);
    } catch (error) {
      if (error instanceof NativeError && error.errno === 104) {
        this.#peerClosed = true;
        return true;
      }
      throw error;
    }
    if (!received) return false;
    if (received.bytes === 0) {
      this.#peerClosed = true;
      return true;
    }
    const grown = new Uint8Array(this.#inbox.length + received.bytes);
    grown.set(this.#inbox);
    grown.set(this.#receiveBuffer.subarray(0, received.bytes), this.#inbox.length);
    this.#inbox = grown;
    this.#inboxFds.push(...received.fds);
    return true;
  }

  #parseInbox(): Message | undefined {
    if (this.#inbox.length < HEADER_SIZE) return undefined;
    const view = new DataView(this.#inbox.buffer, this.#inbox.byteOffset, HEADER_SIZE);
    const size = view.getUint32(8, true);
    if (size > MAX_PAYLOAD_SIZE) {
      throw new ProtocolViolationError(`backend sent a ${size}-byte payload (max ${MAX_PAYLOAD_SIZE})`);
    }
    if (this.#inbox.length < HEADER_SIZE + size) return undefined;
    const message = {
      request: view.getUint32(0, true),
      flags: view.getUint32(4, true),
      payload: this.#inbox.slice(HEADER_SIZE, HEADER_SIZE + size),
      fds: this.#inboxFds,
    };
    this.#inbox = this.#inbox.slice(HEADER_SIZE + size);
    this.#inboxFds = [];
    return message;
  }

  /**
   * Polls `ready` and, while it yields undefined, waits for fd to become readable, until the
   * deadline. One wait at a time: a second concurrent wait is a test bug and says so.
   */
  async #waitFor<T>(
    fd: number,
    timeoutMs: number,
    what: () => string,
    ready: () => T | undefined,
  ): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new DeadlineError(`waited ${Math.round(timeoutMs)} ms for ${what()}`);
      if (this.#waiting) throw new Error("this frontend is already waiting: one wait at a time");
      if (this.#closed) throw new ConnectionClosedError("this frontend is disconnected");
      this.#waiting = true;
      this.#poller.add(fd, 1, WATCH_READABLE);
      try {
        await this.#poller.wait(Math.ceil(remaining));
      } finally {
        if (!this.#closed) this.#poller.remove(fd);
        this.#waiting = false;
      }
    }
  }

  #ringState(queue: FrontendQueue, what: string): string {
    const r = queue.ring;
    return `${what} on queue ${queue.index} (avail idx ${r.availIdx}, used idx ${r.usedIdx}, ` +
      `driver's last used ${r.lastUsedIdx}, avail_event ${r.availEvent}, used flags ${r.usedFlags})`;
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds) closeQuietly(fd);
  fds.length = 0;
}
