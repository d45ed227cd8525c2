import assert from "node:assert/strict";
import { join } from "node:path";
import { loadCatalog } from "../../src/sfp/catalog.ts";
import { OPTICAL_POWER, THRESHOLD_LEVELS } from "../../src/sfp/diagnostics.ts";
import { profileJsonSchema } from "../../src/sfp/profile-schema.ts";
import { parseProfile, ProfileError } from "../../src/sfp/profile.ts";
import { catalog, moduleOf } from "./support.ts";

const FILE = "devices/sfp-test.yaml";
const BASE = `id: sfp-test
formFactor: sfp+
description: test module
identity:
  vendorName: ACME
  vendorOui: "00:11:22"
  vendorPn: ACME-SR
  vendorRev: A
  vendorSn: SN1
  dateCode: "240101"
codes:
  connector: LC
  transceiverCodes: [10GBASE-SR]
  encoding: 64B/66B
  brNominal100Mbd: 103
  options: [txDisable, txFault, losNormal]
  diagnosticMonitoringType: [ddmImplemented, internallyCalibrated]
  enhancedOptions: [alarmWarningFlags, softTxDisable]
  sff8472Compliance: rev12.3
wavelengthNm: 850
thresholds:
  temperatureC: { lowAlarm: -5, lowWarning: 0, highWarning: 70, highAlarm: 75 }
  vccV: { lowAlarm: 3.0, lowWarning: 3.1, highWarning: 3.5, highAlarm: 3.6 }
  txBiasMa: { lowAlarm: 2, lowWarning: 3, highWarning: 12, highAlarm: 13 }
  txPowerDbm: { lowAlarm: -9, lowWarning: -7, highWarning: 0, highAlarm: 1 }
  rxPowerDbm: { lowAlarm: -15, lowWarning: -12, highWarning: 0, highAlarm: 1 }
diagnostics:
  temperatureC: 30
  vccV: 3.3
  txBiasMa: 7
  txPowerDbm: -2
  rxPowerDbm: -3
los: { assertDbm: -30, deassertDbm: -28 }
`;

/** 1-based number of the base line that starts with `start`. */
function lineOf(start: string, text = BASE): number {
  const index = text.split("\n").findIndex((line) => line.startsWith(start));
  if (index < 0) throw new Error(`no line starts with ${JSON.stringify(start)}`);
  return index + 1;
}

/** The base with the line starting with `start` replaced by `replacement` ("" deletes it). */
function edit(start: string, replacement: string): string {
  const lines = BASE.split("\n");
  const index = lineOf(start) - 1;
  lines.splice(index, 1, ...(replacement === "" ? [] : [replacement]));
  return lines.join("\n");
}

interface BadCase {
  name: string;
  text: string;
  line: number;
  path: string;
  message: RegExp;
}

const BAD: BadCase[] = [
  {
    name: "unknown top-level field",
    text: edit("wavelengthNm", "wavelengthNm: 850\ncolour: red"),
    line: lineOf("wavelengthNm") + 1,
    path: "colour",
    message: /unknown field; expected one of: id, formFactor/,
  },
  {
    name: "unknown field with a likely typo",
    text: edit("  vendorRev", "  vendorRevision: A"),
    line: lineOf("  vendorRev"),
    path: "identity.vendorRevision",
    message: /unknown field \(did you mean "vendorRev"\?\)/,
  },
  {
    name: "wrong type: an unquoted date code is a number",
    text: edit("  dateCode", "  dateCode: 240101"),
    line: lineOf("  dateCode"),
    path: "identity.dateCode",
    message: /expected a string, got number 240101 \(quote it in YAML: "240101"\)/,
  },
  {
    name: "wrong type: a threshold that is not a number",
    text: edit("  vccV", "  vccV: { lowAlarm: 3.0, lowWarning: 3.1, highWarning: 3.5, highAlarm: high }"),
    line: lineOf("  vccV"),
    path: "thresholds.vccV.highAlarm",
    message: /expected a number, got string "high"/,
  },
  {
    name: "string too long for its field",
    text: edit("  vendorPn", "  vendorPn: ACME-SR-10G-850NM-X"),
    line: lineOf("  vendorPn"),
    path: "identity.vendorPn",
    message: /"ACME-SR-10G-850NM-X" is 19 characters; the field holds at most 16/,
  },
  {
    name: "threshold order wrong",
    text: edit(
      "  txPowerDbm",
      "  txPowerDbm: { lowAlarm: -9, lowWarning: -10, highWarning: 0, highAlarm: 1 }",
    ),
    line: lineOf("  txPowerDbm"),
    path: "thresholds.txPowerDbm",
    message:
      /threshold order wrong: lowAlarm must be below lowWarning \(required order: lowAlarm < lowWarning < highWarning < highAlarm\)/,
  },
  {
    name: "threshold order wrong once quantised (PON Rx power)",
    text: edit(
      "  rxPowerDbm: {",
      "  rxPowerDbm: { lowAlarm: -40, lowWarning: -39.9, highWarning: 0, highAlarm: 1 }",
    ),
    line: lineOf("  rxPowerDbm: {"),
    path: "thresholds.rxPowerDbm",
    message:
      /lowAlarm must be below lowWarning .* once stored in steps of 0\.1 µW \(lowAlarm -40 → -40, lowWarning -39\.9 → -40/,
  },
  {
    name: "value out of range for its field",
    text: edit("wavelengthNm", "wavelengthNm: 70000"),
    line: lineOf("wavelengthNm"),
    path: "wavelengthNm",
    message: /70000 nm is out of range: the field holds 0..65535 nm/,
  },
  {
    name: "typical value out of range",
    text: edit("  temperatureC: 30", "  temperatureC: 300"),
    line: lineOf("  temperatureC: 30"),
    path: "diagnostics.temperatureC",
    message: /300 °C is out of range: allowed -128..127.99609375 °C/,
  },
  {
    name: "id that does not match the file name",
    text: edit("id:", "id: sfp-other"),
    line: 1,
    path: "id",
    message:
      /"sfp-other" does not match the file name: rename the file to sfp-other.yaml or set id: sfp-test/,
  },
  {
    name: "unknown enum value",
    text: edit("  connector", "  connector: LCC"),
    line: lineOf("  connector"),
    path: "codes.connector",
    message: /unknown value "LCC" \(did you mean "LC"\?\); known values: unknown, SC/,
  },
  {
    name: "unknown bit name",
    text: edit("  options", "  options: [txDisable, txFault, losNormally]"),
    line: lineOf("  options"),
    path: "codes.options",
    message: /unknown bit "losNormally" \(did you mean "losNormal"\?\)/,
  },
  {
    name: "missing required field",
    text: edit("  vendorPn", ""),
    line: lineOf("identity"),
    path: "identity",
    message: /missing required field "vendorPn"/,
  },
  {
    name: "LOS that would clear below where it asserts",
    text: edit("los:", "los: { assertDbm: -30, deassertDbm: -32 }"),
    line: lineOf("los:"),
    path: "los.deassertDbm",
    message: /-32 dBm is below assertDbm -30 dBm/,
  },
  {
    name: "a wavelength on a cable",
    text: edit("  transceiverCodes", "  transceiverCodes: [passive cable]"),
    line: lineOf("wavelengthNm"),
    path: "wavelengthNm",
    message:
      /does not apply: it is set only when transceiverCodes includes neither active cable nor passive cable/,
  },
  {
    name: "A2h data on a module without A2h",
    text: BASE.slice(0, BASE.indexOf("thresholds:")).replace("rev12.3", "none") +
      "los: { assertDbm: -30, deassertDbm: -28 }\n",
    line: lineOf("thresholds:"),
    path: "los",
    message: /needs an A2h, but codes.sff8472Compliance is none/,
  },
  {
    name: "YAML: duplicate key",
    text: edit("  connector", "  connector: LC\n  connector: SC"),
    line: lineOf("  connector") + 1,
    path: "",
    message: /YAML: Map keys must be unique/,
  },
  {
    name: "YAML: broken flow mapping",
    text: edit("los:", "los: { assertDbm: -30, deassertDbm: -28"),
    line: lineOf("los:") + 1,
    path: "",
    message: /YAML: /,
  },
  {
    name: "negative data ready delay",
    text: BASE + "dataReadyDelayMs: -5\n",
    line: lineOf("los:") + 1,
    path: "dataReadyDelayMs",
    message: /-5 ms is out of range: allowed 0..60000/,
  },
  {
    name: "paging without the paging option",
    text: BASE + "a2hPages: 3\n",
    line: lineOf("los:") + 1,
    path: "a2hPages",
    message: /3 pages need codes.options to include pagingImplemented/,
  },
  {
    name: "unknown form factor",
    text: edit("formFactor", "formFactor: qsfp28"),
    line: 2,
    path: "formFactor",
    message: /expected one of sfp, sfp\+, sfp28, got string "qsfp28"/,
  },
  {
    name: "typical diagnostics incomplete",
    text: edit("  vccV: 3.3", ""),
    line: lineOf("diagnostics:"),
    path: "diagnostics",
    message: /missing required field "vccV"/,
  },
  {
    name: "a threshold set missing a level",
    text: edit("  vccV: {", "  vccV: { lowAlarm: 3.0, lowWarning: 3.1, highWarning: 3.5 }"),
    line: lineOf("  vccV: {"),
    path: "thresholds.vccV",
    message: /missing required field "highAlarm"/,
  },
  {
    name: "a section that is not a mapping",
    text: BASE.replace(/identity:\n( {2}.*\n)+/, "identity: ACME\n"),
    line: lineOf("identity"),
    path: "identity",
    message:
      /expected a mapping of vendorName, vendorOui, vendorPn, vendorRev, vendorSn, dateCode, got string "ACME"/,
  },
  {
    name: "malformed OUI",
    text: edit("  vendorOui", `  vendorOui: "00:11:2g"`),
    line: lineOf("  vendorOui"),
    path: "identity.vendorOui",
    message: /"00:11:2g" is not hex bytes like "00:90:65"/,
  },
  {
    name: "optics without a wavelength",
    text: edit("wavelengthNm", ""),
    line: 1,
    path: "",
    message: /missing required field "wavelengthNm"/,
  },
];

Deno.test("the base of the bad-file table loads", () => {
  assert.equal(parseProfile(BASE, FILE).id, "sfp-test");
});

for (const bad of BAD) {
  Deno.test(`bad profile: ${bad.name} → one error with file:line`, () => {
    assert.throws(() => parseProfile(bad.text, FILE), (error: unknown) => {
      assert.ok(error instanceof ProfileError, String(error));
      assert.equal(error.problems.length, 1, error.message);
      const [problem] = error.problems;
      assert.equal(problem.path, bad.path, error.message);
      assert.equal(problem.line, bad.line, error.message);
      assert.match(problem.message, bad.message);
      const prefix = `${FILE}:${bad.line}:${problem.column}: ${bad.path ? `${bad.path}: ` : ""}`;
      assert.ok(error.message.startsWith(prefix), `${error.message} starts with ${prefix}`);
      return true;
    });
  });
}

Deno.test("errors point at the offending value's column", () => {
  const text = edit("  vendorPn", "  vendorPn: ACME-SR-10G-850NM-X");
  assert.throws(() => parseProfile(text, FILE), (error: unknown) => {
    assert.equal((error as ProfileError).problems[0].column, "  vendorPn: ".length + 1);
    return true;
  });
});

Deno.test("a file with several mistakes reports each of them", () => {
  const text = edit("  vendorPn", "  vendorPn: ACME-SR-10G-850NM-X").replace(
    "formFactor: sfp+",
    "formFactor: xfp",
  );
  assert.throws(() => parseProfile(text, FILE), (error: unknown) => {
    assert.equal((error as ProfileError).problems.length, 2);
    return true;
  });
});

Deno.test("catalog: exactly the nine profiles, all valid", () => {
  assert.deepEqual([...catalog.keys()].sort(), [
    "sfp-1000base-lx",
    "sfp-1000base-t",
    "sfp-10g-dac-passive-3m",
    "sfp-10gbase-lr",
    "sfp-10gbase-sr",
    "sfp-gpon-olt-bplus",
    "sfp-gpon-olt-cplus",
    "sfp28-25gbase-sr",
    "sfpp-xgspon-olt-n1",
  ]);
  assert.deepEqual(catalog.errors, []);
  for (const p of catalog.values()) assert.ok(p.source?.endsWith(`devices/${p.id}.yaml`), p.source);
  assert.throws(
    () => catalog.require("sfp-nope"),
    /unknown module profile "sfp-nope"; the catalog has: sfp-1000base-lx/,
  );
});

Deno.test("catalog: thresholds stay strictly ordered in the raw words a host reads", () => {
  for (const p of catalog.values()) {
    if (!p.thresholds) continue;
    const fields = moduleOf(p.id).decode();
    for (const stem of ["temperature", "vcc", "txBias", "txPower", "rxPower"]) {
      const order = THRESHOLD_LEVELS.map((level) =>
        fields[`${stem}${level[0].toUpperCase()}${level.slice(1)}`] as number
      );
      assert.ok(order.every((v, i) => i === 0 || v > order[i - 1]), `${p.id} ${stem}: ${order}`);
    }
  }
});

Deno.test("catalog: PON optics keep their Rx thresholds apart after 0.1 µW quantisation", () => {
  for (const id of ["sfp-gpon-olt-bplus", "sfp-gpon-olt-cplus", "sfpp-xgspon-olt-n1"]) {
    const rx = catalog.require(id).thresholds!.rxPowerDbm;
    const raw = THRESHOLD_LEVELS.map((level) => OPTICAL_POWER.toRaw(rx[level]));
    assert.ok(raw[0] >= 3 && raw[0] < raw[1], `${id}: ${raw}`);
  }
});

Deno.test("catalog: a bad file is left out and reported; the good ones load", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "sfp-test.yaml"), BASE);
    await Deno.writeTextFile(
      join(dir, "sfp-broken.yaml"),
      edit("id:", "id: sfp-broken").replace("LC", "LCC"),
    );
    await Deno.writeTextFile(join(dir, "sfp-test.yml"), BASE);
    await Deno.writeTextFile(join(dir, "empty.yaml"), "");
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a profile");
    const loaded = await loadCatalog(dir);
    assert.deepEqual([...loaded.keys()], ["sfp-test"]);
    const messages = loaded.errors.map((e) => e.message.replaceAll(dir, "DIR"));
    assert.equal(messages.length, 3, messages.join("\n"));
    assert.match(messages[0], /^DIR\/empty.yaml: expected a mapping of id, formFactor/);
    assert.match(messages[1], /^DIR\/sfp-broken.yaml:12:14: codes.connector: unknown value "LCC"/);
    assert.match(messages[2], /^DIR\/sfp-test.yml: id: "sfp-test" is already defined by DIR\/sfp-test.yaml/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("catalog: a missing folder is a clear error", async () => {
  await assert.rejects(
    loadCatalog("/nonexistent/devices"),
    /cannot read the module catalog folder \/nonexistent\/devices/,
  );
});

Deno.test("devices/profile.schema.json is the schema the code generates", async () => {
  const file = new URL("../../devices/profile.schema.json", import.meta.url);
  const stored = JSON.parse(await Deno.readTextFile(file));
  assert.deepEqual(
    stored,
    profileJsonSchema(),
    "regenerate: ./node_modules/.bin/deno run src/sfp/profile-schema.ts > devices/profile.schema.json",
  );
});

Deno.test("copper transceivers (RJ45, pigtail) have no laser: no wavelength needed, bytes 60-61 stay 0", () => {
  const copper = BASE.replace("  connector: LC", "  connector: RJ45").replace("wavelengthNm: 850\n", "");
  assert.notEqual(copper, BASE);
  assert.equal(parseProfile(copper, FILE).wavelengthNm, undefined);
  const pigtail = copper.replace("connector: RJ45", "connector: copper pigtail");
  assert.equal(parseProfile(pigtail, FILE).wavelengthNm, undefined);
  // An optical connector still needs one.
  assert.throws(
    () => parseProfile(copper.replace("connector: RJ45", "connector: SC"), FILE),
    /missing required field "wavelengthNm"/,
  );

  // The catalog's 1000BASE-T module, as Linux's sfp.c reads it: 1000BASE-T (A0h 6 bit 3, which
  // makes the kernel look for a PHY behind the module), RJ45, wavelength 0, and no A2h.
  const fields = moduleOf("sfp-1000base-t").decode();
  assert.deepEqual(fields.transceiverCodes, ["1000BASE-T"]);
  assert.equal(fields.connector, "RJ45");
  assert.equal(fields.wavelengthNm, 0);
  assert.equal(fields.sff8472Compliance, "none");
  assert.equal(fields.temperature, undefined);
});
