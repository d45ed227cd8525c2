import assert from "node:assert/strict";
import {
  activeFlags,
  CURRENT,
  DIAGNOSTICS,
  flagName,
  OPTICAL_POWER,
  TEMPERATURE,
  thresholdOrderProblem,
  VOLTAGE,
} from "../../src/sfp/diagnostics.ts";

Deno.test("raw words convert as SFF-8472 defines them (sfp-facts §1.5 examples)", () => {
  assert.equal(TEMPERATURE.fromRaw(0x2000), 32);
  assert.equal(TEMPERATURE.fromRaw(-0x0100), -1);
  assert.equal(VOLTAGE.fromRaw(0x8134), 3.3076);
  assert.equal(CURRENT.fromRaw(0x0dde), 7.1);
  assert.equal(OPTICAL_POWER.fromRaw(0x157f).toFixed(3), "-2.594"); // 0.5503 mW
  assert.equal(TEMPERATURE.toRaw(32), 0x2000);
  assert.equal(VOLTAGE.toRaw(3.31), 33100);
  assert.equal(CURRENT.toRaw(7.1), 3550);
  assert.equal(OPTICAL_POWER.toRaw(0), 10_000); // 0 dBm = 1 mW
});

Deno.test("no optical power is raw 0 and −∞ dBm, both ways", () => {
  assert.equal(OPTICAL_POWER.toRaw(-Infinity), 0);
  assert.equal(OPTICAL_POWER.fromRaw(0), -Infinity);
  assert.equal(OPTICAL_POWER.toRaw(-60), 0); // below the resolution floor
});

Deno.test("PON quantisation (sfp-facts §1.9): −33.5 dBm is stored as 4 and reads back as −33.98 dBm", () => {
  assert.equal(OPTICAL_POWER.toRaw(-33.5), 4);
  assert.equal(OPTICAL_POWER.fromRaw(4).toFixed(2), "-33.98");
  assert.equal(OPTICAL_POWER.fromRaw(1), -40);
});

Deno.test("every raw count reads back to itself through human units", () => {
  for (const { name, quantity } of DIAGNOSTICS) {
    for (let raw = quantity.rawMin; raw <= quantity.rawMax; raw++) {
      const back = quantity.toRaw(quantity.fromRaw(raw));
      if (back !== raw) assert.fail(`${name}: raw ${raw} → ${quantity.fromRaw(raw)} → ${back}`);
    }
  }
});

Deno.test("values beyond the word saturate like an ADC; NaN is refused", () => {
  assert.equal(TEMPERATURE.toRaw(500), 32767);
  assert.equal(TEMPERATURE.toRaw(-500), -32768);
  assert.equal(VOLTAGE.toRaw(-1), 0);
  assert.equal(OPTICAL_POWER.toRaw(20), 65535);
  assert.equal(OPTICAL_POWER.toRaw(Infinity), 65535);
  assert.throws(() => CURRENT.toRaw(NaN), RangeError);
});

Deno.test("flags: high above the threshold, low below it, nothing at it", () => {
  const limits = { lowAlarm: 10, lowWarning: 20, highWarning: 80, highAlarm: 90 };
  const thresholds = {
    temperatureC: limits,
    vccV: limits,
    txBiasMa: limits,
    txPowerDbm: limits,
    rxPowerDbm: limits,
  };
  const at = (value: number) =>
    activeFlags({ temperatureC: value, vccV: 50, txBiasMa: 50, txPowerDbm: 50, rxPowerDbm: 50 }, thresholds)
      .map(flagName);
  assert.deepEqual(at(50), []);
  assert.deepEqual(at(80), []);
  assert.deepEqual(at(81), ["temperature high warning"]);
  assert.deepEqual(at(91), ["temperature high warning", "temperature high alarm"]);
  assert.deepEqual(at(10), ["temperature low warning"]);
  assert.deepEqual(at(9), ["temperature low alarm", "temperature low warning"]);
});

Deno.test("threshold order must be lowAlarm < lowWarning < highWarning < highAlarm", () => {
  assert.equal(
    thresholdOrderProblem({ lowAlarm: 1, lowWarning: 2, highWarning: 3, highAlarm: 4 }),
    undefined,
  );
  assert.match(
    thresholdOrderProblem({ lowAlarm: 1, lowWarning: 3, highWarning: 3, highAlarm: 4 })!,
    /lowWarning must be below highWarning/,
  );
  assert.match(
    thresholdOrderProblem({ lowAlarm: 5, lowWarning: 3, highWarning: 4, highAlarm: 6 })!,
    /lowAlarm must be below lowWarning/,
  );
});
