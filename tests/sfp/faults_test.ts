// Faults as a guest sees them: I2C transfers that NACK or come back wrong, EEPROM content a
// kernel rejects, pins that misbehave, all on an injected clock. Byte offsets and bits are written
// out here from SFF-8472, independently of the field map.
import assert from "node:assert/strict";
import { OPTICAL_POWER } from "../../src/sfp/diagnostics.ts";
import { FAULT_KINDS, FaultError, KNOWN_QUIRKS } from "../../src/sfp/faults.ts";
import { type ModuleEvent, SfpModule } from "../../src/sfp/module.ts";
import {
  A0,
  A2,
  independentSum,
  ManualClock,
  moduleOf,
  profile,
  readAt,
  recordEvents,
  statusByte,
} from "./support.ts";

// SFF-8472 A2h byte 110 bits.
const TX_FAULT = 0x04;
const RX_LOS = 0x02;
const DATA_READY_BAR = 0x01;
const SOFT_TX_DISABLE = 0x40;

/** Whether one random read (offset write, then a 1-byte read) is answered at all. */
function answers(module: SfpModule, address: number): boolean {
  return module.write(address, Uint8Array.of(0)) && module.read(address, new Uint8Array(1));
}

/** Linux sfp.c sfp_id_needs_byte_io(): every block's bytes after the first are zero. */
function linuxNeedsByteIo(bytes: Uint8Array, blockSize = 16): boolean {
  for (let i = 1; i < bytes.length; i += blockSize) {
    if (bytes.subarray(i, Math.min(i + blockSize - 1, bytes.length)).some((b) => b !== 0)) return false;
  }
  return true;
}

/** The module's power as Linux's sfp_module_parse_power() works it out from A0h bytes 64 and 94. */
function linuxModulePowerMw(a0: Uint8Array): number {
  let powerMw = 1000;
  if (a0[94] >= 0x03 && (a0[64] & 0x02) !== 0) powerMw = 1500;
  if (a0[94] >= 0x07 && (a0[64] & 0x20) !== 0) powerMw = 2000;
  return powerMw;
}

function differingBytes(a: Uint8Array, b: Uint8Array): number[] {
  return [...a.keys()].filter((i) => a[i] !== b[i]);
}

// ---------------------------------------------------------------- I2C level

Deno.test("nack: the chosen address stops answering reads and writes; the other one still answers", () => {
  for (
    const [address, a0Answers, a2Answers] of [["a0", false, true], ["a2", true, false], [
      "both",
      false,
      false,
    ]] as const
  ) {
    const module = moduleOf("sfp-10gbase-sr");
    module.setFault("nack", { address });
    assert.equal(answers(module, A0), a0Answers, `${address}: 0x50`);
    assert.equal(answers(module, A2), a2Answers, `${address}: 0x51`);
    assert.equal(module.read(A0, new Uint8Array(16)), a0Answers);
    module.clearFault("nack");
    assert.equal(answers(module, A0) && answers(module, A2), true, "answers again once cleared");
  }
  const module = moduleOf("sfp-10gbase-sr");
  assert.deepEqual(module.setFault("nack").params, { address: "both" }, "both by default");
});

Deno.test("slow: responseDelayMs per address for the I2C device to honour; transfers still answer", () => {
  const module = moduleOf("sfp-10gbase-sr");
  assert.equal(module.responseDelayMs(A0), 0);
  module.setFault("slow", { delayMs: 25, address: "a2" });
  assert.equal(module.responseDelayMs(A0), 0);
  assert.equal(module.responseDelayMs(A2), 25);
  assert.equal(module.responseDelayMs(0x52), 0, "not one of the module's addresses");
  assert.deepEqual(readAt(module, A2, 96, 2), module.a2().subarray(96, 98), "the data itself is right");
  module.setFault("slow", { delayMs: 7.5 });
  assert.deepEqual([module.responseDelayMs(A0), module.responseDelayMs(A2)], [7.5, 7.5]);
  module.clearFault("slow");
  assert.deepEqual([module.responseDelayMs(A0), module.responseDelayMs(A2)], [0, 0]);
  const cable = moduleOf("sfp-10g-dac-passive-3m");
  cable.setFault("slow", { delayMs: 10 });
  assert.equal(cable.responseDelayMs(A2), 0, "a cable has no A2h to be slow at");
});

Deno.test("intermittent-nack: the same seed gives the same NACK sequence; another seed another one", () => {
  const outcomes = (seed: number) => {
    const module = moduleOf("sfp-10gbase-sr", { seed });
    module.setFault("intermittent-nack", { probability: 0.5 });
    return Array.from({ length: 64 }, () => module.read(A0, new Uint8Array(1)));
  };
  assert.deepEqual(outcomes(42), outcomes(42));
  assert.notDeepEqual(outcomes(42), outcomes(43));
  assert.ok(outcomes(42).includes(true) && outcomes(42).includes(false));
});

Deno.test("intermittent-nack: about the probability over 10 000 transfers, only at the chosen address", () => {
  const module = moduleOf("sfp-10gbase-sr", { seed: 2024 });
  module.setFault("intermittent-nack", { probability: 0.3, address: "a2" });
  let nacked = 0;
  for (let i = 0; i < 10_000; i++) {
    if (!module.read(A2, new Uint8Array(2))) nacked++;
    assert.equal(module.read(A0, new Uint8Array(1)), true, "0x50 is not affected");
  }
  // Binomial: σ ≈ 0.0046 for 10 000 draws at 0.3, so ±0.05 is a margin of more than ten σ.
  assert.ok(Math.abs(nacked / 10_000 - 0.3) < 0.05, `NACK rate ${nacked / 10_000}`);

  const never = moduleOf("sfp-10gbase-sr");
  never.setFault("intermittent-nack", { probability: 0 });
  const always = moduleOf("sfp-10gbase-sr");
  always.setFault("intermittent-nack", { probability: 1 });
  for (let i = 0; i < 100; i++) {
    assert.equal(never.read(A0, new Uint8Array(1)), true);
    assert.equal(always.read(A0, new Uint8Array(1)), false);
  }
});

Deno.test("intermittent-nack: transfers at an unaffected address do not use up draws", () => {
  const outcomes = (interleave: boolean) => {
    const module = moduleOf("sfp-10gbase-sr", { seed: 5 });
    module.setFault("intermittent-nack", { probability: 0.5, address: "a2" });
    return Array.from({ length: 32 }, () => {
      if (interleave) module.read(A0, new Uint8Array(4));
      return module.read(A2, new Uint8Array(1));
    });
  };
  assert.deepEqual(outcomes(true), outcomes(false));
});

Deno.test("byte-io-bug: Linux's 16-byte chunks show first byte then zeros; byte-at-a-time reads work", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const a0 = module.a0();
  module.setFault("byte-io-bug");
  // sfp_sm_mod_probe() reads id.base (A0h 0-63) in chunks, then checks them.
  const base = new Uint8Array(64);
  for (let offset = 0; offset < 64; offset += 16) base.set(readAt(module, A0, offset, 16), offset);
  assert.deepEqual([...base.subarray(0, 17)], [0x03, ...new Array(15).fill(0), a0[16]]);
  assert.equal(linuxNeedsByteIo(base), true, "Linux: Detected broken RTL8672/RTL9601C emulated EEPROM");
  // ...and switches to reading one byte at a time, which returns the real EEPROM.
  for (const [address, image] of [[A0, a0], [A2, module.a2()]] as const) {
    const bytes = new Uint8Array(256);
    for (let offset = 0; offset < 256; offset++) bytes[offset] = readAt(module, address, offset, 1)[0];
    assert.deepEqual(bytes, image);
  }
  // A 2-byte diagnostic comes back torn: only its MSB is real.
  assert.deepEqual([...readAt(module, A2, 96, 2)], [0x20, 0x00]);
  assert.deepEqual([...readAt(module, A2, 98, 2)], [module.a2()[98], 0]);

  module.clearFault("byte-io-bug");
  assert.deepEqual(readAt(module, A0, 0, 16), a0.subarray(0, 16));
  assert.equal(linuxNeedsByteIo(readAt(module, A0, 0, 64)), false);
});

// ---------------------------------------------------------------- content level

Deno.test("bad-checksum: the chosen check code is wrong by an independent sum; the others stay right", () => {
  const cases = [["cc-base", A0, 63, 0, 62], ["cc-ext", A0, 95, 64, 94], ["cc-dmi", A2, 95, 0, 94]] as const;
  for (const [field, address, at, first, last] of cases) {
    const module = moduleOf("sfp-10gbase-sr");
    module.setFault("bad-checksum", { field });
    const a0 = readAt(module, A0, 0, 128);
    const a2 = readAt(module, A2, 0, 128);
    const image = address === A0 ? a0 : a2;
    const computed = independentSum(image, first, last);
    assert.notEqual(image[at], computed, field);
    assert.equal(image[at], computed ^ 0xff, `${field}: stored ^ 0xFF`);
    for (const [other, otherAddress, otherAt, otherFirst, otherLast] of cases) {
      if (other === field) continue;
      const bytes = otherAddress === A0 ? a0 : a2;
      assert.equal(bytes[otherAt], independentSum(bytes, otherFirst, otherLast), `${other} untouched`);
    }
  }
  // What Linux would print for a bad CC_BASE: computed first, stored second.
  const module = moduleOf("sfp-10gbase-sr");
  module.setFault("bad-checksum", { field: "cc-base" });
  const a0 = readAt(module, A0, 0, 64);
  const hex = (n: number) => `0x${n.toString(16).padStart(2, "0")}`;
  assert.equal(
    `EEPROM base structure checksum failure: ${hex(independentSum(a0, 0, 62))} != ${hex(a0[63])}`,
    "EEPROM base structure checksum failure: 0x48 != 0xb7",
    "the Finisar image's CC_BASE is 0x48 (sfp-facts §1.2)",
  );
});

Deno.test("bad-checksum on CC_DMI needs an A2h", () => {
  const cable = moduleOf("sfp-10g-dac-passive-3m");
  assert.throws(
    () => cable.setFault("bad-checksum", { field: "cc-dmi" }),
    /fault "bad-checksum": needs diagnostics \(A2h\), but module sfp-10g-dac-passive-3m has none/,
  );
  cable.setFault("bad-checksum", { field: "cc-base" });
});

Deno.test("identifier: only A0h byte 0 is wrong; CC_BASE is recomputed and valid", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const before = module.a0();
  module.setFault("identifier", { value: 0x02 });
  const a0 = readAt(module, A0, 0, 128);
  assert.equal(a0[0], 0x02);
  assert.equal(a0[63], independentSum(a0, 0, 62));
  assert.equal(a0[95], independentSum(a0, 64, 94));
  assert.deepEqual(differingBytes(a0, before.subarray(0, 128)), [0, 63]);
  assert.equal(module.decode().identifier, "SFF", "decoded back through the field map");
  module.setFault("identifier", { value: 0xc4 });
  assert.equal(module.decode().identifier, 0xc4, "a code without a name decodes as the number");
});

Deno.test("quirk: a known kernel quirk's vendor strings, space padded, checksums recomputed", () => {
  const module = moduleOf("sfp-gpon-olt-cplus");
  const before = module.a0();
  const fault = module.setFault("quirk", { known: "HUAWEI MA5671A" });
  assert.deepEqual(fault.params, { known: "HUAWEI MA5671A", vendorName: "HUAWEI", vendorPn: "MA5671A" });
  const a0 = readAt(module, A0, 0, 96);
  assert.equal(new TextDecoder().decode(a0.subarray(20, 36)), "HUAWEI          ");
  assert.equal(new TextDecoder().decode(a0.subarray(40, 56)), "MA5671A         ");
  assert.equal(a0[63], independentSum(a0, 0, 62));
  assert.equal(a0[95], independentSum(a0, 64, 94));
  assert.ok(differingBytes(a0, before.subarray(0, 96)).every((i) => (i >= 20 && i < 56) || i === 63));
  const fields = module.decode();
  assert.deepEqual([fields.vendorName, fields.vendorPn], ["HUAWEI", "MA5671A"]);

  // What faults() reports can be sent back as it is.
  module.setFault("quirk", fault.params);
  module.setFault("quirk", { vendorName: "ALCATELLUCENT", vendorPn: "G010SP" });
  assert.deepEqual([module.decode().vendorName, module.decode().vendorPn], ["ALCATELLUCENT", "G010SP"]);
  for (const quirk of KNOWN_QUIRKS) {
    module.setFault("quirk", { known: `${quirk.vendorName} ${quirk.vendorPn}` });
    assert.deepEqual([module.decode().vendorName, module.decode().vendorPn], [
      quirk.vendorName,
      quirk.vendorPn,
    ]);
  }
});

Deno.test("power-class: level 2 and 3 as Linux reads bytes 64 and 94; A2h 118 state follows the select", () => {
  const module = moduleOf("sfp-10gbase-sr"); // rev10.2, no power declaration
  assert.equal(linuxModulePowerMw(module.a0()), 1000);
  module.setFault("power-class", { level: 2 });
  let a0 = readAt(module, A0, 0, 96);
  assert.equal(linuxModulePowerMw(a0), 1500);
  assert.equal(a0[94], 0x03, "rev10.2 already allows level 2");
  assert.ok((module.decode().options as string[]).includes("powerLevel2"));
  assert.equal(a0[95], independentSum(a0, 64, 94));

  module.setFault("power-class", { level: 3 });
  a0 = readAt(module, A0, 0, 96);
  assert.equal(linuxModulePowerMw(a0), 2000);
  assert.equal(a0[94], 0x07, "raised to rev11.4, which level 3 needs");
  const fields = module.decode();
  assert.ok((fields.options as string[]).includes("highPowerLevel"));
  assert.ok(!(fields.options as string[]).includes("powerLevel2"));
  assert.equal(fields.sff8472Compliance, "rev11.4");
  assert.equal(a0[95], independentSum(a0, 64, 94));
  assert.equal(a0[63], independentSum(a0, 0, 62));

  // Linux writes the power level select for a host that allows the power (SFF-8472 A2h 118 bit 0).
  module.write(A2, Uint8Array.of(118, 0x01));
  assert.equal(readAt(module, A2, 118, 1)[0], 0x03, "power level state follows the select");
  module.clearFault("power-class");
  assert.equal(readAt(module, A2, 118, 1)[0], 0x01, "no declaration, no power level state");
  assert.equal(linuxModulePowerMw(module.a0()), 1000);

  const newer = moduleOf("sfp28-25gbase-sr"); // rev12.3 stays rev12.3
  newer.setFault("power-class", { level: 3 });
  assert.equal(newer.a0()[94], 0x08);
  assert.throws(
    () => moduleOf("sfp-10g-dac-passive-3m").setFault("power-class", { level: 2 }),
    /needs diagnostics \(A2h\)/,
  );
});

// ---------------------------------------------------------------- signal level

Deno.test("tx-fault stuck: TX_FAULT pin and status bit high until cleared, TX_DISABLE pulses do not reset it", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  module.setFault("tx-fault", { mode: "stuck" });
  assert.equal(module.txFault, true);
  assert.equal(statusByte(module) & TX_FAULT, TX_FAULT);
  // Linux's recovery: TX_DISABLE high for t_reset, then low again (sfp-facts §3.4 step 5).
  module.setTxDisable(true);
  module.setTxDisable(false);
  assert.equal(module.txFault, true);
  assert.equal(module.hasTimedBehaviour, false, "a stuck fault does not change with time");
  module.clearFault("tx-fault");
  assert.equal(module.txFault, false);
  assert.equal(statusByte(module) & TX_FAULT, 0);
  assert.deepEqual(seen.filter((e) => e.type === "fault" || e.type === "txFault"), [
    { type: "fault", active: true, kind: "tx-fault", params: { mode: "stuck" } },
    { type: "txFault", level: true },
    { type: "fault", active: false, kind: "tx-fault", params: { mode: "stuck" } },
    { type: "txFault", level: false },
  ]);
});

Deno.test("tx-fault pulse: high for widthMs at the start of each period, read from the clock without ticks", () => {
  const clock = new ManualClock(50_000);
  const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 0 });
  module.setFault("tx-fault", { mode: "pulse", periodMs: 1000, widthMs: 200 });
  assert.equal(module.hasTimedBehaviour, true);
  for (
    const [elapsedMs, high] of [[0, true], [199, true], [200, false], [999, false], [1000, true], [
      5150,
      true,
    ]] as const
  ) {
    clock.ms = 50_000 + elapsedMs;
    assert.equal((statusByte(module) & TX_FAULT) !== 0, high, `status bit at +${elapsedMs} ms`);
    assert.equal(module.txFault, high, `pin at +${elapsedMs} ms`);
  }
});

Deno.test("tx-fault pulse: advance() raises a pin event at each edge it passes", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 0 });
  const seen = recordEvents(module);
  module.setFault("tx-fault", { mode: "pulse", periodMs: 500, widthMs: 100 });
  for (let t = 50; t <= 1_200; t += 50) module.advance(t);
  const edges = seen.filter((e) => e.type === "txFault").map((e) => e.type === "txFault" && e.level);
  assert.deepEqual(edges, [true, false, true, false, true, false]);
});

// Linux's sfp_module_tx_fault_reset(): TX_DISABLE high for t_reset (10 µs), then low again.
function resetPulse(module: SfpModule): void {
  module.setTxDisable(true);
  module.setTxDisable(false);
}

/** The faults, TX_FAULT and TX_DISABLE events of `seen`, without the flags a disabled laser raises. */
function signalEvents(seen: ModuleEvent[]): ModuleEvent[] {
  return seen.filter((e) => e.type === "fault" || e.type === "txFault" || e.type === "txDisable");
}

Deno.test("tx-fault latched: TX_FAULT high until the host's TX_DISABLE pulse; then the module clears the fault itself", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  assert.deepEqual(module.setFault("tx-fault", { mode: "latched" }), {
    kind: "tx-fault",
    params: { mode: "latched", resets: 1 },
  });
  assert.equal(module.txFault, true);
  assert.equal(statusByte(module) & TX_FAULT, TX_FAULT);
  assert.equal(module.hasTimedBehaviour, false, "it changes on the host's pulses, not with time");
  module.setTxDisable(true);
  assert.equal(module.txFault, true, "still high while TX_DISABLE is");
  module.setTxDisable(false);
  assert.equal(module.txFault, false);
  assert.equal(statusByte(module) & TX_FAULT, 0);
  assert.deepEqual(module.faults(), []);
  const latched = { kind: "tx-fault", params: { mode: "latched", resets: 1 } } as const;
  const laserOff = [
    ["tx bias low warning", "txBiasMa", "lowWarning"],
    ["tx power low warning", "txPowerDbm", "lowWarning"],
    ["tx bias low alarm", "txBiasMa", "lowAlarm"],
    ["tx power low alarm", "txPowerDbm", "lowAlarm"],
  ] as const;
  const flag = ([flag, diagnostic, level]: (typeof laserOff)[number], raised: boolean) => ({
    type: "flag",
    flag,
    diagnostic,
    level,
    raised,
  });
  // The pulse's own effects first, then the fault cleared (with why), then what that causes.
  assert.deepEqual(seen, [
    { type: "fault", active: true, ...latched },
    { type: "txFault", level: true },
    { type: "txDisable", source: "pin", asserted: true, txDisabled: true },
    ...laserOff.map((f) => flag(f, true)),
    { type: "txDisable", source: "pin", asserted: false, txDisabled: false },
    ...[laserOff[2], laserOff[3], laserOff[0], laserOff[1]].map((f) => flag(f, false)),
    { type: "fault", active: false, ...latched, reason: "reset by host TX_DISABLE pulse" },
    { type: "txFault", level: false },
  ]);
  // Spent, it is gone: later pulses change nothing, clearing it is no change.
  resetPulse(module);
  assert.equal(module.clearFault("tx-fault"), false);
  assert.equal(signalEvents(seen).filter((e) => e.type === "fault").length, 2);
});

Deno.test("tx-fault latched: resets=3 takes three pulses; setting it again starts the count over", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  module.setFault("tx-fault", { mode: "latched", resets: 3 });
  resetPulse(module);
  resetPulse(module);
  assert.equal(module.txFault, true, "two of three");
  assert.deepEqual(module.faults(), [{ kind: "tx-fault", params: { mode: "latched", resets: 3 } }]);
  module.setFault("tx-fault", { mode: "latched", resets: 3 });
  resetPulse(module);
  resetPulse(module);
  assert.equal(module.txFault, true, "set again: two pulses are not three");
  resetPulse(module);
  assert.equal(module.txFault, false);
  assert.deepEqual(module.faults(), []);
  const cleared = seen.filter((e) => e.type === "fault" && !e.active);
  assert.deepEqual(cleared, [{
    type: "fault",
    active: false,
    kind: "tx-fault",
    params: { mode: "latched", resets: 3 },
    reason: "reset by 3 host TX_DISABLE pulses",
  }]);
});

Deno.test("tx-fault latched: a soft TX_DISABLE pulse (A2h 110 bit 6) resets it too; pin and soft bit are one transmitter", () => {
  const module = moduleOf("sfp-10gbase-sr");
  module.setFault("tx-fault", { mode: "latched", resets: 2 });
  const seen = recordEvents(module);
  assert.equal(module.write(A2, Uint8Array.of(110, SOFT_TX_DISABLE)), true);
  assert.equal(module.txFault, true);
  assert.equal(module.write(A2, Uint8Array.of(110, 0)), true);
  assert.equal(module.txFault, true, "one of two");
  // Pin up, soft bit up, pin down: the transmitter stays off; soft bit down ends one pulse.
  module.setTxDisable(true);
  module.write(A2, Uint8Array.of(110, SOFT_TX_DISABLE));
  module.setTxDisable(false);
  assert.equal(module.txFault, true, "the soft bit still disables");
  module.write(A2, Uint8Array.of(110, 0));
  assert.equal(module.txFault, false);
  assert.equal(statusByte(module) & (TX_FAULT | SOFT_TX_DISABLE), 0);
  assert.deepEqual(signalEvents(seen), [
    { type: "txDisable", source: "soft", asserted: true, txDisabled: true },
    { type: "txDisable", source: "soft", asserted: false, txDisabled: false },
    { type: "txDisable", source: "pin", asserted: true, txDisabled: true },
    { type: "txDisable", source: "soft", asserted: true, txDisabled: true },
    { type: "txDisable", source: "pin", asserted: false, txDisabled: true },
    { type: "txDisable", source: "soft", asserted: false, txDisabled: false },
    {
      type: "fault",
      active: false,
      kind: "tx-fault",
      params: { mode: "latched", resets: 2 },
      reason: "reset by 2 host TX_DISABLE pulses",
    },
    { type: "txFault", level: false },
  ]);
});

Deno.test("tx-fault latched: a soft reset pulse under way goes on in a module restored from a2Control and faultProgress", () => {
  const latched = { mode: "latched", resets: 2 };
  const old = moduleOf("sfp-10gbase-sr");
  old.setFault("tx-fault", latched);
  old.write(A2, Uint8Array.of(110, SOFT_TX_DISABLE)); // a pulse begins; then the restart
  const progress = old.faultProgress()["tx-fault"]!;
  assert.deepEqual({ ...progress, sinceMs: 0 }, { sinceMs: 0, generation: 1, resetsLeft: 2, inPulse: true });

  // As the lab restores: the control bytes first, then the fault with its progress.
  const restored = moduleOf("sfp-10gbase-sr");
  restored.restoreA2Control(old.a2Control());
  restored.setFault("tx-fault", latched, progress);
  assert.equal(restored.txDisabled, true);
  assert.equal(restored.txFault, true);
  restored.write(A2, Uint8Array.of(110, 0)); // the pulse ends: it counts
  assert.equal(restored.faultProgress()["tx-fault"]?.resetsLeft, 1);
  restored.write(A2, Uint8Array.of(110, SOFT_TX_DISABLE));
  restored.write(A2, Uint8Array.of(110, 0));
  assert.equal(restored.txFault, false, "two pulses in all, one on each side of the restart");

  // Without the transmitter still off, no pulse is under way: enabling it cannot end one.
  const enabled = moduleOf("sfp-10gbase-sr");
  enabled.setFault("tx-fault", latched, progress);
  assert.deepEqual(enabled.faultProgress()["tx-fault"]?.inPulse, undefined);
  enabled.setTxDisable(true, { atInsertion: true });
  enabled.setTxDisable(false);
  assert.equal(enabled.faultProgress()["tx-fault"]?.resetsLeft, 2);
  // Control bytes restored over it that leave the transmitter on: no pulse is under way any more.
  const reverted = moduleOf("sfp-10gbase-sr");
  reverted.restoreA2Control(old.a2Control());
  reverted.setFault("tx-fault", latched, progress);
  assert.equal(reverted.faultProgress()["tx-fault"]?.inPulse, true);
  reverted.restoreA2Control(new Uint8Array(128));
  assert.equal(reverted.txDisabled, false);
  assert.equal(reverted.faultProgress()["tx-fault"]?.inPulse, undefined);

  assert.throws(
    () => moduleOf("sfp-10gbase-sr").setFault("tx-fault", latched, { ...progress, inPulse: "yes" as never }),
    /progress inPulse must be true or false/,
  );
  assert.throws(
    () =>
      moduleOf("sfp-10gbase-sr").setFault("tx-fault", { mode: "stuck" }, {
        sinceMs: 0,
        generation: 1,
        inPulse: true,
      }),
    /progress has inPulse it cannot use/,
  );
});

Deno.test("tx-fault latched: TX_DISABLE held high keeps TX_FAULT high, however long, until released", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 0 });
  module.setFault("tx-fault", { mode: "latched" });
  module.setTxDisable(true);
  for (const t of [1_000, 60_000, 3_600_000]) {
    clock.ms = t;
    module.advance(t);
    assert.equal(module.txFault, true, `at ${t} ms`);
    assert.equal(statusByte(module) & TX_FAULT, TX_FAULT);
  }
  assert.equal(module.faults().length, 1);
  module.setTxDisable(false);
  assert.equal(module.txFault, false);
  assert.deepEqual(module.faults(), []);
});

Deno.test("tx-fault latched: a pulse under way when it is set, or the host's level at insertion, does not count", () => {
  const module = moduleOf("sfp-10gbase-sr");
  module.setTxDisable(true);
  module.setFault("tx-fault", { mode: "latched" });
  module.setTxDisable(false);
  assert.equal(module.txFault, true, "that pulse began before the fault");
  resetPulse(module);
  assert.equal(module.txFault, false, "a pulse of its own resets it");

  // A module plugged with the fault while the host holds TX_DISABLE high (the board says so).
  const plugged = moduleOf("sfp-10gbase-sr");
  plugged.setFault("tx-fault", { mode: "latched" });
  plugged.setTxDisable(true, { atInsertion: true });
  assert.equal(plugged.txDisabled, true);
  plugged.setTxDisable(false);
  assert.equal(plugged.txFault, true, "the host's level before contact is no pulse");
  resetPulse(plugged);
  assert.equal(plugged.txFault, false);
});

Deno.test("tx-fault latched: cleared by hand it says no reason; another mode replacing it is not reset by pulses", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  module.setFault("tx-fault", { mode: "latched" });
  module.setTxDisable(true);
  assert.equal(module.clearFault("tx-fault"), true);
  module.setTxDisable(false);
  module.setFault("tx-fault", { mode: "latched" });
  module.setTxDisable(true);
  module.setFault("tx-fault", { mode: "stuck" });
  module.setTxDisable(false);
  resetPulse(module);
  assert.equal(module.txFault, true, "stuck stays");
  assert.deepEqual(seen.filter((e) => e.type === "fault"), [
    { type: "fault", active: true, kind: "tx-fault", params: { mode: "latched", resets: 1 } },
    { type: "fault", active: false, kind: "tx-fault", params: { mode: "latched", resets: 1 } },
    { type: "fault", active: true, kind: "tx-fault", params: { mode: "latched", resets: 1 } },
    { type: "fault", active: true, kind: "tx-fault", params: { mode: "stuck" } },
  ]);
});

Deno.test("rx-los-flap: RX_LOS asserted for the first half of each period, then back to automatic", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 0 });
  const seen = recordEvents(module);
  module.setFault("rx-los-flap", { periodMs: 400 });
  for (
    const [t, asserted] of [[0, true], [199, true], [200, false], [399, false], [400, true], [
      650,
      false,
    ]] as const
  ) {
    clock.ms = t;
    assert.equal(module.rxLos, asserted, `pin at ${t} ms`);
    assert.equal((statusByte(module) & RX_LOS) !== 0, asserted, `status bit at ${t} ms`);
  }
  for (let t = 700; t <= 1_600; t += 100) module.advance(t);
  assert.deepEqual(
    seen.filter((e) => e.type === "rxLos").map((e) => e.type === "rxLos" && e.level),
    [true, false, true, false, true, false, true, false, true],
  );

  // No light: the automatic state is asserted too, so the flap cannot release it.
  module.setDiagnostics({ rxPowerDbm: -Infinity });
  for (let t = 1_700; t < 2_200; t += 100) {
    clock.ms = t;
    assert.equal(module.rxLos, true);
  }
});

Deno.test("rx-los-flap on an inverted-LOS module inverts the pin, not the status bit", () => {
  const base = profile("sfp-10gbase-sr");
  const clock = new ManualClock(0);
  const module = new SfpModule(
    { ...base, codes: { ...base.codes, options: ["txDisable", "txFault", "losInverted"] } },
    { now: clock.now, insertedAtMs: -1_000, seed: 1 },
  );
  module.setFault("rx-los-flap", { periodMs: 100 });
  assert.deepEqual([module.rxLos, statusByte(module) & RX_LOS], [false, RX_LOS]);
  clock.ms = 50;
  assert.deepEqual([module.rxLos, statusByte(module) & RX_LOS], [true, 0]);
});

Deno.test("slow-ready: NACKs at both addresses for delayMs after insertion, then Data_Ready_Bar for t_data", () => {
  const clock = new ManualClock(10_000);
  const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 10_000 }); // t_data 300 ms
  module.setFault("slow-ready", { delayMs: 2_000 });
  for (const t of [10_000, 11_000, 11_999]) {
    clock.ms = t;
    assert.deepEqual([answers(module, A0), answers(module, A2)], [false, false], `${t}`);
  }
  assert.equal(module.a2()[110] & DATA_READY_BAR, DATA_READY_BAR, "the API view shows Data_Ready_Bar");
  clock.ms = 12_000;
  assert.deepEqual([answers(module, A0), answers(module, A2)], [true, true]);
  assert.equal(statusByte(module) & DATA_READY_BAR, DATA_READY_BAR);
  clock.ms = 12_299;
  assert.equal(statusByte(module) & DATA_READY_BAR, DATA_READY_BAR);
  clock.ms = 12_300;
  assert.equal(statusByte(module) & DATA_READY_BAR, 0);
  // Long after insertion the fault has nothing left to delay.
  const late = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 0 });
  late.setFault("slow-ready", { delayMs: 2_000 });
  assert.deepEqual([answers(late, A0), statusByte(late) & DATA_READY_BAR], [true, 0]);
});

// ---------------------------------------------------------------- the fault list and its events

Deno.test("faults(): what is in force with its parameters (defaults filled in), in kind order", () => {
  const module = moduleOf("sfp-10gbase-sr");
  assert.deepEqual(module.faults(), []);
  module.setFault("rx-power-drift", { ratePerS: -0.5 });
  module.setFault("nack", { address: "a2" });
  module.setFault("byte-io-bug", {});
  assert.deepEqual(module.faults(), [
    { kind: "nack", params: { address: "a2" } },
    { kind: "byte-io-bug", params: {} },
    { kind: "rx-power-drift", params: { ratePerS: -0.5, minDbm: -40, maxDbm: OPTICAL_POWER.max } },
  ]);
  module.setFault("nack", { address: "a0" });
  assert.deepEqual(module.faults()[0], { kind: "nack", params: { address: "a0" } }, "set again: replaced");
  assert.ok(Object.isFrozen(module.faults()[0].params), "nobody changes a fault behind the module's back");
  assert.equal(module.clearFault("nack"), true);
  assert.equal(module.clearFault("nack"), false, "clearing what is not set is no change");
  assert.deepEqual(module.faults().map((f) => f.kind), ["byte-io-bug", "rx-power-drift"]);
});

Deno.test("fault events: one per change, the fault before what it causes, none for a no-op clear", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  module.setFault("nack", { address: "a0" });
  module.clearFault("nack");
  module.clearFault("nack");
  module.setFault("rx-los-flap", { periodMs: 1_000 });
  assert.deepEqual(seen, [
    { type: "fault", active: true, kind: "nack", params: { address: "a0" } },
    { type: "fault", active: false, kind: "nack", params: { address: "a0" } },
    { type: "fault", active: true, kind: "rx-los-flap", params: { periodMs: 1_000 } },
    { type: "rxLos", level: true },
  ]);
});

Deno.test("hasTimedBehaviour: only while a fault changes the module over time", () => {
  const module = moduleOf("sfp-10gbase-sr");
  assert.equal(module.hasTimedBehaviour, false);
  for (const kind of ["nack", "byte-io-bug", "slow-ready"]) {
    module.setFault(kind, kind === "slow-ready" ? { delayMs: 10 } : undefined);
    assert.equal(module.hasTimedBehaviour, false, kind);
  }
  module.setFault("noise", { band: { vccV: 0.01 } });
  assert.equal(module.hasTimedBehaviour, true);
  module.setFault("rx-los-flap", { periodMs: 300 });
  module.clearFault("noise");
  assert.equal(module.hasTimedBehaviour, true, "the flap still is");
  module.clearFault("rx-los-flap");
  assert.equal(module.hasTimedBehaviour, false);
});

// ---------------------------------------------------------------- refusals

Deno.test("unknown kinds and bad parameters are refused, naming what was wrong and what is allowed", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const refusals: [string, unknown, RegExp][] = [
    ["nak", {}, /fault "nak": unknown fault kind \(did you mean "nack"\?\); known kinds: nack, slow, /],
    ["nack", { address: "a1" }, /fault "nack": address must be one of "a0", "a2", "both", got string "a1"/],
    ["nack", { adress: "a0" }, /unknown parameter "adress" \(did you mean "address"\?\); allowed: address/],
    ["nack", "a0", /fault "nack": parameters must be an object of address/],
    ["slow", {}, /missing parameter delayMs: a number of ms in 0\.\.60000/],
    ["slow", { delayMs: -1 }, /delayMs must be a number of ms in 0\.\.60000, got number -1/],
    ["slow", { delayMs: "5" }, /delayMs must be a number of ms in 0\.\.60000, got string "5"/],
    ["intermittent-nack", { probability: 1.5 }, /probability must be a number in 0\.\.1, got number 1\.5/],
    ["intermittent-nack", { probability: NaN }, /probability must be a number in 0\.\.1/],
    ["byte-io-bug", { size: 1 }, /unknown parameter "size"; this kind takes no parameters/],
    [
      "bad-checksum",
      { field: "cc_base" },
      /field must be one of "cc-base", "cc-ext", "cc-dmi".*did you mean "cc-base"/,
    ],
    ["identifier", { value: 256 }, /value must be a whole number in 0\.\.255, got number 256/],
    ["identifier", { value: 2.5 }, /value must be a whole number in 0\.\.255/],
    ["quirk", { known: "HUAWEI MA5671" }, /known must be one of .*"HUAWEI MA5671A"/],
    [
      "quirk",
      { vendorName: "HUAWEI" },
      /needs known \(e\.g\. "HUAWEI MA5671A"\) or both vendorName and vendorPn/,
    ],
    [
      "quirk",
      { vendorName: "N".repeat(17), vendorPn: "X" },
      /vendorName "N{17}" is 17 characters; the field holds at most 16/,
    ],
    [
      "quirk",
      { known: "HUAWEI MA5671A", vendorPn: "X" },
      /known "HUAWEI MA5671A" is vendorName HUAWEI and vendorPn MA5671A/,
    ],
    ["power-class", { level: 4 }, /level must be one of 2, 3, got number 4/],
    ["tx-fault", { mode: "pulsed" }, /mode must be one of "stuck", "pulse", "latched".*did you mean "pulse"/],
    ["tx-fault", { mode: "pulse", periodMs: 100 }, /mode pulse needs periodMs and widthMs/],
    [
      "tx-fault",
      { mode: "pulse", periodMs: 100, widthMs: 100 },
      /widthMs \(100\) must be shorter than periodMs/,
    ],
    [
      "tx-fault",
      { mode: "stuck", periodMs: 100, widthMs: 10 },
      /mode stuck takes no periodMs or widthMs \(mode pulse only\)/,
    ],
    ["tx-fault", { mode: "stuck", resets: 1 }, /mode stuck takes no resets \(mode latched only\)/],
    ["tx-fault", { mode: "pulse", periodMs: 100, widthMs: 10, resets: 2 }, /mode pulse takes no resets/],
    ["tx-fault", { mode: "latched", widthMs: 10 }, /mode latched takes no widthMs \(mode pulse only\)/],
    ["tx-fault", { mode: "latched", resets: 0 }, /resets must be a whole number in 1\.\.100, got number 0/],
    ["tx-fault", { mode: "latched", resets: 1.5 }, /resets must be a whole number in 1\.\.100/],
    ["tx-fault", { mode: "latched", resets: 101 }, /resets must be a whole number in 1\.\.100/],
    [
      "tx-fault",
      { mode: "latched", resets: "2" },
      /resets must be a whole number in 1\.\.100, got string "2"/,
    ],
    ["tx-fault", { mode: "pulse", periodMs: 0, widthMs: 0 }, /periodMs must be a number of ms above 0/],
    ["rx-los-flap", { periodMs: Infinity }, /periodMs must be a number of ms above 0, up to 3600000/],
    ["slow-ready", { delayMs: 300_001 }, /delayMs must be a number of ms in 0\.\.300000/],
    ["temperature-ramp", { targetC: 200, ratePerS: 1 }, /targetC must be a number of °C in -128\.\.127\.99/],
    ["temperature-ramp", { targetC: 80, ratePerS: 0 }, /ratePerS must be a number of °C\/s above 0/],
    ["noise", { band: {} }, /band must name at least one of temperatureC, vccV/],
    [
      "noise",
      { band: { temperature: 1 } },
      /unknown diagnostic "temperature" \(did you mean "temperatureC"\?\)/,
    ],
    ["noise", { band: { vccV: -0.1 } }, /vccV must be a number of V in 0\.\.6\.5535, got number -0\.1/],
    ["noise", { band: 3 }, /band must be an object of temperatureC/],
    ["rx-power-drift", { ratePerS: 0 }, /ratePerS must not be 0/],
    [
      "rx-power-drift",
      { ratePerS: 1, minDbm: -10, maxDbm: -20 },
      /minDbm \(-10\) must be below maxDbm \(-20\)/,
    ],
    ["rx-power-drift", { ratePerS: 1, minDbm: -50 }, /minDbm must be a number of dBm in -40\.\./],
  ];
  for (const [kind, params, message] of refusals) {
    assert.throws(() => module.setFault(kind, params), (error: unknown) => {
      assert.ok(error instanceof FaultError, `${kind}: a FaultError`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => module.clearFault("nak"), /unknown fault kind \(did you mean "nack"\?\)/);
  assert.deepEqual(module.faults(), [], "nothing refused got in");
  assert.throws(
    () => moduleOf("sfp-10g-dac-passive-3m").setFault("noise", { band: { vccV: 0.1 } }),
    /needs diagnostics \(A2h\)/,
  );
});

Deno.test("every fault kind is covered by these tests' sample faults", () => {
  assert.deepEqual([...new Set(SAMPLE_FAULTS.map(([kind]) => kind))].sort(), [...FAULT_KINDS].sort());
});

// ---------------------------------------------------------------- clearing restores

const SAMPLE_FAULTS: readonly [string, unknown][] = [
  ["nack", { address: "both" }],
  ["slow", { delayMs: 50 }],
  ["intermittent-nack", { probability: 0.5 }],
  ["byte-io-bug", {}],
  ["bad-checksum", { field: "cc-base" }],
  ["bad-checksum", { field: "cc-ext" }],
  ["bad-checksum", { field: "cc-dmi" }],
  ["identifier", { value: 0x0b }],
  ["quirk", { known: "ALCATELLUCENT G010SP" }],
  ["power-class", { level: 3 }],
  ["tx-fault", { mode: "stuck" }],
  ["tx-fault", { mode: "pulse", periodMs: 500, widthMs: 100 }],
  ["tx-fault", { mode: "latched", resets: 2 }],
  ["rx-los-flap", { periodMs: 400 }],
  ["slow-ready", { delayMs: 5_000 }],
  ["temperature-ramp", { targetC: 90, ratePerS: 5 }],
  ["noise", { band: { temperatureC: 3, vccV: 0.1, txBiasMa: 1, txPowerDbm: 1, rxPowerDbm: 2 } }],
  ["rx-power-drift", { ratePerS: -3 }],
];

for (const [kind, params] of SAMPLE_FAULTS) {
  Deno.test(`clearing ${kind} ${JSON.stringify(params)} restores the module a fresh one is`, () => {
    const clock = new ManualClock(10_000);
    const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 10_000, seed: 9 });
    module.setFault(kind, params);
    for (let t = 10_000; t <= 13_000; t += 100) {
      clock.ms = t;
      module.advance(t);
      module.write(A2, Uint8Array.of(96));
      module.read(A2, new Uint8Array(10));
    }
    module.clearFault(kind);
    const fresh = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 10_000, seed: 9 });
    assert.deepEqual(module.a0(), fresh.a0(), "A0h");
    assert.deepEqual(module.a2(), fresh.a2(), "A2h");
    assert.deepEqual(readAt(module, A0, 0, 16), readAt(fresh, A0, 0, 16), "chunked reads");
    assert.deepEqual(readAt(module, A2, 96, 16), readAt(fresh, A2, 96, 16));
    assert.deepEqual(
      [module.rxLos, module.txFault, module.responseDelayMs(A0), module.responseDelayMs(A2)],
      [fresh.rxLos, fresh.txFault, 0, 0],
    );
    assert.deepEqual(module.diagnostics(), fresh.diagnostics());
    assert.deepEqual([module.faults(), module.hasTimedBehaviour], [[], false]);
  });
}
