// The lab's own operations, below the API: what each publishes, what the store would save, and
// starting from saved state.
import assert from "node:assert/strict";
import { LabError } from "../../src/lab/errors.ts";
import { Lab } from "../../src/lab/lab.ts";
import { createLogger } from "../../src/log/logger.ts";
import { LabFixture, withDir } from "./lab-fixture.ts";

const A2 = 0x51;

Deno.test("setDiagnostics and forceSignals publish events, and the cage state carries them", async () => {
  await using lab = await LabFixture.start();
  const seq = lab.lab.events.lastSeq;
  lab.lab.setDiagnostics("olt1", "lt1", 1, { temperatureC: 40 });
  lab.lab.setDiagnostics("olt1", "lt1", 1, { vccV: 3.1 });
  lab.lab.forceSignals("olt1", "lt1", 1, { rxLos: true });
  const own = lab.events.filter((e) =>
    e.seq > seq && !e.type.startsWith("module-") && e.type !== "signal-changed"
  );
  assert.deepEqual(own.map((e) => [e.type, e.path]), [
    ["diagnostics-set", "olt1/lt1/1"],
    ["diagnostics-set", "olt1/lt1/1"],
    ["signals-forced", "olt1/lt1/1"],
  ]);
  assert.deepEqual(own[2].forced, { rxLos: true });
  const state = lab.lab.cageState("olt1", "lt1", 1);
  assert.deepEqual(state.module, {
    profile: "sfp-10gbase-sr",
    overrides: {},
    diagnostics: { temperatureC: 40, vccV: 3.1 },
  });
  assert.deepEqual(state.forcedSignals, { rxLos: true, txFault: null });
  assert.equal(state.userEeprom?.length, 120);
  assert.deepEqual(lab.lab.cageState("olt1", "lt1", 2), {
    module: null,
    forcedSignals: { rxLos: null, txFault: null },
  });
});

Deno.test("bad readings and unknown kinds are LabErrors the API turns into 422", async () => {
  await using lab = await LabFixture.start();
  assert.throws(
    () => lab.lab.setDiagnostics("olt1", "lt1", 1, { temperatureC: Number.NaN }),
    (error: Error) => error instanceof LabError && error.code === "invalid",
  );
  await lab.lab.removeBoard("olt1", "lt1");
  assert.throws(
    () => lab.lab.insertBoard("olt1", "lt1", "toString"),
    (error: Error) =>
      error instanceof LabError && error.code === "invalid" && /known kinds: two-port/.test(error.message),
  );
});

Deno.test("a guest's write to the user EEPROM is an event; other A2h writes are not", async () => {
  await using lab = await LabFixture.start();
  const module = lab.lab.module("olt1", "lt1", 1);
  const written = () => lab.events.filter((e) => e.type === "user-eeprom-written").length;
  module.write(A2, Uint8Array.of(110, 0x40)); // soft TX_DISABLE: not user EEPROM
  assert.equal(written(), 0);
  module.write(A2, Uint8Array.of(200, 0x12, 0x34));
  assert.equal(written(), 1);
  module.write(A2, Uint8Array.of(200, 0x12, 0x34)); // the same bytes again: nothing changed
  assert.equal(written(), 1);
  module.write(A2, Uint8Array.of(248, 0xff)); // vendor control bytes are read-only
  assert.equal(written(), 1);
  assert.deepEqual(module.userEeprom().subarray(72, 74), Uint8Array.of(0x12, 0x34));
});

Deno.test("start from saved state: removed boards open no sockets; saved cages win over the topology", async () => {
  await using lab = await LabFixture.start();
  await lab.lab.removeBoard("olt1", "lt2");
  lab.lab.unplug("olt1", "lt1", 1);
  const state = lab.lab.state();
  assert.deepEqual(state.boards.get("olt1/lt2"), { kind: "four-port", removed: true });
  await lab.lab.stop(); // frees the sockets for a second lab of the same topology

  const again = new Lab({
    topology: lab.lab.topology,
    modules: lab.lab.modules,
    loop: lab.loop,
    log: createLogger({ write: () => {} }),
  });
  again.start(state);
  try {
    assert.equal(again.board("olt1", "lt2").inserted, false);
    assert.equal(again.board("olt1", "lt1").inserted, true);
    assert.equal(again.cage("olt1", "lt1", 1).cage.module, null, "the user's empty cage stays empty");
    assert.equal(again.module("olt1", "lt2", 2).decode().vendorSn, "GP0001");
    const { i2c, gpio } = again.board("olt1", "lt2").spec.sockets;
    assert.ok(!(await exists(i2c)) && !(await exists(gpio)), "no sockets for the removed board");
    assert.ok(await exists(again.board("olt1", "lt1").spec.sockets.i2c));
  } finally {
    await again.stop();
  }
});

Deno.test("GET /topology shows each cage's own form factor", async () => {
  await using lab = await LabFixture.start({
    topology: `
name: mixed
kinds:
  nt: { cages: 3, formFactor: sfp+, cageFormFactors: { 3: sfp28 } }
olts:
  - id: olt1
    boards:
      - { id: nt, slot: 0, kind: nt }
`,
  });
  const cages = lab.lab.snapshot().olts[0].boards[0].cages;
  assert.deepEqual(cages.map((c) => c.formFactor), ["sfp+", "sfp+", "sfp28"]);
  assert.deepEqual(lab.lab.topology.kinds.nt.cageFormFactors, ["sfp+", "sfp+", "sfp28"]);
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("modules plugged without a serial number get one of their own, derived from the cage", () =>
  withDir(async (dir) => {
    const profile = "sfp-gpon-olt-bplus"; // its profile's serial number: SEGPB0000001
    const serials = async (lab: LabFixture) => {
      const topology = await (await lab.request("GET", "/topology")).json();
      const lt2 = topology.olts[0].boards[1];
      return {
        described: lt2.cages.map((c: { module: { vendorSn: string } | null }) => c.module?.vendorSn ?? null),
        read: [1, 2, 3, 4].map((cage) =>
          lab.lab.cage("olt1", "lt2", cage).cage.module?.decode().vendorSn ?? null
        ),
      };
    };
    let before;
    {
      await using lab = await LabFixture.start({ dir, seed: 1 });
      lab.lab.plug("olt1", "lt2", 1, { profile, overrides: {} });
      lab.lab.plug("olt1", "lt2", 3, { profile, overrides: {} });
      lab.lab.plug("olt1", "lt2", 4, { profile, overrides: { vendorName: "OTHER" } });
      before = await serials(lab);
      const [one, kept, three, four] = before.described;
      assert.equal(kept, "GP0001", "an explicit serial number is left as it is");
      for (const serial of [one, three, four]) {
        assert.match(serial, /^SEGPB[0-9A-Z]{8}$/, "the profile's prefix, then 8 base-36 digits");
      }
      assert.equal(new Set([one, three, four]).size, 3, "no two cages share one");
      assert.deepEqual(before.read, before.described, "the EEPROM holds what the API shows");
      assert.deepEqual(lab.lab.cageState("olt1", "lt2", 1).module?.overrides, {}, "not saved as an override");
      // Unplugged and plugged again in the same cage: the same serial number.
      lab.lab.unplug("olt1", "lt2", 3);
      lab.lab.plug("olt1", "lt2", 3, { profile, overrides: {} });
      assert.equal((await serials(lab)).described[2], three);
    }
    // Another run, with another seed: every cage's module keeps its serial number.
    await using again = await LabFixture.start({ dir, seed: 2 });
    assert.deepEqual(await serials(again), before);
  }));
