// Both management planes of one board at once: a cage's module seen through the I2C mux tree and
// the GPIO lines together, the order in which the lab tells of a plug, and what a rebooted VM
// finds. Over real sockets, memfd memory and eventfds, for modern and legacy virtio.
import assert from "node:assert/strict";
import {
  BoardPlanes,
  CAGE_LINE_SUFFIXES,
  cageI2cLocation,
  cageLineIndex,
  MAX_CAGES_PER_BOARD,
} from "../../src/board/board.ts";
import { bitPosition, I2C_ADDRESS } from "../../src/sfp/field-map.ts";
import { bitField } from "../../src/sfp/codec.ts";
import { GUEST_MODES, makeModule, withBoard } from "./board-fixture.ts";
import { GpioIrqType, invalidInterrupt, IRQ_STATUS_VALID, validInterrupt } from "../support/gpio-client.ts";
import { VhostUserFrontend } from "../support/frontend.ts";

const STATUS_CONTROL = bitField("statusControl");

for (const mode of GUEST_MODES) {
  Deno.test(`planes (${mode}): a plug through the model is seen through both planes at once`, async () => {
    await withBoard(async (fixture) => {
      const i2c = await fixture.connectI2c(mode);
      const gpio = await fixture.connectGpio(mode);
      const modAbs = cageLineIndex(10, "mod-abs");
      assert.ok(await gpio.setIrqType(modAbs, GpioIrqType.EDGE_BOTH));
      gpio.unmask(modAbs);
      const { muxAddress, channel } = cageI2cLocation(10);
      await i2c.selectChannels(muxAddress, 1 << channel);
      assert.equal(await i2c.readAt(I2C_ADDRESS.A0, 0, 16), undefined, "an empty cage NACKs");
      assert.equal(await gpio.getValue(modAbs), 1);

      const module = fixture.plug(10, "sfp-gpon-olt-cplus");
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(modAbs)]);
      assert.equal(await gpio.getValue(modAbs), 0);
      assert.deepEqual(
        await i2c.readDevice(I2C_ADDRESS.A0),
        module.a0(),
        "the EEPROM answers through the mux",
      );

      gpio.unmask(modAbs);
      fixture.planes.cage(10)!.unplug();
      assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(modAbs)]);
      assert.equal(await gpio.getValue(modAbs), 1);
      assert.equal(await i2c.readAt(I2C_ADDRESS.A0, 0, 16), undefined);
    });
  });

  Deno.test(`planes (${mode}): a new GPIO frontend finds every line as at power-on`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(2, "sfp-10gbase-sr");
      const first = await fixture.connectGpio(mode);
      const txDisable = cageLineIndex(2, "tx-disable");
      const modAbs = cageLineIndex(2, "mod-abs");
      assert.ok(await first.directionOutput(txDisable, 0));
      assert.ok(await first.directionOutput(cageLineIndex(2, "rs0"), 1));
      assert.ok(await first.setDirection(modAbs, "none")); // gpiod frees the line
      assert.ok(await first.setIrqType(cageLineIndex(3, "mod-abs"), GpioIrqType.EDGE_BOTH));
      assert.equal(module.txDisabled, false);
      // A second VM on the same socket is refused and changes nothing.
      const refused = fixture.count("frontend-refused", "gpio");
      const intruder = new VhostUserFrontend(fixture.board.spec.sockets.gpio);
      await fixture.waitForEvent("frontend-refused", "gpio", refused + 1);
      intruder.disconnect();
      assert.equal(await first.getDirection(txDisable), "out");
      assert.equal(module.txDisabled, false);

      await fixture.disconnect(first.frontend, "gpio");
      const second = await fixture.connectGpio(mode);
      const ngpio = (await second.config()).ngpio;
      for (let line = 0; line < ngpio; line++) {
        assert.equal(await second.getDirection(line), "in", `line ${line} after the reboot`);
      }
      assert.equal(await second.getValue(txDisable), 1, "released: the module's pull-up");
      assert.equal(module.txDisabled, true, "the laser is off until the new guest enables it");
      assert.equal(await second.getValue(cageLineIndex(2, "rs0")), 0);
      // The old interrupt configuration is gone: a queued buffer comes straight back invalid.
      second.unmask(cageLineIndex(3, "mod-abs"));
      assert.deepEqual(await second.waitForInterrupts(1), [invalidInterrupt(cageLineIndex(3, "mod-abs"))]);
    });
  });
}

Deno.test("planes: a full board of 64 cages: 8 muxes on the bus, one interrupt per cage plugged", async () => {
  await withBoard(async (fixture) => {
    const i2c = await fixture.connectI2c("modern");
    const gpio = await fixture.connectGpio("modern");
    assert.deepEqual(await i2c.scan("quick"), [0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77]);
    const lines = fixture.planes.cages.map((cage) => cageLineIndex(cage.id, "mod-abs"));
    for (const line of lines) {
      assert.ok(await gpio.setIrqType(line, GpioIrqType.EDGE_FALLING));
      gpio.unmask(line);
    }
    for (const cage of fixture.planes.cages) fixture.plug(cage.id, "sfp-10gbase-sr");
    const interrupts = await gpio.waitForInterrupts(lines.length);
    assert.deepEqual(interrupts.map((i) => i.line).sort((a, b) => a - b), lines);
    assert.ok(interrupts.every((i) => i.status === IRQ_STATUS_VALID));
    assert.deepEqual(await gpio.settledInterrupts(), []);
    // The last cage, through the last mux.
    await i2c.selectChannels(0x77, 1 << 7);
    assert.deepEqual(await i2c.readDevice(I2C_ADDRESS.A0), fixture.planes.cage(64)!.module!.a0());
  }, { cageCount: MAX_CAGES_PER_BOARD });
});

Deno.test("planes: the lab tells of a plug before anything the plug causes, and of an unplug likewise", async () => {
  await withBoard((fixture) => {
    const types = () => fixture.events.since(0).filter((e) => e.path === "olt1/lt1/3").map((e) => e.type);
    fixture.plug(3, "sfp-10gbase-sr");
    const plugged = types();
    assert.equal(plugged[0], "module-inserted", `events: ${plugged.join(", ")}`);
    // Inserted with TX_DISABLE pulled high: the laser is off, its bias and power alarms rise.
    assert.ok(plugged.includes("module-txDisable"), `events: ${plugged.join(", ")}`);
    assert.ok(plugged.includes("signal-changed"), "RX_LOS and TX_FAULT left their pull-ups");
    fixture.planes.cage(3)!.unplug();
    const pulled = types().slice(plugged.length);
    assert.equal(pulled[0], "module-removed", `events: ${pulled.join(", ")}`);
    assert.deepEqual(pulled.slice(1), ["signal-changed", "signal-changed"]);
  });
});

Deno.test("planes: the module sees the host's TX_DISABLE, RS0 and RS1 levels from the moment it is plugged", () => {
  const planes = new BoardPlanes({ cageCount: 2, formFactor: "sfp+" });
  const gpio = planes.gpio;
  const txDisable = cageLineIndex(1, "tx-disable");
  assert.ok(gpio.setValue(txDisable, false) && gpio.setDirection(txDisable, "out"));
  assert.ok(
    gpio.setValue(cageLineIndex(1, "rs1"), true) && gpio.setDirection(cageLineIndex(1, "rs1"), "out"),
  );
  const module = makeModule("sfp-10gbase-sr");
  planes.cage(1)!.plug(module);
  assert.equal(module.txDisabled, false);
  const status = module.a2()[STATUS_CONTROL.offset];
  assert.equal(
    status & bitPosition(STATUS_CONTROL, "rs1Pin")!.mask,
    bitPosition(STATUS_CONTROL, "rs1Pin")!.mask,
  );
  assert.equal(status & bitPosition(STATUS_CONTROL, "rs0Pin")!.mask, 0);
  assert.equal(gpio.level(cageLineIndex(1, "mod-abs")), false);
  assert.equal(gpio.level(cageLineIndex(1, "rx-los")), module.rxLos);
});

Deno.test("planes: cage n sits on channel (n-1) mod 8 of the mux at 0x70 + (n-1)/8 and owns six lines", () => {
  const planes = new BoardPlanes({ cageCount: MAX_CAGES_PER_BOARD, formFactor: "sfp+" });
  assert.deepEqual(planes.muxes.map((m) => m.address), [0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77]);
  assert.equal(planes.gpio.lineCount, MAX_CAGES_PER_BOARD * CAGE_LINE_SUFFIXES.length);
  for (const cageId of [1, 8, 9, 17, 64]) {
    const { muxAddress, channel } = cageI2cLocation(cageId);
    const mux = planes.muxes.find((m) => m.address === muxAddress)!;
    assert.ok(mux.channels[channel].targets.includes(planes.cage(cageId)!), `cage ${cageId}`);
    for (const signal of CAGE_LINE_SUFFIXES) {
      assert.equal(planes.gpio.lineIndex(`cage${cageId}-${signal}`), cageLineIndex(cageId, signal));
    }
  }
  assert.throws(
    () => new BoardPlanes({ cageCount: MAX_CAGES_PER_BOARD + 1, formFactor: "sfp+" }),
    RangeError,
  );
  assert.throws(() => new BoardPlanes({ cageCount: 0, formFactor: "sfp+" }), RangeError);
});
