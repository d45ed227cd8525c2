// Loading scenario files: what a valid one becomes, and how a broken one is reported — every
// problem at its file:line:column with its key path, in the topology's issue format.
import assert from "node:assert/strict";
import { formatIssue } from "../../src/topology/issue.ts";
import { loadScenario, loadScenarioFile, ScenarioError } from "../../src/scenario/load.ts";
import { durationMs, formatDuration } from "../../src/scenario/scenario.ts";
import { scenarioJsonSchema } from "../../src/scenario/schema.ts";
import { loadCatalog } from "../../src/sfp/catalog.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const knownProfiles = new Set((await loadCatalog()).keys());

function problems(text: string): string[] {
  try {
    loadScenario(text, { file: "s.yaml", knownProfiles, env: { CAGE: "olt1/lt1/3" } });
  } catch (error) {
    if (error instanceof ScenarioError) return error.issues.map(formatIssue);
    throw error;
  }
  assert.fail("the scenario loaded");
}

Deno.test("a valid scenario: steps with their numbers, lines, at offsets and API bodies", () => {
  const scenario = loadScenario(
    `name: flapping
steps:
  - at: 0s
    plug: { cage: olt1/lt1/3, profile: sfp-gpon-olt-cplus, vendorSn: SN1, faults: { slow-ready: { delayMs: 200 } } }
  - at: 1.5s
    fault: { cage: "\${CAGE}", kind: noise, params: { band: { temperatureC: 2 } } }
  - wait-for: { event: signal-changed, path: olt1/lt1/3, within: 500ms, fields: { signal: rx-los, level: 1 } }
  - set: { cage: olt1/lt1/3, temperatureC: 80, rxLos: auto, txFault: true }
  - clear: { cage: olt1/lt1/3, kind: noise }
  - unplug: { cage: olt1/lt1/3 }
  - at: 1m
    expect: { event: module-removed, path: olt1/lt1/3, within: 1s }
`,
    { file: "f.yaml", knownProfiles, env: { CAGE: "olt1/lt1/3" } },
  );
  assert.equal(scenario.name, "flapping");
  assert.deepEqual(scenario.steps.map((s) => [s.number, s.line, s.atMs]), [
    [1, 3, 0],
    [2, 5, 1500],
    [3, 7, undefined],
    [4, 8, undefined],
    [5, 9, undefined],
    [6, 10, undefined],
    [7, 11, 60_000],
  ]);
  const cage = { path: "olt1/lt1/3", olt: "olt1", board: "lt1", cage: 3 };
  assert.deepEqual(scenario.steps.map((s) => s.action), [
    {
      type: "plug",
      cage,
      module: { profile: "sfp-gpon-olt-cplus", vendorSn: "SN1", faults: { "slow-ready": { delayMs: 200 } } },
    },
    { type: "fault", cage, kind: "noise", params: { band: { temperatureC: 2 } } },
    {
      type: "wait-for",
      event: "signal-changed",
      path: "olt1/lt1/3",
      withinMs: 500,
      fields: { signal: "rx-los", level: 1 },
    },
    { type: "set", cage, diagnostics: { temperatureC: 80 }, signals: { rxLos: null, txFault: true } },
    { type: "clear", cage, kind: "noise" },
    { type: "unplug", cage },
    { type: "expect", event: "module-removed", path: "olt1/lt1/3", withinMs: 1000, fields: {} },
  ]);
});

Deno.test("shape problems: each at its line, column and key path, saying what would be right", () => {
  assert.deepEqual(
    problems(`name: broken
steps:
  - at: 2
    plug: { cage: olt1/lt1, profile: sfp-gpon-olt-cplus }
  - fault: { cage: olt1/lt1/3, kind: rx-los-flip }
  - wait-for: { event: signal-changed }
  - set: { cage: olt1/lt1/3, colour: red }
`),
    [
      's.yaml:3:9: steps[0].at: "2" is not valid: a duration is a number with ms, s or m, like 500ms, 2s or 1.5m',
      's.yaml:4:19: steps[0].plug.cage: "olt1/lt1" is not valid: a cage is OLT/BOARD/CAGE, like olt1/lt1/3',
      's.yaml:5:38: steps[1].fault.kind: unknown fault kind "rx-los-flip"; did you mean "rx-los-flap"? known: ' +
      "nack, slow, intermittent-nack, byte-io-bug, bad-checksum, identifier, quirk, power-class, tx-fault, " +
      "rx-los-flap, slow-ready, temperature-ramp, ...",
      's.yaml:6:15: steps[2].wait-for.within: missing required key "within" (How long to wait for it, from ' +
      "when the step starts)",
      's.yaml:7:30: steps[3].set.colour: unknown key "colour"; known: cage, temperatureC, vccV, txBiasMa, ' +
      "txPowerDbm, rxPowerDbm, rxLos, txFault",
    ],
  );
});

Deno.test("step problems: one action per step, at in order, fault parameters, profiles", () => {
  assert.deepEqual(
    problems(`name: broken
steps:
  - at: 3s
    plug: { cage: olt1/lt1/3, profile: sfp-gpon-olt-cplsu }
  - at: 2s
    fault: { cage: olt1/lt1/3, kind: rx-los-flap, params: { periodMs: -5 } }
  - fault: { cage: olt1/lt1/3, kind: rx-los-flap }
  - clear: { cage: olt1/lt1/3, kind: rx-los-flap }
    unplug: { cage: olt1/lt1/3 }
  - set: { cage: olt1/lt1/3 }
  - at: 4s
  - plug: { cage: olt1/lt1/4, profile: sfp-gpon-olt-cplus, faults: { nack: { adress: a0 }, nakc: {} } }
`),
    [
      's.yaml:4:40: steps[0].plug.profile: unknown module profile "sfp-gpon-olt-cplsu"; did you mean ' +
      '"sfp-gpon-olt-cplus"? known: sfp-1000base-lx, sfp-1000base-t, sfp-10g-dac-passive-3m, sfp-10gbase-lr, sfp-10gbase-sr, ' +
      "sfp-gpon-olt-bplus, sfp-gpon-olt-cplus, sfp28-25gbase-sr, sfpp-xgspon-olt-n1",
      "s.yaml:5:9: steps[1].at: at 2s is before the at 3s of a step before it; steps run in the order written",
      's.yaml:6:71: steps[1].fault.params.periodMs: fault "rx-los-flap": periodMs must be a number of ms above 0, ' +
      "up to 3600000, got number -5",
      's.yaml:7:12: steps[2].fault.params: fault "rx-los-flap": missing parameter periodMs: a number of ms above 0, ' +
      "up to 3600000 (one full asserted + released cycle)",
      "s.yaml:9:5: steps[3].unplug: a step does one thing; this one has clear and unplug: make them separate steps",
      "s.yaml:10:5: steps[4].set: set needs at least one reading or pin besides the cage",
      "s.yaml:11:5: steps[5]: a step needs an action: one of plug, unplug, set, fault, clear, wait-for, expect",
      's.yaml:12:76: steps[6].plug.faults.nack: fault "nack": unknown parameter "adress" (did you mean ' +
      '"address"?); allowed: address',
      's.yaml:12:92: steps[6].plug.faults.nakc: fault "nakc": unknown fault kind (did you mean "nack"?); known ' +
      "kinds: nack, slow, intermittent-nack, byte-io-bug, bad-checksum, identifier, quirk, power-class, " +
      "tx-fault, rx-los-flap, slow-ready, temperature-ramp, noise, rx-power-drift",
    ],
  );
});

Deno.test("file problems: syntax, empty, steps as a mapping or empty, unreadable", async () => {
  assert.deepEqual(problems("name: x\nsteps:\n  - at: 1s\n  at: 2\n"), [
    "s.yaml:4:1: All mapping items must start at the same column",
  ]);
  assert.deepEqual(problems("name: x\nname: y\nsteps: []\n"), [
    "s.yaml:2:1: duplicate key: a key may appear once in a mapping",
  ]);
  assert.deepEqual(problems("# nothing\n"), ["s.yaml:1:1: the scenario is empty; it needs a name and steps"]);
  assert.deepEqual(problems("name: x\nsteps: { a: { at: 1s } }\n"), [
    "s.yaml:2:8: steps: steps is a list (- at: 2s ...), not a mapping",
  ]);
  assert.deepEqual(problems("name: x\nsteps: []\n"), [
    "s.yaml:2:8: steps: a scenario needs at least one step",
  ]);
  assert.deepEqual(problems("steps: [ { unplug: { cage: a/b/1 } } ]\n"), [
    's.yaml:1:1: name: missing required key "name" (What the scenario shows)',
  ]);
  await assert.rejects(loadScenarioFile("/nonexistent/s.yaml"), (error: Error) => {
    assert.ok(error instanceof ScenarioError);
    assert.equal(
      formatIssue(error.issues[0]),
      "/nonexistent/s.yaml:1:1: cannot read the scenario: no such file",
    );
    return true;
  });
});

Deno.test("durations: ms, s and m, and 0; printed back short", () => {
  assert.deepEqual(["0", "250ms", "2s", "1.5s", "1m"].map(durationMs), [0, 250, 2000, 1500, 60_000]);
  assert.throws(() => durationMs("2"), /"2" is not a duration/);
  assert.deepEqual([0, 250, 2000, 1500, 60_000].map(formatDuration), ["0ms", "250ms", "2s", "1.5s", "60s"]);
});

Deno.test("the examples check clean, and schema/scenario.schema.json is what schema.ts generates", async () => {
  for (const entry of Deno.readDirSync(`${ROOT}examples/scenarios`)) {
    const scenario = await loadScenarioFile(`${ROOT}examples/scenarios/${entry.name}`, { knownProfiles });
    assert.ok(scenario.steps.length > 3, entry.name);
  }
  assert.equal(
    await Deno.readTextFile(`${ROOT}schema/scenario.schema.json`),
    scenarioJsonSchema(),
    "regenerate with: deno run src/scenario/schema.ts > schema/scenario.schema.json",
  );
});
