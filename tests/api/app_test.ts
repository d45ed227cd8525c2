// Every route of the HTTP API through app.request (no port): what it answers, and how it refuses
// (404 unknown olt/board/cage, 409 occupied/empty/already removed, 422 bad bodies, 400 bad JSON,
// 401 without the token). A refused request changes nothing in the lab.
import assert from "node:assert/strict";
import { decodeImage } from "../../src/sfp/codec.ts";
import { OPTICAL_POWER } from "../../src/sfp/diagnostics.ts";
import { API_TOKEN, LabFixture } from "../lab/lab-fixture.ts";

const CAGE = "/olts/olt1/boards/lt1/cages";

interface ErrorBody {
  error: { code: string; message: string; path: string };
}

async function expectError(response: Response, status: number, code: string, message?: RegExp) {
  const body = await response.json() as ErrorBody;
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.path, "string");
  assert.ok(body.error.path.length > 0);
  if (message) assert.match(body.error.message, message);
  return body.error;
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
}

Deno.test("GET /health, /catalog and /topology", async () => {
  await using lab = await LabFixture.start();
  const health = await (await lab.request("GET", "/health")).json();
  assert.equal(health.status, "ok");
  assert.equal(health.boards, 2);

  const catalog = await (await lab.request("GET", "/catalog")).json();
  const sr = catalog.profiles.find((p: { id: string }) => p.id === "sfp-10gbase-sr");
  assert.deepEqual(Object.keys(sr).slice(0, 3), ["id", "formFactor", "description"]);
  assert.equal(sr.formFactor, "sfp+");

  const topology = await (await lab.request("GET", "/topology")).json();
  assert.equal(topology.name, "test-lab");
  const [lt1, lt2] = topology.olts[0].boards;
  assert.equal(topology.olts[0].id, "olt1");
  assert.deepEqual([lt1.id, lt1.slot, lt1.kind], ["lt1", 1, "two-port"]);
  assert.ok(lt1.sockets.i2c.startsWith("/") && lt1.sockets.gpio.startsWith("/"));
  assert.deepEqual(lt1.cages.map((c: { id: number }) => c.id), [1, 2]);
  assert.equal(lt1.cages[0].module.profile, "sfp-10gbase-sr");
  assert.equal(lt1.cages[0].module.vendorName, "FINISAR CORP.");
  assert.equal(lt1.cages[1].module, null);
  assert.equal(lt2.cages[1].module.vendorSn, "GP0001");
  assert.equal(lt2.cages[0].formFactor, "sfp");
});

Deno.test("PUT, GET and DELETE .../module; 409 when occupied or empty", async () => {
  await using lab = await LabFixture.start();
  const put = await lab.request("PUT", `${CAGE}/2/module`, {
    profile: "sfp-10gbase-lr",
    vendorName: "ACME",
    vendorSn: "SN42",
    diagnostics: { temperatureC: 50 },
  });
  assert.equal(put.status, 201);
  const plugged = await put.json();
  assert.equal(plugged.profile, "sfp-10gbase-lr");
  assert.equal(plugged.vendorName, "ACME");
  assert.equal(plugged.diagnostics.temperatureC, 50);
  assert.deepEqual(plugged.signals.forced, { rxLos: null, txFault: null });
  assert.equal(lab.events.at(-1)?.type !== undefined, true);
  assert.ok(lab.events.some((e) => e.type === "module-inserted" && e.path === "olt1/lt1/2"));

  const get = await (await lab.request("GET", `${CAGE}/2/module`)).json();
  assert.equal(get.vendorSn, "SN42");

  await expectError(
    await lab.request("PUT", `${CAGE}/2/module`, { profile: "sfp-10gbase-sr" }),
    409,
    "conflict",
    /already holds a module/,
  );
  assert.equal(lab.lab.module("olt1", "lt1", 2).profile.id, "sfp-10gbase-lr");

  const removed = await (await lab.request("DELETE", `${CAGE}/2/module`)).json();
  assert.equal(removed.removed.vendorSn, "SN42");
  await expectError(await lab.request("DELETE", `${CAGE}/2/module`), 409, "conflict", /is empty/);
  await expectError(await lab.request("GET", `${CAGE}/2/module`), 404, "not_found", /is empty/);
});

Deno.test("404 for an unknown OLT, board, cage or route", async () => {
  await using lab = await LabFixture.start();
  for (const method of ["GET", "PUT", "DELETE"]) {
    const body = method === "PUT" ? { profile: "sfp-10gbase-sr" } : undefined;
    await expectError(
      await lab.request(method, "/olts/oltX/boards/lt1/cages/1/module", body),
      404,
      "not_found",
      /no OLT oltX/,
    );
    await expectError(
      await lab.request(method, "/olts/olt1/boards/ltX/cages/1/module", body),
      404,
      "not_found",
      /OLT olt1 has no board ltX/,
    );
    await expectError(await lab.request(method, `${CAGE}/3/module`, body), 404, "not_found", /cages 1\.\.2/);
    await expectError(await lab.request(method, `${CAGE}/one/module`, body), 404, "not_found", /not a cage/);
  }
  for (const path of ["diagnostics", "signals"]) {
    await expectError(await lab.request("PATCH", `${CAGE}/9/module/${path}`, {}), 404, "not_found");
    await expectError(await lab.request("PATCH", `${CAGE}/2/module/${path}`, {}), 404, "not_found", /empty/);
  }
  await expectError(await lab.request("GET", `${CAGE}/2/module/eeprom`), 404, "not_found", /empty/);
  await expectError(await lab.request("DELETE", "/olts/olt1/boards/nope"), 404, "not_found");
  await expectError(await lab.request("PUT", "/olts/olt2/boards/lt1"), 404, "not_found", /no OLT olt2/);
  await expectError(await lab.request("GET", "/nothing/here"), 404, "not_found", /no route GET/);
});

Deno.test("PUT .../module refuses bad bodies with 400 or 422 and plugs nothing", async () => {
  await using lab = await LabFixture.start();
  const cases: [unknown, number, RegExp][] = [
    ["{not json", 400, /not JSON/],
    ["", 400, /JSON body is required/],
    [[1, 2], 422, /must be a JSON object/],
    [{}, 422, /"profile" .* is required/],
    [{ profile: 7 }, 422, /"profile"/],
    [{ profile: "sfp-nonexistent" }, 422, /unknown module profile "sfp-nonexistent"/],
    [{ profile: "sfp-10gbase-sr", colour: "red" }, 422, /unknown key "colour"/],
    [{ profile: "sfp-10gbase-sr", vendorName: 42 }, 422, /vendorName must be a string/],
    [{ profile: "sfp-10gbase-sr", vendorName: "A NAME FAR TOO LONG FOR A0H" }, 422, /vendorName/],
    [{ profile: "sfp-10gbase-sr", vendorSn: "12345678901234567" }, 422, /vendorSn/],
    [{ profile: "sfp-10gbase-sr", dateCode: "last week" }, 422, /dateCode/],
    [{ profile: "sfp-10gbase-sr", dateCode: "991399" }, 422, /dateCode/],
    [{ profile: "sfp-10gbase-sr", diagnostics: { temperatureC: "hot" } }, 422, /finite number/],
    [{ profile: "sfp-10gbase-sr", diagnostics: { tempC: 1 } }, 422, /unknown key "tempC"/],
    [{ profile: "sfp-10gbase-sr", diagnostics: [] }, 422, /must be a JSON object/],
  ];
  for (const [body, status, message] of cases) {
    const response = await lab.request("PUT", `${CAGE}/2/module`, body);
    const error = await expectError(response, status, status === 400 ? "bad_request" : "invalid", message);
    assert.ok(error.path, `path for ${JSON.stringify(body)}`);
    assert.equal(
      lab.lab.cage("olt1", "lt1", 2).cage.module,
      null,
      `nothing plugged for ${JSON.stringify(body)}`,
    );
  }
  const proto = await lab.request("PUT", `${CAGE}/2/module`, '{"profile":"sfp-10gbase-sr","__proto__":{}}');
  await expectError(proto, 422, "invalid", /unknown key "__proto__"/);
});

Deno.test("PATCH diagnostics: applied, read back through A2h, and refused when bad", async () => {
  await using lab = await LabFixture.start();
  const patch = await lab.request("PATCH", `${CAGE}/1/module/diagnostics`, {
    temperatureC: 71.5,
    rxPowerDbm: -12,
    vccV: 3.2,
  });
  assert.equal(patch.status, 200);
  const { diagnostics } = await patch.json();
  assert.equal(diagnostics.temperatureC, 71.5);
  const eeprom = await (await lab.request("GET", `${CAGE}/1/module/eeprom`)).json();
  assert.equal(eeprom.a0.length, 512);
  assert.equal(eeprom.a2.length, 512);
  const fields = decodeImage({ a0: fromHex(eeprom.a0), a2: fromHex(eeprom.a2) });
  assert.equal(fields.temperature, 71.5);
  assert.equal(fields.vcc, 3.2);
  assert.equal(fields.rxPower, OPTICAL_POWER.fromRaw(OPTICAL_POWER.toRaw(-12)), "-12 dBm as A2h holds it");
  assert.ok(lab.events.some((e) => e.type === "diagnostics-set" && e.path === "olt1/lt1/1"));

  const bad: [unknown, number, RegExp][] = [
    ["{", 400, /not JSON/],
    [{ temperatureC: "70" }, 422, /temperatureC must be a finite number/],
    [{ temperatureC: null }, 422, /finite number/],
    [{ temperature: 70 }, 422, /unknown key "temperature"/],
    [7, 422, /JSON object/],
  ];
  for (const [body, status, message] of bad) {
    await expectError(
      await lab.request("PATCH", `${CAGE}/1/module/diagnostics`, body),
      status,
      status === 400 ? "bad_request" : "invalid",
      message,
    );
  }
  assert.equal(lab.lab.module("olt1", "lt1", 1).diagnostics().temperatureC, 71.5);
  // A module without A2h has no diagnostics to change.
  await lab.request("PUT", `${CAGE}/2/module`, { profile: "sfp-10g-dac-passive-3m" });
  await expectError(
    await lab.request("PATCH", `${CAGE}/2/module/diagnostics`, { temperatureC: 30 }),
    422,
    "invalid",
    /no diagnostics/,
  );
});

Deno.test("PATCH signals: forced, released, refused when bad", async () => {
  await using lab = await LabFixture.start();
  const forced = await (await lab.request("PATCH", `${CAGE}/1/module/signals`, { txFault: true })).json();
  assert.equal(forced.signals.txFault, true);
  assert.deepEqual(forced.signals.forced, { rxLos: null, txFault: true });
  const released = await (await lab.request("PATCH", `${CAGE}/1/module/signals`, { txFault: null })).json();
  assert.equal(released.signals.txFault, false);
  assert.deepEqual(released.signals.forced, { rxLos: null, txFault: null });
  for (const body of [{ txFault: "yes" }, { txFault: 1 }, { los: true }]) {
    await expectError(await lab.request("PATCH", `${CAGE}/1/module/signals`, body), 422, "invalid");
  }
  await expectError(await lab.request("PATCH", `${CAGE}/1/module/signals`, "nope"), 400, "bad_request");
  const types = lab.events.map((e) => e.type);
  assert.ok(types.includes("signals-forced"));
  assert.ok(types.includes("signal-changed"));
});

Deno.test("GET .../eeprom: the bytes a guest reads, with the overrides in A0h", async () => {
  await using lab = await LabFixture.start();
  await lab.request("PUT", `${CAGE}/2/module`, { profile: "sfp-10gbase-sr", vendorSn: "EEPROM-TEST" });
  const eeprom = await (await lab.request("GET", `${CAGE}/2/module/eeprom`)).json();
  const module = lab.lab.module("olt1", "lt1", 2);
  assert.deepEqual(fromHex(eeprom.a0), module.a0());
  assert.equal(decodeImage({ a0: fromHex(eeprom.a0) }).vendorSn, "EEPROM-TEST");
});

Deno.test("board hot-plug: DELETE and PUT a board, as its own kind or another; 409 and 422", async () => {
  await using lab = await LabFixture.start();
  const board = "/olts/olt1/boards/lt1";
  assert.deepEqual(await (await lab.request("DELETE", board)).json(), { removed: "olt1/lt1" });
  await expectError(await lab.request("DELETE", board), 409, "conflict", /already removed/);
  const topology = await (await lab.request("GET", "/topology")).json();
  assert.equal(topology.olts[0].boards[0].inserted, false);

  await expectError(await lab.request("PUT", board, { kind: "ten-port" }), 422, "invalid", /known kinds: /);
  await expectError(await lab.request("PUT", board, { kind: 4 }), 422, "invalid", /kind must be a string/);
  await expectError(await lab.request("PUT", board, { slot: 4 }), 422, "invalid", /unknown key "slot"/);
  await expectError(await lab.request("PUT", board, "{kind"), 400, "bad_request");
  await expectError(await lab.request("PUT", board, { kind: "constructor" }), 422, "invalid");

  const inserted = await (await lab.request("PUT", board, { kind: "four-port" })).json();
  assert.deepEqual(inserted, { inserted: "olt1/lt1", kind: "four-port", cages: 4 });
  // Cage 1 kept its module across the change of layout.
  assert.equal(lab.lab.module("olt1", "lt1", 1).profile.id, "sfp-10gbase-sr");
  await expectError(await lab.request("PUT", board), 409, "conflict", /already inserted/);

  await lab.request("DELETE", board);
  const back = await (await lab.request("PUT", board, "")).json();
  assert.deepEqual(back, { inserted: "olt1/lt1", kind: "four-port", cages: 4 });
  await lab.request("DELETE", board);
  const own = await (await lab.request("PUT", board, { kind: "two-port" })).json();
  assert.deepEqual(own, { inserted: "olt1/lt1", kind: "two-port", cages: 2 });
  const types = lab.events.map((e) => e.type).filter((t) => t.startsWith("board-"));
  assert.deepEqual(types, [
    "board-removed",
    "board-inserted",
    "board-removed",
    "board-inserted",
    "board-removed",
    "board-inserted",
  ]);
});

Deno.test("with a token, every route needs it: 401 without or with a wrong one", async () => {
  await using lab = await LabFixture.start({ token: API_TOKEN });
  for (const path of ["/health", "/topology", "/catalog", "/events", `${CAGE}/1/module`]) {
    await expectError(await lab.request("GET", path), 401, "unauthorized", /needs a bearer token/);
    await expectError(
      await lab.request("GET", path, undefined, { authorization: "Bearer wrong" }),
      401,
      "unauthorized",
    );
  }
  await expectError(
    await lab.request("DELETE", `${CAGE}/1/module`, undefined, { authorization: "Basic abc" }),
    400,
    "bad_request",
    /malformed Authorization header/,
  );
  assert.notEqual(lab.lab.cage("olt1", "lt1", 1).cage.module, null);
  const ok = await lab.request("GET", "/topology", undefined, { authorization: `Bearer ${API_TOKEN}` });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});
