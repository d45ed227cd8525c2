import assert from "node:assert/strict";
import {
  type DiagnosticName,
  DIAGNOSTICS,
  quantityOf,
  THRESHOLD_LEVELS,
  type ThresholdLevel,
} from "../../src/sfp/diagnostics.ts";
import { type ModuleEvent, SfpModule } from "../../src/sfp/module.ts";
import { ProfileError } from "../../src/sfp/profile.ts";
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

// SFF-8472 A2h byte 110 bits, written out here independently of the field map.
const TX_DISABLE_PIN = 0x80;
const SOFT_TX_DISABLE = 0x40;
const RS1_PIN = 0x20;
const RS0_PIN = 0x10;
const SOFT_RS0 = 0x08;
const TX_FAULT = 0x04;
const RX_LOS = 0x02;
const DATA_READY_BAR = 0x01;

// SFF-8472 A2h 112-113 (alarms) and 116-117 (warnings): [byte, bit mask] of each flag.
const FLAG_BITS: Record<DiagnosticName, Record<ThresholdLevel, [number, number]>> = {
  temperatureC: {
    highAlarm: [112, 0x80],
    lowAlarm: [112, 0x40],
    highWarning: [116, 0x80],
    lowWarning: [116, 0x40],
  },
  vccV: { highAlarm: [112, 0x20], lowAlarm: [112, 0x10], highWarning: [116, 0x20], lowWarning: [116, 0x10] },
  txBiasMa: {
    highAlarm: [112, 0x08],
    lowAlarm: [112, 0x04],
    highWarning: [116, 0x08],
    lowWarning: [116, 0x04],
  },
  txPowerDbm: {
    highAlarm: [112, 0x02],
    lowAlarm: [112, 0x01],
    highWarning: [116, 0x02],
    lowWarning: [116, 0x01],
  },
  rxPowerDbm: {
    highAlarm: [113, 0x80],
    lowAlarm: [113, 0x40],
    highWarning: [117, 0x80],
    lowWarning: [117, 0x40],
  },
};
// SFF-8472 A2h threshold words: [offset of the high alarm] + 2 × (HA, LA, HW, LW).
const THRESHOLD_BASE: Record<DiagnosticName, number> = {
  temperatureC: 0,
  vccV: 8,
  txBiasMa: 16,
  txPowerDbm: 24,
  rxPowerDbm: 32,
};
const LEVEL_INDEX: Record<ThresholdLevel, number> = {
  highAlarm: 0,
  lowAlarm: 1,
  highWarning: 2,
  lowWarning: 3,
};

function rawThreshold(a2: Uint8Array, name: DiagnosticName, level: ThresholdLevel): number {
  const offset = THRESHOLD_BASE[name] + 2 * LEVEL_INDEX[level];
  const word = (a2[offset] << 8) | a2[offset + 1];
  return name === "temperatureC" && word >= 0x8000 ? word - 0x10000 : word;
}

for (const { name, label } of DIAGNOSTICS) {
  for (const level of THRESHOLD_LEVELS) {
    Deno.test(`flag ${label} ${level}: clear at the threshold, set only beyond it`, () => {
      const module = moduleOf("sfp-10gbase-sr");
      const threshold = rawThreshold(module.a2(), name, level);
      const quantity = quantityOf(name);
      const [byte, mask] = FLAG_BITS[name][level];
      const high = level.startsWith("high");
      const seen = recordEvents(module);
      const flag = `${label} ${level.replace(/([A-Z])/, " $1").toLowerCase()}`;
      for (const delta of [-1, 0, 1]) {
        module.setDiagnostics({ [name]: quantity.fromRaw(threshold + delta) });
        const a2 = module.a2();
        const word = (a2[96 + 2 * DIAGNOSTICS.findIndex((d) => d.name === name)] << 8) |
          a2[97 + 2 * DIAGNOSTICS.findIndex((d) => d.name === name)];
        const raw = name === "temperatureC" && word >= 0x8000 ? word - 0x10000 : word;
        assert.equal(raw, threshold + delta, "the live word is the value set");
        const expected = high ? delta > 0 : delta < 0;
        assert.equal(
          (a2[byte] & mask) !== 0,
          expected,
          `${flag} at threshold ${delta >= 0 ? "+" : ""}${delta}`,
        );
        assert.equal((readAt(module, A2, byte, 1)[0] & mask) !== 0, expected, "the same over I2C");
      }
      // Below → at → above: a low flag clears on the way up, a high flag rises.
      const changes = seen.filter((e) => e.type === "flag" && e.flag === flag);
      assert.deepEqual(
        changes.map((e) => e.type === "flag" && e.raised),
        high ? [true] : [true, false],
      );
    });
  }
}

Deno.test("a healthy module at its typical values raises no flag", () => {
  for (
    const id of [
      "sfp-1000base-lx",
      "sfp-10gbase-sr",
      "sfp-10gbase-lr",
      "sfp28-25gbase-sr",
      "sfp-gpon-olt-bplus",
      "sfp-gpon-olt-cplus",
      "sfpp-xgspon-olt-n1",
    ]
  ) {
    const fields = moduleOf(id).decode();
    assert.deepEqual([fields.alarmFlags, fields.warningFlags, fields.statusControl], [[], [], []], id);
  }
});

Deno.test("PON: Rx power −33.5 dBm reads −33.98 dBm and sits between the C+ low warning and low alarm", () => {
  const module = moduleOf("sfp-gpon-olt-cplus");
  module.setDiagnostics({ rxPowerDbm: -33.5 });
  const a2 = module.a2();
  assert.equal((a2[104] << 8) | a2[105], 4);
  const fields = module.decode();
  assert.equal((fields.rxPower as number).toFixed(2), "-33.98");
  assert.equal((fields.rxPowerLowAlarm as number).toFixed(2), "-35.23"); // −35 dBm stored as 3
  assert.deepEqual(fields.warningFlags, ["rxPowerLow"]);
  assert.deepEqual(fields.alarmFlags, []);
  assert.equal(module.rxLos, false, "−33.5 dBm is above the LOS level");
});

Deno.test("RX_LOS follows Rx power with hysteresis, and raises events on the pin", () => {
  const module = moduleOf("sfp-10gbase-sr"); // LOS asserts below −30 dBm, clears at −28 dBm
  const seen = recordEvents(module);
  assert.equal(module.rxLos, false);
  module.setDiagnostics({ rxPowerDbm: -29 });
  assert.equal(module.rxLos, false, "between the levels: stays clear");
  module.setDiagnostics({ rxPowerDbm: -31 });
  assert.equal(module.rxLos, true);
  assert.equal(statusByte(module) & RX_LOS, RX_LOS);
  module.setDiagnostics({ rxPowerDbm: -29 });
  assert.equal(module.rxLos, true, "between the levels: stays asserted");
  module.setDiagnostics({ rxPowerDbm: -28 });
  assert.equal(module.rxLos, false);
  module.setDiagnostics({ rxPowerDbm: -Infinity });
  assert.equal(module.rxLos, true, "no light at all");
  assert.deepEqual(
    seen.filter((e) => e.type === "rxLos"),
    [{ type: "rxLos", level: true }, { type: "rxLos", level: false }, { type: "rxLos", level: true }],
  );
});

Deno.test("forceSignal overrides RX_LOS and TX_FAULT until released with null", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  module.forceSignal("rxLos", true);
  assert.equal(module.rxLos, true);
  module.setDiagnostics({ rxPowerDbm: -1 });
  assert.equal(module.rxLos, true, "forced wins over light");
  module.forceSignal("rxLos", null);
  assert.equal(module.rxLos, false);
  module.setDiagnostics({ rxPowerDbm: -Infinity });
  module.forceSignal("rxLos", false);
  assert.equal(module.rxLos, false, "forced clear despite no light");
  assert.equal(statusByte(module) & RX_LOS, 0);

  module.forceSignal("txFault", true);
  assert.equal(module.txFault, true);
  assert.equal(statusByte(module) & TX_FAULT, TX_FAULT);
  module.forceSignal("txFault", null);
  assert.equal(module.txFault, false);
  assert.deepEqual(seen.filter((e) => e.type === "txFault"), [
    { type: "txFault", level: true },
    { type: "txFault", level: false },
  ]);
  assert.throws(() => module.forceSignal("modAbs" as never, true), /unknown signal "modAbs"/);
  assert.throws(() => module.forceSignal("rxLos", "yes" as never), /true or false/);
});

Deno.test("TX_DISABLE pin: no Tx power, no bias, Tx low alarms raised; RX_LOS untouched", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  assert.equal(module.txDisabled, false);
  module.setTxDisable(true);
  assert.equal(module.txDisabled, true);
  const a2 = module.a2();
  assert.equal((a2[100] << 8) | a2[101], 0, "bias word");
  assert.equal((a2[102] << 8) | a2[103], 0, "Tx power word");
  assert.equal(a2[110] & TX_DISABLE_PIN, TX_DISABLE_PIN);
  assert.equal(module.diagnostics().txPowerDbm, -Infinity);
  assert.equal(module.diagnostics().txBiasMa, 0);
  assert.equal(module.rxLos, false, "the receiver is independent of the transmitter");
  assert.deepEqual(module.decode().alarmFlags, ["txBiasLow", "txPowerLow"]);
  assert.deepEqual(seen.slice(0, 1), [{
    type: "txDisable",
    source: "pin",
    asserted: true,
    txDisabled: true,
  }]);
  assert.deepEqual(
    seen.filter((e) => e.type === "flag" && e.raised).map((e) => e.type === "flag" && e.flag),
    // Falling to zero passes each warning threshold before its alarm threshold.
    [
      "tx bias low warning",
      "tx power low warning",
      "tx bias low alarm",
      "tx power low alarm",
    ],
  );

  module.setTxDisable(false);
  assert.equal(module.txDisabled, false);
  assert.equal(module.decode().txBias as number, 7.1);
  assert.deepEqual(module.decode().alarmFlags, []);
});

Deno.test("soft TX_DISABLE (A2h 110 bit 6) written over I2C disables the transmitter too", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen = recordEvents(module);
  assert.equal(module.write(A2, Uint8Array.of(110, SOFT_TX_DISABLE)), true);
  assert.equal(module.txDisabled, true);
  assert.equal(statusByte(module) & (SOFT_TX_DISABLE | TX_DISABLE_PIN), SOFT_TX_DISABLE);
  assert.deepEqual(seen[0], { type: "txDisable", source: "soft", asserted: true, txDisabled: true });
  assert.equal(module.decode().txPower, -Infinity);

  // Pin and soft bit are OR-ed: releasing one leaves the other in charge.
  module.setTxDisable(true);
  module.write(A2, Uint8Array.of(110, 0));
  assert.equal(module.txDisabled, true, "the pin still disables");
  module.setTxDisable(false);
  assert.equal(module.txDisabled, false);
  assert.ok((module.decode().txPower as number) > -3);
});

Deno.test("status byte: only soft TX_DISABLE and soft RS0 are writable; RS pins are reported", () => {
  const module = moduleOf("sfp-10gbase-sr");
  module.forceSignal("txFault", true);
  module.write(A2, Uint8Array.of(110, 0xff));
  assert.equal(statusByte(module), SOFT_TX_DISABLE | SOFT_RS0 | TX_FAULT);
  module.write(A2, Uint8Array.of(110, 0x00));
  assert.equal(statusByte(module), TX_FAULT, "module-owned bits survive a host write of 0");
  module.setRs0(true);
  module.setRs1(true);
  assert.equal(statusByte(module), RS0_PIN | RS1_PIN | TX_FAULT);
  module.setRs0(false);
  assert.equal(statusByte(module), RS1_PIN | TX_FAULT);
});

Deno.test("byte 118: soft RS1 and power level select are writable; the state follows only when declared", () => {
  const plain = moduleOf("sfp-10gbase-sr");
  plain.write(A2, Uint8Array.of(118, 0xff));
  assert.equal(readAt(plain, A2, 118, 1)[0], 0x09, "bits 3 and 0 stored, nothing else");
  assert.deepEqual(plain.decode().extendedControl, ["softRs1Select", "powerLevelSelect"]);

  const base = profile("sfp-10gbase-sr");
  const module = new SfpModule({
    ...base,
    codes: { ...base.codes, options: ["powerLevel2", "txDisable", "txFault", "losNormal"] },
  });
  module.write(A2, Uint8Array.of(118, 0x01));
  assert.equal(readAt(module, A2, 118, 1)[0], 0x03, "power level state follows the select");
  module.write(A2, Uint8Array.of(118, 0x00));
  assert.equal(readAt(module, A2, 118, 1)[0], 0x00);
});

Deno.test("Data_Ready_Bar stays set for the profile's delay after insertion (injected clock)", () => {
  const clock = new ManualClock(5_000);
  const module = moduleOf("sfp-10gbase-sr", { clock }); // dataReadyDelayMs: 300
  assert.equal(statusByte(module) & DATA_READY_BAR, DATA_READY_BAR);
  clock.ms = 5_299;
  assert.equal(statusByte(module) & DATA_READY_BAR, DATA_READY_BAR);
  assert.deepEqual(module.decode().statusControl, ["dataReadyBar"]);
  clock.ms = 5_300;
  assert.equal(statusByte(module) & DATA_READY_BAR, 0);
  assert.equal(module.a2()[110] & DATA_READY_BAR, 0);
  clock.ms = 0; // a clock going back does not un-ready a module
  assert.equal(statusByte(module) & DATA_READY_BAR, 0);
});

Deno.test("Data_Ready_Bar: the delay and the insertion time can be set per module", () => {
  const clock = new ManualClock(10_000);
  const slow = moduleOf("sfp-10gbase-sr", { clock, overrides: { dataReadyDelayMs: 2_000 } });
  const instant = moduleOf("sfp-10gbase-sr", { clock, overrides: { dataReadyDelayMs: 0 } });
  const earlier = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: 9_800 });
  const cooled = moduleOf("sfpp-xgspon-olt-n1", { clock }); // 1000 ms in its profile
  assert.equal(statusByte(instant) & DATA_READY_BAR, 0);
  assert.equal(statusByte(earlier) & DATA_READY_BAR, DATA_READY_BAR);
  clock.ms = 10_100;
  assert.equal(statusByte(earlier) & DATA_READY_BAR, 0);
  clock.ms = 11_000;
  assert.equal(statusByte(cooled) & DATA_READY_BAR, 0);
  assert.equal(statusByte(slow) & DATA_READY_BAR, DATA_READY_BAR);
  clock.ms = 12_000;
  assert.equal(statusByte(slow) & DATA_READY_BAR, 0);
});

Deno.test("I2C: Linux chunked reads (offset write + 16-byte read) return the whole images", () => {
  const module = moduleOf("sfp-10gbase-lr");
  for (const [address, image] of [[A0, module.a0()], [A2, module.a2()]] as const) {
    const read = new Uint8Array(256);
    for (let offset = 0; offset < 256; offset += 16) read.set(readAt(module, address, offset, 16), offset);
    assert.deepEqual(read, image);
  }
});

Deno.test("I2C: sequential reads continue from the pointer; each address has its own pointer", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(text(readAt(module, A0, 20, 4)), "FINI");
  module.write(A2, Uint8Array.of(96)); // moves only the A2h pointer
  const next = new Uint8Array(9);
  module.read(A0, next);
  assert.equal(text(next), "SAR CORP.");
  const temperature = new Uint8Array(2);
  module.read(A2, temperature);
  assert.deepEqual([...temperature], [0x20, 0x00]); // 32 °C
});

Deno.test("I2C: a read wraps from byte 255 to byte 0", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const bytes = readAt(module, A0, 250, 10);
  assert.deepEqual([...bytes.subarray(6)], [0x03, 0x04, 0x07, 0x10]);
  const after = new Uint8Array(1);
  module.read(A0, after);
  assert.equal(after[0], module.a0()[4], "the pointer keeps counting after the wrap");
});

Deno.test("I2C: absent addresses NACK; a module without A2h NACKs 0x51", () => {
  const optic = moduleOf("sfp-10gbase-sr");
  assert.equal(optic.read(0x52, new Uint8Array(1)), false);
  assert.equal(optic.write(0x56, Uint8Array.of(0)), false);
  const cable = moduleOf("sfp-10g-dac-passive-3m");
  assert.equal(cable.read(A2, new Uint8Array(1)), false);
  assert.equal(cable.write(A2, Uint8Array.of(110, 0x40)), false);
  assert.equal(cable.read(A0, new Uint8Array(1)), true);
  assert.deepEqual(cable.a2(), new Uint8Array(256).fill(0xff));
  assert.equal(cable.decode().temperature, undefined);
  assert.throws(() => cable.setDiagnostics({ rxPowerDbm: -3 }), /no diagnostics: it has no A2h/);
  assert.equal(cable.modAbs, false);
  assert.equal(cable.rxLos, false);
});

Deno.test("I2C: read-only bytes ignore writes; the pointer still advances", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const a0 = module.a0();
  const a2 = module.a2();
  assert.equal(module.write(A0, Uint8Array.of(20, 0x41, 0x42, 0x43)), true);
  assert.deepEqual(module.a0(), a0);
  const next = new Uint8Array(1);
  module.read(A0, next);
  assert.equal(next[0], a0[23], "pointer moved past the three data bytes");
  module.write(A2, Uint8Array.of(0, 0xff, 0xff)); // temperature high alarm threshold
  module.write(A2, Uint8Array.of(95, 0x00)); // CC_DMI
  module.write(A2, Uint8Array.of(127, 0x01)); // no paging: not a page select
  assert.deepEqual(module.a2(), a2);
});

Deno.test("I2C: the user EEPROM (A2h 128-247) stores writes; 248-255 do not; checksums stay valid", () => {
  const module = moduleOf("sfp-10gbase-sr");
  module.write(A2, Uint8Array.of(128, 0xde, 0xad, 0xbe, 0xef));
  module.write(A2, Uint8Array.of(246, 1, 2, 3, 4));
  assert.deepEqual([...readAt(module, A2, 128, 4)], [0xde, 0xad, 0xbe, 0xef]);
  assert.deepEqual([...readAt(module, A2, 246, 4)], [1, 2, 0, 0]);
  const a2 = module.a2();
  assert.equal(a2[95], independentSum(a2, 0, 94));
});

function pagedModule(pages: number): SfpModule {
  const base = profile("sfp-10gbase-sr");
  return new SfpModule({
    ...base,
    codes: { ...base.codes, options: ["pagingImplemented", "txDisable", "txFault", "losNormal"] },
    a2hPages: pages,
    userEeprom: "aa:bb",
  });
}

Deno.test("A2h paging: byte 127 selects the upper half; unknown pages read 0xFF and drop writes", () => {
  const module = pagedModule(3);
  assert.deepEqual([...readAt(module, A2, 128, 2)], [0xaa, 0xbb], "page 00h holds the profile's user EEPROM");
  module.write(A2, Uint8Array.of(127, 1));
  assert.deepEqual([...readAt(module, A2, 127, 3)], [1, 0, 0]);
  module.write(A2, Uint8Array.of(128, 0x11, 0x22));
  assert.deepEqual([...module.a2().subarray(128, 130)], [0x11, 0x22], "a2() shows the selected page");
  module.write(A2, Uint8Array.of(127, 0));
  assert.deepEqual([...readAt(module, A2, 128, 2)], [0xaa, 0xbb]);
  module.write(A2, Uint8Array.of(127, 7));
  assert.deepEqual([...readAt(module, A2, 127, 3)], [7, 0xff, 0xff]);
  module.write(A2, Uint8Array.of(128, 0x55));
  module.write(A2, Uint8Array.of(127, 1));
  assert.deepEqual([...readAt(module, A2, 128, 2)], [0x11, 0x22], "the write to page 7 went nowhere");
  // One write can select a page and fill it: 127 first, then 128 onwards.
  module.write(A2, Uint8Array.of(127, 2, 0x77));
  assert.deepEqual([...readAt(module, A2, 128, 1)], [0x77]);
  assert.deepEqual(module.decode().pageSelect, 2);
});

/** A paged module (3 pages, a declared power level) on a clock at 1e9, inserted at 0: ready, and the same twice. */
function pagedControlModule(): SfpModule {
  const base = profile("sfp-10gbase-sr");
  const clock = new ManualClock(1e9);
  return new SfpModule({
    ...base,
    codes: {
      ...base.codes,
      options: ["pagingImplemented", "powerLevel2", "txDisable", "txFault", "losNormal"],
    },
    a2hPages: 3,
  }, { now: clock.now, insertedAtMs: 0, seed: 1 });
}

Deno.test("a2Control: the host's control bits, page select and other pages, each write that changes one an event", () => {
  const module = pagedControlModule();
  const seen = recordEvents(module);
  assert.deepEqual(module.a2Control(), new Uint8Array(128 + 2 * 128), "nothing written yet");
  module.write(A2, Uint8Array.of(110, 0xff)); // only soft TX_DISABLE and soft RS0 are the host's
  // After what the write caused (the transmitter off, its flags): a save on hearing it has all of that.
  assert.deepEqual([seen[0].type, seen.at(-1)?.type], ["txDisable", "a2Control"]);
  module.write(A2, Uint8Array.of(118, 0xff)); // soft RS1 and power level select
  module.write(A2, Uint8Array.of(127, 2, 0x11, 0x22)); // page 02h, and its first bytes
  module.write(A2, Uint8Array.of(246, 0x33, 0x44, 0x55)); // 248 is not writable on any page
  assert.equal(seen.filter((e) => e.type === "a2Control").length, 4);
  assert.equal(seen.filter((e) => e.type === "userEeprom").length, 0, "page 02h is not the user EEPROM");
  const before = seen.length;
  module.write(A2, Uint8Array.of(118, 0x09)); // what is there already
  module.write(A2, Uint8Array.of(0, 0xff)); // a threshold: read-only
  assert.equal(seen.length, before, "no change, no event");
  module.write(A2, Uint8Array.of(127, 0));
  module.write(A2, Uint8Array.of(128, 0x66));
  assert.deepEqual(seen.slice(before).map((e) => e.type), ["a2Control", "userEeprom"]);

  const control = module.a2Control();
  const expected = new Uint8Array(128 + 2 * 128);
  expected[110] = SOFT_TX_DISABLE | SOFT_RS0;
  expected[118] = 0x09; // the power level state (bit 1) is the module's, not saved
  expected[127] = 0;
  expected.set([0x11, 0x22], 256);
  expected.set([0x33, 0x44], 256 + 118);
  assert.deepEqual(control, expected);
  assert.equal(moduleOf("sfp-10gbase-sr").a2Control().length, 128, "no paging: the lower half alone");
  assert.deepEqual(moduleOf("sfp-10g-dac-passive-3m").a2Control(), new Uint8Array(0), "no A2h: nothing");
});

Deno.test("restoreA2Control: a new module as the host left the old one, with the effects, without events", () => {
  const old = pagedControlModule();
  old.write(A2, Uint8Array.of(110, SOFT_TX_DISABLE | SOFT_RS0));
  old.write(A2, Uint8Array.of(118, 0x09));
  old.write(A2, Uint8Array.of(127, 1, 0xa1, 0xa2));
  old.write(A2, Uint8Array.of(127, 2, 0xb1));
  const saved = old.a2Control();

  const restored = pagedControlModule();
  const seen = recordEvents(restored);
  restored.restoreA2Control(saved);
  assert.deepEqual([...seen], [], "the host caused nothing now");
  assert.deepEqual(restored.a2(), old.a2(), "every byte a guest reads, page 02h selected");
  assert.deepEqual(restored.decode(), old.decode());
  assert.equal(restored.txDisabled, true);
  assert.equal(restored.diagnostics().txBiasMa, 0);
  assert.equal(restored.diagnostics().txPowerDbm, -Infinity);
  assert.equal(readAt(restored, A2, 118, 1)[0], 0x0b, "the power level state follows the restored select");
  restored.write(A2, Uint8Array.of(127, 1));
  assert.deepEqual([...readAt(restored, A2, 128, 2)], [0xa1, 0xa2]);
  // The soft bit is the host's again: clearing it turns the transmitter on, as on the old module.
  restored.write(A2, Uint8Array.of(110, 0));
  assert.equal(restored.txDisabled, false);
  assert.deepEqual(seen.filter((e) => e.type === "txDisable"), [
    { type: "txDisable", source: "soft", asserted: false, txDisabled: false },
  ]);

  // Only what the host may write is taken: the rest of the bytes is the module's.
  const junk = new Uint8Array(saved.length).fill(0xff);
  const masked = pagedControlModule();
  masked.restoreA2Control(junk);
  assert.equal(
    readAt(masked, A2, 110, 1)[0] & ~(TX_DISABLE_PIN | RS1_PIN | RS0_PIN),
    SOFT_TX_DISABLE | SOFT_RS0,
  );
  assert.equal(readAt(masked, A2, 0, 1)[0], pagedControlModule().a2()[0], "thresholds untouched");
  assert.equal(readAt(masked, A2, 127, 1)[0], 0xff, "page FFh selected, as the host could");
  assert.throws(() => masked.restoreA2Control(new Uint8Array(128)), /has 384 bytes of A2h control and pages/);
  const cable = moduleOf("sfp-10g-dac-passive-3m");
  cable.restoreA2Control(new Uint8Array(0));
  assert.throws(() => cable.restoreA2Control(new Uint8Array(128)), RangeError);
});

Deno.test("a read is one consistent snapshot of the diagnostics", () => {
  const module = moduleOf("sfp-10gbase-sr");
  module.setDiagnostics({ temperatureC: 40.5, vccV: 3.25, txBiasMa: 8, txPowerDbm: -2, rxPowerDbm: -5 });
  const words = readAt(module, A2, 96, 10);
  const expected = module.a2().subarray(96, 106);
  assert.deepEqual(words, expected);
  assert.deepEqual([...words.subarray(0, 2)], [0x28, 0x80]); // 40.5 °C
});

Deno.test("setDiagnostics: partial updates, saturation, and clear errors for bad input", () => {
  const module = moduleOf("sfp-10gbase-sr");
  module.setDiagnostics({ temperatureC: 500 });
  assert.equal(module.decode().temperature, 32767 / 256);
  assert.ok((module.decode().alarmFlags as string[]).includes("temperatureHigh"));
  assert.equal(module.diagnostics().vccV, 3.31, "other values untouched");
  assert.throws(
    () => module.setDiagnostics({ temprature: 3 } as never),
    /unknown diagnostic "temprature" \(did you mean "temperatureC"\?\)/,
  );
  assert.throws(() => module.setDiagnostics({ vccV: NaN }), /vccV must be a number of V/);
  assert.throws(() => module.setDiagnostics({ vccV: "3.3" as never }), /vccV must be a number of V/);
  assert.throws(() => module.setDiagnostics(null as never), /needs an object/);
  assert.throws(() => module.read(A0, [0] as never), /Uint8Array/);
  assert.throws(() => module.setTxDisable(1 as never), /true or false/);
});

Deno.test("onChange: unsubscribe stops events; a throwing listener does not stop the others", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const seen: ModuleEvent[] = [];
  const stop = module.onChange((e) => seen.push(e));
  const originalError = console.error;
  const logged: unknown[] = [];
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const stopFaulty = module.onChange(() => {
      throw new Error("listener bug");
    });
    const later: ModuleEvent[] = [];
    module.onChange((e) => later.push(e));
    module.forceSignal("txFault", true);
    assert.equal(later.length, 1);
    assert.equal(logged.length, 1);
    assert.equal(module.txFault, true);
    stopFaulty();
  } finally {
    console.error = originalError;
  }
  stop();
  module.setTxDisable(true);
  assert.deepEqual(seen, [{ type: "txFault", level: true }]);
});

Deno.test("overrides change the identity an OLT sees, with checksums recomputed", () => {
  const module = moduleOf("sfp-gpon-olt-cplus", {
    overrides: {
      vendorName: "HUAWEI",
      vendorPn: "34060639",
      vendorSn: "HW1234567",
      vendorRev: "B",
      dateCode: "231201AB",
      vendorOui: "00:e0:fc",
    },
  });
  const fields = module.decode();
  assert.deepEqual(
    [
      fields.vendorName,
      fields.vendorPn,
      fields.vendorSn,
      fields.vendorRev,
      fields.dateCode,
      fields.vendorOui,
    ],
    ["HUAWEI", "34060639", "HW1234567", "B", "231201AB", "00:e0:fc"],
  );
  const a0 = module.a0();
  assert.equal(a0[63], independentSum(a0, 0, 62));
  assert.equal(a0[95], independentSum(a0, 64, 94));
  assert.equal(
    moduleOf("sfp-gpon-olt-cplus").decode().vendorName,
    "SFPEMU",
    "the profile itself is untouched",
  );
});

Deno.test("bad overrides and options are refused with what was wrong", () => {
  const p = profile("sfp-10gbase-sr");
  assert.throws(
    () => new SfpModule(p, { overrides: { vendorPn: "P".repeat(17) } }),
    /override vendorPn: "P{17}" is 17 characters; the field holds at most 16/,
  );
  assert.throws(
    () => new SfpModule(p, { overrides: { vendorSerial: "x" } as never }),
    /unknown override "vendorSerial"/,
  );
  assert.throws(
    () => new SfpModule(p, { overrides: { dataReadyDelayMs: -1 } }),
    /dataReadyDelayMs must be a whole number/,
  );
  assert.throws(
    () => new SfpModule(p, { overrides: { dateCode: "Jan 2024" } }),
    /override dateCode: "Jan 2024" is not YYMMDD/,
  );
  assert.throws(() => new SfpModule(p, { insertedAtMs: NaN }), /insertedAtMs must be a finite number/);
});

Deno.test("a profile built in code is validated before use", () => {
  const p = profile("sfp-10gbase-sr");
  const bad = { ...p, identity: { ...p.identity, vendorName: "N".repeat(20) } };
  assert.throws(() => new SfpModule(bad), (error: unknown) => {
    assert.ok(error instanceof ProfileError);
    assert.match(error.message, /^profile sfp-10gbase-sr: identity\.vendorName: "N{20}" is 20 characters/);
    return true;
  });
  assert.throws(() => new SfpModule(null as never), ProfileError);
  const good = new SfpModule({ ...p, description: "copied in code" });
  assert.equal(good.profile.description, "copied in code");
});

Deno.test("an inverted LOS inverts the pin, not the status bit", () => {
  const base = profile("sfp-10gbase-sr");
  const module = new SfpModule({
    ...base,
    codes: { ...base.codes, options: ["txDisable", "txFault", "losInverted"] },
  });
  assert.equal(module.rxLos, true, "signal present: an inverted LOS pin is high");
  module.setDiagnostics({ rxPowerDbm: -Infinity });
  assert.equal(module.rxLos, false);
  assert.equal(statusByte(module) & RX_LOS, RX_LOS);
});

Deno.test("one step across both thresholds: the warning rises before the alarm, the alarm clears before the warning", () => {
  const module = moduleOf("sfp-10gbase-sr");
  const events: string[] = [];
  module.onChange((e) => {
    if (e.type === "flag") events.push(`${e.flag} ${e.raised ? "raised" : "cleared"}`);
  });
  module.setDiagnostics({ temperatureC: 100 }); // above high warning and high alarm at once
  module.setDiagnostics({ temperatureC: 30 });
  module.setDiagnostics({ temperatureC: -40 }); // below both low thresholds at once
  module.setDiagnostics({ temperatureC: 30 });
  assert.deepEqual(events, [
    "temperature high warning raised",
    "temperature high alarm raised",
    "temperature high alarm cleared",
    "temperature high warning cleared",
    "temperature low warning raised",
    "temperature low alarm raised",
    "temperature low alarm cleared",
    "temperature low warning cleared",
  ]);
});
