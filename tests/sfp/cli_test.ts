import assert from "node:assert/strict";
import { loadCatalog } from "../../src/sfp/catalog.ts";
import { fileURLToPath } from "node:url";
import { catalogCommand } from "../../src/cli/catalog.ts";
import { UsageError } from "../../src/cli/command.ts";
import { eepromCommand } from "../../src/cli/eeprom.ts";
import { moduleOf } from "./support.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs a verb in-process and collects what it prints. */
async function capture(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => out.push(args.join(" "));
  console.error = (...args: unknown[]) => err.push(args.join(" "));
  try {
    const code = await run();
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("sfpemu catalog lists id, form factor and description", async () => {
  const { code, out } = await capture(() => catalogCommand.run([]));
  assert.equal(code, 0);
  const lines = out.split("\n");
  assert.match(lines[0], /^ID\s+FORM\s+DESCRIPTION$/);
  // A header, then one line per profile (profile_test.ts pins which profiles there are).
  assert.equal(lines.length, 1 + (await loadCatalog()).size);
  assert.match(out, /^sfp-gpon-olt-cplus\s+sfp\s+GPON OLT class C\+ SFP/m);
  assert.match(out, /^sfp28-25gbase-sr\s+sfp28\s+25GBASE-SR/m);
});

Deno.test("sfpemu catalog --format json", async () => {
  const { code, out } = await capture(() => catalogCommand.run(["--format", "json"]));
  assert.equal(code, 0);
  const rows = JSON.parse(out);
  assert.equal(rows.length, (await loadCatalog()).size);
  assert.deepEqual(rows.find((r: { id: string }) => r.id === "sfp-10gbase-sr"), {
    id: "sfp-10gbase-sr",
    formFactor: "sfp+",
    description: "10GBASE-SR SFP+, 850 nm VCSEL, LC, 300 m on OM3 (Finisar FTLX8571D3BCL identity)",
    vendorName: "FINISAR CORP.",
    vendorPn: "FTLX8571D3BCL",
  });
  await assert.rejects(catalogCommand.run(["--format", "yaml"]), UsageError);
});

Deno.test("sfpemu eeprom --format hex dumps A0h then A2h", async () => {
  const { code, out } = await capture(() => eepromCommand.run(["sfp-10gbase-sr", "--format", "hex"]));
  assert.equal(code, 0);
  const lines = out.split("\n");
  assert.equal(lines[0], "A0h (I2C 0x50)");
  assert.equal(lines[1], "000: 03 04 07 10 00 00 00 00  00 00 00 06 67 00 00 00  |............g...|");
  assert.equal(lines[17], "A2h (I2C 0x51)");
  assert.equal(lines.length, 34);
  const cable = await capture(() => eepromCommand.run(["sfp-10g-dac-passive-3m"]));
  assert.match(cable.out, /A2h: none/);
});

Deno.test("sfpemu eeprom --format json decodes fields, applies overrides, reports checksums", async () => {
  const { code, out } = await capture(() =>
    eepromCommand.run([
      "sfp-gpon-olt-cplus",
      "--format",
      "json",
      "--vendor-name",
      "ACME",
      "--vendor-pn",
      "OLT-C+",
      "--vendor-sn",
      "S1",
      "--vendor-rev",
      "B2",
      "--date-code",
      "240229",
    ])
  );
  assert.equal(code, 0);
  const decoded = JSON.parse(out);
  assert.equal(decoded.profile, "sfp-gpon-olt-cplus");
  const f = decoded.fields;
  assert.deepEqual([f.vendorName, f.vendorPn, f.vendorSn, f.vendorRev, f.dateCode], [
    "ACME",
    "OLT-C+",
    "S1",
    "B2",
    "240229",
  ]);
  assert.equal(f.wavelengthNm, 1490);
  assert.equal(f.rxPower, -20);
  assert.deepEqual(decoded.checksums.map((c: { valid: boolean }) => c.valid), [true, true, true]);
});

Deno.test("sfpemu eeprom: bad arguments are usage errors that say what is wrong", async () => {
  await assert.rejects(eepromCommand.run(["sfp-nope"]), /unknown profile "sfp-nope"; known: sfp-1000base-lx/);
  await assert.rejects(eepromCommand.run([]), /expected exactly one profile id/);
  await assert.rejects(eepromCommand.run(["sfp-10gbase-sr", "--format", "text"]), /use hex, raw or json/);
  await assert.rejects(
    eepromCommand.run(["sfp-10gbase-sr", "--vendor-pn", "A-PART-NUMBER-TOO-LONG"]),
    (error: unknown) =>
      error instanceof UsageError && /override vendorPn: .* is 22 characters/.test(error.message),
  );
  await assert.rejects(eepromCommand.run(["sfp-10gbase-sr", "--vendor"]), UsageError);
});

async function sfpemu(...args: string[]): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stdout: output.stdout, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("sfpemu eeprom --format raw writes exactly A0h then A2h, like ethtool -m raw", async () => {
  const { code, stdout, stderr } = await sfpemu("eeprom", "sfp-10gbase-sr", "--format", "raw");
  assert.equal(code, 0, stderr);
  assert.equal(stdout.length, 512);
  const module = moduleOf("sfp-10gbase-sr");
  assert.deepEqual(stdout.subarray(0, 256), module.a0());
  assert.deepEqual(stdout.subarray(256), module.a2());
  const cable = await sfpemu("eeprom", "sfp-10g-dac-passive-3m", "--format", "raw");
  assert.equal(cable.stdout.length, 256, "no A2h: only A0h, as ethtool gives SFF-8079 modules");
});
