// Fuzzing of everything a frontend can send on a board's vhost-user sockets (DESIGN.md: everything
// the frontend writes is untrusted). Each run opens a connection to the I2C or the GPIO socket of a
// real board (LabBoard over real unix sockets, memfd memory, eventfds), starts fresh or after
// QEMU's whole start-up sequence, and sends a random sequence of well-framed requests: known and
// unknown codes, need_reply or not, payloads built for the request (random indices, sizes,
// addresses inside, across and outside the memory table) or random bytes, fds that belong or stray
// ones (eventfds, memfds, sockets), and kicks on the eventfds it handed over. It ends with a
// hang-up or a framing error (bad version, reply flag, oversized payload, too many fds, a cut or
// lying message).
// Properties: every reply comes in order and is well-formed (the request's code, flags version 1 +
// reply, the size the request has, no fds); a well-framed request never closes the connection; a
// framing error does; no fd is left behind; the backend logs no error; and afterwards a fresh
// QEMU-like session on the same socket works end to end (I2C: the module's A0h identifier byte;
// GPIO: the config space and the module's MOD_ABS level).
import assert from "node:assert/strict";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import {
  closeQuietly,
  createEventFd,
  createMemFd,
  signalEventFd,
  socketPair,
} from "../../src/native/syscalls.ts";
import {
  CONFIG_HEADER_SIZE,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION,
  HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  Request,
} from "../../src/vhost/protocol.ts";
import { type BoardFixture, DEADLINE_MS, withBoard } from "../board/board-fixture.ts";
import {
  encodeConfig,
  encodeMemReg,
  encodeMemTable,
  encodeMessage,
  encodeU64,
  encodeVringAddr,
  encodeVringState,
  type RegionDescription,
  VhostUserFrontend,
} from "../support/frontend.ts";
import {
  DEFAULT_GUEST_PHYS_BASE,
  DEFAULT_USERSPACE_BASE,
  GuestMemory,
  MiB,
} from "../support/guest-memory.ts";
import { I2cClient } from "../support/i2c-client.ts";
import { GpioClient } from "../support/gpio-client.ts";
import { openFdCount, openFdTargets } from "../support/process-fds.ts";
import { bytes, DisconnectCounter, fc, fuzz } from "../support/fuzz.ts";

const SEED = 0x5fe_0001;
const RUNS = 800;
const CAGE = 2;
const PROFILE = "sfp-10gbase-sr";
const MEMORY_SIZE = 1 * MiB;
const U64_MAX = (1n << 64n) - 1n;
/** Eventfds each run creates and may hand over (as kick, call, err or stray fds) and kick. */
const EVENTFDS = 4;

/** Replies whose body is always one u64. */
const U64_REPLY: ReadonlySet<number> = new Set([
  Request.GET_FEATURES,
  Request.GET_PROTOCOL_FEATURES,
  Request.GET_QUEUE_NUM,
  Request.GET_MAX_MEM_SLOTS,
  Request.GET_STATUS,
]);
/** vhost-user.rst: the requests that always have a reply body (need_reply or not). */
const WITH_REPLY: ReadonlySet<number> = new Set([
  ...U64_REPLY,
  Request.GET_VRING_BASE,
  Request.GET_CONFIG,
  Request.GET_INFLIGHT_FD,
]);

type Device = "i2c" | "gpio";

/** An address relative to the run's guest memory, or any u64. */
type Address =
  | { kind: "userspace"; offset: number }
  | { kind: "guest"; offset: number }
  | { kind: "raw"; value: bigint };

type Payload =
  | { kind: "empty" }
  | { kind: "raw"; bytes: Uint8Array }
  | { kind: "u64"; value: bigint }
  | { kind: "state"; index: number; num: number }
  | { kind: "addr"; index: number; flags: number; desc: Address; used: Address; avail: Address; log: bigint }
  | { kind: "table"; regions: Region[]; count: number | null }
  | { kind: "region"; region: Region }
  | { kind: "config"; offset: number; size: number; flags: number; dataLength: number | null };

interface Region {
  guest: Address;
  size: bigint;
  userspace: Address;
  mmapOffset: bigint;
}

/** An fd attached to a message: one of the run's eventfds, its memfd, a small memfd or a socket. */
type FdSpec = { kind: "eventfd"; index: number } | { kind: "memory" } | { kind: "small-memfd" } | {
  kind: "socket";
};

interface SendAction {
  kind: "send";
  code: number;
  needReply: boolean;
  /** Flag bits other than version, reply and need_reply (ignored by the protocol). */
  extraFlags: number;
  payload: Payload;
  /** "natural": what the request takes (one memfd per region, an eventfd for a vring fd). */
  fds: "natural" | FdSpec[];
}

type Action = SendAction | { kind: "kick"; eventfd: number } | { kind: "kick-queue"; queue: number };

type Ending =
  | { kind: "hang-up" }
  | { kind: "bad-version"; version: number }
  | { kind: "reply-flag" }
  | { kind: "oversized"; size: number }
  | { kind: "too-many-fds" }
  | { kind: "cut"; at: number; withFd: boolean }
  | { kind: "lying-size"; size: number; bytes: Uint8Array };

interface Session {
  device: Device;
  /** Whether QEMU's start-up sequence runs first (rings live, memory mapped). */
  connected: boolean;
  actions: Action[];
  ending: Ending;
}

// ---- arbitraries -------------------------------------------------------------------------------

const offsetArb = fc.oneof(
  fc.integer({ min: 0, max: MEMORY_SIZE - 1 }),
  fc.constantFrom(0, 8, MEMORY_SIZE - 64, MEMORY_SIZE - 8, MEMORY_SIZE - 1, MEMORY_SIZE, MEMORY_SIZE + 4096),
);
const addressArb: fc.Arbitrary<Address> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("userspace" as const), offset: offsetArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("guest" as const), offset: offsetArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      value: fc.oneof(
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.constantFrom(0n, U64_MAX, U64_MAX - 7n, 1n << 53n),
      ),
    }),
  },
);
const sizeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(BigInt(MEMORY_SIZE)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0n, 4096n, BigInt(MEMORY_SIZE) + 4096n, 1n << 40n, (1n << 53n) + 1n, U64_MAX),
  },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: BigInt(2 * MEMORY_SIZE) }) },
);
const regionArb: fc.Arbitrary<Region> = fc.oneof(
  // The run's memory exactly as QEMU would describe it: keeps a connected session's rings valid.
  {
    weight: 3,
    arbitrary: fc.constant<Region>({
      guest: { kind: "guest", offset: 0 },
      size: BigInt(MEMORY_SIZE),
      userspace: { kind: "userspace", offset: 0 },
      mmapOffset: 0n,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      guest: addressArb,
      size: sizeArb,
      userspace: addressArb,
      mmapOffset: fc.oneof(
        fc.constantFrom(0n, 4096n, 1n, BigInt(MEMORY_SIZE), U64_MAX - 4095n),
        fc.bigInt({ min: 0n, max: BigInt(MEMORY_SIZE) }),
      ),
    }),
  },
);
const queueIndexArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom(255, 256, 0xffff_ffff) },
);
const numArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 8, 16, 256, 1024, 2048, 1 << 15, 0xffff, 0x1_0000, 0xffff_ffff),
  fc.integer({ min: 0, max: 0xffff_ffff }),
);
/** A vring fd payload: queue index in bits 0-7, "no fd" in bit 8, or anything at all. */
const vringFdValueArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()).map(([i, nofd]) =>
      BigInt(i) | (nofd ? 0x100n : 0n)
    ),
  },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
);

function payloadFor(code: number): fc.Arbitrary<Payload> {
  const raw = fc.record({ kind: fc.constant("raw" as const), bytes: bytes(300) });
  const u64 = (value: fc.Arbitrary<bigint>) => fc.record({ kind: fc.constant("u64" as const), value });
  const state = fc.record({ kind: fc.constant("state" as const), index: queueIndexArb, num: numArb });
  let typed: fc.Arbitrary<Payload>;
  switch (code) {
    case Request.SET_FEATURES:
    case Request.SET_PROTOCOL_FEATURES:
      typed = u64(
        fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.constantFrom(0n, 1n << 32n, 0x1_7000_0001n)),
      );
      break;
    case Request.SET_STATUS:
      typed = u64(fc.oneof(fc.bigInt({ min: 0n, max: 0x1ffn }), fc.constantFrom(0n, 0xfn, U64_MAX)));
      break;
    case Request.SET_VRING_KICK:
    case Request.SET_VRING_CALL:
    case Request.SET_VRING_ERR:
      typed = u64(vringFdValueArb);
      break;
    case Request.SET_VRING_NUM:
    case Request.SET_VRING_BASE:
    case Request.GET_VRING_BASE:
    case Request.SET_VRING_ENABLE:
      typed = state;
      break;
    case Request.SET_VRING_ADDR:
      typed = fc.record({
        kind: fc.constant("addr" as const),
        index: queueIndexArb,
        flags: fc.constantFrom(0, 1, 0xffff_ffff),
        desc: addressArb,
        used: addressArb,
        avail: addressArb,
        log: fc.constantFrom(0n, U64_MAX),
      });
      break;
    case Request.SET_MEM_TABLE:
      typed = fc.record({
        kind: fc.constant("table" as const),
        regions: fc.array(regionArb, { minLength: 0, maxLength: 3 }),
        count: fc.option(fc.constantFrom(0, 1, 2, 8, 9, 0xffff_ffff), { freq: 4, nil: null }),
      });
      break;
    case Request.ADD_MEM_REG:
    case Request.REM_MEM_REG:
      typed = fc.record({ kind: fc.constant("region" as const), region: regionArb });
      break;
    case Request.GET_CONFIG:
    case Request.SET_CONFIG:
      typed = fc.record({
        kind: fc.constant("config" as const),
        offset: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0xffff_ffff, 0x8000_0000)),
        size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0xffff_ffff, 0xffff_fff8)),
        flags: fc.constantFrom(0, 1, 0xffff_ffff),
        dataLength: fc.option(fc.integer({ min: 0, max: 300 }), { freq: 3, nil: null }),
      });
      break;
    default:
      typed = fc.oneof(
        fc.constant({ kind: "empty" as const }),
        u64(fc.bigInt({ min: 0n, max: U64_MAX })),
        state,
      );
  }
  return fc.oneof(
    { weight: 5, arbitrary: typed },
    { weight: 1, arbitrary: raw },
    { weight: 1, arbitrary: fc.constant({ kind: "empty" as const }) },
  );
}

const KNOWN_CODES = Object.values(Request) as number[];
const codeArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...KNOWN_CODES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) },
);
const fdSpecArb: fc.Arbitrary<FdSpec> = fc.oneof(
  fc.record({ kind: fc.constant("eventfd" as const), index: fc.integer({ min: 0, max: EVENTFDS - 1 }) }),
  fc.constant({ kind: "memory" as const }),
  fc.constant({ kind: "small-memfd" as const }),
  fc.constant({ kind: "socket" as const }),
);
const sendArb: fc.Arbitrary<SendAction> = codeArb.chain((code) =>
  fc.record({
    kind: fc.constant("send" as const),
    code: fc.constant(code),
    needReply: fc.boolean(),
    extraFlags: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, {
      weight: 1,
      // Bits above need_reply: version and reply stay right, so the framing holds.
      arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }).map((bits) => (bits & ~0xf) >>> 0),
    }),
    payload: payloadFor(code),
    fds: fc.oneof(
      { weight: 4, arbitrary: fc.constant("natural" as const) },
      { weight: 1, arbitrary: fc.array(fdSpecArb, { maxLength: 8 }) },
    ),
  })
);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: sendArb },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("kick" as const),
      eventfd: fc.integer({ min: 0, max: EVENTFDS - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("kick-queue" as const), queue: fc.integer({ min: 0, max: 1 }) }),
  },
);
const endingArb: fc.Arbitrary<Ending> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "hang-up" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("bad-version" as const), version: fc.constantFrom(0, 2, 3) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "reply-flag" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("oversized" as const),
      size: fc.integer({ min: MAX_PAYLOAD_SIZE + 1, max: 0xffff_ffff }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "too-many-fds" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("cut" as const),
      at: fc.integer({ min: 1, max: HEADER_SIZE + 39 }),
      withFd: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("lying-size" as const),
      size: fc.integer({ min: 0, max: MAX_PAYLOAD_SIZE }),
      bytes: bytes(64),
    }),
  },
);
const sessionArb: fc.Arbitrary<Session> = fc.record({
  device: fc.constantFrom<Device>("i2c", "gpio"),
  connected: fc.boolean(),
  actions: fc.array(actionArb, { maxLength: 14 }),
  ending: endingArb,
});

// ---- playing a session ---------------------------------------------------------------------

/** The fds and memory one run owns; everything is closed at the end of the run. */
class RunResources {
  readonly memory = new GuestMemory({ sizeBytes: MEMORY_SIZE, name: "fuzz-guest-ram" });
  readonly eventFds = Array.from({ length: EVENTFDS }, () => createEventFd());
  readonly #others: number[] = [];
  #smallMemFd: number | undefined;
  #socket: number | undefined;

  fd(spec: FdSpec): number {
    switch (spec.kind) {
      case "eventfd":
        return this.eventFds[spec.index];
      case "memory":
        return this.memory.fd;
      case "small-memfd":
        return this.#smallMemFd ??= this.#own(createMemFd("fuzz-small", 4096));
      case "socket": {
        if (this.#socket === undefined) {
          const [a, b] = socketPair();
          this.#own(b);
          this.#socket = this.#own(a);
        }
        return this.#socket;
      }
    }
  }

  #own(fd: number): number {
    this.#others.push(fd);
    return fd;
  }

  close(): void {
    for (const fd of [...this.eventFds, ...this.#others]) closeQuietly(fd);
    this.memory.close();
  }
}

function resolve(address: Address): bigint {
  switch (address.kind) {
    case "userspace":
      return DEFAULT_USERSPACE_BASE + BigInt(address.offset);
    case "guest":
      return DEFAULT_GUEST_PHYS_BASE + BigInt(address.offset);
    case "raw":
      return address.value;
  }
}

function regionDescription(region: Region): RegionDescription {
  return {
    guestPhysAddr: BigInt.asUintN(64, resolve(region.guest)),
    sizeBytes: BigInt.asUintN(64, region.size),
    userspaceAddr: BigInt.asUintN(64, resolve(region.userspace)),
    mmapOffset: BigInt.asUintN(64, region.mmapOffset),
  };
}

function encodePayload(payload: Payload): Uint8Array {
  switch (payload.kind) {
    case "empty":
      return new Uint8Array(0);
    case "raw":
      return payload.bytes;
    case "u64":
      return encodeU64(payload.value);
    case "state":
      return encodeVringState(payload.index, payload.num);
    case "addr":
      return encodeVringAddr(payload.index >>> 0, {
        flags: payload.flags,
        descriptorTable: BigInt.asUintN(64, resolve(payload.desc)),
        usedRing: BigInt.asUintN(64, resolve(payload.used)),
        availRing: BigInt.asUintN(64, resolve(payload.avail)),
        log: payload.log,
      });
    case "table":
      return encodeMemTable(payload.regions.map(regionDescription), payload.count ?? payload.regions.length);
    case "region":
      return encodeMemReg(regionDescription(payload.region));
    case "config": {
      const data = new Uint8Array(payload.dataLength ?? Math.min(payload.size, 300));
      const bytes = encodeConfig(payload.offset, data, payload.flags);
      new DataView(bytes.buffer).setUint32(4, payload.size, true);
      return bytes;
    }
  }
}

/** The fds a request naturally takes: one memfd per region, an eventfd for a vring fd. */
function naturalFds(action: SendAction): FdSpec[] {
  const { payload, code } = action;
  if (payload.kind === "table") return payload.regions.map(() => ({ kind: "memory" }));
  if (payload.kind === "region" && code === Request.ADD_MEM_REG) return [{ kind: "memory" }];
  if (
    payload.kind === "u64" &&
    (code === Request.SET_VRING_KICK || code === Request.SET_VRING_CALL || code === Request.SET_VRING_ERR) &&
    (payload.value & 0x100n) === 0n
  ) {
    return [{ kind: "eventfd", index: Number(payload.value & 3n) }];
  }
  return [];
}

function describe(action: SendAction): string {
  return `request ${action.code} (${action.payload.kind} payload)`;
}

/** Checks one reply against the request it answers. */
function checkReply(
  action: SendAction,
  payload: Uint8Array,
  reply: { request: number; flags: number; payload: Uint8Array; fds: number[] },
  offeredFeatures: { value?: bigint },
): void {
  const what = describe(action);
  const fds = reply.fds.length;
  reply.fds.forEach(closeQuietly);
  assert.equal(fds, 0, `${what}: the reply carries ${fds} fds`);
  assert.equal(reply.request, action.code, `${what}: answered with request ${reply.request}`);
  assert.equal(reply.flags, FLAG_VERSION | FLAG_REPLY, `${what}: reply flags 0x${reply.flags.toString(16)}`);
  const size = reply.payload.length;
  const view = new DataView(reply.payload.buffer, reply.payload.byteOffset, size);
  if (!WITH_REPLY.has(action.code)) {
    assert.equal(size, 8, `${what}: a REPLY_ACK is one u64, got ${size} bytes`);
    return;
  }
  if (U64_REPLY.has(action.code)) {
    assert.equal(size, 8, `${what}: a u64 reply, got ${size} bytes`);
    const value = view.getBigUint64(0, true);
    if (action.code === Request.GET_FEATURES) {
      offeredFeatures.value ??= value;
      assert.equal(value, offeredFeatures.value, "GET_FEATURES changed its answer");
    }
    if (action.code === Request.GET_STATUS) assert.ok(value <= 0xffn, `GET_STATUS ${value} is not a byte`);
    return;
  }
  if (action.code === Request.GET_VRING_BASE) {
    assert.ok(size === 0 || size === 8, `${what}: GET_VRING_BASE reply of ${size} bytes`);
    if (size === 8) {
      assert.ok(payload.length >= 8, `${what}: a vring state reply to a ${payload.length}-byte request`);
      const asked = new DataView(payload.buffer, payload.byteOffset).getUint32(0, true);
      assert.equal(view.getUint32(0, true), asked, `${what}: GET_VRING_BASE answered for another ring`);
      assert.ok(view.getUint32(4, true) <= 0xffff, `${what}: a ring base beyond 16 bits`);
    }
    return;
  }
  if (action.code === Request.GET_CONFIG) {
    if (size === 0) return;
    assert.ok(payload.length >= CONFIG_HEADER_SIZE, `${what}: a config reply to a short request`);
    const asked = new DataView(payload.buffer, payload.byteOffset);
    const askedSize = asked.getUint32(4, true);
    assert.equal(size, CONFIG_HEADER_SIZE + askedSize, `${what}: GET_CONFIG reply of ${size} bytes`);
    assert.equal(view.getUint32(0, true), asked.getUint32(0, true), `${what}: config offset not echoed`);
    assert.equal(view.getUint32(4, true), askedSize, `${what}: config size not echoed`);
    return;
  }
  // GET_INFLIGHT_FD: not offered, so refused with an empty reply.
  assert.equal(size, 0, `${what}: GET_INFLIGHT_FD answered with ${size} bytes`);
}

async function sendAndCheck(
  frontend: VhostUserFrontend,
  resources: RunResources,
  action: SendAction,
  offeredFeatures: { value?: bigint },
): Promise<void> {
  const payload = encodePayload(action.payload);
  const flags = (FLAG_VERSION | (action.needReply ? FLAG_NEED_REPLY : 0) | action.extraFlags) >>> 0;
  const specs = action.fds === "natural" ? naturalFds(action) : action.fds;
  frontend.sendRaw(encodeMessage(action.code, flags, payload), specs.map((s) => resources.fd(s)));
  if (!WITH_REPLY.has(action.code) && !action.needReply) return;
  const reply = await frontend.readMessageOrClose();
  if (!reply) assert.fail(`${describe(action)}: the backend closed the connection on a well-framed request`);
  checkReply(action, payload, reply, offeredFeatures);
}

/** The framing error (or plain hang-up) that ends a session. */
async function end(frontend: VhostUserFrontend, resources: RunResources, ending: Ending): Promise<void> {
  const header = (flags: number, size: number, code: number = Request.GET_FEATURES) => {
    const bytes = encodeMessage(code, flags);
    new DataView(bytes.buffer).setUint32(8, size, true);
    return bytes;
  };
  switch (ending.kind) {
    case "hang-up":
      return;
    case "bad-version":
      frontend.sendRaw(header(ending.version, 0));
      return await frontend.expectClosed();
    case "reply-flag":
      frontend.sendRaw(header(FLAG_VERSION | FLAG_REPLY, 0, Request.SET_OWNER));
      return await frontend.expectClosed();
    case "oversized":
      frontend.sendRaw(header(FLAG_VERSION, ending.size, Request.SET_FEATURES));
      return await frontend.expectClosed();
    case "too-many-fds": {
      const fds = Array.from({ length: 16 }, (_, i) => resources.eventFds[i % EVENTFDS]);
      const message = encodeMessage(Request.SET_FEATURES, FLAG_VERSION, encodeU64(0n));
      frontend.sendRaw(message.subarray(0, HEADER_SIZE), fds.slice(0, 8));
      frontend.sendRaw(message.subarray(HEADER_SIZE), fds.slice(8));
      return await frontend.expectClosed();
    }
    case "cut": {
      const message = encodeMessage(Request.SET_VRING_ADDR, FLAG_VERSION, new Uint8Array(40));
      frontend.sendRaw(message.subarray(0, ending.at), ending.withFd ? [resources.eventFds[0]] : []);
      return;
    }
    case "lying-size":
      // The header promises `size` bytes and others follow: whatever the backend makes of the
      // rest, the hang-up ends it.
      frontend.sendRaw(header(FLAG_VERSION, ending.size, Request.SET_OWNER));
      if (ending.bytes.length > 0) frontend.sendRaw(ending.bytes);
      return;
  }
}

async function playSession(fixture: BoardFixture, gone: DisconnectCounter, session: Session): Promise<void> {
  const path = fixture.board.spec.sockets[session.device];
  const disconnects = gone.count(session.device);
  const resources = new RunResources();
  const frontend = new VhostUserFrontend(path, { timeoutMs: DEADLINE_MS });
  try {
    const offeredFeatures: { value?: bigint } = {};
    if (session.connected) {
      const queues = session.device === "i2c" ? [{ size: 4 }] : [{ size: 64 }, { size: 64 }];
      await frontend.connect({ queues, eventIdx: true, indirect: true, memory: resources.memory });
      offeredFeatures.value = frontend.negotiated.offeredFeatures;
    }
    for (const action of session.actions) {
      if (action.kind === "send") {
        await sendAndCheck(frontend, resources, action, offeredFeatures);
      } else if (action.kind === "kick") {
        signalEventFd(resources.eventFds[action.eventfd]);
      } else if (frontend.queues[action.queue]) {
        frontend.kick(action.queue);
      }
    }
    // Nothing unasked-for came meanwhile: the next message is the answer to this request.
    const sync: SendAction = {
      kind: "send",
      code: Request.GET_FEATURES,
      needReply: false,
      extraFlags: 0,
      payload: { kind: "empty" },
      fds: [],
    };
    await sendAndCheck(frontend, resources, sync, offeredFeatures);
    await end(frontend, resources, session.ending);
  } finally {
    frontend.disconnect();
    resources.close();
    await gone.waitFor(session.device, disconnects + 1, DEADLINE_MS);
  }
}

/** A new QEMU-like session on the device's socket works end to end, then goes away cleanly. */
async function checkServing(
  fixture: BoardFixture,
  gone: DisconnectCounter,
  device: Device,
  identifier: number,
): Promise<void> {
  const disconnects = gone.count(device);
  const frontend = new VhostUserFrontend(fixture.board.spec.sockets[device], { timeoutMs: DEADLINE_MS });
  try {
    if (device === "i2c") {
      await frontend.connect({ queues: [{ size: 4 }], eventIdx: true, indirect: true });
      const client = new I2cClient(frontend);
      const { muxAddress, channel } = cageI2cLocation(CAGE);
      await client.selectChannels(muxAddress, 1 << channel);
      const byte = await client.readAt(0x50, 0, 1);
      assert.deepEqual(byte, Uint8Array.of(identifier), "A0h byte 0 (identifier) over a fresh session");
    } else {
      await frontend.connect({ queues: [{ size: 256 }, { size: 256 }], eventIdx: true, indirect: true });
      const client = new GpioClient(frontend);
      assert.equal((await client.config()).ngpio, fixture.planes.gpio.lineCount);
      const modAbs = cageLineIndex(CAGE, "mod-abs");
      assert.equal(await client.getValue(modAbs), 0, "MOD_ABS reads low: the module is present");
    }
  } finally {
    frontend.disconnect();
    await gone.waitFor(device, disconnects + 1, DEADLINE_MS);
  }
}

Deno.test("fuzz: random vhost-user control messages never break the backend; a fresh session still works", async () => {
  await withBoard(async (fixture) => {
    const module = fixture.plug(CAGE, PROFILE);
    const identifier = module.a0()[0];
    using gone = new DisconnectCounter(fixture.events);
    await fuzz(
      { name: "vhost-user control messages", seed: SEED, numRuns: RUNS },
      sessionArb,
      async (session) => {
        const logsBefore = fixture.logs.length;
        const before = openFdCount();
        const targetsBefore = openFdTargets();
        await playSession(fixture, gone, session);
        const after = openFdCount();
        if (after !== before) {
          assert.fail(
            `fd count ${before} -> ${after} after the session\nbefore:\n${targetsBefore.join("\n")}\n` +
              `after:\n${openFdTargets().join("\n")}`,
          );
        }
        await checkServing(fixture, gone, session.device, identifier);
        assert.deepEqual(fixture.loopErrors, [], "the event loop saw no error");
        const errors = fixture.logs.slice(logsBefore).filter((r) => r.level === "error");
        assert.deepEqual(errors, [], "the backend logged no error");
      },
    );
  });
});

// ---- regressions the fuzzing found ---------------------------------------------------------------

Deno.test("regression (fuzz): a SET_MEM_TABLE whose region is refused breaks the rings instead of leaving them on unmapped memory", async () => {
  // Seed 2, run 650, shrunk: a connected I2C session, SET_MEM_TABLE with its one region at mmap
  // offset 1 (a byte more than the memfd holds: refused after the old table was dropped), a kick.
  // The ring was still translated through the old table's detached views: every kick logged
  // "device failed while processing a queue" (TypeError) and the err eventfd never fired.
  await withBoard(async (fixture) => {
    const module = fixture.plug(CAGE, PROFILE);
    using frontend = new VhostUserFrontend(fixture.board.spec.sockets.i2c, { timeoutMs: DEADLINE_MS });
    await frontend.connect({ queues: [{ size: 4 }], eventIdx: true, indirect: true });
    const region = frontend.memory.regions[0];
    const refused = await frontend.ack(
      Request.SET_MEM_TABLE,
      encodeMemTable([{ ...region, mmapOffset: 1 }]),
      [region.fd],
    );
    assert.notEqual(refused, 0n, "a region larger than its file is refused");
    frontend.kick(0);
    await frontend.sync();
    assert.equal(frontend.takeErrors(0), 1n, "the err eventfd says the ring broke");
    // The frontend recovers as after any broken ring: memory again, stop, restart.
    await frontend.setMemTable(frontend.memory.regions);
    await frontend.restartQueue(0, await frontend.getVringBase(0));
    const client = new I2cClient(frontend);
    const { muxAddress, channel } = cageI2cLocation(CAGE);
    await client.selectChannels(muxAddress, 1 << channel);
    assert.deepEqual(await client.readAt(0x50, 0, 1), module.a0().subarray(0, 1));
  });
});
