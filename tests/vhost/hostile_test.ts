// Everything a frontend or guest writes is untrusted (DESIGN.md "Layers": src/vhost/). Each
// hostile input below must be answered by an error reply, a broken-ring signal or a closed
// connection, must leak no fd, and must leave the SAME process serving: a healthy frontend on a
// second socket echoes after every case.
import assert from "node:assert/strict";
import { closeQuietly, createEventFd, createMemFd, socketPair } from "../../src/native/syscalls.ts";
import {
  bit,
  FLAG_NEED_REPLY,
  FLAG_VERSION,
  HEADER_SIZE,
  MAX_MEM_TABLE_REGIONS,
  ProtocolFeature,
  Request,
} from "../../src/vhost/protocol.ts";
import { type BackendFixture, type EchoBackend, withBackend } from "../support/backend-fixture.ts";
import { EchoClient, pattern } from "../support/echo-client.ts";
import {
  type ConnectOptions,
  decodeU64,
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
  type Descriptor,
  DescriptorFlag,
  type DriverRing,
  viewOf,
  writeDescriptorInto,
} from "../support/driver-ring.ts";
import type { GuestMemory } from "../support/guest-memory.ts";
import { openFdCount, openFdTargets } from "../support/process-fds.ts";
import { BackendProcess } from "../support/backend-process.ts";

const VICTIM: ConnectOptions = { queues: [{ size: 16 }], eventIdx: true, indirect: true };
const U64_MAX = (1n << 64n) - 1n;

/** The victim device, a healthy frontend on another device of the same backend, and bookkeeping. */
class Arena {
  readonly victim: EchoBackend;
  readonly #healthy: VhostUserFrontend;
  readonly #healthyClient: EchoClient;
  #victimSessions = 0;
  #echoes = 0;

  private constructor(victim: EchoBackend, healthy: VhostUserFrontend) {
    this.victim = victim;
    this.#healthy = healthy;
    this.#healthyClient = new EchoClient(healthy);
  }

  static async open(fixture: BackendFixture): Promise<Arena> {
    const victim = fixture.addEchoDevice("victim");
    const bystander = fixture.addEchoDevice("bystander");
    return new Arena(victim, await VhostUserFrontend.start(bystander.path, VICTIM));
  }

  /**
   * One hostile connection: body attacks, then the connection is dropped; the backend must have
   * seen it go, the healthy frontend must still echo, and no fd may be left behind.
   */
  async attack(body: (frontend: VhostUserFrontend) => Promise<void>): Promise<void> {
    const before = openFdCount();
    const targetsBefore = openFdTargets();
    const frontend = new VhostUserFrontend(this.victim.path);
    try {
      await body(frontend);
    } finally {
      // Also after a failed case, so the next one starts from a backend that let this one go.
      frontend.disconnect();
      await this.victim.waitForEvents("disconnected", ++this.#victimSessions);
    }
    const seed = ++this.#echoes;
    assert.deepEqual(
      await this.#healthyClient.echoOne(pattern(48, seed)),
      pattern(48, seed),
      "healthy frontend",
    );
    const after = openFdCount();
    if (after !== before) {
      assert.fail(
        `fd count ${before} -> ${after}\nbefore:\n${targetsBefore.join("\n")}\nafter:\n${
          openFdTargets().join("\n")
        }`,
      );
    }
  }

  /** Why the backend dropped the last victim connection. */
  lastDisconnectReason(): string {
    const event = this.victim.events.findLast((e) => e.type === "disconnected");
    return event && "reason" in event ? event.reason : "";
  }

  close(): void {
    this.#healthy.disconnect();
  }
}

async function inArena(
  t: Deno.TestContext,
  cases: Record<string, (f: VhostUserFrontend, a: Arena) => Promise<void>>,
) {
  await withBackend(async (fixture) => {
    const arena = await Arena.open(fixture);
    try {
      for (const [name, body] of Object.entries(cases)) {
        await t.step(name, () => arena.attack((frontend) => body(frontend, arena)));
      }
    } finally {
      arena.close();
    }
  });
}

/** Negotiates REPLY_ACK only, so each following request can be acked. */
async function withAcks(frontend: VhostUserFrontend): Promise<void> {
  await frontend.getFeatures();
  await frontend.setProtocolFeatures(bit(ProtocolFeature.REPLY_ACK));
}

/** The request must fail with a non-zero ack, and the connection must survive it. */
async function expectRefused(
  frontend: VhostUserFrontend,
  code: number,
  payload: Uint8Array,
  fds: number[] = [],
) {
  const status = await frontend.ack(code, payload, fds);
  assert.notEqual(status, 0n, "the backend acked a hostile request with 0 (success)");
  assert.ok((await frontend.getFeatures()) > 0n, "connection still serves");
}

/** Runs body with fresh eventfds and closes our copies afterwards (the backend has its own). */
async function withEventFds<T>(count: number, body: (fds: number[]) => Promise<T>): Promise<T> {
  const fds = Array.from({ length: count }, () => createEventFd());
  try {
    return await body(fds);
  } finally {
    fds.forEach(closeQuietly);
  }
}

Deno.test("malformed headers and framing close the connection", async (t) => {
  await inArena(t, {
    "version 0 in the flags": async (f) => {
      f.sendRaw(encodeMessage(Request.GET_FEATURES, 0));
      await f.expectClosed();
    },
    "version 2 in the flags": async (f) => {
      f.sendRaw(encodeMessage(Request.GET_FEATURES, 2));
      await f.expectClosed();
    },
    "the reply flag on a request": async (f, arena) => {
      f.sendRaw(encodeMessage(Request.SET_OWNER, FLAG_VERSION | 0x4));
      await f.expectClosed();
      assert.match(arena.lastDisconnectReason(), /flags/);
    },
    "a payload size no request has": async (f, arena) => {
      const header = encodeMessage(Request.SET_FEATURES, FLAG_VERSION);
      new DataView(header.buffer).setUint32(8, 0x1000_0000, true);
      f.sendRaw(header);
      await f.expectClosed();
      assert.match(arena.lastDisconnectReason(), /payload/);
    },
    "more than 8 fds on one message": async (f) => {
      await withEventFds(16, async (fds) => {
        // Header and payload sent apart, 8 fds with each: 16 fds for one message.
        const message = encodeMessage(Request.SET_FEATURES, FLAG_VERSION, encodeU64(0n));
        f.sendRaw(message.subarray(0, HEADER_SIZE), fds.slice(0, 8));
        f.sendRaw(message.subarray(HEADER_SIZE), fds.slice(8));
        await f.expectClosed();
      });
    },
    "a message cut off mid-payload, with an fd, then a hang-up": async (f) => {
      await withEventFds(1, (fds) => {
        const message = encodeMessage(Request.SET_VRING_ADDR, FLAG_VERSION, new Uint8Array(40));
        f.sendRaw(message.subarray(0, HEADER_SIZE + 10), fds);
        // The disconnect in attack() ends it; the backend must close the fd it was holding.
        return Promise.resolve();
      });
    },
    "a header cut off, then a hang-up": (f) => {
      f.sendRaw(encodeMessage(Request.GET_FEATURES, FLAG_VERSION).subarray(0, 5));
      return Promise.resolve();
    },
  });
});

Deno.test("short payloads, unknown requests and stray fds get failure replies; the connection survives", async (t) => {
  await inArena(t, {
    "payloads shorter than their request needs": async (f) => {
      await withAcks(f);
      await expectRefused(f, Request.SET_FEATURES, new Uint8Array(4));
      await expectRefused(f, Request.SET_VRING_NUM, new Uint8Array(4));
      await expectRefused(f, Request.SET_VRING_ADDR, new Uint8Array(39));
      await expectRefused(f, Request.SET_VRING_CALL, new Uint8Array(0));
      await expectRefused(f, Request.SET_CONFIG, new Uint8Array(11));
      const base = await f.request(Request.GET_VRING_BASE, new Uint8Array(2));
      assert.equal(base!.payload.length, 0, "GET_VRING_BASE with a short payload answers empty");
    },
    "SET_CONFIG whose size field is larger than its data": async (f) => {
      await withAcks(f);
      const config = encodeConfig(8, new Uint8Array(4)).subarray(0, 12); // says 4 bytes, carries none
      await expectRefused(f, Request.SET_CONFIG, config);
    },
    "GET_CONFIG outside the config space": async (f) => {
      await withAcks(f);
      const reply = await f.request(Request.GET_CONFIG, encodeConfig(0, new Uint8Array(300)));
      assert.equal(reply!.payload.length, 0);
    },
    "unknown request codes, with and without need_reply, with fds": async (f) => {
      await withAcks(f);
      await withEventFds(3, async (fds) => {
        await f.request(1000, new Uint8Array(16), fds); // no reply wanted: none comes
        await expectRefused(f, 1000, new Uint8Array(16), fds);
        await expectRefused(f, 0x7fff_ffff, new Uint8Array(0), fds);
      });
    },
    "fds on requests that take none are closed": async (f) => {
      await withAcks(f);
      await withEventFds(4, async (fds) => {
        assert.equal(await f.ack(Request.SET_OWNER, new Uint8Array(0), fds), 0n);
        const reply = await f.request(Request.GET_FEATURES, new Uint8Array(0), fds.slice(0, 2));
        assert.equal(reply!.payload.length, 8);
        // A "no fd" flag with an fd attached anyway: the fd is not kept.
        assert.equal(await f.ack(Request.SET_VRING_CALL, encodeU64(0n | (1n << 8n)), fds.slice(0, 1)), 0n);
      });
    },
  });
});

Deno.test("hostile memory tables are refused", async (t) => {
  const table = async (f: VhostUserFrontend, regions: RegionDescription[], fds: number[], count?: number) => {
    await withAcks(f);
    await expectRefused(f, Request.SET_MEM_TABLE, encodeMemTable(regions, count), fds);
  };
  const withMemFd = <T>(body: (fd: number) => Promise<T>) => {
    const fd = createMemFd("hostile", 1 << 20);
    return body(fd).finally(() => closeQuietly(fd));
  };
  const region = (overrides: Partial<RegionDescription> = {}): RegionDescription => ({
    guestPhysAddr: 0x4000_0000n,
    sizeBytes: 1 << 20,
    userspaceAddr: 0x7f00_0000_0000n,
    mmapOffset: 0,
    ...overrides,
  });
  await inArena(t, {
    "more regions than fds": (f) =>
      withMemFd((fd) => table(f, [region(), region({ guestPhysAddr: 0n })], [fd])),
    "more fds than regions": (f) => withMemFd((fd) => table(f, [region()], [fd, fd])),
    "zero regions": (f) => withMemFd((fd) => table(f, [], [fd])),
    "more regions than the table holds": (f) =>
      withMemFd((fd) => {
        const many = Array.from({ length: 8 }, (_, i) => region({ guestPhysAddr: BigInt(i) << 32n }));
        return table(f, many, Array(8).fill(fd), MAX_MEM_TABLE_REGIONS + 1);
      }),
    "a region count larger than the payload": (f) => withMemFd((fd) => table(f, [region()], [fd, fd], 2)),
    "a region of size 0": (f) => withMemFd((fd) => table(f, [region({ sizeBytes: 0 })], [fd])),
    "a region of size 2^64-1": (f) => withMemFd((fd) => table(f, [region({ sizeBytes: U64_MAX })], [fd])),
    "guest address + size overflows": (f) =>
      withMemFd((fd) => table(f, [region({ guestPhysAddr: U64_MAX - 4095n, sizeBytes: 8192 })], [fd])),
    "userspace address + size overflows": (f) =>
      withMemFd((fd) => table(f, [region({ userspaceAddr: U64_MAX - 4095n, sizeBytes: 8192 })], [fd])),
    "an mmap offset near 2^64": (f) =>
      withMemFd((fd) => table(f, [region({ mmapOffset: U64_MAX - 4095n })], [fd])),
    "a region whose fd is not mappable (an eventfd)": (f) =>
      withEventFds(1, (fds) => table(f, [region()], fds)),
    "ADD_MEM_REG without its fd": async (f) => {
      await withAcks(f);
      await expectRefused(f, Request.ADD_MEM_REG, encodeMemReg(region()));
    },
    "ADD_MEM_REG of size 2^64-1": (f) =>
      withMemFd(async (fd) => {
        await withAcks(f);
        await expectRefused(f, Request.ADD_MEM_REG, encodeMemReg(region({ sizeBytes: U64_MAX })), [fd]);
      }),
    "REM_MEM_REG of a region that was never added, with an fd": (f) =>
      withMemFd(async (fd) => {
        await withAcks(f);
        await expectRefused(f, Request.REM_MEM_REG, encodeMemReg(region()), [fd]);
      }),
  });
});

Deno.test("hostile vring set-up is refused", async (t) => {
  /** Negotiated, with memory, but the ring not yet set up. */
  const prepared = async (f: VhostUserFrontend) => {
    await f.connect({ ...VICTIM, acks: "every-message" });
  };
  await inArena(t, {
    "queue sizes that are 0, not a power of 2, or too large": async (f) => {
      await prepared(f);
      for (const size of [0, 3, 1000, 1 << 16, 0xffff_ffff]) {
        await expectRefused(f, Request.SET_VRING_NUM, encodeVringState(0, size));
      }
    },
    "a ring base beyond 16 bits": async (f) => {
      await prepared(f);
      await expectRefused(f, Request.SET_VRING_BASE, encodeVringState(0, 0x1_0000));
    },
    "a queue index the device does not have, on every vring request": async (f) => {
      await prepared(f);
      await expectRefused(f, Request.SET_VRING_NUM, encodeVringState(200, 8));
      await expectRefused(f, Request.SET_VRING_BASE, encodeVringState(200, 0));
      await expectRefused(f, Request.SET_VRING_ENABLE, encodeVringState(200, 1));
      await expectRefused(f, Request.SET_VRING_ADDR, encodeVringAddr(200, f.queue(0).ring.addresses));
      await withEventFds(3, async ([kick, call, err]) => {
        await expectRefused(f, Request.SET_VRING_KICK, encodeU64(200n), [kick]);
        await expectRefused(f, Request.SET_VRING_CALL, encodeU64(255n), [call]);
        await expectRefused(f, Request.SET_VRING_ERR, encodeU64(1n), [err]);
      });
      const base = await f.request(Request.GET_VRING_BASE, encodeVringState(200, 0));
      assert.equal(base!.payload.length, 0);
    },
    "ring addresses outside memory, straddling its end, or given as guest-physical": async (f) => {
      await prepared(f);
      const ring = f.queue(0).ring;
      const region = f.memory.regions[0];
      const end = region.userspaceAddr + BigInt(region.sizeBytes);
      const good = ring.addresses;
      for (
        const bad of [
          { ...good, descriptorTable: end },
          { ...good, availRing: end - 4n },
          { ...good, usedRing: end - 8n },
          { ...good, usedRing: U64_MAX - 7n },
          // What a backend that mixes the two address spaces would accept:
          { ...good, descriptorTable: ring.descriptorTable.guestPhysAddr },
        ]
      ) {
        await expectRefused(f, Request.SET_VRING_ADDR, encodeVringAddr(0, bad));
      }
    },
    "SET_VRING_ADDR before SET_VRING_NUM": async (f) => {
      await withAcks(f);
      await expectRefused(
        f,
        Request.SET_VRING_ADDR,
        encodeVringAddr(0, { descriptorTable: 0n, availRing: 0n, usedRing: 0n }),
      );
    },
    "a kick fd that cannot be watched (a memfd)": async (f) => {
      await prepared(f);
      const memfd = createMemFd("not-an-eventfd", 4096);
      try {
        await expectRefused(f, Request.SET_VRING_KICK, encodeU64(0n), [memfd]);
      } finally {
        closeQuietly(memfd);
      }
    },
  });
});

/** A ring attack: the guest side writes something hostile, publishes and kicks. */
type RingAttack = (ring: DriverRing, memory: GuestMemory, arena: Arena) => Promise<void> | void;

function descriptorChain(ring: DriverRing, descriptors: Descriptor[]): number {
  const ids = ring.reserveDescriptors(descriptors.length);
  descriptors.forEach((d, i) =>
    ring.writeDescriptor(ids[i], { ...d, next: d.next < 0 ? ids[-d.next - 1] : d.next })
  );
  ring.pushAvail(ids[0]);
  return ids[0];
}

/** An indirect table in guest memory holding these descriptors. */
function indirectTable(memory: GuestMemory, descriptors: Descriptor[]): { addr: bigint; len: number } {
  const table = memory.allocate(16 * Math.max(descriptors.length, 1), 16);
  const view = viewOf(table);
  descriptors.forEach((d, i) => writeDescriptorInto(view, i, d));
  return { addr: table.guestPhysAddr, len: 16 * descriptors.length };
}

const READ = 0;
const { NEXT, WRITE, INDIRECT } = DescriptorFlag;

/** A valid 8-byte buffer descriptor, the harmless part of a hostile chain. */
function smallBuffer(memory: GuestMemory, flags = READ): Descriptor {
  return { addr: memory.allocate(8).guestPhysAddr, len: 8, flags, next: 0 };
}

Deno.test("hostile descriptor chains and ring indices break only their ring", async (t) => {
  const attacks: Record<string, RingAttack> = {
    "a descriptor beyond the end of guest memory": (ring, memory) => {
      const r = memory.regions[0];
      descriptorChain(ring, [{
        addr: r.guestPhysAddr + BigInt(r.sizeBytes),
        len: 16,
        flags: WRITE,
        next: 0,
      }]);
    },
    "a descriptor straddling the end of guest memory": (ring, memory) => {
      const r = memory.regions[0];
      descriptorChain(ring, [{
        addr: r.guestPhysAddr + BigInt(r.sizeBytes) - 8n,
        len: 16,
        flags: READ,
        next: 0,
      }]);
    },
    "a descriptor address given as frontend-virtual": (ring, memory) => {
      descriptorChain(ring, [{ addr: memory.allocate(16).userspaceAddr, len: 16, flags: READ, next: 0 }]);
    },
    "a descriptor length of 2^32-1": (ring, memory) => {
      descriptorChain(ring, [{
        addr: memory.allocate(16).guestPhysAddr,
        len: 0xffff_ffff,
        flags: WRITE,
        next: 0,
      }]);
    },
    "a descriptor address near 2^64": (ring) => {
      descriptorChain(ring, [{ addr: U64_MAX - 15n, len: 16, flags: READ, next: 0 }]);
    },
    "a descriptor that links to itself": (ring, memory) => {
      const b = memory.allocate(16).guestPhysAddr;
      descriptorChain(ring, [{ addr: b, len: 16, flags: READ | NEXT, next: -1 }]);
    },
    "two descriptors in a loop": (ring, memory) => {
      const b = memory.allocate(16).guestPhysAddr;
      descriptorChain(ring, [
        { addr: b, len: 8, flags: READ | NEXT, next: -2 },
        { addr: b, len: 8, flags: READ | NEXT, next: -1 },
      ]);
    },
    "a next index outside the table": (ring, memory) => {
      descriptorChain(ring, [{
        addr: memory.allocate(16).guestPhysAddr,
        len: 16,
        flags: READ | NEXT,
        next: 300,
      }]);
    },
    "a head index outside the table": (ring) => ring.pushAvail(300),
    "a device-readable descriptor after a device-writable one": (ring, memory) => {
      const b = memory.allocate(16).guestPhysAddr;
      descriptorChain(ring, [
        { addr: b, len: 8, flags: WRITE | NEXT, next: -2 },
        { addr: b + 8n, len: 8, flags: READ, next: 0 },
      ]);
    },
    "an indirect table longer than the queue": (ring, memory) => {
      const b = memory.allocate(16).guestPhysAddr;
      const entries = Array.from(
        { length: 32 },
        (_, i) => ({ addr: b, len: 1, flags: i < 31 ? NEXT : 0, next: i + 1 }),
      );
      const table = indirectTable(memory, entries);
      descriptorChain(ring, [{ ...table, flags: INDIRECT, next: 0 }]);
    },
    "an indirect descriptor inside an indirect table": (ring, memory) => {
      const inner = indirectTable(memory, [smallBuffer(memory)]);
      const outer = indirectTable(memory, [{ ...inner, flags: INDIRECT, next: 0 }]);
      descriptorChain(ring, [{ ...outer, flags: INDIRECT, next: 0 }]);
    },
    "an indirect descriptor with NEXT set": (ring, memory) => {
      const table = indirectTable(memory, [smallBuffer(memory)]);
      descriptorChain(ring, [
        { ...table, flags: INDIRECT | NEXT, next: -2 },
        smallBuffer(memory),
      ]);
    },
    "an indirect table of length 0": (ring, memory) => {
      descriptorChain(ring, [{ addr: memory.allocate(16).guestPhysAddr, len: 0, flags: INDIRECT, next: 0 }]);
    },
    "an indirect table length that is not a multiple of 16": (ring, memory) => {
      descriptorChain(ring, [{ addr: memory.allocate(32).guestPhysAddr, len: 24, flags: INDIRECT, next: 0 }]);
    },
    "an indirect table outside guest memory": (ring) => {
      descriptorChain(ring, [{ addr: 0x10n, len: 32, flags: INDIRECT, next: 0 }]);
    },
    "a loop inside an indirect table": (ring, memory) => {
      const b = memory.allocate(8).guestPhysAddr;
      const table = indirectTable(memory, [
        { addr: b, len: 8, flags: READ | NEXT, next: 1 },
        { addr: b, len: 8, flags: READ | NEXT, next: 0 },
      ]);
      descriptorChain(ring, [{ ...table, flags: INDIRECT, next: 0 }]);
    },
    "a next index outside an indirect table": (ring, memory) => {
      const b = memory.allocate(8).guestPhysAddr;
      const table = indirectTable(memory, [{ addr: b, len: 8, flags: READ | NEXT, next: 5 }]);
      descriptorChain(ring, [{ ...table, flags: INDIRECT, next: 0 }]);
    },
    "the avail idx jumping by more than the queue size": (ring) => {
      ring.setAvailIdx(ring.availIdx + 17);
    },
    "the avail idx going backwards": (ring) => {
      ring.setAvailIdx(ring.availIdx - 1);
    },
    "a head made available again while the device still holds it": (ring, memory, arena) => {
      arena.victim.device.holdChains = true;
      const b = memory.allocate(8);
      const head = ring.add({ readable: [b] });
      ring.publish();
      ring.pushAvail(head);
    },
  };
  await inArena(
    t,
    Object.fromEntries(
      Object.entries(attacks).map(([name, attack]) => [name, async (f: VhostUserFrontend, arena: Arena) => {
        await f.connect(VICTIM);
        const client = new EchoClient(f);
        assert.deepEqual(await client.echoOne(pattern(8)), pattern(8));
        const ring = f.queue(0).ring;
        const usedBefore = ring.usedIdx;
        await attack(ring, f.memory, arena);
        ring.publish();
        f.kick(0);
        await f.sync();
        assert.equal(f.takeErrors(0), 1n, "the err eventfd tells the frontend the ring broke");
        assert.equal(ring.usedIdx, usedBefore, "nothing was returned from a broken ring");
        // Later kicks are ignored until the frontend restarts the ring.
        f.kick(0);
        await f.sync();
        assert.equal(ring.usedIdx, usedBefore);
        // Recovery as a frontend would do it: stop, drop what the guest made available, restart.
        arena.victim.device.holdChains = false;
        const base = await f.getVringBase(0);
        ring.setAvailIdx(base);
        await f.restartQueue(0, base);
        assert.deepEqual(await client.echoOne(pattern(9)), pattern(9));
      }]),
    ),
  );
});

Deno.test("a kick fd whose peer hung up does not make the backend spin", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, VICTIM);
    const [mine, theirs] = socketPair();
    try {
      await frontend.setVringKick(0, theirs);
      const watched = fixture.loop.watchCount;
      closeQuietly(mine); // the kick "eventfd" is now a socket at end-of-file: readable forever
      // A level-triggered epoll set would report that fd on every wait, for ever (a spin). The
      // backend must notice once, drop it from the set and report the ring broken.
      await backend.waitForLog(
        (r) => String(r.message).includes("kick fd is not a working eventfd"),
        "kick dropped",
      );
      assert.equal(fixture.loop.watchCount, watched - 1, "the dead kick fd left the epoll set");
      assert.equal(frontend.takeErrors(0), 1n, "the err eventfd tells the frontend the ring broke");
      await frontend.sync(); // the connection itself keeps working
    } finally {
      closeQuietly(mine);
      closeQuietly(theirs);
    }
  });
});

Deno.test("a memory region larger than its fd is refused, not mapped past the end of the file", async () => {
  // In a child process: touching a mapping past the end of its file is SIGBUS, which would end
  // this test runner with it.
  const directory = Deno.makeTempDirSync({ prefix: "sfpemu-sigbus-" });
  const path = `${directory}/victim.sock`;
  const child = new BackendProcess([path]);
  try {
    await child.waitForLine("ready");
    using frontend = new VhostUserFrontend(path);
    await withAcks(frontend);
    const fd = createMemFd("small", 1 << 20);
    try {
      // 1 MiB of file described as 64 MiB of guest RAM, the rings placed 32 MiB in.
      const region = {
        guestPhysAddr: 0x4000_0000n,
        sizeBytes: 64 << 20,
        userspaceAddr: 0x7f00_0000_0000n,
        mmapOffset: 0,
      };
      const memTable = await frontend.ack(Request.SET_MEM_TABLE, encodeMemTable([region]), [fd]);
      if (memTable === 0n) {
        await frontend.ack(Request.SET_VRING_NUM, encodeVringState(0, 8));
        const rings = region.userspaceAddr + (32n << 20n);
        const addr = await frontend.request(
          Request.SET_VRING_ADDR,
          encodeVringAddr(0, {
            descriptorTable: rings,
            availRing: rings + 0x1000n,
            usedRing: rings + 0x2000n,
          }),
          [],
          { flags: FLAG_VERSION | FLAG_NEED_REPLY },
        ).then((reply) => `status ${reply && decodeU64(reply.payload)}`, (error) => String(error));
        const alive = await frontend.getFeatures().then(() => true, () => false);
        if (!alive) {
          const { status, stderr } = await child.exit();
          assert.fail(
            `backend process died (signal ${status.signal}, code ${status.code}) after a 64 MiB region ` +
              `on a 1 MiB memfd was accepted; SET_VRING_ADDR: ${addr}; stderr: ${stderr.slice(-300)}`,
          );
        }
        assert.fail(`a region larger than its file was accepted (SET_VRING_ADDR: ${addr})`);
      }
      assert.ok((await frontend.getFeatures()) > 0n);
    } finally {
      closeQuietly(fd);
    }
  } finally {
    child.kill("SIGKILL");
    await child.child.status;
    Deno.removeSync(directory, { recursive: true });
  }
});

Deno.test("a call fd that nobody reads does not block the backend", async () => {
  // In a child process: a backend blocked in write() would hang this test runner too.
  const directory = Deno.makeTempDirSync({ prefix: "sfpemu-callfd-" });
  const [victimPath, bystanderPath] = [`${directory}/victim.sock`, `${directory}/bystander.sock`];
  const child = new BackendProcess([victimPath, bystanderPath]);
  const [mine, theirs] = socketPair(); // blocking sockets; `mine` is never read
  try {
    await child.waitForLine("ready");
    using victim = await VhostUserFrontend.start(victimPath, { queues: [{ size: 16 }] });
    using bystander = await VhostUserFrontend.start(bystanderPath, VICTIM);
    victim.timeoutMs = 3000;
    await victim.setVringCall(0, theirs);
    const client = new EchoClient(victim);
    const ring = victim.queue(0).ring;
    const requests = 3000; // far more calls than a socket buffer holds
    for (let i = 0; i < requests; i++) {
      ring.add(client.chainFor(0, pattern(4, i)));
      victim.publish(0);
      // Calls go to the unread socket, so the used ring itself is watched.
      await victim.pollUsed(0).catch(async (error) => {
        child.kill("SIGKILL");
        const { stderr } = await child.exit();
        assert.fail(
          `backend stopped serving after ${i} calls into an unread call fd: ${error}\n${stderr.slice(-800)}`,
        );
      });
    }
    assert.deepEqual(await new EchoClient(bystander).echoOne(pattern(5)), pattern(5));
  } finally {
    closeQuietly(mine);
    closeQuietly(theirs);
    child.kill("SIGKILL");
    await child.child.status;
    Deno.removeSync(directory, { recursive: true });
  }
});
