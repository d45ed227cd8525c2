// sfpemu validate: summary or issues, text or JSON, and its exit codes.
import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/command.ts";
import { validateCommand } from "../../src/cli/validate.ts";

// No cage holds a module, so the result does not depend on what devices/ holds yet.
const emptyCages = `name: lab
kinds: { k: { cages: 4 } }
olts:
  - id: olt1
    boards:
      - { id: nt, slot: 0, kind: k }
      - { id: lt1, slot: 1, kind: k }
`;

async function validate(
  text: string,
  ...flags: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  const output = { stdout: [] as string[], stderr: [] as string[] };
  const { log, error } = console;
  console.log = (...parts: unknown[]) => output.stdout.push(parts.join(" "));
  console.error = (...parts: unknown[]) => output.stderr.push(parts.join(" "));
  try {
    await Deno.writeTextFile(file, text);
    const code = await validateCommand.run([file, ...flags]);
    return {
      code,
      stdout: output.stdout.join("\n"),
      stderr: output.stderr.join("\n").replaceAll(file, "FILE"),
    };
  } finally {
    Object.assign(console, { log, error });
    await Deno.remove(file);
  }
}

Deno.test("validate: a valid topology prints its summary and exits 0", async () => {
  const { code, stdout } = await validate(emptyCages);
  assert.equal(code, 0);
  assert.match(stdout, /topology lab is valid: 1 OLT, 2 boards, 8 cages, 0 modules/);
  assert.match(stdout, /lt1 +slot +1 +k +4 cages, 0 modules +\/.*\/olt1-lt1-i2c\.sock/);
});

Deno.test("validate --format json: summary and resolved topology", async () => {
  const { code, stdout } = await validate(emptyCages, "--format", "json");
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.valid, true);
  assert.deepEqual(report.summary, { name: "lab", olts: 1, boards: 2, cages: 8, modules: 0 });
  assert.equal(report.topology.olts[0].boards[1].cages.length, 4);
});

Deno.test("validate: every issue as file:line:column: path: message, exit 1", async () => {
  const { code, stderr } = await validate(
    emptyCages.replace("slot: 1", "slot: 0").replace("id: nt", "id: NT"),
  );
  assert.equal(code, 1);
  assert.deepEqual(stderr.split("\n"), [
    "FILE:6:15: olts[0].boards[0].id: \"NT\" is not valid: use lower-case letters, digits, '.', '_' and '-', " +
    "starting with a letter or digit (ids become part of socket file names and API paths)",
  ]);
});

Deno.test("validate --format json: issues as data", async () => {
  const { code, stdout } = await validate(emptyCages.replace("slot: 1", "slot: 0"), "--format=json");
  assert.equal(code, 1);
  const report = JSON.parse(stdout);
  assert.equal(report.valid, false);
  assert.deepEqual(
    report.issues.map(({ line, column, path }: Record<string, unknown>) => ({ line, column, path })),
    [
      { line: 7, column: 26, path: "olts[0].boards[1].slot" },
    ],
  );
});

Deno.test("validate: bad usage is a UsageError", async () => {
  await assert.rejects(validateCommand.run([]), UsageError);
  await assert.rejects(validateCommand.run(["a.yaml", "b.yaml"]), UsageError);
  await assert.rejects(validateCommand.run(["a.yaml", "--format", "xml"]), UsageError);
  await assert.rejects(validateCommand.run(["a.yaml", "--verbose"]), UsageError);
});
