// Faults in the running lab: what they publish, what the store keeps of them across a restart,
// the ticker that moves timed faults when nobody reads, and seeds: the same run seed gives every
// cage the same random behaviour.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { cageLineIndex } from "../../src/board/board.ts";
import { LabError } from "../../src/lab/errors.ts";
import type { FaultSettings } from "../../src/lab/lab.ts";
import { moduleSeed } from "../../src/lab/seed.ts";
import type { SfpModule } from "../../src/sfp/module.ts";
import { STATE_FILE_NAME } from "../../src/store/state-file.ts";
import { eventually, LabFixture, withDir } from "./lab-fixture.ts";

const A0 = 0x50;
const CC_BASE = 63;

/** What a guest reads at A0h byte 63 now. */
function ccBase(
  module: { write(a: number, d: Uint8Array): boolean; read(a: number, b: Uint8Array): boolean },
) {
  const byte = new Uint8Array(1);
  assert.ok(module.write(A0, Uint8Array.of(CC_BASE)) && module.read(A0, byte));
  return byte[0];
}

Deno.test("faults set and cleared are lab events with kind and params; the cage state carries them", async () => {
  await using lab = await LabFixture.start();
  const seq = lab.lab.events.lastSeq;
  const applied = lab.lab.setFault("olt1", "lt1", 1, "rx-power-drift", { ratePerS: -2 });
  assert.deepEqual(applied, {
    kind: "rx-power-drift",
    params: { ratePerS: -2, minDbm: -40, maxDbm: 8.16473 },
  });
  lab.lab.setFault("olt1", "lt1", 1, "bad-checksum", { field: "cc-base" });
  assert.deepEqual(lab.lab.cageState("olt1", "lt1", 1).faults, {
    "bad-checksum": { field: "cc-base" },
    "rx-power-drift": applied.params,
  });
  const cleared = lab.lab.clearFault("olt1", "lt1", 1, "bad-checksum");
  assert.deepEqual(cleared, { kind: "bad-checksum", params: { field: "cc-base" } });
  const faultEvents = lab.events.filter((e) => e.seq > seq && e.type.startsWith("fault-"));
  assert.deepEqual(faultEvents.map(({ type, path, kind, params }) => ({ type, path, kind, params })), [
    { type: "fault-set", path: "olt1/lt1/1", kind: "rx-power-drift", params: applied.params },
    { type: "fault-set", path: "olt1/lt1/1", kind: "bad-checksum", params: { field: "cc-base" } },
    { type: "fault-cleared", path: "olt1/lt1/1", kind: "bad-checksum", params: { field: "cc-base" } },
  ]);
  assert.deepEqual(Object.keys(lab.lab.cageState("olt1", "lt1", 1).faults!), ["rx-power-drift"]);

  assert.throws(
    () => lab.lab.clearFault("olt1", "lt1", 1, "nack"),
    (error: Error) =>
      error instanceof LabError && error.code === "not_found" &&
      error.message === "module in olt1/lt1/1 has no nack fault (faults in force: rx-power-drift)",
  );
  assert.throws(
    () => lab.lab.setFault("olt1", "lt1", 1, "noise", { band: { temperatureC: -1 } }),
    (error: Error) =>
      error instanceof LabError && error.code === "invalid" && /band temperatureC/.test(error.message),
  );
});

Deno.test("a module plugged with faults has them from insertion: module-inserted, then fault-set", async () => {
  await using lab = await LabFixture.start();
  const seq = lab.lab.events.lastSeq;
  const module = lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-10gbase-lr", overrides: {} }, {
    "slow-ready": { delayMs: 60_000 },
  });
  assert.equal(module.read(A0, new Uint8Array(1)), false, "not answering from the first transfer on");
  const own = lab.events.filter((e) => e.seq > seq && e.path === "olt1/lt1/2");
  const inserted = own.findIndex((e) => e.type === "module-inserted");
  const set = own.filter((e) => e.type === "fault-set");
  assert.equal(inserted, 0);
  assert.deepEqual(set.map((e) => [e.kind, e.params]), [["slow-ready", { delayMs: 60_000 }]]);

  // A fault the module cannot take refuses the plug: nothing is plugged.
  assert.throws(
    () =>
      lab.lab.plug("olt1", "lt2", 1, { profile: "sfp-10g-dac-passive-3m", overrides: {} }, {
        "temperature-ramp": { targetC: 90, ratePerS: 1 },
      }),
    (error: Error) =>
      error instanceof LabError && error.code === "invalid" && /needs diagnostics/.test(error.message),
  );
  assert.equal(lab.lab.cage("olt1", "lt2", 1).cage.module, null);
});

Deno.test("the ticker raises a temperature ramp's warning and alarm without anyone reading the module", async () => {
  await using lab = await LabFixture.start();
  // sfp-10gbase-sr: 32 °C now; high warning 73 °C, high alarm 78 °C; then back below both.
  lab.lab.setFault("olt1", "lt1", 1, "temperature-ramp", { targetC: 85, ratePerS: 200 });
  const flag = (name: string, raised: boolean) =>
    lab.events.find((e) =>
      e.type === "module-flag" && e.path === "olt1/lt1/1" && e.flag === name && e.raised === raised
    );
  const warning = await eventually(() => flag("temperature high warning", true), "the high warning");
  const alarm = await eventually(() => flag("temperature high alarm", true), "the high alarm");
  assert.ok(warning.seq < alarm.seq, "the warning comes first on the way up");
  // A ramp back down replaces it, from where it had got to: both clear again, still unread.
  lab.lab.setFault("olt1", "lt1", 1, "temperature-ramp", { targetC: 30, ratePerS: 200 });
  await eventually(() => flag("temperature high alarm", false), "the alarm clearing");
  await eventually(() => flag("temperature high warning", false), "the warning clearing");
});

/** Rx power of a noisy module at ten consecutive 100 ms samples, on a clock of its own from `startMs`. */
function noiseSamples(lab: LabFixture, cage: number, startMs: number): number[] {
  const module = lab.lab.module("olt1", "lt1", cage);
  // Far ahead of the wall clock, so these times, not the clock, are the module's.
  module.advance(startMs);
  lab.lab.setFault("olt1", "lt1", cage, "noise", { band: { rxPowerDbm: 3 } });
  return Array.from({ length: 10 }, (_, sample) => {
    module.advance(startMs + sample * 100 + 50);
    return module.diagnostics().rxPowerDbm;
  });
}

Deno.test("seeds: the same run seed gives each cage the same module seed and the same noise; another does not", async () => {
  const start = Date.now() + 3_600_000;
  const runs = [];
  for (const seed of [42, 42, 43]) {
    await using lab = await LabFixture.start({ seed });
    lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-10gbase-sr", overrides: {} });
    const modules = [1, 2].map((cage) => lab.lab.module("olt1", "lt1", cage));
    assert.equal(lab.lab.seed, seed);
    assert.deepEqual(modules.map((m) => m.seed), [
      moduleSeed(seed, "olt1/lt1/1"),
      moduleSeed(seed, "olt1/lt1/2"),
    ]);
    runs.push({ cage1: noiseSamples(lab, 1, start), cage2: noiseSamples(lab, 2, start) });
  }
  const [first, again, other] = runs;
  assert.deepEqual(again, first, "seed 42 twice: the same samples in every cage");
  assert.equal(new Set(first.cage1).size, 10, `noise moves: ${first.cage1}`);
  assert.notDeepEqual(first.cage2, first.cage1, "two cages of one run differ");
  assert.notDeepEqual(other.cage1, first.cage1, "seed 43 differs from 42");
});

Deno.test("faults survive a restart and are in force again; cleared ones stay cleared", () =>
  withDir(async (dir) => {
    let rightCcBase: number;
    {
      await using lab = await LabFixture.start({ dir, seed: 7 });
      const module = lab.lab.module("olt1", "lt1", 1);
      rightCcBase = ccBase(module);
      lab.lab.setFault("olt1", "lt1", 1, "bad-checksum", { field: "cc-base" });
      lab.lab.setFault("olt1", "lt1", 1, "tx-fault", { mode: "stuck" });
      lab.lab.setFault("olt1", "lt1", 1, "intermittent-nack", { probability: 0.25 });
      lab.lab.clearFault("olt1", "lt1", 1, "intermittent-nack");
      lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-10gbase-lr", overrides: {} }, {
        nack: { address: "a2" },
      });
      assert.equal(ccBase(module), rightCcBase ^ 0xff);
    }
    {
      await using lab = await LabFixture.start({ dir, seed: 7 });
      const module = lab.lab.module("olt1", "lt1", 1);
      assert.deepEqual(module.faults(), [
        { kind: "bad-checksum", params: { field: "cc-base" } },
        { kind: "tx-fault", params: { mode: "stuck" } },
      ]);
      assert.equal(ccBase(module), rightCcBase ^ 0xff, "the restored module serves the bad CC_BASE");
      assert.equal(module.txFault, true);
      const other = lab.lab.module("olt1", "lt1", 2);
      assert.deepEqual(other.faults(), [{ kind: "nack", params: { address: "a2" } }]);
      assert.equal(other.read(0x51, new Uint8Array(1)), false);
      lab.lab.clearFault("olt1", "lt1", 1, "bad-checksum");
      lab.lab.clearFault("olt1", "lt1", 1, "tx-fault");
    }
    {
      await using lab = await LabFixture.start({ dir });
      assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults(), []);
      assert.equal(lab.lab.cageState("olt1", "lt1", 1).faults, undefined);
    }
  }));

Deno.test("a saved fault the module no longer takes is left out with a warning; the module is restored", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      lab.lab.setFault("olt1", "lt1", 1, "nack", {});
    }
    const db = new DatabaseSync(`${dir}/${STATE_FILE_NAME}`);
    db.prepare("UPDATE cage SET faults = ? WHERE cage = 1 AND board = 'lt1'")
      .run(JSON.stringify({ "laser-on-fire": {}, nack: { address: "a0" } }));
    db.close();
    await using lab = await LabFixture.start({ dir });
    assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults(), [{
      kind: "nack",
      params: { address: "a0" },
    }]);
    const warning = lab.logs.find((l) => l.message === "saved fault not restored");
    assert.equal(warning?.kind, "laser-on-fire");
    assert.equal(warning?.cage, "olt1/lt1/1");
  }));

Deno.test("a state file of schema 1 (before faults) is upgraded in place to the current schema, its modules restored", () =>
  withDir(async (dir) => {
    const file = `${dir}/${STATE_FILE_NAME}`;
    const old = new DatabaseSync(file);
    old.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE board (olt TEXT NOT NULL, board TEXT NOT NULL, kind TEXT NOT NULL,
        topology_kind TEXT NOT NULL, removed INTEGER NOT NULL, PRIMARY KEY (olt, board)) STRICT;
      CREATE TABLE cage (olt TEXT NOT NULL, board TEXT NOT NULL, cage INTEGER NOT NULL, module TEXT,
        rx_los_forced INTEGER, tx_fault_forced INTEGER, user_eeprom BLOB, PRIMARY KEY (olt, board, cage)) STRICT;
      INSERT INTO meta VALUES ('topology', 'test-lab');
      INSERT INTO board VALUES ('olt1', 'lt1', 'two-port', 'two-port', 0);
      INSERT INTO cage VALUES ('olt1', 'lt1', 2, '{"profile":"sfp-10gbase-lr","vendorSn":"FROM-V1"}', NULL, 1, NULL);
      PRAGMA application_id = ${0x53465045};
      PRAGMA user_version = 1;
    `);
    old.close();
    {
      await using lab = await LabFixture.start({ dir });
      const module = lab.lab.module("olt1", "lt1", 2);
      assert.equal(module.decode().vendorSn, "FROM-V1");
      assert.deepEqual(lab.lab.forcedSignals(module), { rxLos: null, txFault: true });
      lab.lab.setFault("olt1", "lt1", 2, "power-class", { level: 3 });
    }
    const upgraded = new DatabaseSync(file, { readOnly: true });
    assert.equal((upgraded.prepare("PRAGMA user_version").get() as { user_version: number }).user_version, 4);
    const row = upgraded.prepare("SELECT faults FROM cage WHERE board = 'lt1' AND cage = 2").get();
    upgraded.close();
    assert.deepEqual(JSON.parse(String(row?.faults)), { "power-class": { level: 3 } });
  }));

Deno.test("a latched TX_FAULT the host resets is fault-cleared with the reason, and a restart does not bring it back", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      const gpio = lab.lab.board("olt1", "lt1").planes.gpio;
      const txDisable = (cage: number) => cageLineIndex(cage, "tx-disable");
      // Cage 2 gets a module with the fault while no host drives TX_DISABLE (the pull-up holds it high).
      lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-10gbase-lr", overrides: {} }, {
        "tx-fault": { mode: "latched" },
      });
      lab.lab.setFault("olt1", "lt1", 1, "tx-fault", { mode: "latched", resets: 1 });
      const seq = lab.lab.events.lastSeq;
      // The host takes TX_DISABLE low: it was high before either fault, so no pulse ends.
      for (const cage of [1, 2]) assert.ok(gpio.setValue(txDisable(cage), false));
      for (const cage of [1, 2]) assert.ok(gpio.setDirection(txDisable(cage), "out"));
      assert.equal(lab.lab.module("olt1", "lt1", 1).txFault, true);
      assert.equal(lab.lab.module("olt1", "lt1", 2).txFault, true, "the level at insertion is no pulse");
      // Cage 1's reset pulse, as Linux's sfp_module_tx_fault_reset() gives it.
      assert.ok(gpio.setValue(txDisable(1), true) && gpio.setValue(txDisable(1), false));
      assert.equal(gpio.level(cageLineIndex(1, "tx-fault")), false);
      const cleared = lab.events.filter((e) => e.seq > seq && e.type === "fault-cleared");
      assert.deepEqual(cleared.map(({ path, kind, params, reason }) => ({ path, kind, params, reason })), [{
        path: "olt1/lt1/1",
        kind: "tx-fault",
        params: { mode: "latched", resets: 1 },
        reason: "reset by host TX_DISABLE pulse",
      }]);
      assert.equal(lab.lab.cageState("olt1", "lt1", 1).faults, undefined);
      assert.throws(() => lab.lab.clearFault("olt1", "lt1", 1, "tx-fault"), /has no tx-fault fault/);
    }
    await using lab = await LabFixture.start({ dir });
    assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults(), [], "spent: not restored");
    assert.equal(lab.lab.module("olt1", "lt1", 1).txFault, false);
    // The unspent one is restored, and the host's TX_DISABLE level at the restart is no pulse either.
    const restored = lab.lab.module("olt1", "lt1", 2);
    assert.deepEqual(restored.faults(), [{ kind: "tx-fault", params: { mode: "latched", resets: 1 } }]);
    const gpio = lab.lab.board("olt1", "lt1").planes.gpio;
    assert.ok(gpio.setValue(cageLineIndex(2, "tx-disable"), false));
    assert.ok(gpio.setDirection(cageLineIndex(2, "tx-disable"), "out"));
    assert.equal(restored.txFault, true);
  }));

/** What a guest would see of a module at `atMs` on its own clock (ahead of the wall clock). */
function observe(module: SfpModule, atMs: number) {
  module.advance(atMs);
  const { temperatureC, rxPowerDbm } = module.diagnostics();
  return { temperatureC, rxPowerDbm, rxLos: module.rxLos, txFault: module.txFault };
}

Deno.test("timed faults go on across a restart where they would be by now, the same under the same seed", () =>
  withDir(async (dir) => {
    // Times far ahead of the wall clock are the module's own (see noiseSamples): no waiting.
    const setAtMs = Date.now() + 3_600_000;
    const laterMs = Array.from({ length: 12 }, (_, i) => setAtMs + 25_000 + i * 130);
    const faults: FaultSettings = {
      "temperature-ramp": { targetC: 90, ratePerS: 2 },
      noise: { band: { rxPowerDbm: 2 } },
      "rx-los-flap": { periodMs: 1_000 },
      "tx-fault": { mode: "pulse", periodMs: 700, widthMs: 100 },
    };
    let startC: number;
    let unbroken: ReturnType<typeof observe>[];
    {
      await using lab = await LabFixture.start({ dir, seed: 9 });
      const module = lab.lab.module("olt1", "lt1", 1);
      startC = observe(module, setAtMs).temperatureC;
      for (const [kind, params] of Object.entries(faults)) lab.lab.setFault("olt1", "lt1", 1, kind, params);
      assert.ok(observe(module, setAtMs + 10_000).temperatureC > startC + 19, "the ramp is under way");
      // What the module will show later, had it run on: the run stops before it gets there.
      unbroken = laterMs.map((atMs) => observe(module, atMs));
    }
    await using lab = await LabFixture.start({ dir, seed: 9 });
    const module = lab.lab.module("olt1", "lt1", 1);
    assert.deepEqual(module.faults().map((f) => f.kind).sort(), Object.keys(faults).sort());
    const restarted = laterMs.map((atMs) => observe(module, atMs));
    assert.deepEqual(restarted, unbroken, "ramp, noise, flap phase and pulse phase as if never stopped");
    assert.equal(restarted[0].temperatureC, startC + 50, "25 s at 2 °C/s from where it began, not from 0");
    assert.ok(new Set(restarted.map((o) => o.rxLos)).size === 2, "the flap still flaps");
  }));

Deno.test("a latched TX_FAULT keeps the host's reset pulses across a restart; progress that does not fit starts over", () =>
  withDir(async (dir) => {
    const pulse = (lab: LabFixture) => {
      const gpio = lab.lab.board("olt1", "lt1").planes.gpio;
      const txDisable = cageLineIndex(1, "tx-disable");
      assert.ok(gpio.setValue(txDisable, true) && gpio.setValue(txDisable, false));
    };
    const hostDrivesTxDisable = (lab: LabFixture) => {
      const gpio = lab.lab.board("olt1", "lt1").planes.gpio;
      const txDisable = cageLineIndex(1, "tx-disable");
      assert.ok(gpio.setValue(txDisable, false) && gpio.setDirection(txDisable, "out"));
    };
    {
      await using lab = await LabFixture.start({ dir });
      hostDrivesTxDisable(lab);
      lab.lab.setFault("olt1", "lt1", 1, "tx-fault", { mode: "latched", resets: 3 });
      lab.lab.setFault("olt1", "lt1", 1, "temperature-ramp", { targetC: 90, ratePerS: 1 });
      pulse(lab);
      pulse(lab);
      assert.equal(lab.lab.module("olt1", "lt1", 1).faultProgress()["tx-fault"]?.resetsLeft, 1);
    }
    {
      await using lab = await LabFixture.start({ dir });
      hostDrivesTxDisable(lab);
      const module = lab.lab.module("olt1", "lt1", 1);
      assert.equal(module.txFault, true);
      pulse(lab);
      assert.equal(module.txFault, false, "the third pulse in all clears it");
      assert.deepEqual(module.faults().map((f) => f.kind), ["temperature-ramp"]);
    }
    // A hand-edited progress the module cannot use: the fault is restored, from the start.
    const db = new DatabaseSync(`${dir}/${STATE_FILE_NAME}`);
    db.prepare("UPDATE cage SET fault_progress = ? WHERE board = 'lt1' AND cage = 1")
      .run(JSON.stringify({ "temperature-ramp": { sinceMs: "soon", generation: 1 } }));
    db.close();
    await using lab = await LabFixture.start({ dir });
    assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults().map((f) => f.kind), ["temperature-ramp"]);
    const warning = lab.logs.find((l) =>
      l.message === "saved fault progress not restored; the fault starts over"
    );
    assert.equal(warning?.kind, "temperature-ramp");
    assert.match(String(warning?.error), /sinceMs must be a finite number/);
  }));
