// sfpemu fault as a user runs it against a real API server: set with key=value parameters (JSON
// values, nested keys), clear, show a module's faults, list the kinds; refusals with the API's
// message and path, and usage mistakes with exit code 2.
import assert from "node:assert/strict";
import { parseFaultParams } from "../../src/cli/fault.ts";
import { UsageError } from "../../src/cli/command.ts";
import { LabFixture } from "../lab/lab-fixture.ts";
import { failed, ok, sfpemu } from "./cli-process.ts";

Deno.test("fault: key=value parameters: JSON where they parse, text otherwise, nested keys", () => {
  assert.deepEqual(
    parseFaultParams([
      "periodMs=500",
      "address=a2",
      "band.temperatureC=2",
      "band.rxPowerDbm=0.5",
      "known=HUAWEI MA5671A",
      "value=0x0d",
      'extra={"a":[1]}',
    ]),
    {
      periodMs: 500,
      address: "a2",
      band: { temperatureC: 2, rxPowerDbm: 0.5 },
      known: "HUAWEI MA5671A",
      value: 13,
      extra: { a: [1] },
    },
  );
  for (
    const [pairs, message] of [
      [["periodMs"], /"periodMs" is not KEY=VALUE/],
      [["=3"], /"=3" is not KEY=VALUE/],
      [["band..x=1"], /"band..x" is not a key/],
      [["band=1", "band.x=2"], /band already has a value that is not an object/],
      [["a=1", "a=2"], /a is given twice/],
    ] as const
  ) {
    assert.throws(
      () => parseFaultParams(pairs),
      (e: Error) => e instanceof UsageError && message.test(e.message),
    );
  }
});

Deno.test("fault: set, show, clear and list against a running emulator", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  assert.equal(
    ok(await sfpemu(["fault", "olt1/lt1/1", "rx-los-flap", "periodMs=500", "--api", api])).trim(),
    "olt1/lt1/1: fault rx-los-flap set (periodMs=500)",
  );
  assert.equal(
    ok(await sfpemu(["fault", "olt1/lt1/1", "noise", "band.temperatureC=2", "--api", api])).trim(),
    'olt1/lt1/1: fault noise set (band={"temperatureC":2})',
  );
  assert.equal(
    ok(await sfpemu(["fault", "olt1/lt1/1", "byte-io-bug", "--api", api])).trim(),
    "olt1/lt1/1: fault byte-io-bug set",
  );
  assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults().map((f) => f.kind), [
    "byte-io-bug",
    "rx-los-flap",
    "noise",
  ]);
  assert.deepEqual(ok(await sfpemu(["fault", "olt1/lt1/1", "--api", api])).trim().split("\n"), [
    "olt1/lt1/1: byte-io-bug",
    "olt1/lt1/1: rx-los-flap periodMs=500",
    'olt1/lt1/1: noise band={"temperatureC":2}',
  ]);
  assert.equal(
    ok(await sfpemu(["fault", "olt1/lt1/1", "rx-los-flap", "--clear", "--api", api])).trim(),
    "olt1/lt1/1: fault rx-los-flap cleared",
  );
  assert.equal(lab.lab.module("olt1", "lt1", 1).faults().length, 2);

  const list = ok(await sfpemu(["fault", "--list", "--api", api]));
  assert.match(list, /^nack {2}\[i2c\] {2}the module does not answer/m);
  assert.match(list, /^ {4}delayMs: delay per transfer; a number of ms in 0\.\.60000, required$/m);
  assert.match(
    list,
    /^ {4}address: which device: a0 \(0x50\), a2 \(0x51\) or both; one of "a0", "a2", "both", default "both"$/m,
  );
  assert.match(list, /^rx-power-drift {2}\[environment\]/m);
  assert.equal(ok(await sfpemu(["fault", "list", "--api", api])), list, "`fault list` is `fault --list`");
});

Deno.test("fault: the API's refusals (exit 1) and usage mistakes (exit 2)", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  failed(
    await sfpemu(["fault", "olt1/lt1/1", "rx-los-flap", "periodMs=-5", "--api", api]),
    1,
    /^sfpemu fault: fault "rx-los-flap": periodMs must be a number of ms above 0.* \(at body\.periodMs\) \[HTTP 422 invalid\]/,
  );
  failed(
    await sfpemu(["fault", "olt1/lt1/1", "tx-fualt", "mode=stuck", "--api", api]),
    1,
    /unknown fault kind \(did you mean "tx-fault"\?\).*\[HTTP 404 not_found\]/,
  );
  failed(
    await sfpemu(["fault", "olt1/lt1/1", "nack", "--clear", "--api", api]),
    1,
    /module in olt1\/lt1\/1 has no nack fault/,
  );
  failed(await sfpemu(["fault", "olt1/lt1/2", "nack", "--api", api]), 1, /cage olt1\/lt1\/2 is empty/);
  failed(await sfpemu(["fault", "--api", api]), 2, /give the cage \(OLT\/BOARD\/CAGE\), or --list/);
  failed(await sfpemu(["fault", "olt1/lt1", "nack", "--api", api]), 2, /expected a cage as OLT\/BOARD\/CAGE/);
  failed(
    await sfpemu(["fault", "olt1/lt1/1", "nack", "x=1", "--clear", "--api", api]),
    2,
    /--clear takes no/,
  );
  failed(await sfpemu(["fault", "olt1/lt1/1", "--list", "--api", api]), 2, /--list takes no cage/);
  failed(await sfpemu(["fault", "list", "nack", "--api", api]), 2, /--list takes no cage/);
  failed(await sfpemu(["fault", "olt1/lt1/1", "--colour", "--api", api]), 2, /Unknown option '--colour'/);
  assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults(), []);
});
