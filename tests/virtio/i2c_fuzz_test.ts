// Fuzzing of what a guest can put in the virtio-i2c request queue of a real board (LabBoard over a
// real unix socket, memfd guest memory, eventfds; modules in cage 1 behind the PCA9548 at 0x70
// and cage 9 behind the one at 0x71). Each run publishes a batch of random chains and kicks:
// requests built from an out header of random size, address and flags, data of random length and
// direction (writes to 0x50, 0x51 and the muxes with random bytes), a status of random size, each
// buffer maybe cut in two, direct or behind an indirect table; among them maybe a chain that
// breaks the ring (addresses outside the memory table, a 2^32-1 length, loops, next or head outside
// the table, a readable after a writable, nested, chained, empty, ragged, outside or too long
// indirect tables) or an avail index that jumps, goes back or takes any value.
// Properties: the used ring holds exactly the heads the device could take, in order (everything
// before the first ring-breaking chain), each with the length the device wrote (its writable
// bytes) and a status of OK or ERR; a failed read holds idle-bus bytes; what an acknowledged
// request did agrees with a model of the board (mux control registers, the A0h pointer of each
// module, wired-AND reads of A0h, no answer from an address nobody holds); a broken ring is
// reported on the err eventfd exactly then, and serves again once restarted; the A0h images never
// change (A0h is read-only); the backend logs no error; and a Linux-like transfer works after
// every run.
import assert from "node:assert/strict";
import { cageI2cLocation } from "../../src/board/board.ts";
import { DEADLINE_MS, GUEST_MODES, type GuestMode, withBoard } from "../board/board-fixture.ts";
import {
  type Descriptor,
  DescriptorFlag,
  type DriverRing,
  viewOf,
  writeDescriptorInto,
} from "../support/driver-ring.ts";
import { type GuestBuffer, sliceBuffer } from "../support/guest-memory.ts";
import {
  I2C_FLAG_FAIL_NEXT,
  I2C_FLAG_M_RD,
  I2C_STATUS_ERR,
  I2C_STATUS_OK,
  I2cClient,
  readMessage,
  writeMessage,
} from "../support/i2c-client.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import { bytes, fc, fuzz } from "../support/fuzz.ts";

const SEEDS: Record<GuestMode, number> = { modern: 0x12c_0001, legacy: 0x12c_0002 };
const RUNS = 1500;
const QUEUE_SIZE = 64;
const A0 = 0x50;
const A2 = 0x51;
const MUXES = [0x70, 0x71] as const;
/** The two modules and where they sit: cage 1 on 0x70 channel 0, cage 9 on 0x71 channel 0. */
const CAGES = [{ cage: 1, profile: "sfp-10gbase-sr" }, { cage: 9, profile: "sfp-1000base-lx" }] as const;
const NOBODY = 0x42;
const ARENA_SIZE = 512 * 1024;
const { NEXT, WRITE, INDIRECT } = DescriptorFlag;

// ---- what a run is made of -----------------------------------------------------------------------

interface RequestSpec {
  kind: "request";
  /** Bytes of the out header (8 is right); the address field and flags go where they fit. */
  headerSize: number;
  /** The le16 address field: the 7-bit address shifted left, or anything. */
  wire: number;
  flags: number;
  /** Device-readable data after the header (a write's bytes). */
  writeData: Uint8Array;
  /** Device-writable room before the status (a read's buffer). */
  readLength: number;
  /** Device-writable bytes at the end (1 is right). */
  statusSize: number;
  /** Per buffer (header, write data, read data, status): where to cut it in two (0: not cut). */
  cuts: [number, number, number, number];
  indirect: boolean;
}

const HOSTILE_SHAPES = [
  "outside-memory",
  "straddling-the-end",
  "frontend-virtual-address",
  "address-near-2^64",
  "length-2^32-1",
  "self-loop",
  "two-loop",
  "next-outside-table",
  "head-outside-table",
  "readable-after-writable",
  "nested-indirect",
  "indirect-with-next",
  "indirect-length-0",
  "indirect-length-ragged",
  "indirect-outside-memory",
  "indirect-loop",
  "indirect-next-outside",
  "indirect-longer-than-queue",
] as const;
type HostileShape = (typeof HOSTILE_SHAPES)[number];

type ChainSpec = RequestSpec | { kind: "hostile"; shape: HostileShape; offset: number };

/** How the avail index is published: right, or moved by more than the queue, back, or anywhere. */
type AvailMode = { kind: "normal" } | { kind: "jump" } | { kind: "back" } | { kind: "any"; idx: number };

interface Batch {
  chains: ChainSpec[];
  avail: AvailMode;
}

const addressArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(A0, A2, ...MUXES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7f }) },
);
const wireArb = fc.oneof(
  { weight: 8, arbitrary: addressArb.map((a) => a << 1) },
  { weight: 1, arbitrary: addressArb.map((a) => (a << 1) | 1) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const requestArb: fc.Arbitrary<RequestSpec> = fc.boolean().chain((isRead) =>
  fc.record({
    kind: fc.constant("request" as const),
    headerSize: fc.oneof({ weight: 12, arbitrary: fc.constant(8) }, {
      weight: 1,
      arbitrary: fc.constantFrom(0, 1, 2, 4, 7, 9, 16),
    }),
    wire: wireArb,
    flags: fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom(0, I2C_FLAG_FAIL_NEXT).map((f) => f | (isRead ? I2C_FLAG_M_RD : 0)),
      },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) },
    ),
    writeData: isRead
      ? fc.oneof({ weight: 8, arbitrary: fc.constant(new Uint8Array(0)) }, {
        weight: 1,
        arbitrary: bytes(4, 1),
      })
      : fc.oneof({ weight: 8, arbitrary: bytes(20) }, { weight: 1, arbitrary: bytes(300) }),
    readLength: isRead
      ? fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 64 }) },
        { weight: 1, arbitrary: fc.constantFrom(256, 257, 8192, 8193, 9000) },
      )
      : fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, {
        weight: 1,
        arbitrary: fc.integer({ min: 1, max: 4 }),
      }),
    statusSize: fc.oneof({ weight: 10, arbitrary: fc.constant(1) }, {
      weight: 1,
      arbitrary: fc.constantFrom(0, 2),
    }),
    cuts: fc.tuple(
      ...Array.from({ length: 4 }, () => fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }))),
    ) as fc.Arbitrary<[number, number, number, number]>,
    indirect: fc.boolean(),
  })
);
const hostileArb: fc.Arbitrary<ChainSpec> = fc.record({
  kind: fc.constant("hostile" as const),
  shape: fc.constantFrom(...HOSTILE_SHAPES),
  offset: fc.integer({ min: 0, max: 1 << 20 }),
});
const batchArb: fc.Arbitrary<Batch> = fc.record({
  chains: fc.array(
    fc.oneof({ weight: 6, arbitrary: requestArb }, { weight: 1, arbitrary: hostileArb }),
    { minLength: 1, maxLength: 5 },
  ),
  avail: fc.oneof(
    { weight: 12, arbitrary: fc.constant({ kind: "normal" as const }) },
    { weight: 1, arbitrary: fc.constantFrom({ kind: "jump" as const }, { kind: "back" as const }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("any" as const), idx: fc.integer({ min: 0, max: 0xffff }) }),
    },
  ),
});

// ---- writing a batch into guest memory ---------------------------------------------------------

/** One buffer of a chain as the driver lays it out. */
interface Part {
  buffer: GuestBuffer;
  writable: boolean;
}

/** Guest memory for one run's buffers: carved from one allocation, from its start each run. */
class Arena {
  #next = 0;
  constructor(readonly space: GuestBuffer) {}

  reset(): void {
    this.#next = 0;
  }

  take(size: number): GuestBuffer {
    const start = Math.ceil(this.#next / 16) * 16;
    if (start + size > this.space.sizeBytes) throw new RangeError(`arena full: ${size} bytes wanted`);
    this.#next = start + size;
    return sliceBuffer(this.space, start, size);
  }
}

/** What one request put in memory, to read the device's answer back. */
interface Placed {
  spec: ChainSpec;
  head: number;
  parts: Part[];
}

class BatchWriter {
  #nextDescriptor = 0;
  constructor(readonly ring: DriverRing, readonly arena: Arena) {}

  /** Writes the chain and returns its head (in the ring's descriptor table). */
  place(spec: ChainSpec): Placed {
    if (spec.kind === "hostile") return { spec, head: this.#hostile(spec), parts: [] };
    const parts = this.#requestParts(spec);
    const descriptors = parts.map((p) => ({
      addr: p.buffer.guestPhysAddr,
      len: p.buffer.sizeBytes,
      flags: p.writable ? WRITE : 0,
      next: 0,
    }));
    return { spec, head: this.#chain(descriptors, spec.indirect), parts };
  }

  #requestParts(spec: RequestSpec): Part[] {
    const header = this.arena.take(spec.headerSize);
    const headerView = viewOf(header);
    if (spec.headerSize >= 2) headerView.setUint16(0, spec.wire, true);
    if (spec.headerSize >= 8) headerView.setUint32(4, spec.flags, true);
    const write = this.arena.take(spec.writeData.length);
    write.bytes.set(spec.writeData);
    const read = this.arena.take(spec.readLength);
    read.bytes.fill(0xa5);
    const status = this.arena.take(spec.statusSize);
    status.bytes.fill(0xee);
    const parts: Part[] = [];
    const add = (buffer: GuestBuffer, writable: boolean, cut: number) => {
      if (buffer.sizeBytes === 0) return;
      const at = cut % buffer.sizeBytes;
      if (at === 0) return void parts.push({ buffer, writable });
      parts.push({ buffer: sliceBuffer(buffer, 0, at), writable });
      parts.push({ buffer: sliceBuffer(buffer, at, buffer.sizeBytes - at), writable });
    };
    add(header, false, spec.cuts[0]);
    add(write, false, spec.cuts[1]);
    add(read, true, spec.cuts[2]);
    add(status, true, spec.cuts[3]);
    // A chain needs one buffer; an empty header is then a zero-length descriptor.
    if (parts.length === 0) parts.push({ buffer: header, writable: false });
    return parts;
  }

  /** Links descriptors into the ring's table (direct) or an indirect table; returns the head. */
  #chain(descriptors: Descriptor[], indirect: boolean): number {
    const base = indirect ? 0 : this.#nextDescriptor;
    const linked = descriptors.map((d, i) =>
      i < descriptors.length - 1 ? { ...d, flags: d.flags | NEXT, next: base + i + 1 } : d
    );
    if (!indirect) return this.#direct(linked);
    const table = this.#table(linked);
    return this.#direct([{ addr: table.guestPhysAddr, len: table.sizeBytes, flags: INDIRECT, next: 0 }]);
  }

  /** Writes descriptors as they are at the next free slots of the ring's table; returns the first. */
  #direct(descriptors: Descriptor[]): number {
    const first = this.#nextDescriptor;
    if (first + descriptors.length > this.ring.size) {
      throw new RangeError("batch needs more descriptors than the queue");
    }
    descriptors.forEach((d, i) => this.ring.writeDescriptor(first + i, d));
    this.#nextDescriptor += descriptors.length;
    return first;
  }

  #table(descriptors: Descriptor[]): GuestBuffer {
    const table = this.arena.take(16 * Math.max(descriptors.length, 1));
    const view = viewOf(table);
    descriptors.forEach((d, i) => writeDescriptorInto(view, i, d));
    return sliceBuffer(table, 0, 16 * descriptors.length);
  }

  #hostile({ shape, offset }: { shape: HostileShape; offset: number }): number {
    const small = () => this.arena.take(8).guestPhysAddr;
    const region = this.ring.memory.regions[0];
    const end = region.guestPhysAddr + BigInt(region.sizeBytes);
    const one = (d: Partial<Descriptor>) =>
      this.#direct([{ addr: small(), len: 8, flags: 0, next: 0, ...d }]);
    const indirect = (entries: Descriptor[], extra: Partial<Descriptor> = {}) => {
      const table = this.#table(entries);
      return one({ addr: table.guestPhysAddr, len: table.sizeBytes, flags: INDIRECT, ...extra });
    };
    const here = this.#nextDescriptor;
    switch (shape) {
      case "outside-memory":
        return one({ addr: end + BigInt(offset), flags: WRITE });
      case "straddling-the-end":
        return one({ addr: end - 4n, len: 8 + offset });
      case "frontend-virtual-address":
        return one({ addr: this.arena.take(8).userspaceAddr });
      case "address-near-2^64":
        return one({ addr: (1n << 64n) - 1n - BigInt(offset % 4096) });
      case "length-2^32-1":
        return one({ len: 0xffff_ffff, flags: WRITE });
      case "self-loop":
        return one({ flags: NEXT, next: here });
      case "two-loop":
        this.#direct([{ addr: small(), len: 8, flags: NEXT, next: here + 1 }]);
        this.#direct([{ addr: small(), len: 8, flags: NEXT, next: here }]);
        return here;
      case "next-outside-table":
        return one({ flags: NEXT, next: this.ring.size + (offset % 1000) });
      case "head-outside-table":
        return this.ring.size + (offset % (0x1_0000 - this.ring.size));
      case "readable-after-writable":
        this.#direct([{ addr: small(), len: 8, flags: WRITE | NEXT, next: here + 1 }]);
        this.#direct([{ addr: small(), len: 8, flags: 0, next: 0 }]);
        return here;
      case "nested-indirect": {
        const inner = this.#table([{ addr: small(), len: 8, flags: 0, next: 0 }]);
        return indirect([{ addr: inner.guestPhysAddr, len: inner.sizeBytes, flags: INDIRECT, next: 0 }]);
      }
      case "indirect-with-next":
        return indirect([{ addr: small(), len: 8, flags: 0, next: 0 }], {
          flags: INDIRECT | NEXT,
          next: here,
        });
      case "indirect-length-0":
        return one({ len: 0, flags: INDIRECT });
      case "indirect-length-ragged":
        return one({
          addr: this.arena.take(32).guestPhysAddr,
          len: 1 + (offset % 15) + 16 * (offset % 2),
          flags: INDIRECT,
        });
      case "indirect-outside-memory":
        return one({ addr: end + BigInt(offset), len: 32, flags: INDIRECT });
      case "indirect-loop":
        return indirect([
          { addr: small(), len: 8, flags: NEXT, next: 1 },
          { addr: small(), len: 8, flags: NEXT, next: 0 },
        ]);
      case "indirect-next-outside":
        return indirect([{ addr: small(), len: 8, flags: NEXT, next: 2 + (offset % 100) }]);
      case "indirect-longer-than-queue": {
        const b = small();
        const count = this.ring.size + 1;
        return indirect(
          Array.from(
            { length: count },
            (_, i) => ({ addr: b, len: 1, flags: i < count - 1 ? NEXT : 0, next: i + 1 }),
          ),
        );
      }
    }
  }
}

// ---- the model of the board's bus --------------------------------------------------------------

/** What the guest can know of the bus: mux control registers and each module's A0h pointer. */
class BusModel {
  readonly control = new Map<number, number>(MUXES.map((m) => [m, 0]));
  readonly pointers: number[] = CAGES.map(() => 0);
  constructor(readonly images: readonly Uint8Array[]) {}

  /** Modules whose channel is open (both on channel 0 of their mux). */
  #reachable(): number[] {
    return CAGES.map((_, i) => i).filter((i) => (this.control.get(MUXES[i])! & 1) !== 0);
  }

  /** An acknowledged request: checks what it read against the model and applies what it did. */
  acknowledged(address: number, isRead: boolean, data: Uint8Array, what: string): void {
    const reachable = this.#reachable();
    if (this.control.has(address)) {
      if (isRead) {
        const control = this.control.get(address)!;
        assert.ok(
          data.every((b) => b === control),
          `${what}: mux 0x${address.toString(16)} read ${hex(data)}`,
        );
      } else if (data.length > 0) {
        this.control.set(address, data[data.length - 1]);
      }
      return;
    }
    if (address === A0 || address === A2) {
      assert.ok(
        reachable.length > 0,
        `${what}: 0x${address.toString(16)} answered with every cage channel closed`,
      );
      if (address !== A0) return;
      if (isRead) {
        const expected = data.map((_, i) =>
          reachable.reduce((and, m) => and & this.images[m][(this.pointers[m] + i) % 256], 0xff)
        );
        assert.deepEqual(hex(data), hex(expected), `${what}: A0h read (wired-AND of the open cages)`);
        for (const m of reachable) this.pointers[m] = (this.pointers[m] + data.length) % 256;
      } else if (data.length > 0) {
        for (const m of reachable) this.pointers[m] = (data[0] + data.length - 1) % 256;
      }
      return;
    }
    assert.fail(`${what}: address 0x${address.toString(16)}, where nothing is, acknowledged`);
  }
}

function hex(data: Uint8Array): string {
  return [...data].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Checks one request's used element and status, and feeds an acknowledged one to the model. */
function checkAnswered(placed: Placed, usedLength: number, model: BusModel, what: string): void {
  const writable = concat(placed.parts.filter((p) => p.writable).map((p) => p.buffer.bytes));
  const readable = concat(placed.parts.filter((p) => !p.writable).map((p) => p.buffer.bytes));
  assert.equal(usedLength, writable.length, `${what}: used length is every writable byte (data and status)`);
  if (writable.length === 0) return;
  const status = writable[writable.length - 1];
  assert.ok(status === I2C_STATUS_OK || status === I2C_STATUS_ERR, `${what}: status ${status}`);
  const data = writable.subarray(0, writable.length - 1);
  if (status === I2C_STATUS_ERR) {
    assert.ok(data.every((b) => b === 0xff), `${what}: a failed request's read room holds idle-bus bytes`);
    return;
  }
  assert.ok(readable.length >= 8, `${what}: acknowledged without an 8-byte header`);
  const view = new DataView(readable.buffer, readable.byteOffset);
  const isRead = (view.getUint32(4, true) & I2C_FLAG_M_RD) !== 0;
  const writeData = readable.subarray(8);
  assert.ok(isRead ? writeData.length === 0 : data.length === 0, `${what}: acknowledged with data both ways`);
  model.acknowledged(view.getUint16(0, true) >> 1, isRead, isRead ? data : writeData, what);
}

// ---- a run ------------------------------------------------------------------------------------

/** Ends any FAIL_NEXT group, then sets and checks a known state: the model starts from it. */
async function resync(client: I2cClient, model: BusModel): Promise<void> {
  await client.quick(NOBODY); // no FAIL_NEXT: a group a run left open ends here (and fails)
  // Cage 9 alone: its A0h pointer to 0.
  const [near, far] = CAGES.map(({ cage }) => cageI2cLocation(cage));
  await client.selectChannels(near.muxAddress, 0);
  await client.selectChannels(far.muxAddress, 1 << far.channel);
  assert.ok(await client.write(A0, 0), "cage 9's A0h takes its pointer");
  await client.selectChannels(far.muxAddress, 0);
  await client.selectChannels(near.muxAddress, 1 << near.channel);
  // Cage 1 alone: the identifier, as a Linux driver reads it (pointer 0, then one byte).
  const result = await client.transfer([writeMessage(A0, 0), readMessage(A0, 1)]);
  assert.ok(result.ok, "a Linux-like transfer after the run");
  assert.equal(result.messages[1].data[0], model.images[0][0], "cage 1's identifier");
  model.control.set(near.muxAddress, 1 << near.channel);
  model.control.set(far.muxAddress, 0);
  model.pointers[0] = 1;
  model.pointers[1] = 0;
}

/**
 * What a frontend does with a broken ring: stop it, drop what the guest made available, restart
 * it. No new SET_VRING_ERR, as QEMU 7.2 sends it only once, at init: the backend keeps the err
 * eventfd over a ring stop, so later runs' "the err eventfd fires exactly when the ring broke"
 * checks that too.
 */
async function restartRing(frontend: VhostUserFrontend): Promise<void> {
  const base = await frontend.getVringBase(0);
  frontend.queue(0).ring.setAvailIdx(base);
  await frontend.restartQueue(0, base);
  frontend.takeErrors(0);
}

async function play(frontend: VhostUserFrontend, arena: Arena, batch: Batch, model: BusModel): Promise<void> {
  const ring = frontend.queue(0).ring;
  arena.reset();
  const writer = new BatchWriter(ring, arena);
  const placed = batch.chains.map((spec) => writer.place(spec));
  const start = ring.nextAvailIdx;
  for (const p of placed) ring.pushAvail(p.head);
  if (batch.avail.kind === "normal") ring.publish();
  else if (batch.avail.kind === "jump") ring.setAvailIdx(start + ring.size + 1);
  else if (batch.avail.kind === "back") ring.setAvailIdx(start - 1);
  else ring.setAvailIdx(batch.avail.idx);
  frontend.kick(0);
  await frontend.sync(); // the backend is in this process: the kick is handled by now
  const used = ring.takeUsed();
  const errors = frontend.takeErrors(0);
  for (const element of used) {
    assert.ok(element.id < ring.size, `used id ${element.id} is not a descriptor of the queue`);
  }
  if (batch.avail.kind === "normal") {
    const firstHostile = placed.findIndex((p) => p.spec.kind === "hostile");
    const served = firstHostile < 0 ? placed : placed.slice(0, firstHostile);
    assert.deepEqual(used.map((e) => e.id), served.map((p) => p.head), "used heads, in order");
    assert.equal(errors, firstHostile < 0 ? 0n : 1n, "the err eventfd fires exactly when the ring broke");
    served.forEach((p, i) =>
      checkAnswered(p, used[i].len, model, `request ${i} ${JSON.stringify(p.spec, replacer)}`)
    );
  } else if (batch.avail.kind !== "any") {
    assert.deepEqual(used, [], "nothing is served when the avail index moved by more than the queue");
    assert.equal(errors, 1n, "the err eventfd fires");
  }
  if (errors > 0n) await restartRing(frontend);
  // With any avail index, the device took what it said from slots of earlier runs: the model
  // knows nothing of that, and the next run's resync sets a known bus again.
}

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? hex(value) : value;
}

for (const mode of GUEST_MODES) {
  Deno.test(`fuzz (${mode}): random virtio-i2c chains break at most their ring; the bus and A0h stay consistent`, async () => {
    await withBoard(async (fixture) => {
      const modules = CAGES.map(({ cage, profile }) => fixture.plug(cage, profile));
      const images = modules.map((m) => m.a0().slice());
      // A larger queue than QEMU's 4, so a batch holds several direct chains and hostile ones.
      using frontend = new VhostUserFrontend(fixture.board.spec.sockets.i2c, { timeoutMs: DEADLINE_MS });
      const modern = mode === "modern";
      await frontend.connect({
        queues: [{ size: QUEUE_SIZE }],
        legacy: !modern,
        eventIdx: modern,
        indirect: modern,
      });
      const client = new I2cClient(frontend);
      const arena = new Arena(frontend.memory.allocate(ARENA_SIZE, 64));
      const model = new BusModel(images);
      await resync(client, model);
      const logsBefore = fixture.logs.length;
      await fuzz(
        { name: `virtio-i2c chains (${mode})`, seed: SEEDS[mode], numRuns: RUNS },
        batchArb,
        async (batch) => {
          // A run after a failed one starts from a known bus too.
          await resync(client, model);
          await play(frontend, arena, batch, model);
          modules.forEach((m, i) =>
            assert.deepEqual(m.a0(), images[i], `cage ${CAGES[i].cage}'s A0h is unchanged`)
          );
          await resync(client, model);
          const errors = fixture.logs.slice(logsBefore).filter((r) => r.level === "error");
          assert.deepEqual(errors, [], "the backend logged no error");
        },
      );
      // The whole A0h of both modules, read the way the sfp driver does.
      for (const [i, { cage }] of CAGES.entries()) {
        const { muxAddress, channel } = cageI2cLocation(cage);
        for (const mux of MUXES) await client.selectChannels(mux, mux === muxAddress ? 1 << channel : 0);
        assert.deepEqual(await client.readDevice(A0), images[i]);
      }
    }, { cageCount: 10 });
  });
}
