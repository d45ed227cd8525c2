// Seeded fuzzing of topology files: a topology is untrusted input. The repository's example files
// are mutated, as data (a value replaced by any other, a key dropped, a made-up key added) and as
// text (bytes cut, inserted or repeated), and loaded. Properties: the loader returns a topology or
// throws a TopologyError whose every issue points at a line and column of the file with a message;
// never any other exception. A topology it returns is whole: every board's cages as its kind says,
// a socket per plane, unique ids.
import assert from "node:assert/strict";
import { TopologyError } from "../../src/topology/issue.ts";
import type { Topology } from "../../src/topology/model.ts";
import { fc, fuzz } from "../support/fuzz.ts";
import { mutateYaml, yamlMutation } from "../support/yaml-mutation.ts";
import { load } from "./fixtures.ts";

const ROOT = new URL("../../", import.meta.url);
const EXAMPLES = await Promise.all(
  ["examples/olt-chassis.yaml", "examples/minimal.yaml", "examples/env.yaml"].map(async (file) => ({
    file,
    text: await Deno.readTextFile(new URL(file, ROOT)),
  })),
);

/** The loader's answer: a topology, or the issues of a TopologyError; anything else fails the test. */
function loadOrIssues(text: string, what: string): Topology | undefined {
  try {
    return load(text, { file: "fuzz.yaml", env: { LAB: "x", SLOT: "3" } });
  } catch (error) {
    if (!(error instanceof TopologyError)) {
      throw new Error(`${what}: the loader threw ${String(error)} instead of a TopologyError`, {
        cause: error,
      });
    }
    assert.ok(error.issues.length > 0, `${what}: a TopologyError without issues`);
    const lines = text.split("\n").length;
    for (const issue of error.issues) {
      assert.equal(issue.file, "fuzz.yaml");
      assert.ok(issue.line >= 1 && issue.line <= lines + 1, `${what}: line ${issue.line} of ${lines}`);
      assert.ok(issue.column >= 1, `${what}: column ${issue.column}`);
      assert.ok(issue.message.length > 0, `${what}: an issue without a message`);
    }
    return undefined;
  }
}

/** New values near a topology's own: ids, profiles, form factors, paths, variables. */
const TOPOLOGY_MUTATION = yamlMutation(["../../etc", "${LAB}", "sfp-10gbase-sr", "sfp", "sfp28", "olt1", 17]);

function assertWhole(topology: Topology, what: string): void {
  const boardIds = new Set<string>();
  for (const olt of topology.olts) {
    for (const board of olt.boards) {
      const id = `${olt.id}/${board.id}`;
      assert.ok(!boardIds.has(id), `${what}: board ${id} twice`);
      boardIds.add(id);
      assert.ok(board.cageCount >= 1 && board.cages.length === board.cageCount, `${what}: ${id} cages`);
      assert.ok(board.sockets.i2c && board.sockets.gpio && board.sockets.i2c !== board.sockets.gpio);
    }
  }
}

Deno.test("fuzz: mutated topology files load whole or fail with issues that point into the file", async () => {
  const outcomes = { loaded: 0, refused: 0 };
  const { numRuns } = await fuzz(
    { name: "topology files", seed: 0x70_9010, numRuns: 400 },
    fc.tuple(fc.constantFrom(...EXAMPLES), fc.array(TOPOLOGY_MUTATION, { minLength: 1, maxLength: 4 })),
    ([example, mutations]) => {
      const text = mutations.reduce(mutateYaml, example.text);
      const what = `${example.file} after ${JSON.stringify(mutations)}`;
      const topology = loadOrIssues(text, what);
      if (topology) {
        assertWhole(topology, what);
        outcomes.loaded++;
      } else outcomes.refused++;
      return Promise.resolve();
    },
  );
  console.log(`${numRuns} mutated files: ${outcomes.loaded} loaded, ${outcomes.refused} refused with issues`);
  // Both sides were reached: the mutations are not all fatal, nor all harmless.
  assert.ok(outcomes.loaded > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});
