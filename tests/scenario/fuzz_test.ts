// Seeded fuzzing of scenario files: a scenario is untrusted input. The example scenarios are
// mutated (tests/support/yaml-mutation.ts) and loaded. Properties: the loader returns a scenario or
// throws a ScenarioError whose every issue points at a line and column of the file with a message;
// never any other exception. A scenario it returns has steps, each with its line in the file and a
// one-line description, in the order of the file, at times that are real durations.
import assert from "node:assert/strict";
import { loadScenario, ScenarioError } from "../../src/scenario/load.ts";
import { describeAction } from "../../src/scenario/scenario.ts";
import { loadCatalog } from "../../src/sfp/catalog.ts";
import { fc, fuzz } from "../support/fuzz.ts";
import { mutateYaml, yamlMutation } from "../support/yaml-mutation.ts";

const ROOT = new URL("../../", import.meta.url);
const knownProfiles = new Set((await loadCatalog()).keys());
const EXAMPLES = await Promise.all(
  ["line-card-bring-up.yaml", "module-flapping.yaml", "thermal-runaway.yaml"].map(async (name) => ({
    file: `examples/scenarios/${name}`,
    text: await Deno.readTextFile(new URL(`examples/scenarios/${name}`, ROOT)),
  })),
);
/** New values near a scenario's own: cages, durations, events, kinds, profiles. */
const SCENARIO_MUTATION = yamlMutation([
  "olt1/lt1/3",
  "olt9/lt1/1",
  "olt1/lt1/999",
  "1s",
  "-1s",
  "1.5m",
  "99999999m",
  "500",
  "module-removed",
  "rx-los-flap",
  "sfp-gpon-olt-cplus",
  { event: "fault-set", within: "1s" },
]);

Deno.test("fuzz: mutated scenario files load whole or fail with issues that point into the file", async () => {
  const outcomes = { loaded: 0, refused: 0 };
  const { numRuns } = await fuzz(
    { name: "scenario files", seed: 0x5c_e4a0, numRuns: 400 },
    fc.tuple(fc.constantFrom(...EXAMPLES), fc.array(SCENARIO_MUTATION, { minLength: 1, maxLength: 4 })),
    ([example, mutations]) => {
      const text = mutations.reduce(mutateYaml, example.text);
      const what = `${example.file} after ${JSON.stringify(mutations)}`;
      const lines = text.split("\n").length;
      try {
        const scenario = loadScenario(text, {
          file: "fuzz.yaml",
          knownProfiles,
          env: { CAGE: "olt1/lt1/2" },
        });
        assert.ok(scenario.steps.length > 0, `${what}: a scenario without steps`);
        let line = 0;
        scenario.steps.forEach((step, i) => {
          assert.equal(step.number, i + 1);
          assert.ok(
            step.line >= line && step.line <= lines,
            `${what}: step ${step.number} at line ${step.line}`,
          );
          line = step.line;
          if (step.atMs !== undefined) {
            assert.ok(Number.isFinite(step.atMs) && step.atMs >= 0, `${what}: at ${step.atMs}`);
          }
          assert.ok(describeAction(step.action).length > 0);
        });
        outcomes.loaded++;
      } catch (error) {
        if (!(error instanceof ScenarioError)) {
          throw new Error(`${what}: the loader threw ${String(error)} instead of a ScenarioError`, {
            cause: error,
          });
        }
        assert.ok(error.issues.length > 0, `${what}: a ScenarioError without issues`);
        for (const issue of error.issues) {
          assert.ok(issue.line >= 1 && issue.line <= lines + 1, `${what}: line ${issue.line} of ${lines}`);
          assert.ok(issue.column >= 1 && issue.message.length > 0, `${what}: ${JSON.stringify(issue)}`);
        }
        outcomes.refused++;
      }
      return Promise.resolve();
    },
  );
  console.log(
    `${numRuns} mutated scenarios: ${outcomes.loaded} loaded, ${outcomes.refused} refused with issues`,
  );
  assert.ok(outcomes.loaded > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});
