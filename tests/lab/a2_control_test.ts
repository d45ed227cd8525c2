// What a guest writes into a module's A2h besides the user EEPROM (soft TX_DISABLE, rate and power
// level select, the page select, the bytes of other pages) is in the state file before the write
// returns, so before the I2C device acknowledges it, and a restart puts it back into the module:
// the transmitter stays off, the page stays selected, a latched TX_FAULT's reset pulse goes on. A
// module unplugged and plugged again is a new one, with the defaults.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import type { CageState } from "../../src/lab/lab.ts";
import type { ModuleProfile } from "../../src/sfp/module.ts";
import { STATE_FILE_NAME, StateFile } from "../../src/store/state-file.ts";
import { A2, CONTROL, profile } from "../sfp/support.ts";
import { LabFixture, TEST_TOPOLOGY, withDir } from "./lab-fixture.ts";

const CAGE_1 = "/olts/olt1/boards/lt1/cages/1/module";

/** A module no catalog file describes: the 10GBASE-SR optic with two A2h pages. */
const SR = profile("sfp-10gbase-sr");
const PAGED: ModuleProfile = {
  ...SR,
  id: "test-paged-sr",
  codes: { ...SR.codes, options: ["pagingImplemented", "txDisable", "txFault", "losNormal"] },
  a2hPages: 2,
};
/** TEST_TOPOLOGY with the paged module in olt1/lt1 cage 2. */
const PAGED_TOPOLOGY = TEST_TOPOLOGY.replace(
  "1: sfp-10gbase-sr",
  "1: sfp-10gbase-sr\n          2: test-paged-sr",
);

/** The host drives cage 1's TX_DISABLE low (until then its pull-up holds the laser off). */
function hostDrivesTxDisableLow(lab: LabFixture): void {
  const gpio = lab.lab.board("olt1", "lt1").planes.gpio;
  const pin = cageLineIndex(1, "tx-disable");
  assert.ok(gpio.setValue(pin, false) && gpio.setDirection(pin, "out"));
}

Deno.test("a control write is saved in its event, the cage's whole row, before write() returns", async () => {
  const saved: [string, CageState][] = [];
  const saveCage = StateFile.prototype.saveCage;
  StateFile.prototype.saveCage = function (path: string, cage: CageState) {
    saved.push([path, structuredClone(cage)]);
    return saveCage.call(this, path, cage);
  };
  try {
    await using lab = await LabFixture.start();
    const module = lab.lab.module("olt1", "lt1", 1);
    hostDrivesTxDisableLow(lab);
    lab.lab.setFault("olt1", "lt1", 1, "tx-fault", { mode: "latched", resets: 2 });
    const seq = lab.lab.events.lastSeq;
    const typesSince = (after: number) =>
      lab.events.filter((e) => e.seq > after && !/^module-(flag|txFault)$/.test(e.type)).map((e) => e.type);
    assert.ok(module.write(A2, Uint8Array.of(CONTROL.status, CONTROL.softTxDisable)));
    assert.deepEqual(typesSince(seq), ["module-txDisable", "a2-control-written", "a2-control-saved"]);
    assert.equal(saved.length, 1);
    const [path, cage] = saved[0];
    assert.equal(path, "olt1/lt1/1");
    assert.equal(cage.a2Control![CONTROL.status], CONTROL.softTxDisable);
    assert.deepEqual(cage.faultProgress?.["tx-fault"]?.inPulse, true, "the pulse it began, with it");

    // One transfer across the control bytes into the user EEPROM: both saved, control first.
    const next = lab.lab.events.lastSeq;
    assert.ok(
      module.write(A2, Uint8Array.of(CONTROL.extendedControl, ...new Uint8Array(10).fill(0x09), 0x5a)),
    );
    assert.deepEqual(typesSince(next), [
      "a2-control-written",
      "a2-control-saved",
      "user-eeprom-written",
      "user-eeprom-saved",
    ]);
    // Nothing changed: nothing to save. Read-only bytes: nothing either.
    const unchanged = lab.lab.events.lastSeq;
    module.write(A2, Uint8Array.of(CONTROL.extendedControl, CONTROL.softRs1 | CONTROL.powerLevelSelect));
    module.write(A2, Uint8Array.of(CONTROL.pageSelect, 1)); // no paging: not a page select
    assert.deepEqual(typesSince(unchanged), []);
    assert.equal(saved.length, 2);
  } finally {
    StateFile.prototype.saveCage = saveCage;
  }
});

/** Cage `cage` of olt1/lt1 as a board VM sees it, its mux channel open. */
async function guestOn(lab: LabFixture, cage: number) {
  const guest = await lab.attachGuest("olt1", "lt1");
  const { muxAddress, channel } = cageI2cLocation(cage);
  await guest.i2c.selectChannels(muxAddress, 1 << channel);
  return guest;
}

Deno.test("a guest's control writes are in the file when acknowledged: what a SIGKILL then leaves restores them", () =>
  withDir((dir) =>
    withDir(async (crashDir) => {
      let before: Uint8Array;
      {
        await using lab = await LabFixture.start({ dir, topology: PAGED_TOPOLOGY, profiles: [PAGED] });
        const { i2c } = await guestOn(lab, 2);
        // One byte per transfer, as Linux's sfp driver and i2c-dev write them.
        for (
          const [offset, value] of [
            [CONTROL.status, CONTROL.softTxDisable | CONTROL.softRs0],
            [CONTROL.extendedControl, CONTROL.softRs1 | CONTROL.powerLevelSelect],
            [CONTROL.pageSelect, 1],
            [128, 0xa1],
            [129, 0xa2],
          ]
        ) {
          assert.ok(await i2c.write(A2, offset, value), `A2h ${offset} acknowledged`);
        }
        // At the last acknowledgement, the files as they are: what a SIGKILL would leave on disk.
        for (const suffix of ["", "-wal"]) {
          Deno.copyFileSync(`${dir}/${STATE_FILE_NAME}${suffix}`, `${crashDir}/${STATE_FILE_NAME}${suffix}`);
        }
        before = (await i2c.readAt(A2, 0, 256))!;
      }
      await using lab = await LabFixture.start({
        dir: crashDir,
        topology: PAGED_TOPOLOGY,
        profiles: [PAGED],
      });
      const module = lab.lab.module("olt1", "lt1", 2);
      assert.equal(module.txDisabled, true);
      assert.equal(module.diagnostics().txBiasMa, 0);
      assert.deepEqual(
        lab.events.filter((e) => e.type.startsWith("a2-control") || e.source === "soft"),
        [],
        "a restore is no write of the guest's",
      );
      const { i2c } = await guestOn(lab, 2);
      const after = (await i2c.readAt(A2, 0, 256))!;
      // The same bytes: the control bits, the page select, page 01h; Data_Ready_Bar is a new module's.
      const mask = (image: Uint8Array) =>
        Uint8Array.from(image, (byte, i) => i === CONTROL.status ? byte & ~0x01 : byte);
      assert.deepEqual(mask(after), mask(before));
      assert.equal(
        after[CONTROL.status] & (CONTROL.softTxDisable | CONTROL.softRs0),
        CONTROL.softTxDisable | CONTROL.softRs0,
      );
      assert.equal(
        after[CONTROL.extendedControl] & (CONTROL.softRs1 | CONTROL.powerLevelSelect),
        CONTROL.softRs1 | CONTROL.powerLevelSelect,
      );
      assert.deepEqual([...after.subarray(CONTROL.pageSelect, 130)], [1, 0xa1, 0xa2]);
      assert.deepEqual([...after.subarray(100, 104)], [0, 0, 0, 0], "Tx bias and power: the laser is off");
      // Page 00h is as it was; the guest may go on where it left off.
      assert.ok(await i2c.write(A2, CONTROL.pageSelect, 0));
      assert.deepEqual([...(await i2c.readAt(A2, 128, 2))!], [...module.userEeprom().subarray(0, 2)]);
    })
  ));

Deno.test("a latched TX_FAULT's reset pulse begun with soft TX_DISABLE ends after a restart and counts", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      hostDrivesTxDisableLow(lab);
      lab.lab.setFault("olt1", "lt1", 1, "tx-fault", { mode: "latched", resets: 2 });
      const module = lab.lab.module("olt1", "lt1", 1);
      module.write(A2, Uint8Array.of(CONTROL.status, CONTROL.softTxDisable)); // a reset pulse begins: the restart
    }
    await using lab = await LabFixture.start({ dir });
    const module = lab.lab.module("olt1", "lt1", 1);
    assert.deepEqual(module.faultProgress()["tx-fault"]?.resetsLeft, 2);
    // The host's pin comes back at its pull-up; driven low again, the soft bit still holds the laser off.
    hostDrivesTxDisableLow(lab);
    assert.equal(module.txDisabled, true);
    module.write(A2, Uint8Array.of(CONTROL.status, 0)); // the pulse ends
    assert.equal(module.faultProgress()["tx-fault"]?.resetsLeft, 1);
    assert.equal(module.txFault, true);
    module.write(A2, Uint8Array.of(CONTROL.status, CONTROL.softTxDisable));
    module.write(A2, Uint8Array.of(CONTROL.status, 0));
    assert.equal(module.txFault, false, "two pulses, one on each side of the restart");
  }));

Deno.test("a module unplugged and plugged again through the API is a new one: its control bits start at the defaults", () =>
  withDir(async (dir) => {
    const defaults = new Uint8Array(128);
    {
      await using lab = await LabFixture.start({ dir });
      const old = lab.lab.module("olt1", "lt1", 1);
      old.write(A2, Uint8Array.of(CONTROL.status, CONTROL.softTxDisable | CONTROL.softRs0));
      old.write(A2, Uint8Array.of(CONTROL.extendedControl, CONTROL.softRs1 | CONTROL.powerLevelSelect));
      assert.notDeepEqual(lab.lab.cageState("olt1", "lt1", 1).a2Control, defaults);
      assert.equal((await lab.request("DELETE", CAGE_1)).status, 200);
      const plugged = await lab.request("PUT", CAGE_1, { profile: "sfp-10gbase-sr" });
      assert.equal(plugged.status, 201);
      const module = lab.lab.module("olt1", "lt1", 1);
      assert.notEqual(module, old);
      assert.deepEqual(module.a2Control(), defaults);
      assert.equal(module.a2()[CONTROL.status] & (CONTROL.softTxDisable | CONTROL.softRs0), 0);
      // The host's pin still holds the laser off; let it go and the new module transmits.
      hostDrivesTxDisableLow(lab);
      assert.equal((await (await lab.request("GET", CAGE_1)).json()).signals.txDisabled, false);
    }
    await using lab = await LabFixture.start({ dir });
    assert.deepEqual(lab.lab.module("olt1", "lt1", 1).a2Control(), defaults, "and so it is saved");
  }));

Deno.test("a state file of schema 3 is upgraded: its modules come back as saved, control bits at the defaults", () =>
  withDir(async (dir) => {
    const file = `${dir}/${STATE_FILE_NAME}`;
    const userEeprom = new Uint8Array(120).fill(0x3c);
    const old = new DatabaseSync(file);
    // The tables exactly as schema 3 made them, one module with everything schema 3 kept.
    old.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE board (
        olt TEXT NOT NULL, board TEXT NOT NULL, kind TEXT NOT NULL, topology_kind TEXT NOT NULL,
        removed INTEGER NOT NULL, temperature_c REAL, PRIMARY KEY (olt, board)
      ) STRICT;
      CREATE TABLE cage (
        olt TEXT NOT NULL, board TEXT NOT NULL, cage INTEGER NOT NULL, module TEXT, rx_los_forced INTEGER,
        tx_fault_forced INTEGER, user_eeprom BLOB, faults TEXT, fault_progress TEXT,
        PRIMARY KEY (olt, board, cage)
      ) STRICT;
      INSERT INTO meta VALUES ('topology', 'test-lab'), ('event-seq-reserved', '1000');
      INSERT INTO board VALUES ('olt1', 'lt1', 'two-port', 'two-port', 0, NULL);
      PRAGMA application_id = ${0x53465045};
      PRAGMA user_version = 3;
    `);
    old.prepare("INSERT INTO cage VALUES ('olt1', 'lt1', 1, ?, NULL, NULL, ?, ?, ?)").run(
      JSON.stringify({ profile: "sfp-10gbase-sr", vendorSn: "FROM-V3" }),
      userEeprom,
      JSON.stringify({ "tx-fault": { mode: "latched", resets: 3 } }),
      JSON.stringify({ "tx-fault": { sinceMs: 1, generation: 1, resetsLeft: 2 } }),
    );
    old.close();
    {
      await using lab = await LabFixture.start({ dir });
      const module = lab.lab.module("olt1", "lt1", 1);
      assert.equal(module.decode().vendorSn, "FROM-V3");
      assert.deepEqual(module.userEeprom(), userEeprom);
      assert.equal(module.faultProgress()["tx-fault"]?.resetsLeft, 2);
      assert.deepEqual(module.a2Control(), new Uint8Array(128), "schema 3 kept none: the defaults");
      assert.deepEqual(lab.logs.filter((l) => l.message === "saved state ignored"), []);
      assert.ok(lab.lab.events.lastSeq > 1000, "the event numbers go on");
      module.write(A2, Uint8Array.of(CONTROL.status, CONTROL.softTxDisable)); // now kept
    }
    const upgraded = new DatabaseSync(file, { readOnly: true });
    const version = upgraded.prepare("PRAGMA user_version").get() as { user_version: number };
    const row = upgraded.prepare("SELECT a2_control FROM cage WHERE board = 'lt1' AND cage = 1").get();
    upgraded.close();
    assert.equal(version.user_version, 4);
    assert.equal((row?.a2_control as Uint8Array)[CONTROL.status], CONTROL.softTxDisable);
    await using lab = await LabFixture.start({ dir });
    assert.equal(lab.lab.module("olt1", "lt1", 1).txDisabled, true);
  }));

Deno.test("saved control bytes a module cannot take are logged; it starts with the defaults, the rest restored", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      lab.lab.module("olt1", "lt1", 1).write(A2, Uint8Array.of(CONTROL.status, CONTROL.softTxDisable));
      lab.lab.forceSignals("olt1", "lt1", 1, { rxLos: true });
    }
    const db = new DatabaseSync(`${dir}/${STATE_FILE_NAME}`);
    db.prepare("UPDATE cage SET a2_control = ? WHERE board = 'lt1' AND cage = 1").run(new Uint8Array(3));
    db.close();
    await using lab = await LabFixture.start({ dir });
    const module = lab.lab.module("olt1", "lt1", 1);
    assert.deepEqual(module.a2Control(), new Uint8Array(128));
    assert.deepEqual(lab.lab.forcedSignals(module), { rxLos: true, txFault: null });
    const warning = lab.logs.find((l) => l.message === "saved A2h control bytes not restored");
    assert.equal(warning?.cage, "olt1/lt1/1");
    assert.match(String(warning?.error), /has 128 bytes of A2h control and pages \(1 page\(s\)\), got 3/);
  }));
