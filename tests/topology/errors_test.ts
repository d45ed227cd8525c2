// Malformed topologies: each must give exactly one issue, at the right line, column and key path,
// with a message that says what is wrong and what would be right.
import assert from "node:assert/strict";
import { TopologyError, type TopologyIssue } from "../../src/topology/issue.ts";
import { baseTopology, load } from "./fixtures.ts";

interface Case {
  name: string;
  text: string;
  env?: Record<string, string>;
  line: number;
  column: number;
  path: string;
  message: RegExp;
}

const base = baseTopology;
/** The base topology with one more board in the same OLT, from line 13 on. */
const withSecondBoard = (board: string) => base + board;
const longDir = "/tmp/" + "d".repeat(90);

const cases: Case[] = [
  {
    name: "YAML syntax error",
    text: base.replace("slot: 1", "slot: [1"),
    line: 10,
    column: 9,
    path: "",
    message: /^YAML syntax error: Flow sequence .* end with a \]/,
  },
  {
    name: "duplicate YAML key",
    text: base.replace("        slot: 1\n", "        slot: 1\n        slot: 2\n"),
    line: 10,
    column: 9,
    path: "olts[0].boards[0].slot",
    message: /^duplicate key "slot"; a key may appear once in a mapping$/,
  },
  {
    name: "empty file",
    text: "",
    line: 1,
    column: 1,
    path: "",
    message: /^the topology is empty; it needs at least a name and olts/,
  },
  {
    name: "file of comments only",
    text: "# nothing yet\n\n",
    line: 1,
    column: 1,
    path: "",
    message: /^the topology is empty/,
  },
  {
    name: "more than one YAML document",
    text: base + "---\nname: other\n",
    line: 13,
    column: 1,
    path: "",
    message: /more than one YAML document/,
  },
  {
    name: "document is a list",
    text: "- name: lab\n",
    line: 1,
    column: 1,
    path: "",
    message: /^expected a mapping \(name, description, defaults, kinds, olts\), got a list$/,
  },
  {
    name: "unknown key with a did-you-mean",
    text: base.replace("1: sfp-gpon-olt-bplus", "1:\n            profle: sfp-gpon-olt-bplus"),
    line: 13,
    column: 13,
    path: "olts[0].boards[0].cages.1.profle",
    message: /^unknown key "profle"; did you mean "profile"\? known: profile, vendorName, /,
  },
  {
    name: "unknown top-level key",
    text: base.replace("kinds:", "kind:"),
    line: 2,
    column: 1,
    path: "kind",
    message: /^unknown key "kind"; did you mean "kinds"\?/,
  },
  {
    name: "YAML merge key",
    text: base.replace("        slot: 1\n", "        slot: 1\n        <<: { kind: pon-16 }\n"),
    line: 10,
    column: 9,
    path: 'olts[0].boards[0]["<<"]',
    message: /^YAML merge keys \(<<\) are not supported/,
  },
  {
    name: "wrong type: text for an integer",
    text: base.replace("slot: 1", "slot: one"),
    line: 9,
    column: 15,
    path: "olts[0].boards[0].slot",
    message: /^expected an integer 0\.\.255, got the string "one"$/,
  },
  {
    name: "wrong type: fraction for an integer",
    text: base.replace("slot: 1", "slot: 1.5"),
    line: 9,
    column: 15,
    path: "olts[0].boards[0].slot",
    message: /^expected an integer 0\.\.255, got the number 1\.5$/,
  },
  {
    name: "wrong type: number where cages map is expected",
    text: base.replace("        cages:\n          1: sfp-gpon-olt-bplus\n", "        cages: 16\n"),
    line: 11,
    column: 16,
    path: "olts[0].boards[0].cages",
    message: /^expected a mapping by cage, got the number 16$/,
  },
  {
    name: "wrong type: yes is not a boolean",
    text: base.replace("        slot: 1\n", "        slot: 1\n        idEeprom: yes\n"),
    line: 10,
    column: 19,
    path: "olts[0].boards[0].idEeprom",
    message:
      /^expected true or false or a mapping \(productName, partNumber, serialNumber\), got the string "yes"$/,
  },
  {
    name: "missing required key",
    text: base.replace("        slot: 1\n", ""),
    line: 8,
    column: 9,
    path: "olts[0].boards[0].slot",
    message: /^missing required key "slot" \(Chassis slot, unique within its OLT\)$/,
  },
  {
    name: "missing name",
    text: base.replace("name: lab\n", ""),
    line: 1,
    column: 1,
    path: "name",
    message: /^missing required key "name"/,
  },
  {
    name: "missing module profile",
    text: base.replace("1: sfp-gpon-olt-bplus", "1:\n            vendorName: ACME"),
    line: 13,
    column: 13,
    path: "olts[0].boards[0].cages.1.profile",
    message: /^missing required key "profile"/,
  },
  {
    name: "duplicate board id",
    text: withSecondBoard("      - id: lt1\n        slot: 2\n        kind: pon-16\n"),
    line: 13,
    column: 13,
    path: "olts[0].boards[1].id",
    message: /^duplicate board id "lt1" in OLT olt1; olts\[0\]\.boards\[0\] has it already$/,
  },
  {
    name: "duplicate slot",
    text: withSecondBoard("      - id: lt2\n        slot: 1\n        kind: pon-16\n"),
    line: 14,
    column: 15,
    path: "olts[0].boards[1].slot",
    message: /^slot 1 of OLT olt1 is already taken by board lt1$/,
  },
  {
    name: "duplicate OLT id",
    text: base + "  - id: olt1\n    boards: []\n",
    line: 13,
    column: 9,
    path: "olts[1].id",
    message: /^duplicate OLT id "olt1"; olts\[0\] has it already$/,
  },
  {
    name: "id of the mapping form differs from its key",
    text: "name: lab\nkinds:\n  k:\n    cages: 1\nolts:\n  olt1:\n    id: olt2\n    boards: []\n",
    line: 7,
    column: 9,
    path: "olts.olt1.id",
    message: /^id "olt2" differs from its key "olt1"/,
  },
  {
    name: "cage number beyond the kind's cages",
    text: base.replace("1: sfp-gpon-olt-bplus", "17: sfp-gpon-olt-bplus"),
    line: 12,
    column: 11,
    path: "olts[0].boards[0].cages.17",
    message: /^cage 17 is out of range: board lt1 \(kind pon-16\) has cages 1\.\.16$/,
  },
  {
    name: "cage key that is not a number",
    text: base.replace("1: sfp-gpon-olt-bplus", "first: sfp-gpon-olt-bplus"),
    line: 12,
    column: 11,
    path: "olts[0].boards[0].cages.first",
    message: /^"first" is not a cage number; expected an integer 1\.\.64$/,
  },
  {
    name: "cage 0",
    text: base.replace("1: sfp-gpon-olt-bplus", "0: sfp-gpon-olt-bplus"),
    line: 12,
    column: 11,
    path: "olts[0].boards[0].cages.0",
    message: /^cage 0 is out of range; expected 1\.\.64$/,
  },
  {
    name: "the same cage as number and as text",
    text: base + '          "1": sfp-gpon-olt-cplus\n',
    line: 13,
    column: 11,
    path: "olts[0].boards[0].cages.1",
    message: /^cage 1 is listed twice$/,
  },
  {
    name: "unknown module profile with a did-you-mean",
    text: base.replace("1: sfp-gpon-olt-bplus", "1: sfp-10g-srr"),
    line: 12,
    column: 14,
    path: "olts[0].boards[0].cages.1",
    message:
      /^unknown module profile "sfp-10g-srr"; did you mean "sfp-10gbase-sr"\? known: sfp-1000base-lx, /,
  },
  {
    name: "unknown module profile in the long form",
    text: base.replace("1: sfp-gpon-olt-bplus", "1:\n            profile: sfp-gpon-olt-dplus"),
    line: 13,
    column: 22,
    path: "olts[0].boards[0].cages.1.profile",
    message: /^unknown module profile "sfp-gpon-olt-dplus"; did you mean "sfp-gpon-olt-bplus"\?/,
  },
  {
    name: "unknown kind",
    text: base.replace("kind: pon-16", "kind: pon16"),
    line: 10,
    column: 15,
    path: "olts[0].boards[0].kind",
    message: /^unknown kind "pon16"; did you mean "pon-16"\? known: pon-16$/,
  },
  {
    name: "unknown defaults.kind, reported once",
    text: base.replace("kinds:", "defaults:\n  kind: gpon\nkinds:").replace("        kind: pon-16\n", ""),
    line: 3,
    column: 9,
    path: "defaults.kind",
    message: /^unknown kind "gpon"; known: pon-16$/,
  },
  {
    name: "board without a kind and no defaults.kind",
    text: base.replace("        kind: pon-16\n", ""),
    line: 8,
    column: 9,
    path: "olts[0].boards[0].kind",
    message: /^missing required key "kind", and defaults.kind is not set; known kinds: pon-16$/,
  },
  {
    name: "bad characters in a board id",
    text: base.replace("id: lt1", "id: LT/1"),
    line: 8,
    column: 13,
    path: "olts[0].boards[0].id",
    message: /^"LT\/1" is not valid: use lower-case letters, digits, '\.', '_' and '-'/,
  },
  {
    name: "id too long",
    text: base.replace("id: olt1", `id: ${"o".repeat(33)}`),
    line: 6,
    column: 9,
    path: "olts[0].id",
    message: /is 33 characters long; at most 32 allowed$/,
  },
  {
    name: "bad kind name",
    text: base.replace("  pon-16:", "  PON 16:"),
    line: 3,
    column: 3,
    path: 'kinds["PON 16"]',
    message: /^kind name "PON 16" is not valid: use lower-case letters/,
  },
  {
    name: "environment variable unset without default",
    text: base.replace("slot: 1", "slot: ${LT1_SLOT}"),
    line: 9,
    column: 15,
    path: "olts[0].boards[0].slot",
    message: /^environment variable LT1_SLOT is not set; set it or give a default: \$\{LT1_SLOT:=value\}$/,
  },
  {
    name: "environment reference malformed",
    text: base.replace("name: lab", "name: lab-${1ST}"),
    line: 1,
    column: 7,
    path: "name",
    message: /^"\$\{1ST\}" is not a valid reference/,
  },
  {
    name: "environment reference unterminated",
    text: base.replace("name: lab", 'name: "lab-${USER"'),
    line: 1,
    column: 7,
    path: "name",
    message: /^unterminated "\$\{"/,
  },
  {
    name: "expanded value of the wrong type",
    text: base.replace("slot: 1", "slot: ${LT1_SLOT}"),
    env: { LT1_SLOT: "first" },
    line: 9,
    column: 15,
    path: "olts[0].boards[0].slot",
    message: /^expected an integer 0\.\.255, got the string "first"$/,
  },
  {
    name: "socket path too long",
    text: base.replace("kinds:", `defaults:\n  socketDir: ${longDir}\nkinds:`),
    line: 10,
    column: 9,
    path: "olts[0].boards[0].sockets",
    message:
      /^socket paths of board olt1\/lt1 exceed the 107-byte limit of unix socket paths: i2c socket \/tmp\/d+\/olt1-lt1-i2c\.sock is 113 bytes; gpio .* is 114 bytes; use a shorter defaults\.socketDir/,
  },
  {
    name: "explicit socket path too long",
    text: base.replace(
      "        slot: 1\n",
      `        slot: 1\n        sockets: { i2c: ${longDir}/board-i2c.sock }\n`,
    ),
    line: 10,
    column: 18,
    path: "olts[0].boards[0].sockets",
    message:
      /^socket paths of board olt1\/lt1 exceed the 107-byte limit .*: i2c socket \/tmp\/d+\/board-i2c\.sock is 110 bytes; use/,
  },
  {
    name: "two boards on one socket",
    text: withSecondBoard(
      "      - id: lt2\n        slot: 2\n        kind: pon-16\n        sockets: { i2c: /tmp/sfpemu-test/olt1-lt1-i2c.sock }\n",
    ),
    line: 16,
    column: 18,
    path: "olts[0].boards[1].sockets",
    message:
      /^i2c socket \/tmp\/sfpemu-test\/olt1-lt1-i2c\.sock is already used by board olt1\/lt1 \(i2c\); give each board/,
  },
  {
    name: "cages count out of range",
    text: base.replace("cages: 16", "cages: 65"),
    line: 4,
    column: 12,
    path: "kinds.pon-16.cages",
    message: /^65 is out of range; expected an integer 1\.\.64$/,
  },
  {
    name: "kind without a cage count",
    text: base.replace("    cages: 16\n", "    formFactor: sfp\n"),
    line: 4,
    column: 5,
    path: "kinds.pon-16.cages",
    message: /^missing required key "cages" \(number of cages, 1\.\.64\), and defaults\.cages is not set$/,
  },
  {
    name: "per-cage form factor beyond the kind's cages",
    text: base.replace("cages: 16", "cages: 16\n    cageFormFactors: { 18: sfp+ }"),
    line: 5,
    column: 24,
    path: "kinds.pon-16.cageFormFactors.18",
    message: /^cage 18 is out of range: kind pon-16 has cages 1\.\.16$/,
  },
  {
    name: "unknown form factor with a did-you-mean",
    text: base.replace("cages: 16", "cages: 16\n    formFactor: sfp++"),
    line: 5,
    column: 17,
    path: "kinds.pon-16.formFactor",
    message: /^unknown form factor "sfp\+\+"; did you mean "sfp\+"\? known: sfp, sfp\+, sfp28$/,
  },
  ...(
    [
      ["vendorName", "ACME OPTICAL SYSTEMS", 20, 16, "SFF-8472 A0h bytes 20-35"],
      ["vendorPn", "APX-GPON-C+-2000-LR", 19, 16, "SFF-8472 A0h bytes 40-55"],
      ["vendorSn", "SN-2024-0001-0002-3", 19, 16, "SFF-8472 A0h bytes 68-83"],
      ["vendorRev", "A1.02", 5, 4, "SFF-8472 A0h bytes 56-59"],
    ] as const
  ).map(([key, value, length, limit, standard]): Case => ({
    name: `${key} too long`,
    text: base.replace(
      "1: sfp-gpon-olt-bplus",
      `1:\n            profile: sfp-gpon-olt-bplus\n            ${key}: ${value}`,
    ),
    line: 14,
    column: 15 + key.length,
    path: `olts[0].boards[0].cages.1.${key}`,
    message: new RegExp(
      `^"${
        value.replace(/[.+]/g, "\\$&")
      }" is ${length} characters long; at most ${limit} fit \\(${standard}\\)$`,
    ),
  })),
  {
    name: "vendor name not ASCII",
    text: base.replace(
      "1: sfp-gpon-olt-bplus",
      "1:\n            profile: sfp-gpon-olt-bplus\n            vendorName: Ópticas",
    ),
    line: 14,
    column: 25,
    path: "olts[0].boards[0].cages.1.vendorName",
    message: /^"Ópticas" is not valid: only printable ASCII characters fit/,
  },
  {
    name: "date code with month 13",
    text: base.replace(
      "1: sfp-gpon-olt-bplus",
      "1:\n            profile: sfp-gpon-olt-bplus\n            dateCode: 241301",
    ),
    line: 14,
    column: 23,
    path: "olts[0].boards[0].cages.1.dateCode",
    message: /^"241301" is not valid: write 6 digits YYMMDD with a valid month and day/,
  },
  {
    name: "date code too short",
    text: base.replace(
      "1: sfp-gpon-olt-bplus",
      "1:\n            profile: sfp-gpon-olt-bplus\n            dateCode: 2401",
    ),
    line: 14,
    column: 23,
    path: "olts[0].boards[0].cages.1.dateCode",
    message: /^"2401" is not valid: write 6 digits YYMMDD/,
  },
  {
    name: "vendor OUI not 3 hex bytes",
    text: base.replace(
      "1: sfp-gpon-olt-bplus",
      "1:\n            profile: sfp-gpon-olt-bplus\n            vendorOui: 00:90:6Z",
    ),
    line: 14,
    column: 24,
    path: "olts[0].boards[0].cages.1.vendorOui",
    message: /^"00:90:6Z" is not valid: write 3 hex bytes, e\.g\. 00:90:65$/,
  },
  {
    name: "diagnostics out of range",
    text: base.replace(
      "1: sfp-gpon-olt-bplus",
      "1:\n            profile: sfp-gpon-olt-bplus\n            diagnostics: { txPowerDbm: 12 }",
    ),
    line: 14,
    column: 40,
    path: "olts[0].boards[0].cages.1.diagnostics.txPowerDbm",
    message: /^12 is out of range; expected a number -40\.\.8\.16$/,
  },
  {
    name: "alias without its anchor",
    text: base.replace("1: sfp-gpon-olt-bplus", "1: *optic"),
    line: 12,
    column: 14,
    path: "olts[0].boards[0].cages.1",
    message: /^alias \*optic refers to no anchor &optic before it$/,
  },
];

Deno.test("every malformed topology gives exactly one precise issue", async (t) => {
  for (const testCase of cases) {
    await t.step(testCase.name, () => {
      const issues = issuesOf(testCase.text, testCase.env);
      assert.equal(
        issues.length,
        1,
        `expected one issue, got:\n${issues.map((i) => JSON.stringify(i)).join("\n")}`,
      );
      const [issue] = issues;
      assert.equal(issue.file, "lab.yaml");
      assert.deepEqual(
        { line: issue.line, column: issue.column, path: issue.path },
        { line: testCase.line, column: testCase.column, path: testCase.path },
        issue.message,
      );
      assert.match(issue.message, testCase.message);
    });
  }
});

Deno.test("the table covers enough kinds of mistakes", () => {
  assert.ok(cases.length >= 15);
});

Deno.test("aliases repeated into a huge topology end in one issue, not in a hang", () => {
  const boards = Array.from({ length: 250 }, (_, i) => `{ id: b${i}, slot: ${i}, kind: k }`);
  const text = [
    "name: lab",
    "kinds: { k: { cages: 1 } }",
    "olts:",
    `  - { id: o0, boards: &boards [${boards.join(", ")}] }`,
    ...Array.from({ length: 1500 }, (_, i) => `  - { id: o${i + 1}, boards: *boards }`),
  ].join("\n");
  // No time limit asserted (timing belongs in bench/): the cap on expanded values is what ends it.
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.match(issues[0].message, /^the topology expands to more than 250000 values/);
});

Deno.test("hostile YAML ends in a TopologyError, never in another exception", () => {
  const hostile = [
    "name: x\nolts: " + "[".repeat(20_000) + "]".repeat(20_000) + "\n",
    "name: !!binary aGVsbG8=\nolts: []\n",
    "? [a]\n: 1\nname: x\nolts: []\n",
    ": x\nname: x\nolts: []\n",
    "__proto__: x\nname: x\nolts: []\n",
    "name: x\nkinds: { constructor: { cages: 1 } }\nolts: [{ id: o, boards: [{ id: b, slot: 1, kind: toString }] }]\n",
    "name: x\nolts: [{ id: o, boards: [{ id: b, slot: .nan }] }]\n",
    "name: x\nolts: [{ id: o, boards: [{ id: b, slot: 99999999999999999999999 }] }]\n",
    "a: &a [*a]\n",
    "hello\n",
    "name: x\nolts: { { a: 1 }: { boards: [] } }\n",
    "name: x\nolts: { o: }\n",
    "name: x\n" + "a:\n".repeat(3) + "a: 1\n",
  ];
  for (const text of hostile) assert.ok(issuesOf(text).length > 0, text.slice(0, 80));
});

Deno.test("every problem of a file is listed, in document order", () => {
  const text = base
    .replace("slot: 1", "slot: one")
    .replace("name: lab", "name: Lab")
    .replace("cages: 16", "cages: 0");
  const issues = issuesOf(text);
  assert.deepEqual(issues.map((issue) => issue.path), [
    "name",
    "kinds.pon-16.cages",
    "olts[0].boards[0].slot",
  ]);
});

Deno.test("a TopologyError's message is one file:line:column line per issue", () => {
  try {
    load(base.replace("slot: 1", "slot: one"));
    assert.fail("expected a TopologyError");
  } catch (error) {
    assert.ok(error instanceof TopologyError);
    assert.equal(
      error.message,
      'lab.yaml:9:15: olts[0].boards[0].slot: expected an integer 0..255, got the string "one"',
    );
  }
});

function issuesOf(text: string, env: Record<string, string> = {}): TopologyIssue[] {
  try {
    load(text, { env });
  } catch (error) {
    if (error instanceof TopologyError) return error.issues;
    throw error;
  }
  assert.fail("the topology loaded without an issue");
}
