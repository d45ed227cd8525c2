// Interrupt buffers the virtio-gpio device holds (the guest queued them on the eventq for lines
// with an interrupt type; the device keeps each until its line fires or the interrupt is disabled)
// while the frontend changes the memory table under them: REM_MEM_REG of their region, a new
// SET_MEM_TABLE without that region, or one that maps it again (new mappings of the same guest
// memory). A real board (LabBoard on a real socket, memfd guest memory, eventfds); the buffers lie
// in a second memfd, as hot-added RAM, so the rings and the requestq's buffers stay mapped.
// What must hold (vhost-user.rst "Memory access"; QEMU re-sends the whole table on every change):
// a held buffer is found again by its guest address in the new table and completed there; one
// that is no longer mapped breaks the ring (the err eventfd fires) and is dropped. Firing or
// cancelling it later never throws (not out of a plug or an unplug, not out of a guest request)
// and never writes into memory that is no longer the guest's.
import assert from "node:assert/strict";
import { type CageLine, cageLineIndex } from "../../src/board/board.ts";
import {
  type BoardFixture,
  DEADLINE_MS,
  GUEST_MODES,
  type GuestMode,
  withBoard,
} from "../board/board-fixture.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import {
  GpioClient,
  GpioIrqType,
  IRQ_STATUS_INVALID,
  IRQ_STATUS_VALID,
  UNTOUCHED_RESPONSE_BYTE,
  validInterrupt,
} from "../support/gpio-client.ts";
import { type GuestBuffer, GuestMemory, MiB } from "../support/guest-memory.ts";

const EVENT_QUEUE = 1;
const PROFILE = "sfp-10gbase-sr";
const line = (cageId: number, signal: CageLine) => cageLineIndex(cageId, signal);
/** Held buffers and what ends each: the lab unplugs cage 2, plugs cage 3, the guest drives cage 2's TX_DISABLE, disables cage 5's interrupt. */
const UNPLUGGED = line(2, "mod-abs");
const PLUGGED = line(3, "mod-abs");
const DRIVEN = line(2, "tx-disable");
const CANCELLED = line(5, "mod-abs");

/** A second memfd, as QEMU adds RAM (a DIMM): addresses far from the first one's. */
function hotplugMemory(): GuestMemory {
  return new GuestMemory({
    sizeBytes: 1 * MiB,
    name: "hotplug-ram",
    regions: [{
      guestPhysAddr: 0x2_0000_0000n,
      userspaceAddr: 0x7e10_0000_0000n,
      sizeBytes: 1 * MiB,
      mmapOffset: 0,
    }],
  });
}

interface HeldBuffer {
  head: number;
  response: GuestBuffer;
}

class Guest implements Disposable {
  readonly gpio: GpioClient;
  readonly held = new Map<number, HeldBuffer>();

  constructor(
    readonly fixture: BoardFixture,
    readonly frontend: VhostUserFrontend,
    readonly hotplug: GuestMemory,
    readonly mode: GuestMode,
  ) {
    this.gpio = new GpioClient(frontend);
  }

  /** Connects with the hot-added memory in the table, as QEMU has it after a DIMM was plugged. */
  static async connect(fixture: BoardFixture, mode: GuestMode): Promise<Guest> {
    const modern = mode === "modern";
    const frontend = new VhostUserFrontend(fixture.board.spec.sockets.gpio, { timeoutMs: DEADLINE_MS });
    const guest = new Guest(fixture, frontend, hotplugMemory(), mode);
    try {
      await frontend.connect({
        queues: [{ size: 256 }, { size: 256 }],
        legacy: !modern,
        eventIdx: modern,
        indirect: modern,
      });
      await frontend.setMemTable(guest.table());
    } catch (error) {
      guest[Symbol.dispose]();
      throw error;
    }
    return guest;
  }

  /** The whole memory table: the boot RAM and the hot-added memfd. */
  table() {
    return [...this.frontend.memory.regions, ...this.hotplug.regions];
  }

  /**
   * Enables EDGE_BOTH on a line and queues its interrupt buffer pair (le16 line, u8 status) in
   * the hot-added memory, as gpio-virtio's virtio_gpio_irq_prepare() does; the device holds it.
   */
  async hold(lineIndex: number): Promise<void> {
    assert.ok(await this.gpio.setIrqType(lineIndex, GpioIrqType.EDGE_BOTH));
    const request = this.hotplug.allocate(2, 64);
    const response = this.hotplug.allocate(1, 64);
    new DataView(request.bytes.buffer, request.bytes.byteOffset, 2).setUint16(0, lineIndex, true);
    response.bytes[0] = UNTOUCHED_RESPONSE_BYTE;
    const head = this.frontend.queue(EVENT_QUEUE).ring.add({
      readable: [request],
      writable: [response],
      indirect: this.mode === "modern",
    });
    this.frontend.publish(EVENT_QUEUE);
    await this.frontend.sync(); // the backend is in this process: the kick is handled by now
    assert.ok(this.fixture.board.gpioDevice.armedLines().includes(lineIndex), "the device holds the buffer");
    this.held.set(lineIndex, { head, response });
  }

  [Symbol.dispose](): void {
    this.frontend.disconnect();
    this.hotplug.close();
  }
}

/** Runs fn and returns what it printed with console.error (the sfp model's listener guard prints there). */
function consoleErrorsOf(fn: () => void): string[] {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  try {
    fn();
  } finally {
    console.error = original;
  }
  return printed;
}

/** Holds four buffers whose region the memory change then takes away. */
async function holdFour(fixture: BoardFixture, guest: Guest): Promise<void> {
  fixture.plug(2, PROFILE);
  assert.ok(await guest.gpio.directionOutput(DRIVEN, 0), "the guest drives cage 2's TX_DISABLE low");
  for (const l of [UNPLUGGED, PLUGGED, DRIVEN, CANCELLED]) await guest.hold(l);
  assert.equal(guest.frontend.takeErrors(EVENT_QUEUE), 0n);
}

/**
 * The buffers' region is gone: the eventq is broken (said once on its err eventfd); the guest's
 * requests that change or disable a held line are answered and take effect; the lab's unplug and
 * plug that fire held lines complete normally; no buffer is written or returned; the device lets
 * go of them; and once the frontend restarts the eventq interrupts work again.
 */
async function expectDroppedSafely(fixture: BoardFixture, guest: Guest): Promise<void> {
  const { gpio, frontend } = guest;
  const eventRing = frontend.queue(EVENT_QUEUE).ring;
  assert.equal(frontend.takeErrors(EVENT_QUEUE), 1n, "the err eventfd says the eventq broke");

  assert.ok(await gpio.setValue(DRIVEN, 1), "the guest drives TX_DISABLE high: answered OK");
  assert.equal(fixture.planes.cage(2)!.module!.txDisabled, true, "and the module saw it");
  assert.ok(await gpio.setIrqType(CANCELLED, GpioIrqType.NONE), "IRQ_TYPE NONE is answered OK");

  const removed = fixture.count("module-removed");
  fixture.planes.cage(2)!.unplug(); // the lab's unplug (an API DELETE .../module): must not throw
  assert.equal(fixture.count("module-removed"), removed + 1, "the unplug was published");
  const printed = consoleErrorsOf(() => fixture.plug(3, PROFILE)); // the lab's plug (an API PUT)
  assert.deepEqual(printed, [], "no listener of the plug failed");
  assert.equal(await gpio.getValue(UNPLUGGED), 1, "cage 2 reads empty");
  assert.equal(await gpio.getValue(PLUGGED), 0, "cage 3 reads present");

  await frontend.sync();
  assert.deepEqual(eventRing.takeUsed(), [], "nothing came back on the broken eventq");
  for (const [l, { response }] of guest.held) {
    assert.equal(
      response.bytes[0],
      UNTOUCHED_RESPONSE_BYTE,
      `line ${l}: no write into memory that left the table`,
    );
  }
  const device = fixture.board.gpioDevice;
  assert.equal(device.counters.interrupts, 0, "no interrupt was delivered");
  // Recovery as a frontend does it: stop the eventq, restart it; interrupts work again.
  const base = await frontend.getVringBase(EVENT_QUEUE);
  assert.deepEqual(device.armedLines(), [], "the device holds no buffer of the stopped ring");
  eventRing.setAvailIdx(base);
  await frontend.restartQueue(EVENT_QUEUE, base);
  assert.ok(await gpio.setIrqType(PLUGGED, GpioIrqType.EDGE_BOTH));
  gpio.unmask(PLUGGED);
  fixture.planes.cage(3)!.unplug();
  assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(PLUGGED)]);
}

for (const mode of GUEST_MODES) {
  Deno.test(`regression (gpio, ${mode}): held interrupt buffers whose region is removed (REM_MEM_REG) are dropped, never written`, async () => {
    await withBoard(async (fixture) => {
      using guest = await Guest.connect(fixture, mode);
      await holdFour(fixture, guest);
      await guest.frontend.remMemReg(guest.hotplug.regions[0]);
      await expectDroppedSafely(fixture, guest);
    });
  });

  Deno.test(`regression (gpio, ${mode}): held interrupt buffers a new SET_MEM_TABLE no longer maps are dropped, never written`, async () => {
    await withBoard(async (fixture) => {
      using guest = await Guest.connect(fixture, mode);
      await holdFour(fixture, guest);
      await guest.frontend.setMemTable(guest.frontend.memory.regions);
      await expectDroppedSafely(fixture, guest);
    });
  });

  Deno.test(`gpio (${mode}): held interrupt buffers are completed through the new mappings after SET_MEM_TABLE maps them again`, async () => {
    await withBoard(async (fixture) => {
      using guest = await Guest.connect(fixture, mode);
      const { frontend } = guest;
      await guest.hold(PLUGGED);
      await guest.hold(CANCELLED);
      // QEMU re-sends the whole table on any change: every region is mapped anew.
      await frontend.setMemTable(guest.table());
      assert.equal(frontend.takeErrors(EVENT_QUEUE), 0n, "nothing broke");
      fixture.plug(3, PROFILE);
      const fired = await frontend.waitForUsed(EVENT_QUEUE, 1);
      const plugged = guest.held.get(PLUGGED)!;
      assert.deepEqual(fired.map((u) => [u.id, u.len]), [[plugged.head, 1]]);
      assert.equal(plugged.response.bytes[0], IRQ_STATUS_VALID, "the interrupt, in the guest's buffer");
      await frontend.setMemTable(guest.table());
      assert.ok(await guest.gpio.setIrqType(CANCELLED, GpioIrqType.NONE));
      const cancelled = guest.held.get(CANCELLED)!;
      assert.deepEqual((await frontend.waitForUsed(EVENT_QUEUE, 1)).map((u) => [u.id, u.len]), [[
        cancelled.head,
        1,
      ]]);
      assert.equal(
        cancelled.response.bytes[0],
        IRQ_STATUS_INVALID,
        "handed back invalid, in the guest's buffer",
      );
      assert.equal(frontend.takeErrors(EVENT_QUEUE), 0n, "nothing broke");
    });
  });
}
