// The CLI's client verbs (status, plug, unplug, set, events) as a user runs them: separate
// processes against a real API server, checked by exit code, output, and the lab's state after.
import assert from "node:assert/strict";
import { API_TOKEN, LabFixture } from "../lab/lab-fixture.ts";
import { closedPort, failed, ok, sfpemu } from "./cli-process.ts";

Deno.test("status: text and json", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  const text = ok(await sfpemu(["status", "--api", api]));
  const lines = text.trim().split("\n");
  assert.equal(lines[0], "topology test-lab: 1 OLT(s), 2 board(s), 2 module(s) in 6 cage(s)");
  assert.match(lines[1], /^olt1\/lt1 {2}slot 1 {2}two-port {2}inserted {2}VM i2c -, gpio -$/);
  assert.match(lines[2], /^ {2}1 {2}sfp\+ {2}sfp-10gbase-sr {2}FINISAR CORP\. {2}FTLX8571D3BCL {2}SN \S+$/);
  assert.match(lines[3], /^ {2}2 {2}sfp\+ {2}empty$/);
  const json = JSON.parse(ok(await sfpemu(["status", "--api", api, "--format", "json"])));
  assert.deepEqual(json, lab.lab.snapshot());
  failed(await sfpemu(["status", "--api", api, "--format", "yaml"]), 2, /--format is text or json/);
});

Deno.test("plug and unplug: done, refused by the API, refused as usage", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  const plugged = ok(
    await sfpemu([
      "plug",
      "olt1/lt1/2",
      "sfp-10gbase-lr",
      "--vendor-sn",
      "CLI-1",
      "--vendor-name",
      "ACME",
      "--api",
      api,
    ]),
  );
  assert.equal(plugged.trim(), "plugged sfp-10gbase-lr (ACME SE-SFPP-10G-LR, SN CLI-1) into olt1/lt1/2");
  assert.equal(lab.lab.module("olt1", "lt1", 2).decode().vendorSn, "CLI-1");

  failed(
    await sfpemu(["plug", "olt1/lt1/2", "sfp-10gbase-lr", "--api", api]),
    1,
    /^sfpemu plug: cage olt1\/lt1\/2 already holds a module; unplug it first \(at olt1\/lt1\/2\) \[HTTP 409 conflict\]\n$/,
  );
  failed(
    await sfpemu(["plug", "olt1/lt2/1", "sfp-nope", "--api", api]),
    1,
    /unknown module profile "sfp-nope".*\[HTTP 422 invalid\]/,
  );
  failed(
    await sfpemu(["plug", "olt1/lt2/1", "sfp-10gbase-lr", "--vendor-sn", "X".repeat(17), "--api", api]),
    1,
    /vendorSn.*\[HTTP 422 invalid\]/,
  );
  failed(
    await sfpemu(["plug", "olt1/lt9/1", "sfp-10gbase-lr", "--api", api]),
    1,
    /OLT olt1 has no board lt9.*404/,
  );
  failed(
    await sfpemu(["plug", "olt1/lt1", "sfp-10gbase-lr", "--api", api]),
    2,
    /expected a cage as OLT\/BOARD\/CAGE/,
  );
  failed(await sfpemu(["plug", "olt1/lt1/2", "--api", api]), 2, /give the cage .* and the profile/);
  failed(await sfpemu(["plug", "olt1/lt1/2", "x", "--colour", "red", "--api", api]), 2, /colour/);

  const unplugged = ok(await sfpemu(["unplug", "olt1/lt1/2", "--api", api]));
  assert.equal(unplugged.trim(), "unplugged sfp-10gbase-lr (ACME SE-SFPP-10G-LR, SN CLI-1) from olt1/lt1/2");
  failed(await sfpemu(["unplug", "olt1/lt1/2", "--api", api]), 1, /cage olt1\/lt1\/2 is empty.*409/);
  failed(await sfpemu(["unplug", "--api", api]), 2, /give the cage/);
});

Deno.test("set: readings and pins in one call; mistakes are usage errors naming the pair", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  const out = ok(
    await sfpemu([
      "set",
      "olt1/lt1/1",
      "temperatureC=77.5",
      "rxPowerDbm=-20",
      "txFault=true",
      "rxLos=auto",
      "--api",
      api,
    ]),
  );
  assert.match(out, /^olt1\/lt1\/1 diagnostics: temperatureC=77\.5 .*rxPowerDbm=-20\n/);
  assert.match(
    out,
    /olt1\/lt1\/1 pins: rxLos=\w+ txFault=true txDisabled=\w+ {2}forced: rxLos=auto txFault=true\n$/,
  );
  const module = lab.lab.module("olt1", "lt1", 1);
  assert.equal(module.decode().temperature, 77.5);
  assert.deepEqual(lab.lab.forcedSignals(module), { rxLos: null, txFault: true });

  failed(
    await sfpemu(["set", "olt1/lt1/1", "temprature=1", "--api", api]),
    2,
    /unknown key "temprature" \(did you mean "temperatureC"\?\)/,
  );
  failed(
    await sfpemu(["set", "olt1/lt1/1", "vccV=high", "--api", api]),
    2,
    /vccV wants a number, not "high"/,
  );
  failed(await sfpemu(["set", "olt1/lt1/1", "rxLos=maybe", "--api", api]), 2, /rxLos is true, false or auto/);
  failed(await sfpemu(["set", "olt1/lt1/1", "rxLos", "--api", api]), 2, /"rxLos" is not KEY=VALUE/);
  failed(await sfpemu(["set", "olt1/lt1/2", "vccV=3.3", "--api", api]), 1, /cage olt1\/lt1\/2 is empty.*404/);
  failed(await sfpemu(["set", "olt1/lt1/1", "--api", api]), 2, /at least one KEY=VALUE/);
});

Deno.test("events: json and text lines from the stream, --since and --count", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  const since = lab.lab.events.lastSeq;
  lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-1000base-lx", overrides: { vendorSn: "EV-1" } });
  lab.lab.setDiagnostics("olt1", "lt1", 2, { temperatureC: 45 });
  const json = ok(
    await sfpemu(["events", "--since", String(since), "--count", "2", "--format", "json", "--api", api]),
  );
  const events = json.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(events.map((e) => [e.seq, e.type, e.path]), [
    [since + 1, "module-inserted", "olt1/lt1/2"],
    [since + 2, lab.events.find((e) => e.seq === since + 2)!.type, "olt1/lt1/2"],
  ]);
  assert.equal(events[0].vendorSn, "EV-1");
  const text = ok(await sfpemu(["events", "--since", String(since), "--count", "1", "--api", api]));
  assert.match(
    text,
    /^\d\d:\d\d:\d\d\.\d{3} {2}#\d+ {2}module-inserted {2}olt1\/lt1\/2 {2}profile=sfp-1000base-lx {2}.*vendorSn=EV-1/,
  );
  failed(await sfpemu(["events", "--since", "soon", "--api", api]), 2, /--since wants a whole number/);
  failed(await sfpemu(["events", "--format", "xml", "--api", api]), 2, /--format is json or text/);
});

Deno.test("events --since N: a gap the emulator no longer keeps is said on stderr; stdout stays JSON", async () => {
  await using lab = await LabFixture.start();
  const api = (await lab.serve()).slice("http://".length);
  const since = lab.lab.events.lastSeq;
  lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-1000base-lx", overrides: {} });
  // More events than the history keeps (1000), so the first ones after `since` are gone.
  for (let i = 0; lab.lab.events.firstKept <= since + 1; i++) {
    lab.lab.setDiagnostics("olt1", "lt1", 2, { temperatureC: 30 + (i % 2) });
  }
  const firstKept = lab.lab.events.firstKept;
  const result = await sfpemu([
    "events",
    "--since",
    String(since),
    "--count",
    "1",
    "--format",
    "json",
    "--api",
    api,
  ]);
  assert.equal(JSON.parse(ok(result)).seq, firstKept);
  assert.equal(
    result.stderr.trim(),
    `sfpemu events: events ${since + 1}..${firstKept - 1} are no longer kept ` +
      "(the emulator restarted, or they fell out of its history)",
  );
  // No gap, no warning.
  const whole = await sfpemu(["events", "--since", String(firstKept - 1), "--count", "1", "--api", api]);
  assert.match(ok(whole), new RegExp(`#${firstKept}  `));
  assert.equal(whole.stderr, "");
});

Deno.test("client verbs: a clear error when the emulator is not running, or wants a token", async () => {
  const port = closedPort();
  for (
    const args of [["status"], ["plug", "olt1/lt1/1", "sfp-10gbase-sr"], ["unplug", "olt1/lt1/1"], ["events"]]
  ) {
    failed(
      await sfpemu([...args, "--api", `127.0.0.1:${port}`]),
      1,
      new RegExp(
        `^sfpemu ${
          args[0]
        }: cannot reach the sfpemu API at http://127\\.0\\.0\\.1:${port} \\(connection refused\\); ` +
          `is "sfpemu run" running\\?`,
      ),
    );
  }
  failed(await sfpemu(["status", "--api", "nowhere"]), 2, /--api wants HOST:PORT/);

  await using lab = await LabFixture.start({ token: API_TOKEN });
  const api = (await lab.serve()).slice("http://".length);
  failed(
    await sfpemu(["status", "--api", api]),
    1,
    /this API needs a bearer token .*\[HTTP 401 unauthorized\]/,
  );
  failed(await sfpemu(["status", "--api", api, "--api-token", "guess"]), 1, /wrong bearer token/);
  ok(await sfpemu(["status", "--api", api, "--api-token", API_TOKEN]));
  ok(await sfpemu(["status"], { SFPEMU_API: api, SFPEMU_API_TOKEN: API_TOKEN }));
});
