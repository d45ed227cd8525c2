// Seeded fuzzing of topology files: a topology is untrusted input. The repository's example files
// are mutated, as data (a value replaced by any other, a key dropped, a made-up key added) and as
// text (bytes cut, inserted or repeated), and loaded. Properties: the loader returns a topology or
// throws a TopologyError whose every issue points at a line and column of the file with a message;
// never any other exception. A topology it returns is whole: every board's cages as its kind says,
// a socket per plane, unique ids.
import assert from "node:assert/strict";
import { parseDocument } from "yaml";
import { TopologyError } from "../../src/topology/issue.ts";
import type { Topology } from "../../src/topology/model.ts";
import { fc, fuzz } from "../support/fuzz.ts";
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

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    0,
    -1,
    1e9,
    2 ** 53,
    "",
    "../../etc",
    "${UNSET}",
    "${LAB}",
    "sfp-10gbase-sr",
    "sfp",
    "sfp28",
  ),
);

/** Paths to every node of a parsed document (maps as Maps: a key may be any node), for a mutation to pick one. */
function nodePaths(value: unknown, path: unknown[] = [], out: unknown[][] = []) {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => nodePaths(v, [...path, i], out));
  else if (value instanceof Map) { for (const [k, v] of value) nodePaths(v, [...path, k], out); }
  return out;
}

type Mutation =
  | { kind: "set"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "add"; at: number; key: string; value: unknown }
  | { kind: "cut" | "repeat"; at: number; length: number }
  | { kind: "insert"; at: number; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: anyValue }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("add" as const),
    at: fc.nat(),
    key: fc.string({ maxLength: 12 }),
    value: anyValue,
  }),
  fc.record({
    kind: fc.constantFrom("cut" as const, "repeat" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom(":", "- ", "\n  ", "&a ", "*a", "!!binary ", "\t", "{", "["),
    ),
  }),
);

function mutate(text: string, m: Mutation): string {
  if (m.kind === "cut" || m.kind === "repeat" || m.kind === "insert") {
    const at = m.at % (text.length + 1);
    if (m.kind === "insert") return text.slice(0, at) + m.text + text.slice(at);
    const piece = text.slice(at, at + m.length);
    return m.kind === "cut"
      ? text.slice(0, at) + text.slice(at + m.length)
      : text.slice(0, at) + piece + text.slice(at);
  }
  // A data mutation the yaml library cannot apply (an earlier mutation broke the document, an
  // alias left without its anchor, a path into a scalar) leaves the text as it was.
  try {
    const doc = parseDocument(text);
    const paths = nodePaths(doc.toJS({ mapAsMap: true })).filter((p) => p.length > 0);
    if (paths.length === 0) return text;
    const path = paths[m.at % paths.length];
    if (m.kind === "set") doc.setIn(path, m.value);
    else if (m.kind === "delete") doc.deleteIn(path);
    else if (m.kind === "add") doc.setIn([...path.slice(0, -1), m.key], m.value);
    return doc.toString();
  } catch {
    return text;
  }
}

Deno.test("fuzz: mutated topology files load whole or fail with issues that point into the file", async () => {
  const outcomes = { loaded: 0, refused: 0 };
  const { numRuns } = await fuzz(
    { name: "topology files", seed: 0x70_9010, numRuns: 400 },
    fc.tuple(fc.constantFrom(...EXAMPLES), fc.array(mutation, { minLength: 1, maxLength: 4 })),
    ([example, mutations]) => {
      const text = mutations.reduce(mutate, example.text);
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
