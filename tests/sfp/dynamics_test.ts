// Environment faults over time (temperature ramps, noise, Rx power drift) as a guest reads them in
// A2h, with the alarm and warning events they raise and clear on their own; and determinism: the
// same seed and clock values give the same bytes however often the module was read or ticked.
import assert from "node:assert/strict";
import { type ModuleEvent, SfpModule } from "../../src/sfp/module.ts";
import { A2, ManualClock, moduleOf, profile, readAt, recordEvents } from "./support.ts";

/** The live words of A2h 96-105 read over I2C, converted as SFF-8472 §9 defines them. */
function liveValues(module: SfpModule) {
  const bytes = readAt(module, A2, 96, 10);
  const word = (i: number) => (bytes[i] << 8) | bytes[i + 1];
  const temperature = word(0) >= 0x8000 ? word(0) - 0x10000 : word(0);
  const dbm = (raw: number) => 10 * Math.log10(raw / 10_000);
  return {
    temperatureC: temperature / 256,
    vccV: word(2) / 10_000,
    txBiasMa: word(4) / 500,
    txPowerDbm: dbm(word(6)),
    rxPowerDbm: dbm(word(8)),
  };
}

function flagChanges(seen: ModuleEvent[], prefix: string): string[] {
  return seen.flatMap((e) =>
    e.type === "flag" && e.flag.startsWith(prefix) ? [`${e.flag} ${e.raised ? "raised" : "cleared"}`] : []
  );
}

Deno.test("temperature-ramp: climbs at its rate to the target, raising the warning then the alarm", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock, insertedAtMs: -1_000 }); // 32 °C; HW 73, HA 78
  const seen = recordEvents(module);
  module.setFault("temperature-ramp", { targetC: 80, ratePerS: 10 });
  clock.ms = 1_500;
  assert.equal(liveValues(module).temperatureC, 47, "read without a tick: 32 + 10 °C/s × 1.5 s");
  for (let t = 1_600; t <= 6_000; t += 100) module.advance(t);
  assert.equal(liveValues(module).temperatureC, 80, "holds at the target");
  assert.deepEqual(flagChanges(seen, "temperature"), [
    "temperature high warning raised",
    "temperature high alarm raised",
  ]);
  assert.deepEqual(module.decode().alarmFlags, ["temperatureHigh"]);
  assert.equal(module.diagnostics().temperatureC, 80);

  // A new ramp goes on from where the module is: back down, the alarm clears before the warning.
  module.setFault("temperature-ramp", { targetC: 32, ratePerS: 10 });
  assert.equal(liveValues(module).temperatureC, 80, "no jump");
  for (let t = 6_100; t <= 12_000; t += 100) module.advance(t);
  assert.equal(liveValues(module).temperatureC, 32);
  assert.deepEqual(flagChanges(seen, "temperature").slice(2), [
    "temperature high alarm cleared",
    "temperature high warning cleared",
  ]);
  assert.deepEqual([module.decode().alarmFlags, module.decode().warningFlags], [[], []]);
});

Deno.test("temperature-ramp: setDiagnostics restarts it from the value set; clearing returns to that value", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock });
  module.setFault("temperature-ramp", { targetC: -20, ratePerS: 2 });
  clock.ms = 5_000;
  assert.equal(liveValues(module).temperatureC, 22);
  module.setDiagnostics({ temperatureC: 50 });
  assert.equal(liveValues(module).temperatureC, 50);
  clock.ms = 6_000;
  assert.equal(liveValues(module).temperatureC, 48);
  module.setDiagnostics({ vccV: 3.2 }); // another value does not restart the ramp
  clock.ms = 7_000;
  assert.equal(liveValues(module).temperatureC, 46);
  module.clearFault("temperature-ramp");
  assert.equal(liveValues(module).temperatureC, 50);
});

Deno.test("noise: every diagnostic within ± its band of the set value, the others untouched", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock, seed: 7 });
  const set = module.diagnostics();
  const band = { temperatureC: 2, vccV: 0.05, rxPowerDbm: 1.5 };
  module.setFault("noise", { band });
  // Tolerances: one count of each word (1/256 °C, 100 µV, and 0.1 µW ≈ 0.001 dB near −3 dBm).
  const quantum = { temperatureC: 1 / 256, vccV: 1e-4, rxPowerDbm: 1e-3 };
  const seenTemperatures = new Set<number>();
  for (let t = 100; t <= 30_000; t += 100) {
    clock.ms = t;
    const values = liveValues(module);
    for (const name of ["temperatureC", "vccV", "rxPowerDbm"] as const) {
      assert.ok(
        Math.abs(values[name] - set[name]) <= band[name] + quantum[name],
        `${name} ${values[name]} at ${t}`,
      );
    }
    assert.equal(values.txBiasMa, set.txBiasMa);
    assert.equal(values.txPowerDbm.toFixed(3), set.txPowerDbm.toFixed(3));
    seenTemperatures.add(values.temperatureC);
  }
  assert.ok(seenTemperatures.size > 200, "a new sample every 100 ms");
  const spread = Math.max(...seenTemperatures) - Math.min(...seenTemperatures);
  assert.ok(spread > 3.5, `300 uniform samples span most of the ±2 °C band (${spread})`);
});

Deno.test("noise: a value depends on the seed and the time only, not on how often it was read", () => {
  const clock = new ManualClock(0);
  const ticked = moduleOf("sfp-10gbase-sr", { clock, seed: 11 });
  const untouched = moduleOf("sfp-10gbase-sr", { clock, seed: 11 });
  const otherSeed = moduleOf("sfp-10gbase-sr", { clock, seed: 12 });
  const band = { band: { temperatureC: 5, txPowerDbm: 1 } };
  for (const module of [ticked, untouched, otherSeed]) module.setFault("noise", band);
  for (let t = 10; t <= 4_000; t += 10) {
    clock.ms = t;
    ticked.advance(t);
    ticked.read(A2, new Uint8Array(4));
  }
  assert.deepEqual(untouched.a2(), ticked.a2());
  assert.deepEqual(untouched.diagnostics(), ticked.diagnostics());
  assert.notDeepEqual(otherSeed.a2().subarray(96, 98), ticked.a2().subarray(96, 98));
});

Deno.test("rx-power-drift: sweeps between its bounds, raising and clearing the Rx power low flags", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock }); // −3.1 dBm; LW −11.9, LA −14.9
  const seen = recordEvents(module);
  module.setFault("rx-power-drift", { ratePerS: -2, minDbm: -20, maxDbm: -2 });
  const levels: number[] = [];
  for (let t = 100; t <= 40_000; t += 100) {
    module.advance(t);
    clock.ms = t;
    levels.push(liveValues(module).rxPowerDbm);
  }
  const tolerance = 0.01; // one count of 0.1 µW is 0.04 dB at −20 dBm
  assert.ok(levels.every((dbm) => dbm >= -20 - tolerance && dbm <= -2 + tolerance));
  assert.ok(Math.min(...levels) < -19.9 && Math.max(...levels) > -2.1, "reaches both bounds and turns");
  assert.equal(levels[9].toFixed(2), "-5.10", "2 dB/s down for 1 s from −3.1 dBm");
  assert.deepEqual(flagChanges(seen, "rx power").slice(0, 4), [
    "rx power low warning raised",
    "rx power low alarm raised",
    "rx power low alarm cleared",
    "rx power low warning cleared",
  ]);
  assert.equal(module.rxLos, false, "above the LOS level all along");
});

Deno.test("rx-power-drift below the LOS level asserts RX_LOS by itself", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock }); // LOS asserts below −30 dBm
  module.setFault("rx-power-drift", { ratePerS: -10, minDbm: -35, maxDbm: -3.1 });
  clock.ms = 2_900; // −32.1 dBm
  assert.equal(module.rxLos, true);
  clock.ms = 3_700; // turned back at −35 (at 3.19 s): −29.9 dBm, between the levels, so still asserted
  assert.equal(module.rxLos, true);
  clock.ms = 4_900; // −17.9 dBm, above −28
  assert.equal(module.rxLos, false);
});

Deno.test("determinism: the same seed and the same calls at the same times give the same bytes and events", () => {
  const run = (seed: number) => {
    const clock = new ManualClock(0);
    const module = moduleOf("sfp-gpon-olt-cplus", { clock, seed });
    const seen = recordEvents(module);
    module.setFault("noise", { band: { rxPowerDbm: 3, temperatureC: 1 } });
    module.setFault("intermittent-nack", { probability: 0.2 });
    module.setFault("rx-power-drift", { ratePerS: 0.7 });
    const answers: boolean[] = [];
    const images: Uint8Array[] = [];
    for (let t = 0; t < 5_000; t += 37) {
      clock.ms = t;
      module.advance();
      answers.push(module.write(A2, Uint8Array.of(96)), module.read(A2, new Uint8Array(10)));
      images.push(module.a2());
    }
    return { answers, images, seen };
  };
  assert.deepEqual(run(99), run(99));
  assert.notDeepEqual(run(99).answers, run(100).answers);
});

Deno.test("advance: refuses a time that is not a number; a clock going back undoes nothing", () => {
  const clock = new ManualClock(0);
  const module = moduleOf("sfp-10gbase-sr", { clock });
  module.setFault("temperature-ramp", { targetC: 40, ratePerS: 1 });
  assert.throws(() => module.advance(NaN), /advance needs a finite time in ms, got NaN/);
  module.advance(4_000);
  assert.equal(liveValues(module).temperatureC, 36, "advance moves the module's time on");
  clock.ms = 1_000;
  assert.equal(liveValues(module).temperatureC, 36);
  assert.equal(module.diagnostics().temperatureC, 36);
});

Deno.test("seed: given seeds are whole numbers; without one the module draws one and says which", () => {
  assert.throws(() => moduleOf("sfp-10gbase-sr", { seed: 1.5 }), /options\.seed must be a whole number/);
  assert.equal(moduleOf("sfp-10gbase-sr", { seed: -7 }).seed, -7);
  const drawn = new SfpModule(profile("sfp-10gbase-sr"));
  assert.ok(Number.isSafeInteger(drawn.seed));
});
