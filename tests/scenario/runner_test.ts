// Running scenarios in-process against a lab: steps in order, `at` kept relative to the start
// (seen through a clock the test controls, so nothing depends on how fast the machine is), waits
// that consume events in order, and failures that say which step, why, and what was seen instead.
import assert from "node:assert/strict";
import { loadScenario } from "../../src/scenario/load.ts";
import { runScenario, type ScenarioClock } from "../../src/scenario/runner.ts";
import { inProcessTarget, type ScenarioTarget } from "../../src/scenario/target.ts";
import { LabFixture } from "../lab/lab-fixture.ts";

/** Time that moves only when the runner sleeps, or when the test says a request took some. */
class TestClock implements ScenarioClock {
  nowMs = 0;
  readonly sleeps: number[] = [];

  now(): number {
    return this.nowMs;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
    await Promise.resolve();
  }
}

async function run(
  lab: LabFixture,
  text: string,
  options: { clock?: ScenarioClock; target?: ScenarioTarget } = {},
) {
  const lines: string[] = [];
  const result = await runScenario(loadScenario(text, { file: "t.yaml" }), {
    target: options.target ?? inProcessTarget(lab.app, lab.lab.events),
    clock: options.clock,
    print: (line) => lines.push(line),
  });
  return { result, lines };
}

/** The time column and step number of each step line. */
function timeline(lines: string[]): string[] {
  return lines.flatMap((line) => {
    const match = /^ *([0-9.]+s) {2}step (\d+) /.exec(line);
    return match ? [`${match[2]}@${match[1]}`] : [];
  });
}

Deno.test("steps run in order; `at` is an offset from the start, and a late step runs at once", async () => {
  await using lab = await LabFixture.start({ seed: 3 });
  const clock = new TestClock();
  const inProcess = inProcessTarget(lab.app, lab.lab.events);
  // Every action takes 2 s of the test's clock, so steps can be late for their `at`.
  const slowTarget: ScenarioTarget = {
    ...inProcess,
    async request(method, path, body) {
      if (method !== "GET") clock.nowMs += 2000;
      return await inProcess.request(method, path, body);
    },
  };
  const seq = lab.lab.events.lastSeq;
  const { result, lines } = await run(
    lab,
    `name: timing
steps:
  - at: 0s
    plug: { cage: olt1/lt1/2, profile: sfp-10gbase-lr }
  - at: 5s
    unplug: { cage: olt1/lt1/2 }
  - plug: { cage: olt1/lt1/2, profile: sfp-10gbase-sr }
  - at: 12s
    fault: { cage: olt1/lt1/2, kind: nack }
  - at: 13s
    clear: { cage: olt1/lt1/2, kind: nack }
`,
    { clock, target: slowTarget },
  );
  assert.equal(result.ok, true, lines.join("\n"));
  assert.deepEqual(timeline(lines), ["1@0.000s", "2@5.000s", "3@7.000s", "4@12.000s", "5@14.000s"]);
  assert.deepEqual(
    clock.sleeps,
    [3000, 3000],
    "slept up to 5 s and 12 s from the start; not for the late step 5",
  );
  const own = lab.events.filter((e) =>
    e.seq > seq && ["module-inserted", "module-removed"].includes(e.type) || e.type.startsWith("fault-")
  );
  assert.deepEqual(own.map((e) => `${e.type} ${e.profile ?? e.kind}`), [
    "module-inserted sfp-10gbase-lr",
    "module-removed sfp-10gbase-lr",
    "module-inserted sfp-10gbase-sr",
    "fault-set nack",
    "fault-cleared nack",
  ]);
  assert.match(lines[0], /^scenario "timing" \(t\.yaml\): 5 steps against in-process, emulator seed 3$/);
  assert.match(lines.at(-1)!, /^scenario "timing" passed: 5 steps in 16s$/);
});

Deno.test("an expect that cannot be met fails the scenario at that step, naming what was seen instead", async () => {
  await using lab = await LabFixture.start();
  const { result, lines } = await run(
    lab,
    `name: wrong expectation
steps:
  - plug: { cage: olt1/lt1/2, profile: sfp-10gbase-lr }
  - expect: { event: module-inserted, path: olt1/lt1/2, within: 1s }
  - expect: { event: module-removed, path: olt1/lt1/2, within: 1s }
  - unplug: { cage: olt1/lt1/2 }
`,
    { clock: new TestClock() },
  );
  assert.equal(result.ok, false);
  const message = result.failure!.message;
  assert.equal(result.failure!.step.number, 3);
  assert.match(
    message,
    /^step 3 \(t\.yaml:5\) expect: no module-removed at olt1\/lt1\/2 within 1s; seen instead: #\d+ /,
  );
  // What came after the event step 2 matched: the plug's effects (TX_DISABLE held high by the host,
  // so the laser is off and its low alarms are up), not the insertion step 2 already took.
  assert.doesNotMatch(message, /module-inserted/);
  assert.match(message, /module-flag olt1\/lt1\/2 flag=tx power low alarm/);
  assert.match(
    lines.at(-2)!,
    /step 3 \(line 5\) {2}expect module-removed at olt1\/lt1\/2 within 1s {2}FAILED$/,
  );
  assert.equal(lines.at(-1), `scenario "wrong expectation" FAILED at ${message}`);
  assert.ok(lab.lab.cage("olt1", "lt1", 2).cage.module, "the steps after the failure did not run");
});

Deno.test("an expect with nothing at all to show says so; a wait-for that sees nothing goes on", async () => {
  await using lab = await LabFixture.start();
  const { result, lines } = await run(
    lab,
    `name: quiet
steps:
  - wait-for: { event: fault-set, within: 2s }
  - expect: { event: fault-set, path: olt1/lt1/1, fields: { kind: nack }, within: 500ms }
`,
    { clock: new TestClock() },
  );
  assert.match(lines[1], /wait-for fault-set within 2s {2}not seen within 2s; going on$/);
  assert.equal(
    result.failure?.message,
    "step 2 (t.yaml:4) expect: no fault-set at olt1/lt1/1 {kind: nack} within 500ms; " +
      "no events at all were seen since the step it counts from",
  );
});

Deno.test("an action the API refuses fails the scenario with the API's message", async () => {
  await using lab = await LabFixture.start();
  const { result, lines } = await run(
    lab,
    `name: refused
steps:
  - plug: { cage: olt1/lt1/1, profile: sfp-10gbase-lr }
`,
  );
  assert.equal(
    result.failure?.message,
    "step 1 (t.yaml:3) plug: refused: cage olt1/lt1/1 already holds a module; unplug it first " +
      "(at olt1/lt1/1) [HTTP 409 conflict]",
  );
  assert.match(lines[1], /plug olt1\/lt1\/1 profile=sfp-10gbase-lr {2}FAILED$/);
});

// A flap's half period is longer than the lab's 100 ms tick, so the ticker sees every edge.
Deno.test("waits in a row consume events in order: a flapping RX_LOS seen high, low, high, low", async () => {
  await using lab = await LabFixture.start();
  const { result, lines } = await run(
    lab,
    `name: flaps
steps:
  - fault: { cage: olt1/lt1/1, kind: rx-los-flap, params: { periodMs: 400 } }
  - expect: { event: signal-changed, path: olt1/lt1/1, fields: { signal: rx-los, level: 1 }, within: 20s }
  - expect: { event: signal-changed, path: olt1/lt1/1, fields: { signal: rx-los, level: 0 }, within: 20s }
  - expect: { event: signal-changed, path: olt1/lt1/1, fields: { signal: rx-los, level: 1 }, within: 20s }
  - expect: { event: signal-changed, path: olt1/lt1/1, fields: { signal: rx-los, level: 0 }, within: 20s }
  - clear: { cage: olt1/lt1/1, kind: rx-los-flap }
  - set: { cage: olt1/lt1/1, rxLos: true, temperatureC: 50 }
  - expect: { event: signals-forced, path: olt1/lt1/1, within: 1s }
`,
  );
  assert.equal(result.ok, true, lines.join("\n"));
  const seen = lines.flatMap((line) => /seen #(\d+)/.exec(line)?.[1] ?? []).map(Number);
  assert.equal(seen.length, 5);
  assert.deepEqual([...seen].sort((a, b) => a - b), seen, `each wait saw a later event: ${seen}`);
  assert.equal(new Set(seen).size, 5);
  assert.deepEqual(lab.lab.forcedSignals(lab.lab.module("olt1", "lt1", 1)), { rxLos: true, txFault: null });
  assert.equal(lab.lab.module("olt1", "lt1", 1).diagnostics().temperatureC, 50);
});
