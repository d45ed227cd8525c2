// The example scenarios as users run them (`sfpemu run --scenario`): each against the built-in
// topology it was written for, in a lab of its own, with real time (their waits are on events
// the ticker raises). The three run side by side.
import assert from "node:assert/strict";
import { loadScenarioFile } from "../../src/scenario/load.ts";
import { runScenario } from "../../src/scenario/runner.ts";
import { inProcessTarget } from "../../src/scenario/target.ts";
import { defaultTopologyText } from "../../src/topology/default.ts";
import { LabFixture } from "../lab/lab-fixture.ts";

const EXAMPLES = new URL("../../examples/scenarios/", import.meta.url).pathname;

async function runExample(name: string): Promise<string[]> {
  await using lab = await LabFixture.start({ topology: defaultTopologyText, seed: 1 });
  const lines: string[] = [];
  const result = await runScenario(await loadScenarioFile(`${EXAMPLES}${name}`), {
    target: inProcessTarget(lab.app, lab.lab.events),
    print: (line) => lines.push(line),
  });
  assert.equal(result.ok, true, `${name}:\n${lines.join("\n")}`);
  return lines;
}

Deno.test("the example scenarios pass against the built-in topology", async () => {
  const names = [...Deno.readDirSync(EXAMPLES)].map((entry) => entry.name).sort();
  assert.deepEqual(names, ["line-card-bring-up.yaml", "module-flapping.yaml", "thermal-runaway.yaml"]);
  const outputs = await Promise.all(names.map(runExample));
  for (const lines of outputs) assert.match(lines.at(-1)!, /passed: \d+ steps in /);
});
