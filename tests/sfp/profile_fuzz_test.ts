// Seeded fuzzing of device profiles: a devices/*.yaml file is untrusted input (a user adds their own
// modules without code). The catalog's files are mutated (tests/support/yaml-mutation.ts) and parsed.
// Properties: the parser returns a profile or throws a ProfileError listing problems that each say
// what is wrong, at a line of the file when they give one; never any other exception. A profile it
// returns makes a module: A0h (and A2h when it has one) of 256 bytes with every check code right,
// fields that decode, diagnostics that read.
import assert from "node:assert/strict";
import { checkChecksums } from "../../src/sfp/checksum.ts";
import { SfpModule } from "../../src/sfp/module.ts";
import { parseProfile, ProfileError, profileHasA2h } from "../../src/sfp/profile.ts";
import { fc, fuzz } from "../support/fuzz.ts";
import { mutateYaml, yamlMutation } from "../support/yaml-mutation.ts";

const DEVICES = new URL("../../devices/", import.meta.url);
const FILES = await Promise.all(
  [...Deno.readDirSync(DEVICES)].filter((e) => e.name.endsWith(".yaml")).map(async (e) => ({
    file: e.name,
    text: await Deno.readTextFile(new URL(e.name, DEVICES)),
  })),
);
/** New values near a profile's own: byte values and their edges, encodings, units, codes. */
const PROFILE_MUTATION = yamlMutation([
  255,
  256,
  -40,
  127.99,
  1310,
  1e-9,
  "LC",
  "sfp+",
  "ACME",
  "A".repeat(17),
  [1, 2],
]);

Deno.test("fuzz: mutated device profiles parse into working modules or fail with problems that say where", async () => {
  const outcomes = { parsed: 0, refused: 0 };
  const { numRuns } = await fuzz(
    { name: "device profiles", seed: 0xde_71ce, numRuns: 400 },
    fc.tuple(fc.constantFrom(...FILES), fc.array(PROFILE_MUTATION, { minLength: 1, maxLength: 4 })),
    ([original, mutations]) => {
      const text = mutations.reduce(mutateYaml, original.text);
      const what = `${original.file} after ${JSON.stringify(mutations)}`;
      const lines = text.split("\n").length;
      let profile;
      try {
        profile = parseProfile(text, original.file);
      } catch (error) {
        if (!(error instanceof ProfileError)) {
          throw new Error(`${what}: the parser threw ${String(error)} instead of a ProfileError`, {
            cause: error,
          });
        }
        assert.ok(error.problems.length > 0, `${what}: a ProfileError without problems`);
        for (const problem of error.problems) {
          assert.ok(problem.message.length > 0, `${what}: a problem without a message`);
          if (problem.line !== undefined) {
            assert.ok(problem.line >= 1 && problem.line <= lines + 1, `${what}: line ${problem.line}`);
          }
        }
        outcomes.refused++;
        return Promise.resolve();
      }
      const module = new SfpModule(profile, { seed: 1, now: () => 0 });
      assert.equal(module.a0().length, 256);
      for (const check of checkChecksums(module.a0(), "A0")) assert.ok(check.valid, `${what}: ${check.name}`);
      if (profileHasA2h(profile)) {
        assert.equal(module.a2().length, 256);
        for (const check of checkChecksums(module.a2(), "A2")) {
          assert.ok(check.valid, `${what}: ${check.name}`);
        }
        for (const value of Object.values(module.diagnostics())) {
          assert.ok(Number.isFinite(value), `${what}: ${value}`);
        }
      }
      assert.equal(typeof module.decode().vendorName, "string");
      outcomes.parsed++;
      return Promise.resolve();
    },
  );
  console.log(
    `${numRuns} mutated profiles: ${outcomes.parsed} parsed into modules, ${outcomes.refused} refused`,
  );
  assert.ok(outcomes.parsed > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});
