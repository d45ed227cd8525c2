// Every fault kind set through the API, and what a board VM then observes over its two sockets:
// the I2C adapter (statuses and bytes, as Linux's sfp driver and at24 read them) and the GPIO
// controller (line levels and interrupts). Faults that act over time are driven by the lab's
// ticker; waits end on what the guest observes, bounded by generous deadlines.
import assert from "node:assert/strict";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import { ApiClient } from "../../src/cli/api-client.ts";
import { checkChecksums } from "../../src/sfp/checksum.ts";
import { bitField, numberField, readBit, readField, readInteger } from "../../src/sfp/codec.ts";
import { field, I2C_ADDRESS } from "../../src/sfp/field-map.ts";
import { GpioIrqType, validInterrupt } from "../support/gpio-client.ts";
import { type I2cClient, readMessage } from "../support/i2c-client.ts";
import { GUEST_DEADLINE_MS, LabFixture } from "../lab/lab-fixture.ts";

const A0 = I2C_ADDRESS.A0;
const A2 = I2C_ADDRESS.A2;
const CAGE = "/olts/olt1/boards/lt1/cages";
const STATUS_CONTROL = bitField("statusControl");
const ALARM_FLAGS = bitField("alarmFlags");
const TEMPERATURE = numberField("temperature");
const RX_POWER = numberField("rxPower");

async function putFault(lab: LabFixture, cage: number, kind: string, params?: unknown) {
  const response = await lab.request("PUT", `${CAGE}/${cage}/module/faults/${kind}`, params);
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}

async function deleteFault(lab: LabFixture, cage: number, kind: string) {
  const response = await lab.request("DELETE", `${CAGE}/${cage}/module/faults/${kind}`);
  assert.equal(response.status, 200, await response.text());
}

/** A board VM on olt1/lt1 with cage `cage`'s mux channel open, as the sfp driver's bus has it. */
async function guestOn(lab: LabFixture, cage: number) {
  const guest = await lab.attachGuest("olt1", "lt1");
  const { muxAddress, channel } = cageI2cLocation(cage);
  await guest.i2c.selectChannels(muxAddress, 1 << channel);
  return guest;
}

/** A whole device image read over I2C in the sfp driver's 16-byte chunks. */
function readImage(i2c: I2cClient, address: number): Promise<Uint8Array> {
  return i2c.readDevice(address, 256, 16);
}

/** Polls over the bus until check() holds, as a guest driver polls; generous deadline. */
async function untilGuestSees<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + GUEST_DEADLINE_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`the guest did not see ${what} within ${GUEST_DEADLINE_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function ascii(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

Deno.test("guest: nack on A2h leaves A0h answering; cleared, A2h answers again", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  assert.deepEqual(await putFault(lab, 1, "nack", { address: "a2" }), {
    kind: "nack",
    params: { address: "a2" },
  });
  assert.ok(await i2c.readAt(A0, 0, 16), "A0h still answers");
  const refused = await i2c.transfer([readMessage(A2, 1)]);
  assert.equal(refused.ok, false, "A2h read: I2C error status");
  assert.equal(await i2c.quick(A2), false, "not even the address is acknowledged");
  await putFault(lab, 1, "nack", {});
  assert.equal(await i2c.readAt(A0, 0, 1), undefined, "address both (the default): A0h too");
  await deleteFault(lab, 1, "nack");
  assert.ok(await i2c.readAt(A2, 0, 16));
});

Deno.test("guest: slow answers arrive, with the right bytes", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  const module = lab.lab.module("olt1", "lt1", 1);
  await putFault(lab, 1, "slow", { delayMs: 30 });
  assert.deepEqual(await i2c.readAt(A0, 0, 32), module.a0().subarray(0, 32));
  assert.deepEqual(await i2c.readAt(A2, 96, 10), module.a2().subarray(96, 106));
});

Deno.test("guest: intermittent NACKs fall where the seed says: two runs with one seed, one pattern", async () => {
  const patterns = [];
  for (const run of [1, 2]) {
    await using lab = await LabFixture.start({ seed: 1234 });
    const { i2c } = await guestOn(lab, 1);
    await putFault(lab, 1, "intermittent-nack", { probability: 0.5, address: "a0" });
    let pattern = "";
    for (let i = 0; i < 32; i++) pattern += (await i2c.receiveByte(A0)) === undefined ? "x" : ".";
    assert.match(pattern, /x/, `run ${run}: some NACKed: ${pattern}`);
    assert.match(pattern, /\./, `run ${run}: some answered: ${pattern}`);
    assert.ok(await i2c.readAt(A2, 0, 16), "A2h is not affected");
    patterns.push(pattern);
  }
  assert.equal(patterns[1], patterns[0]);
});

Deno.test("guest: the emulated-EEPROM bug: a multi-byte read is its first byte then zeros; single bytes are right", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  const a0 = lab.lab.module("olt1", "lt1", 1).a0();
  assert.deepEqual(await putFault(lab, 1, "byte-io-bug"), { kind: "byte-io-bug", params: {} });
  const block = await i2c.readAt(A0, 20, 16);
  assert.deepEqual(block, Uint8Array.of(a0[20], ...new Uint8Array(15)));
  for (const offset of [20, 21, 22]) {
    assert.deepEqual(await i2c.readAt(A0, offset, 1), a0.subarray(offset, offset + 1));
  }
});

Deno.test("guest: bad-checksum spoils CC_BASE, CC_EXT or CC_DMI as read over I2C; the others stay right", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  const valid = async () =>
    [
      ...checkChecksums(await readImage(i2c, A0), "A0"),
      ...checkChecksums(await readImage(i2c, A2), "A2"),
    ].map((check) => [check.name, check.valid]);
  assert.deepEqual(await valid(), [["ccBase", true], ["ccExt", true], ["ccDmi", true]]);
  await putFault(lab, 1, "bad-checksum", { field: "cc-base" });
  const a0 = await readImage(i2c, A0);
  assert.notEqual(a0[63], a0.subarray(0, 63).reduce((sum, byte) => sum + byte, 0) & 0xff, "A0h byte 63");
  assert.deepEqual(await valid(), [["ccBase", false], ["ccExt", true], ["ccDmi", true]]);
  await putFault(lab, 1, "bad-checksum", { field: "cc-ext" });
  assert.deepEqual(await valid(), [["ccBase", true], ["ccExt", false], ["ccDmi", true]]);
  await putFault(lab, 1, "bad-checksum", { field: "cc-dmi" });
  assert.deepEqual(await valid(), [["ccBase", true], ["ccExt", true], ["ccDmi", false]]);
});

Deno.test("guest: identifier, quirk and power-class change A0h as read, with valid check codes", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  await putFault(lab, 1, "identifier", { value: 0x0d });
  await putFault(lab, 1, "quirk", { known: "HUAWEI MA5671A" });
  const applied = await putFault(lab, 1, "power-class", { level: 3 });
  assert.deepEqual(applied, { kind: "power-class", params: { level: 3 } });
  const a0 = await readImage(i2c, A0);
  assert.equal(a0[0], 0x0d);
  assert.equal(ascii(a0.subarray(20, 36)), "HUAWEI          ");
  assert.equal(ascii(a0.subarray(40, 56)), "MA5671A         ");
  assert.ok((readField(a0, field("options")) as string[]).includes("highPowerLevel"));
  assert.ok(a0[94] >= 0x07, "SFF-8472 rev 11.4 or later, so Linux believes the level");
  assert.ok(checkChecksums(a0, "A0").every((check) => check.valid));
  await deleteFault(lab, 1, "quirk");
  assert.equal(
    ascii((await i2c.readAt(A0, 40, 16))!).trimEnd(),
    lab.lab.module("olt1", "lt1", 1).decode().vendorPn,
  );
});

Deno.test("guest: a stuck TX_FAULT raises the GPIO line with an interrupt and sets A2h 110; cleared, it drops", async () => {
  await using lab = await LabFixture.start();
  const { i2c, gpio } = await guestOn(lab, 1);
  const txFault = cageLineIndex(1, "tx-fault");
  assert.equal(await gpio.getValue(txFault), 0);
  assert.ok(await gpio.setIrqType(txFault, GpioIrqType.EDGE_BOTH));
  gpio.unmask(txFault);
  await putFault(lab, 1, "tx-fault", { mode: "stuck" });
  assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(txFault)]);
  assert.equal(await gpio.getValue(txFault), 1);
  assert.equal(readBit((await i2c.readAt(A2, 0, 128))!, STATUS_CONTROL, "txFault"), true, "A2h 110 bit 2");
  gpio.unmask(txFault);
  await deleteFault(lab, 1, "tx-fault");
  assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(txFault)]);
  assert.equal(await gpio.getValue(txFault), 0);
});

/** Interrupts of one line (EDGE_BOTH), re-armed after each as Linux's handler does, until `count`. */
async function edges(gpio: Awaited<ReturnType<typeof guestOn>>["gpio"], line: number, count: number) {
  const levels: number[] = [];
  for (let i = 0; i < count; i++) {
    assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(line)]);
    levels.push((await gpio.getValue(line))!);
    gpio.unmask(line);
  }
  return levels;
}

// Half periods longer than the lab's 100 ms tick, so the ticker sees every edge.
Deno.test("guest: a pulsed TX_FAULT and a flapping RX_LOS interrupt again and again, moved by the lab's ticker", async () => {
  await using lab = await LabFixture.start();
  const { gpio } = await guestOn(lab, 1);
  const txFault = cageLineIndex(1, "tx-fault");
  const rxLos = cageLineIndex(1, "rx-los");
  for (const line of [txFault, rxLos]) {
    assert.ok(await gpio.setIrqType(line, GpioIrqType.EDGE_BOTH));
  }
  gpio.unmask(txFault);
  await putFault(lab, 1, "tx-fault", { mode: "pulse", periodMs: 600, widthMs: 300 });
  const txLevels = await edges(gpio, txFault, 4);
  await deleteFault(lab, 1, "tx-fault");
  assert.ok(txLevels.includes(0) && txLevels.includes(1), `TX_FAULT went both ways: ${txLevels}`);

  gpio.unmask(rxLos);
  await putFault(lab, 1, "rx-los-flap", { periodMs: 600 });
  const losLevels = await edges(gpio, rxLos, 4);
  assert.ok(losLevels.includes(0) && losLevels.includes(1), `RX_LOS went both ways: ${losLevels}`);
  const flaps = lab.events.filter((e) => e.type === "signal-changed" && e.signal === "rx-los");
  assert.ok(flaps.length >= 4, "each edge is a lab event too");
});

Deno.test("guest: a slow-ready module NACKs after insertion, then answers, then clears Data_Ready_Bar", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 2);
  const put = await lab.request("PUT", `${CAGE}/2/module`, {
    profile: "sfp-gpon-olt-cplus",
    faults: { "slow-ready": { delayMs: 300 } },
  });
  assert.equal(put.status, 201);
  assert.deepEqual((await put.json()).faults, [{ kind: "slow-ready", params: { delayMs: 300 } }]);
  assert.equal(await i2c.readAt(A0, 0, 16), undefined, "NACK right after insertion");
  const a0 = await untilGuestSees("the EEPROM answering", () => i2c.readAt(A0, 0, 16));
  assert.deepEqual(a0, lab.lab.module("olt1", "lt1", 2).a0().subarray(0, 16));
  await untilGuestSees("Data_Ready_Bar clear", async () => {
    const status = await i2c.readAt(A2, 0, 128);
    return status && !readBit(status, STATUS_CONTROL, "dataReadyBar") ? true : undefined;
  });
});

Deno.test("guest: a temperature ramp moves A2h's temperature word and raises the alarm flag the guest reads", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  await putFault(lab, 1, "temperature-ramp", { targetC: 85, ratePerS: 100 });
  const a2 = await untilGuestSees("85 °C", async () => {
    const a2 = await readImage(i2c, A2);
    return readInteger(a2, TEMPERATURE) === 85 * 256 ? a2 : undefined;
  });
  assert.equal(readBit(a2, ALARM_FLAGS, "temperatureHigh"), true);
  const module = await (await lab.request("GET", `${CAGE}/1/module`)).json();
  assert.equal(module.diagnostics.temperatureC, 85);
  assert.deepEqual(module.faults, [{ kind: "temperature-ramp", params: { targetC: 85, ratePerS: 100 } }]);
});

Deno.test("guest: noise makes Rx power read differently from sample to sample; a drift moves it away", async () => {
  await using lab = await LabFixture.start();
  const { i2c } = await guestOn(lab, 1);
  const rxPower = async () => readInteger((await i2c.readAt(A2, 0, 128))!, RX_POWER);
  const steady = await rxPower();
  await putFault(lab, 1, "noise", { band: { rxPowerDbm: 2 } });
  const seen = new Set<number>();
  await untilGuestSees("three different Rx power readings", async () => {
    seen.add(await rxPower());
    return seen.size >= 3 ? true : undefined;
  });
  await deleteFault(lab, 1, "noise");
  assert.equal(await rxPower(), steady, "without noise, the set value again");
  await putFault(lab, 1, "rx-power-drift", { ratePerS: -20, minDbm: -30, maxDbm: 0 });
  await untilGuestSees(
    "Rx power drifting down",
    async () => ((await rxPower()) < steady / 2 ? true : undefined),
  );
});

Deno.test("guest: a latched TX_FAULT stays up until the guest pulses TX_DISABLE; then it is gone, and fault-cleared says why", async () => {
  await using lab = await LabFixture.start();
  const client = new ApiClient((await lab.serve()).slice("http://".length));
  const { i2c, gpio } = await guestOn(lab, 1);
  const txFault = cageLineIndex(1, "tx-fault");
  const txDisable = cageLineIndex(1, "tx-disable");
  assert.ok(await gpio.setIrqType(txFault, GpioIrqType.EDGE_BOTH));
  gpio.unmask(txFault);
  const since = lab.lab.events.lastSeq;
  assert.deepEqual(
    await client.request("PUT", `${CAGE}/1/module/faults/tx-fault`, { mode: "latched" }),
    { kind: "tx-fault", params: { mode: "latched", resets: 1 } },
  );
  assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(txFault)]);
  assert.equal(await gpio.getValue(txFault), 1);
  // The guest enables the laser: TX_DISABLE was high (the module's pull-up) before the fault, so
  // this ends no reset pulse.
  assert.ok(await gpio.directionOutput(txDisable, 0));
  assert.equal(await gpio.getValue(txFault), 1);
  // Linux's sfp_module_tx_fault_reset(): TX_DISABLE high, then low again.
  gpio.unmask(txFault);
  assert.ok(await gpio.setValue(txDisable, 1));
  assert.equal(await gpio.getValue(txFault), 1, "still high while TX_DISABLE is");
  assert.ok(await gpio.setValue(txDisable, 0));
  assert.deepEqual(await gpio.waitForInterrupts(1), [validInterrupt(txFault)]);
  assert.equal(await gpio.getValue(txFault), 0);
  assert.equal(readBit((await i2c.readAt(A2, 0, 128))!, STATUS_CONTROL, "txFault"), false, "A2h 110 bit 2");
  const module = await client.request("GET", `${CAGE}/1/module`) as { faults: unknown[] };
  assert.deepEqual(module.faults, []);

  // What a client of the event stream sees (replayed from before the PUT), without the Tx bias
  // and power flags a disabled laser raises and clears: each cause before its effect (the host's
  // line, then the module's reaction, then the module's pin).
  const abort = new AbortController();
  const seen: Record<string, unknown>[] = [];
  for await (const message of client.events({ since, signal: abort.signal })) {
    if (message.event === "hello" || message.event === "module-flag") continue;
    const { seq: _seq, time: _time, path, ...event } = JSON.parse(message.data);
    assert.equal(path, "olt1/lt1/1");
    seen.push(event);
    if (event.type === "module-txFault" && event.level === false) break;
  }
  abort.abort();
  const latched = { kind: "tx-fault", params: { mode: "latched", resets: 1 } };
  const txDisableEvent = (asserted: boolean) => ({
    type: "module-txDisable",
    source: "pin",
    asserted,
    txDisabled: asserted,
  });
  assert.deepEqual(seen, [
    { type: "fault-set", ...latched },
    { type: "signal-changed", signal: "tx-fault", level: 1 },
    { type: "module-txFault", level: true },
    { type: "host-signal-changed", signal: "tx-disable", level: 0 },
    txDisableEvent(false),
    { type: "host-signal-changed", signal: "tx-disable", level: 1 },
    txDisableEvent(true),
    { type: "host-signal-changed", signal: "tx-disable", level: 0 },
    txDisableEvent(false),
    { type: "signal-changed", signal: "tx-fault", level: 0 },
    { type: "fault-cleared", ...latched, reason: "reset by host TX_DISABLE pulse" },
    { type: "module-txFault", level: false },
  ]);
});
