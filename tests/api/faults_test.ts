// The fault routes through app.request: what each answers, and how it refuses (404 for a kind or
// cage a URL names that does not exist, 422 with the parameter as the path for a bad one, 400 for
// a body that is not JSON). A refused request changes nothing.
import assert from "node:assert/strict";
import { FAULT_KINDS } from "../../src/sfp/faults.ts";
import { LabFixture } from "../lab/lab-fixture.ts";

const MODULE = "/olts/olt1/boards/lt1/cages/1/module";

interface ErrorBody {
  error: { code: string; message: string; path: string };
}

async function refused(response: Response, status: number, code: string, path: string, message?: RegExp) {
  const body = await response.json() as ErrorBody;
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.equal(body.error.path, path);
  if (message) assert.match(body.error.message, message);
}

Deno.test("GET /faults lists every kind with its layer, summary and parameters", async () => {
  await using lab = await LabFixture.start();
  const { kinds } = await (await lab.request("GET", "/faults")).json();
  assert.deepEqual(kinds.map((k: { kind: string }) => k.kind), [...FAULT_KINDS]);
  const slow = kinds.find((k: { kind: string }) => k.kind === "slow");
  assert.equal(slow.layer, "i2c");
  assert.deepEqual(slow.params.delayMs, {
    summary: "delay per transfer",
    allowed: "a number of ms in 0..60000",
    required: true,
  });
  assert.equal(slow.params.address.default, "both");
});

Deno.test("PUT .../faults/{kind} answers the fault as applied; GET lists it, also in GET .../module; DELETE clears", async () => {
  await using lab = await LabFixture.start();
  const put = await lab.request("PUT", `${MODULE}/faults/slow`, { delayMs: 25 });
  assert.equal(put.status, 200);
  assert.deepEqual(await put.json(), { kind: "slow", params: { delayMs: 25, address: "both" } });
  // Kinds without parameters take an empty body or {}.
  assert.equal((await lab.request("PUT", `${MODULE}/faults/byte-io-bug`)).status, 200);
  assert.equal((await lab.request("PUT", `${MODULE}/faults/nack`, {})).status, 200);
  const expected = [
    { kind: "nack", params: { address: "both" } },
    { kind: "slow", params: { delayMs: 25, address: "both" } },
    { kind: "byte-io-bug", params: {} },
  ];
  assert.deepEqual((await (await lab.request("GET", `${MODULE}/faults`)).json()).faults, expected);
  assert.deepEqual((await (await lab.request("GET", MODULE)).json()).faults, expected);
  // Setting a kind again replaces it.
  await lab.request("PUT", `${MODULE}/faults/slow`, { delayMs: 50, address: "a2" });
  assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults()[1].params, { delayMs: 50, address: "a2" });

  const deleted = await lab.request("DELETE", `${MODULE}/faults/slow`);
  assert.equal(deleted.status, 200);
  assert.deepEqual(await deleted.json(), {
    cleared: { kind: "slow", params: { delayMs: 50, address: "a2" } },
  });
  await refused(
    await lab.request("DELETE", `${MODULE}/faults/slow`),
    404,
    "not_found",
    "olt1/lt1/1",
    /has no slow fault \(faults in force: nack, byte-io-bug\)/,
  );
  const types = lab.events.filter((e) => e.type.startsWith("fault-")).map((e) => `${e.type} ${e.kind}`);
  assert.deepEqual(types, [
    "fault-set slow",
    "fault-set byte-io-bug",
    "fault-set nack",
    "fault-set slow",
    "fault-cleared slow",
  ]);
});

Deno.test("fault refusals: unknown kind 404, bad parameter 422 at its path, not JSON 400, empty cage 404", async () => {
  await using lab = await LabFixture.start();
  const faults = `${MODULE}/faults`;
  await refused(
    await lab.request("PUT", `${faults}/slwo`, { delayMs: 1 }),
    404,
    "not_found",
    "/api/v1/olts/olt1/boards/lt1/cages/1/module/faults/slwo",
    /unknown fault kind \(did you mean "slow"\?\); known kinds: nack, slow, /,
  );
  await refused(await lab.request("DELETE", `${faults}/nope`), 404, "not_found", `/api/v1${faults}/nope`);
  await refused(
    await lab.request("PUT", `${faults}/rx-los-flap`, { periodMs: 0 }),
    422,
    "invalid",
    "body.periodMs",
    /periodMs must be a number of ms above 0, up to 3600000, got number 0/,
  );
  await refused(
    await lab.request("PUT", `${faults}/noise`, { band: { temperatureC: -2 } }),
    422,
    "invalid",
    "body.band",
  );
  await refused(
    await lab.request("PUT", `${faults}/tx-fault`, { mode: "pulse", periodMs: 100, widthMs: 200 }),
    422,
    "invalid",
    "body",
    /widthMs \(200\) must be shorter than periodMs \(100\)/,
  );
  await refused(
    await lab.request("PUT", `${faults}/slow`, { delayMs: 5, colour: "red" }),
    422,
    "invalid",
    "body",
    /unknown parameter "colour"; allowed: delayMs, address/,
  );
  await refused(
    await lab.request("PUT", `${faults}/slow`, "[1, 2]"),
    422,
    "invalid",
    "body",
    /must be an object/,
  );
  await refused(
    await lab.request("PUT", `${faults}/slow`, "{delayMs"),
    400,
    "bad_request",
    `/api/v1${faults}/slow`,
  );
  await refused(
    await lab.request("PUT", "/olts/olt1/boards/lt1/cages/2/module/faults/nack", {}),
    404,
    "not_found",
    "olt1/lt1/2",
    /is empty/,
  );
  // A module without A2h cannot ramp its temperature: the module refuses, 422 at the cage.
  await lab.request("PUT", "/olts/olt1/boards/lt1/cages/2/module", { profile: "sfp-10g-dac-passive-3m" });
  await refused(
    await lab.request("PUT", "/olts/olt1/boards/lt1/cages/2/module/faults/noise", { band: { vccV: 0.1 } }),
    422,
    "invalid",
    "olt1/lt1/2",
    /needs diagnostics \(A2h\)/,
  );
  assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults(), [], "nothing refused was applied");
  assert.equal(lab.events.filter((e) => e.type === "fault-set").length, 0);
});

Deno.test("PUT .../module with faults: in force from insertion; bad ones refuse the plug at their path", async () => {
  await using lab = await LabFixture.start();
  const cage2 = "/olts/olt1/boards/lt1/cages/2/module";
  await refused(
    await lab.request("PUT", cage2, { profile: "sfp-10gbase-lr", faults: { "slow-ready": { delayMs: -1 } } }),
    422,
    "invalid",
    "body.faults.slow-ready.delayMs",
  );
  await refused(
    await lab.request("PUT", cage2, { profile: "sfp-10gbase-lr", faults: { "tx-fualt": { mode: "stuck" } } }),
    422,
    "invalid",
    "body.faults.tx-fualt",
    /did you mean "tx-fault"/,
  );
  await refused(
    await lab.request("PUT", cage2, { profile: "sfp-10gbase-lr", colour: "red" }),
    422,
    "invalid",
    "body.colour",
    /allowed: profile, .*diagnostics, faults/,
  );
  assert.equal(lab.lab.cage("olt1", "lt1", 2).cage.module, null, "nothing was plugged");
  const put = await lab.request("PUT", cage2, {
    profile: "sfp-10gbase-lr",
    faults: { "tx-fault": { mode: "stuck" }, "rx-los-flap": { periodMs: 400 } },
  });
  assert.equal(put.status, 201);
  const body = await put.json();
  assert.deepEqual(body.faults, [
    { kind: "tx-fault", params: { mode: "stuck" } },
    { kind: "rx-los-flap", params: { periodMs: 400 } },
  ]);
  assert.equal(body.signals.txFault, true, "TX_FAULT high from the moment of insertion");
});

Deno.test("GET /health tells the run's seed", async () => {
  await using lab = await LabFixture.start({ seed: 99 });
  assert.equal((await (await lab.request("GET", "/health")).json()).seed, 99);
});
