// The board's GPIO plane through the whole stack: the board's vhost-user GPIO socket, real memfd
// memory and eventfds, VirtioGpioDevice's requestq and eventq, the GPIO bank and the SFP models,
// driven by a guest-side client that behaves like Linux's gpio-virtio (one buffer pair per line on
// the eventq, queued again after each interrupt). Every test runs for modern and legacy virtio.
import assert from "node:assert/strict";
import { CAGE_LINE_SUFFIXES, type CageLine, cageLineIndex } from "../../src/board/board.ts";
import { bitField } from "../../src/sfp/codec.ts";
import { bitPosition } from "../../src/sfp/field-map.ts";
import { GUEST_MODES, withBoard } from "../board/board-fixture.ts";
import {
  GPIO_STATUS_ERR,
  GPIO_STATUS_OK,
  GpioIrqType,
  GpioRequestType,
  invalidInterrupt,
  IRQ_STATUS_VALID,
  validInterrupt,
} from "../support/gpio-client.ts";

const STATUS_CONTROL = bitField("statusControl");

const line = (cageId: number, signal: CageLine) => cageLineIndex(cageId, signal);

for (const mode of GUEST_MODES) {
  Deno.test(`gpio (${mode}): config space, line names and power-on directions and levels`, async () => {
    await withBoard(async (fixture) => {
      const gpio = await fixture.connectGpio(mode);
      const config = await gpio.config();
      const expectedNames = Array.from(
        { length: 10 },
        (_, cage) => CAGE_LINE_SUFFIXES.map((signal) => `cage${cage + 1}-${signal}`),
      ).flat();
      assert.equal(config.ngpio, 60);
      assert.equal(config.namesSize, expectedNames.reduce((sum, name) => sum + name.length + 1, 0));
      assert.deepEqual(await gpio.names(config), expectedNames);
      for (let i = 0; i < config.ngpio; i++) {
        assert.equal(await gpio.getDirection(i), "in", `${expectedNames[i]} starts undriven by the host`);
      }
      // An empty cage: pull-ups on MOD_ABS, RX_LOS, TX_FAULT and (module side) TX_DISABLE, RS0/RS1 low.
      const levels = [];
      for (const signal of CAGE_LINE_SUFFIXES) levels.push(await gpio.getValue(line(3, signal)));
      assert.deepEqual(levels, [1, 1, 1, 1, 0, 0]);
      // Requests the device cannot serve answer with an error status, never silence.
      const tooSmall = await gpio.request(GpioRequestType.GET_NAMES, 0, 0, 1 + config.namesSize - 1);
      assert.equal(tooSmall.status, GPIO_STATUS_ERR, "GET_NAMES without room for every name");
      assert.equal((await gpio.request(GpioRequestType.GET_VALUE, config.ngpio)).status, GPIO_STATUS_ERR);
      assert.equal((await gpio.request(0x7f, 0)).status, GPIO_STATUS_ERR, "unknown request type");
      const ok = await gpio.request(GpioRequestType.GET_VALUE, 0);
      assert.deepEqual([ok.status, ok.usedLength], [GPIO_STATUS_OK, 2], "a response is exactly 2 bytes");
    });
  });

  Deno.test(`gpio (${mode}): EDGE_BOTH on mod-abs gives exactly one interrupt per plug and per unplug`, async () => {
    await withBoard(async (fixture) => {
      const gpio = await fixture.connectGpio(mode);
      const modAbs = line(5, "mod-abs");
      const neighbour = line(6, "mod-abs");
      for (const l of [modAbs, neighbour]) {
        assert.ok(await gpio.setIrqType(l, GpioIrqType.EDGE_BOTH));
        gpio.unmask(l);
      }
      assert.deepEqual(await gpio.settledInterrupts(), [], "nothing changed yet");
      for (let round = 0; round < 3; round++) {
        fixture.plug(5, "sfp-10gbase-sr");
        const [plugged] = await gpio.waitForInterrupts(1);
        assert.deepEqual(plugged, validInterrupt(modAbs));
        assert.equal(await gpio.getValue(modAbs), 0, "MOD_ABS low: present");
        gpio.unmask(modAbs); // handle_level_irq unmasks: the buffer goes back
        assert.deepEqual(await gpio.settledInterrupts(), [], "one edge, one interrupt");
        fixture.planes.cage(5)!.unplug();
        const [pulled] = await gpio.waitForInterrupts(1);
        assert.deepEqual(pulled, validInterrupt(modAbs));
        assert.equal(await gpio.getValue(modAbs), 1);
        gpio.unmask(modAbs);
        assert.deepEqual(await gpio.settledInterrupts(), []);
      }
      assert.ok(gpio.queued(neighbour), "the other cage's interrupt never fired");
    });
  });

  Deno.test(`gpio (${mode}): LEVEL_HIGH on rx-los fires while the level holds, and is never latched`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(2, "sfp-10gbase-sr");
      const gpio = await fixture.connectGpio(mode);
      const rxLos = line(2, "rx-los");
      assert.equal(await gpio.getValue(rxLos), 0, "light is received");
      assert.ok(await gpio.setIrqType(rxLos, GpioIrqType.LEVEL_HIGH));
      gpio.unmask(rxLos);
      assert.deepEqual(await gpio.settledInterrupts(), []);
      // The fibre is pulled: LOS asserts while the buffer waits.
      module.setDiagnostics({ rxPowerDbm: -40 });
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(rxLos)]);
      // Still high when the driver unmasks: a level interrupt fires again at once.
      gpio.unmask(rxLos);
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(rxLos)]);
      // Light returns while masked; the buffer queued after the change finds the level low.
      module.setDiagnostics({ rxPowerDbm: -3 });
      gpio.unmask(rxLos);
      assert.deepEqual(await gpio.settledInterrupts(), []);
      // An interrupt masks the line again; LOS then pulses while it is masked.
      module.setDiagnostics({ rxPowerDbm: -40 });
      assert.equal((await gpio.waitForInterrupts(1)).length, 1);
      module.setDiagnostics({ rxPowerDbm: -3 });
      module.setDiagnostics({ rxPowerDbm: -40 });
      module.setDiagnostics({ rxPowerDbm: -3 });
      gpio.unmask(rxLos);
      assert.deepEqual(
        await gpio.settledInterrupts(),
        [],
        "a level that came and went while masked is not latched",
      );
      // Pulling the module leaves RX_LOS to the host's pull-up: high, and the waiting buffer fires.
      fixture.planes.cage(2)!.unplug();
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(rxLos)]);
      // The change first, the buffer after: it fires as soon as it is queued.
      const next = fixture.plug(2, "sfp-10gbase-sr");
      assert.equal(await gpio.getValue(rxLos), 0);
      next.forceSignal("rxLos", true);
      gpio.unmask(rxLos);
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(rxLos)]);
    });
  });

  Deno.test(`gpio (${mode}): LEVEL_LOW on mod-abs fires on unmask while a module is present`, async () => {
    await withBoard(async (fixture) => {
      const gpio = await fixture.connectGpio(mode);
      const modAbs = line(7, "mod-abs");
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.LEVEL_LOW));
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.settledInterrupts(), [], "an empty cage: MOD_ABS high");
      fixture.plug(7, "sfp-10gbase-lr");
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(modAbs)]);
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(modAbs)], "still low: again");
      fixture.planes.cage(7)!.unplug();
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.settledInterrupts(), []);
    });
  });

  Deno.test(`gpio (${mode}): an edge while the line is masked is delivered once its buffer arrives, never twice`, async () => {
    await withBoard(async (fixture) => {
      const gpio = await fixture.connectGpio(mode);
      const modAbs = line(1, "mod-abs");
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.EDGE_BOTH));
      fixture.plug(1, "sfp-1000base-lx"); // latched: enabled but masked (§5.20.6.2)
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(modAbs)]);
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.settledInterrupts(), [], "the latched edge was consumed");
      // Two edges while masked are one pending interrupt.
      fixture.planes.cage(1)!.unplug();
      const [first] = await gpio.waitForInterrupts(1);
      assert.equal(first.status, IRQ_STATUS_VALID);
      fixture.plug(1, "sfp-1000base-lx");
      fixture.planes.cage(1)!.unplug();
      gpio.unmask(modAbs);
      assert.equal((await gpio.waitForInterrupts(1)).length, 1);
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.settledInterrupts(), []);
      // A rising-only interrupt ignores the falling edge of a plug.
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.NONE));
      assert.deepEqual(await gpio.waitForInterrupts(1), [invalidInterrupt(modAbs)]);
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.EDGE_RISING));
      gpio.unmask(modAbs);
      fixture.plug(1, "sfp-1000base-lx");
      assert.deepEqual(await gpio.settledInterrupts(), []);
      fixture.planes.cage(1)!.unplug();
      assert.equal((await gpio.waitForInterrupts(1))[0].status, IRQ_STATUS_VALID);
    });
  });

  Deno.test(`gpio (${mode}): IRQ_TYPE NONE returns the queued buffer with status invalid`, async () => {
    await withBoard(async (fixture) => {
      const gpio = await fixture.connectGpio(mode);
      const modAbs = line(4, "mod-abs");
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.EDGE_BOTH));
      gpio.unmask(modAbs);
      await gpio.frontend.sync(); // the buffer is with the device before the interrupt is disabled
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.NONE));
      assert.deepEqual(await gpio.waitForInterrupts(1), [invalidInterrupt(modAbs)]);
      // Disabled: edges are neither delivered nor latched.
      fixture.plug(4, "sfp-10gbase-sr");
      // Unmasking a disabled interrupt hands the buffer straight back, invalid.
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.waitForInterrupts(1), [invalidInterrupt(modAbs)]);
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.EDGE_BOTH));
      gpio.unmask(modAbs);
      assert.deepEqual(await gpio.settledInterrupts(), [], "the plug while disabled was discarded");
      // An unknown trigger type is refused and changes nothing.
      assert.equal(await gpio.setIrqType(modAbs, 5), false);
      fixture.planes.cage(4)!.unplug();
      assert.equal((await gpio.waitForInterrupts(1))[0].status, IRQ_STATUS_VALID);
    });
  });

  Deno.test(`gpio (${mode}): the guest driving TX_DISABLE, RS0 and RS1 is seen by the model and in A2h byte 110`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(4, "sfp-10gbase-sr");
      const gpio = await fixture.connectGpio(mode);
      const i2c = await fixture.connectI2c(mode);
      await i2c.selectChannels(0x70, 1 << 3);
      const statusControl = async () => (await i2c.readAt(0x51, STATUS_CONTROL.offset, 1))![0];
      const bit = (byte: number, name: string) => (byte & bitPosition(STATUS_CONTROL, name)!.mask) !== 0;
      const txDisable = line(4, "tx-disable");
      assert.equal(module.txDisabled, true, "the module's own pull-up keeps the laser off");
      assert.equal(bit(await statusControl(), "txDisablePin"), true);
      assert.ok(await gpio.directionOutput(txDisable, 0));
      assert.equal(await gpio.getDirection(txDisable), "out");
      assert.equal(await gpio.getValue(txDisable), 0);
      assert.equal(module.txDisabled, false);
      assert.equal(bit(await statusControl(), "txDisablePin"), false);
      assert.ok(await gpio.setValue(txDisable, 1));
      assert.equal(module.txDisabled, true);
      assert.equal(bit(await statusControl(), "txDisablePin"), true);
      assert.ok(await gpio.setValue(txDisable, 0));
      assert.equal(module.txDisabled, false);
      for (const [signal, name] of [["rs0", "rs0Pin"], ["rs1", "rs1Pin"]] as const) {
        assert.ok(await gpio.directionOutput(line(4, signal), 1));
        assert.equal(bit(await statusControl(), name), true, `${name} follows the guest`);
      }
      // The guest lets go of the line (gpiod free: direction none): the pull-up turns the laser off.
      assert.ok(await gpio.setDirection(txDisable, "none"));
      assert.equal(await gpio.getDirection(txDisable), "none");
      assert.equal(module.txDisabled, true);
      // A module plugged while the host holds TX_DISABLE low starts with its laser on.
      assert.ok(await gpio.directionOutput(line(5, "tx-disable"), 0));
      const fresh = fixture.plug(5, "sfp-10gbase-lr");
      assert.equal(fresh.txDisabled, false);
      assert.deepEqual(fixture.loopErrors, []);
    });
  });

  Deno.test(`gpio (${mode}): direction none makes a line forget its value and its interrupt`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(3, "sfp-10gbase-sr");
      const gpio = await fixture.connectGpio(mode);
      const txDisable = line(3, "tx-disable");
      assert.ok(await gpio.directionOutput(txDisable, 0));
      assert.ok(await gpio.setDirection(txDisable, "none"));
      // Output again without a new value: the forgotten 0 is not driven; the pull level is.
      assert.ok(await gpio.setDirection(txDisable, "out"));
      assert.equal(await gpio.getValue(txDisable), 1);
      assert.equal(module.txDisabled, true);
      const rxLos = line(3, "rx-los");
      assert.ok(await gpio.setIrqType(rxLos, GpioIrqType.EDGE_BOTH));
      gpio.unmask(rxLos);
      await gpio.frontend.sync();
      assert.ok(await gpio.setDirection(rxLos, "none"));
      assert.deepEqual(await gpio.waitForInterrupts(1), [invalidInterrupt(rxLos)], "the buffer comes back");
      assert.ok(await gpio.setDirection(rxLos, "in"));
      module.forceSignal("rxLos", true);
      gpio.unmask(rxLos);
      assert.deepEqual(
        await gpio.waitForInterrupts(1),
        [invalidInterrupt(rxLos)],
        "the interrupt stays disabled",
      );
    });
  });

  Deno.test(`gpio (${mode}): a module-driven line refuses direction out and values`, async () => {
    await withBoard(async (fixture) => {
      fixture.plug(1, "sfp-10gbase-sr");
      const gpio = await fixture.connectGpio(mode);
      for (const signal of ["mod-abs", "rx-los", "tx-fault"] as const) {
        const l = line(1, signal);
        const before = await gpio.getValue(l);
        assert.equal(await gpio.setDirection(l, "out"), false, `${signal} is driven by the module`);
        assert.equal(await gpio.setValue(l, before === 1 ? 0 : 1), false);
        assert.equal(await gpio.getDirection(l), "in");
        assert.equal(await gpio.getValue(l), before);
      }
      assert.equal(await gpio.setValue(line(1, "tx-disable"), 2), false, "a value is 0 or 1");
      assert.equal(await gpio.setDirection(line(1, "tx-disable"), "in"), true);
    });
  });
}
