// Fuzzing of what a guest can put in the virtio-gpio queues of a real board (LabBoard over a real
// unix socket, memfd guest memory, eventfds; a module in cage 2). Each run is one guest session:
// a batch of random requests (types known and unknown, lines in and out of range, random values
// and IRQ types, requests and responses of random size, maybe a chain that breaks the ring), then
// random interrupt buffers on the eventq (lines in and out of range, odd sizes), then more
// requests.
// Properties: the device answers exactly the requests before a ring-breaking chain, in order, with
// the length a response has and a status of OK or ERR; refuses short requests, lines it does not
// have, unknown types, values and IRQ types; line directions and values read back as a model of the
// controller says (a direction read is the last one set, an output reads the value driven, a
// module-driven line refuses to be driven, MOD_ABS of the occupied cage reads 0); every eventq
// buffer comes back at most once, with a status of VALID or INVALID, INVALID at once for a line it
// does not have, a line without an interrupt type or a second buffer for the same line; the err
// eventfd fires exactly when the ring broke; the backend logs no error; and a fresh session works.
import assert from "node:assert/strict";
import { cageLineIndex } from "../../src/board/board.ts";
import { DEADLINE_MS, GUEST_MODES, type GuestMode, withBoard } from "../board/board-fixture.ts";
import type { UsedElement } from "../support/driver-ring.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import {
  GpioClient,
  GpioIrqType,
  GpioRequestType,
  IRQ_STATUS_INVALID,
  IRQ_STATUS_VALID,
} from "../support/gpio-client.ts";
import type { GuestBuffer } from "../support/guest-memory.ts";
import { DisconnectCounter, fc, fuzz } from "../support/fuzz.ts";

const SEEDS: Record<GuestMode, number> = { modern: 0x6910_0001, legacy: 0x6910_0002 };
const RUNS = 500;
const CAGE = 2;
const CAGES = 10;
const LINES = CAGES * 6;
const QUEUE_SIZE = 256;
const STATUS_OK = 0;
const STATUS_ERR = 1;
const IRQ_TYPES: readonly number[] = Object.values(GpioIrqType);
/** Lines the module drives (inputs to the host): per cage mod-abs, rx-los, tx-fault. */
const MODULE_DRIVEN = new Set(
  Array.from({ length: CAGES }, (_, i) => [0, 1, 2].map((k) => i * 6 + k)).flat(),
);
const DIRECTIONS = ["none", "out", "in"] as const;

interface RequestSpec {
  kind: "request";
  type: number;
  line: number;
  value: number;
  /** Bytes of the request (8 is right). */
  requestSize: number;
  /** Device-writable room (2 is right; GET_NAMES wants 1 + gpio_names_size: -1 says that). */
  responseSize: number;
}
type RequestChain = RequestSpec | { kind: "outside-memory" };

interface IrqBufferSpec {
  line: number;
  /** Bytes of the le16 line (2 is right) and of the status (1 is right). */
  lineSize: number;
  statusSize: number;
}

interface Session {
  first: RequestChain[];
  buffers: IrqBufferSpec[];
  then: RequestChain[];
}

const lineArb = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: LINES - 1 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(cageLineIndex(CAGE, "mod-abs"), cageLineIndex(CAGE, "tx-disable")),
  },
  { weight: 1, arbitrary: fc.constantFrom(LINES, LINES + 1, 0xff, 0x100, 0xffff) },
);
const requestArb: fc.Arbitrary<RequestSpec> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 6 }) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.constantFrom(0, 7, 0x7f, 0x8000), fc.integer({ min: 0, max: 0xffff })),
  },
).chain((type) =>
  fc.record({
    kind: fc.constant("request" as const),
    type: fc.constant(type),
    line: lineArb,
    value: fc.oneof(
      {
        weight: 8,
        arbitrary: type === GpioRequestType.IRQ_TYPE
          ? fc.constantFrom(...IRQ_TYPES)
          : fc.constantFrom(0, 1, 2),
      },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom(3, 5, 6, 7, 9, 0xff, 0x100, 0xffff_ffff), fc.nat()) },
    ),
    requestSize: fc.oneof({ weight: 12, arbitrary: fc.constant(8) }, {
      weight: 1,
      arbitrary: fc.constantFrom(0, 1, 2, 4, 7, 9, 16),
    }),
    responseSize: type === GpioRequestType.GET_NAMES
      ? fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, {
        weight: 1,
        arbitrary: fc.constantFrom(0, 1, 2, 100),
      })
      : fc.oneof({ weight: 10, arbitrary: fc.constant(2) }, {
        weight: 1,
        arbitrary: fc.constantFrom(0, 1, 3, 64),
      }),
  })
);
const chainsArb = fc.array(
  fc.oneof({ weight: 30, arbitrary: requestArb }, {
    weight: 1,
    arbitrary: fc.constant({ kind: "outside-memory" as const }),
  }),
  { maxLength: 24 },
);
const sessionArb: fc.Arbitrary<Session> = fc.record({
  first: chainsArb,
  buffers: fc.array(
    fc.record({
      line: lineArb,
      lineSize: fc.oneof({ weight: 10, arbitrary: fc.constant(2) }, {
        weight: 1,
        arbitrary: fc.constantFrom(0, 1, 3),
      }),
      statusSize: fc.oneof({ weight: 10, arbitrary: fc.constant(1) }, {
        weight: 1,
        arbitrary: fc.constantFrom(0, 2),
      }),
    }),
    { maxLength: 12 },
  ),
  then: chainsArb,
});

/** What the guest can know of the controller: directions, driven values, interrupt types. */
class ControllerModel {
  readonly direction: (typeof DIRECTIONS)[number][] = Array(LINES).fill("in");
  readonly value: (number | undefined)[] = Array(LINES).fill(undefined);
  readonly irqType: number[] = Array(LINES).fill(GpioIrqType.NONE);
  /** Lines whose eventq buffer the device holds. */
  readonly armed = new Set<number>();
}

/** One request as placed in guest memory. */
interface Placed {
  spec: RequestChain;
  head: number;
  response: GuestBuffer | undefined;
}

function placeRequests(frontend: VhostUserFrontend, chains: RequestChain[], namesSize: number): Placed[] {
  const memory = frontend.memory;
  const ring = frontend.queue(0).ring;
  return chains.map((spec): Placed => {
    if (spec.kind === "outside-memory") {
      const [head] = ring.reserveDescriptors(1);
      const region = memory.regions[0];
      ring.writeDescriptor(head, {
        addr: region.guestPhysAddr + BigInt(region.sizeBytes),
        len: 8,
        flags: 0,
        next: 0,
      });
      ring.pushAvail(head);
      return { spec, head, response: undefined };
    }
    const request = memory.allocate(Math.max(spec.requestSize, 1), 16);
    const view = new DataView(request.bytes.buffer, request.bytes.byteOffset, request.sizeBytes);
    const full = new Uint8Array(8);
    const fullView = new DataView(full.buffer);
    fullView.setUint16(0, spec.type, true);
    fullView.setUint16(2, spec.line, true);
    fullView.setUint32(4, spec.value >>> 0, true);
    for (let i = 0; i < spec.requestSize; i++) view.setUint8(i, full[i % 8]);
    const room = spec.responseSize < 0 ? 1 + namesSize : spec.responseSize;
    const response = room > 0 ? memory.allocate(room, 16) : undefined;
    response?.bytes.fill(0xee);
    // A zero-length request is a zero-length descriptor.
    const readable = [{ ...request, sizeBytes: spec.requestSize }];
    const head = ring.add({ readable, writable: response ? [response] : [], indirect: false });
    return { spec, head, response };
  });
}

/** Checks the answers to one batch against the model (in order) and updates it. */
function checkRequests(
  placed: Placed[],
  used: UsedElement[],
  errors: bigint,
  model: ControllerModel,
  namesSize: number,
): void {
  const firstBroken = placed.findIndex((p) => p.spec.kind === "outside-memory");
  const served = firstBroken < 0 ? placed : placed.slice(0, firstBroken);
  assert.deepEqual(used.map((e) => e.id), served.map((p) => p.head), "used heads, in order");
  assert.equal(errors, firstBroken < 0 ? 0n : 1n, "the err eventfd fires exactly when the ring broke");
  served.forEach((p, i) => {
    const spec = p.spec as RequestSpec;
    const what = `request ${i} ${JSON.stringify(spec)}`;
    const room = p.response?.sizeBytes ?? 0;
    if (room === 0) return assert.equal(used[i].len, 0, `${what}: no room, nothing written`);
    const [status, value] = p.response!.bytes;
    assert.ok(status === STATUS_OK || status === STATUS_ERR, `${what}: status ${status}`);
    const names = spec.type === GpioRequestType.GET_NAMES && status === STATUS_OK;
    assert.equal(used[i].len, names ? 1 + namesSize : Math.min(2, room), `${what}: used length`);
    const ok = status === STATUS_OK;
    if (spec.requestSize < 8) return assert.ok(!ok, `${what}: a short request is refused`);
    if (spec.type === GpioRequestType.GET_NAMES) {
      return assert.equal(
        ok,
        room >= 1 + namesSize,
        `${what}: GET_NAMES works exactly with room for the names`,
      );
    }
    const line = spec.line;
    if (line >= LINES) return assert.ok(!ok, `${what}: a line the controller does not have`);
    const known = room >= 2;
    switch (spec.type) {
      case GpioRequestType.GET_DIRECTION:
        assert.ok(ok, `${what}: GET_DIRECTION`);
        if (known) assert.equal(DIRECTIONS[value], model.direction[line], `${what}: direction read back`);
        return;
      case GpioRequestType.SET_DIRECTION:
        if (spec.value > 2) return assert.ok(!ok, `${what}: no such direction`);
        if (MODULE_DRIVEN.has(line) && spec.value === 1) {
          return assert.ok(!ok, `${what}: a module-driven line`);
        }
        if (!ok) return;
        model.direction[line] = DIRECTIONS[spec.value];
        if (spec.value === 0) {
          // §5.20.6: direction none forgets the value and the interrupt.
          model.value[line] = undefined;
          model.irqType[line] = GpioIrqType.NONE;
          model.armed.delete(line);
        }
        return;
      case GpioRequestType.GET_VALUE:
        assert.ok(ok, `${what}: GET_VALUE`);
        if (!known) return;
        assert.ok(value === 0 || value === 1, `${what}: a level of ${value}`);
        if (line === cageLineIndex(CAGE, "mod-abs")) assert.equal(value, 0, `${what}: MOD_ABS with a module`);
        if (model.direction[line] === "out" && model.value[line] !== undefined) {
          assert.equal(value, model.value[line], `${what}: an output reads the value driven`);
        }
        return;
      case GpioRequestType.SET_VALUE:
        if (spec.value > 1) return assert.ok(!ok, `${what}: a value beyond 1`);
        if (MODULE_DRIVEN.has(line)) return assert.ok(!ok, `${what}: a module-driven line`);
        if (ok) model.value[line] = spec.value;
        return;
      case GpioRequestType.IRQ_TYPE:
        assert.equal(ok, IRQ_TYPES.includes(spec.value), `${what}: IRQ types`);
        if (ok) {
          model.irqType[line] = spec.value;
          if (spec.value === GpioIrqType.NONE) model.armed.delete(line);
        }
        return;
      default:
        assert.ok(!ok, `${what}: an unknown request type`);
    }
  });
}

/** The interrupt buffers a session queued: head -> its spec, until the device gives it back. */
type Queued = Map<number, { spec: IrqBufferSpec; response: GuestBuffer | undefined }>;

function placeBuffers(frontend: VhostUserFrontend, specs: IrqBufferSpec[], queued: Queued): number[] {
  const memory = frontend.memory;
  const ring = frontend.queue(1).ring;
  return specs.map((spec) => {
    const request = memory.allocate(Math.max(spec.lineSize, 1), 16);
    const bytes = [spec.line & 0xff, spec.line >> 8, 0];
    request.bytes.set(bytes.slice(0, spec.lineSize));
    const response = spec.statusSize > 0 ? memory.allocate(spec.statusSize, 16) : undefined;
    response?.bytes.fill(0xee);
    const readable = [{ ...request, sizeBytes: spec.lineSize }];
    const head = ring.add({ readable, writable: response ? [response] : [], indirect: false });
    queued.set(head, { spec, response });
    return head;
  });
}

/** Checks returned interrupt buffers; returns the heads that came back. */
function checkReturned(used: UsedElement[], queued: Queued, model: ControllerModel): Set<number> {
  const back = new Set<number>();
  for (const element of used) {
    const entry = queued.get(element.id);
    assert.ok(
      entry,
      `the device returned eventq head ${element.id}, which is not queued (or came back before)`,
    );
    queued.delete(element.id);
    back.add(element.id);
    const { spec, response } = entry;
    const what = `eventq buffer ${JSON.stringify(spec)}`;
    assert.equal(element.len, Math.min(1, response?.sizeBytes ?? 0), `${what}: used length`);
    if (!response) continue;
    const status = response.bytes[0];
    assert.ok(status === IRQ_STATUS_VALID || status === IRQ_STATUS_INVALID, `${what}: status ${status}`);
    if (status === IRQ_STATUS_VALID) {
      assert.ok(
        spec.line < LINES && spec.lineSize >= 2,
        `${what}: an interrupt on a line that does not exist`,
      );
      assert.notEqual(
        model.irqType[spec.line],
        GpioIrqType.NONE,
        `${what}: an interrupt on a line without one`,
      );
    }
    if (spec.line < LINES) model.armed.delete(spec.line);
  }
  return back;
}

async function kickAndTake(
  frontend: VhostUserFrontend,
  queue: number,
): Promise<{ used: UsedElement[]; errors: bigint }> {
  frontend.publish(queue);
  frontend.kick(queue);
  await frontend.sync(); // the backend is in this process: the kick is handled by now
  return { used: frontend.queue(queue).ring.takeUsed(), errors: frontend.takeErrors(queue) };
}

async function playSession(client: GpioClient, session: Session, namesSize: number): Promise<void> {
  const frontend = client.frontend;
  const model = new ControllerModel();
  const queued: Queued = new Map();
  const requests = async (chains: RequestChain[]) => {
    const placed = placeRequests(frontend, chains, namesSize);
    const { used, errors } = await kickAndTake(frontend, 0);
    checkRequests(placed, used, errors, model, namesSize);
    // Interrupts the requests completed (IRQ_TYPE NONE, direction none, or one that fired).
    checkReturned(frontend.queue(1).ring.takeUsed(), queued, model);
    return errors === 0n;
  };
  if (!(await requests(session.first))) return;
  const heads = placeBuffers(frontend, session.buffers, queued);
  const before = new Set(model.armed);
  const { used } = await kickAndTake(frontend, 1);
  const back = checkReturned(used, queued, model);
  heads.forEach((head, i) => {
    const spec = session.buffers[i];
    const what = `eventq buffer ${i} ${JSON.stringify(spec)}`;
    const refusable = spec.line >= LINES || spec.lineSize < 2 || spec.statusSize < 1 ||
      model.irqType[spec.line] === GpioIrqType.NONE;
    if (refusable) assert.ok(back.has(head), `${what}: given back at once`);
    if (!back.has(head) && spec.line < LINES) {
      assert.ok(!before.has(spec.line), `${what}: a second buffer for line ${spec.line} is held`);
      model.armed.add(spec.line);
    }
  });
  await requests(session.then);
}

for (const mode of GUEST_MODES) {
  Deno.test(`fuzz (${mode}): random virtio-gpio requests and interrupt buffers are answered as the controller says`, async () => {
    await withBoard(async (fixture) => {
      fixture.plug(CAGE, "sfp-10gbase-sr");
      using gone = new DisconnectCounter(fixture.events);
      const modern = mode === "modern";
      const path = fixture.board.spec.sockets.gpio;
      const logsBefore = fixture.logs.length;
      await fuzz(
        { name: `virtio-gpio requests (${mode})`, seed: SEEDS[mode], numRuns: RUNS },
        sessionArb,
        async (session) => {
          const disconnects = gone.count("gpio");
          const frontend = new VhostUserFrontend(path, { timeoutMs: DEADLINE_MS });
          try {
            const queues = [{ size: QUEUE_SIZE }, { size: QUEUE_SIZE }];
            await frontend.connect({ queues, legacy: !modern, eventIdx: modern, indirect: modern });
            const client = new GpioClient(frontend);
            const config = await client.config();
            assert.equal(config.ngpio, LINES);
            await playSession(client, session, config.namesSize);
          } finally {
            frontend.disconnect();
            await gone.waitFor("gpio", disconnects + 1, DEADLINE_MS);
          }
          // A fresh session: the controller at power-on, the module seen.
          using fresh = new VhostUserFrontend(path, { timeoutMs: DEADLINE_MS });
          await fresh.connect({
            queues: [{ size: QUEUE_SIZE }, { size: QUEUE_SIZE }],
            eventIdx: true,
            indirect: true,
          });
          const client = new GpioClient(fresh);
          assert.equal(
            await client.getValue(cageLineIndex(CAGE, "mod-abs")),
            0,
            "MOD_ABS of the occupied cage",
          );
          assert.equal(
            await client.getDirection(cageLineIndex(CAGE, "tx-disable")),
            "in",
            "directions at power-on",
          );
          fresh.disconnect();
          await gone.waitFor("gpio", disconnects + 2, DEADLINE_MS);
          const errors = fixture.logs.slice(logsBefore).filter((r) => r.level === "error");
          assert.deepEqual(errors, [], "the backend logged no error");
        },
      );
    });
  });
}
