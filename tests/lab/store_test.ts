// The state file: a restart on the same directory finds the lab as it was; a changed topology is
// reconciled with one log line per difference; a file that is not a usable state file is refused
// by name and left as it was.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { cageLineIndex } from "../../src/board/board.ts";
import { STATE_FILE_NAME, type StateChanges, StateFile, StateFileError } from "../../src/store/state-file.ts";
import { LabFixture, type LogLine, TEST_TOPOLOGY, withDir } from "./lab-fixture.ts";

const A2 = 0x51;
const USER_EEPROM_START = 128;

function messages(logs: LogLine[], level?: string): string[] {
  return logs.filter((l) => !level || l.level === level).map((l) => l.message);
}

Deno.test("a restart restores modules, overrides, diagnostics, forced pins, user EEPROM and boards", () =>
  withDir(async (dir) => {
    const userBytes = Uint8Array.from({ length: 120 }, (_, i) => (i * 7 + 3) & 0xff);
    {
      await using lab = await LabFixture.start({ dir });
      assert.deepEqual(messages(lab.logs).filter((m) => m.startsWith("state:")), [], "first start: no notes");
      const { lab: running } = lab;
      running.plug("olt1", "lt1", 2, {
        profile: "sfp-10gbase-lr",
        overrides: { vendorName: "ACME", vendorSn: "KEEP-ME" },
      });
      running.setDiagnostics("olt1", "lt1", 2, { temperatureC: 66.25, rxPowerDbm: -9.5 });
      running.forceSignals("olt1", "lt1", 2, { txFault: true, rxLos: false });
      running.unplug("olt1", "lt1", 1); // a topology module the user took out stays out
      // The guest writes the user EEPROM through A2h, in two transactions; each is saved before the
      // write returns (before the I2C device could acknowledge it), the event telling so right after.
      const module = running.module("olt1", "lt1", 2);
      const seq = running.events.lastSeq;
      module.write(A2, Uint8Array.of(USER_EEPROM_START, ...userBytes.subarray(0, 60)));
      module.write(A2, Uint8Array.of(USER_EEPROM_START + 60, ...userBytes.subarray(60)));
      assert.deepEqual(
        lab.events.filter((e) => e.seq > seq).map((e) => `${e.type} ${e.path}`),
        Array(2).fill(["user-eeprom-written olt1/lt1/2", "user-eeprom-saved olt1/lt1/2"]).flat(),
      );
      await running.removeBoard("olt1", "lt2");
    }
    await using again = await LabFixture.start({ dir });
    const lab = again.lab;
    assert.equal(lab.cage("olt1", "lt1", 1).cage.module, null);
    const module = lab.module("olt1", "lt1", 2);
    assert.equal(module.profile.id, "sfp-10gbase-lr");
    assert.equal(module.decode().vendorName, "ACME");
    assert.equal(module.decode().vendorSn, "KEEP-ME");
    assert.equal(module.decode().temperature, 66.25);
    assert.equal(module.diagnostics().rxPowerDbm, -9.5);
    assert.deepEqual(lab.forcedSignals(module), { rxLos: false, txFault: true });
    assert.equal(module.txFault, true);
    assert.deepEqual(module.userEeprom(), userBytes);
    assert.deepEqual(module.a2().subarray(USER_EEPROM_START, USER_EEPROM_START + 120), userBytes);
    // The removed board stays out of its slot, its module kept.
    assert.equal(lab.board("olt1", "lt2").inserted, false);
    assert.equal(lab.module("olt1", "lt2", 2).decode().vendorSn, "GP0001");
    assert.deepEqual(
      messages(again.logs).filter((m) => m.startsWith("state:")),
      [],
      "same topology: no notes",
    );
    // A restored module can be changed like any other, and the change is saved too.
    lab.insertBoard("olt1", "lt2");
    assert.equal(lab.board("olt1", "lt2").inserted, true);
  }));

Deno.test("a board re-inserted as another kind comes back as that kind", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      await lab.lab.removeBoard("olt1", "lt1");
      lab.lab.insertBoard("olt1", "lt1", "four-port");
      lab.lab.plug("olt1", "lt1", 4, { profile: "sfp-1000base-lx", overrides: {} });
    }
    await using again = await LabFixture.start({ dir });
    const board = again.lab.board("olt1", "lt1");
    assert.equal(board.spec.kind, "four-port");
    assert.equal(board.planes.cages.length, 4);
    assert.equal(again.lab.module("olt1", "lt1", 1).profile.id, "sfp-10gbase-sr");
    assert.equal(again.lab.module("olt1", "lt1", 4).profile.id, "sfp-1000base-lx");
  }));

Deno.test("a changed topology is reconciled: new boards and cages, dropped ones, one log line each", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      lab.lab.plug("olt1", "lt2", 4, { profile: "sfp-1000base-lx", overrides: {} });
    }
    // lt2 shrinks from 4 cages to 2, lt1 disappears, lt3 appears, lt2 gets a third cage from a kind.
    const changed = TEST_TOPOLOGY
      .replace("four-port: { cages: 4, formFactor: sfp }", "four-port: { cages: 3, formFactor: sfp }")
      .replace(/ {6}- id: lt1\n[\s\S]*?( {6}- id: lt2)/, "$1")
      .concat(
        `      - id: lt3\n        slot: 3\n        kind: two-port\n        cages:\n          2: sfp-10gbase-lr\n`,
      );
    await using again = await LabFixture.start({ dir, topology: changed });
    const notes = again.logs.filter((l) => l.message.startsWith("state:"));
    const text = notes.map((n) => `${n.level} ${n.message}`);
    assert.ok(
      text.includes(
        "warn state: board olt1/lt1 is no longer in the topology: its saved state (1 module(s)) is dropped",
      ),
      text.join("\n"),
    );
    assert.ok(
      text.includes("info state: board olt1/lt3 is new in the topology: it starts as the topology says"),
      text.join("\n"),
    );
    assert.ok(
      text.includes(
        "warn state: cage olt1/lt2/4 no longer exists (board olt1/lt2 has cages 1..3): its saved module sfp-1000base-lx is dropped",
      ),
      text.join("\n"),
    );
    assert.equal(notes.length, 3, text.join("\n"));
    assert.equal(
      again.lab.module("olt1", "lt3", 2).profile.id,
      "sfp-10gbase-lr",
      "a new board gets its topology modules",
    );
    assert.equal(again.lab.module("olt1", "lt2", 2).decode().vendorSn, "GP0001");
    // The dropped state is gone from the file: a third start has nothing to note.
    await again.close();
    await using third = await LabFixture.start({ dir, topology: changed });
    assert.deepEqual(messages(third.logs).filter((m) => m.startsWith("state:")), []);
  }));

Deno.test("new cages of a saved board start as the topology says, with a log line", () =>
  withDir(async (dir) => {
    {
      await using _lab = await LabFixture.start({ dir });
    }
    const grown = TEST_TOPOLOGY
      .replace("two-port: { cages: 2, formFactor: sfp+ }", "two-port: { cages: 3, formFactor: sfp+ }")
      .replace("          1: sfp-10gbase-sr\n", "          1: sfp-10gbase-sr\n          3: sfp-10gbase-lr\n");
    await using again = await LabFixture.start({ dir, topology: grown });
    const notes = messages(again.logs).filter((m) => m.startsWith("state:"));
    assert.deepEqual(notes, [
      "state: cage olt1/lt1/3 is new: it starts with sfp-10gbase-lr from the topology",
    ]);
    assert.equal(again.lab.module("olt1", "lt1", 3).profile.id, "sfp-10gbase-lr");
  }));

Deno.test("a saved module whose profile left the catalog: the cage starts as the topology says", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      lab.lab.unplug("olt1", "lt1", 1);
    }
    const db = new DatabaseSync(`${dir}/${STATE_FILE_NAME}`);
    db.prepare("UPDATE cage SET module = ? WHERE board = 'lt1' AND cage = 1")
      .run(JSON.stringify({ profile: "sfp-retired" }));
    db.close();
    await using again = await LabFixture.start({ dir });
    assert.ok(
      messages(again.logs, "warn").includes(
        `state: cage olt1/lt1/1: the saved module's profile "sfp-retired" is not in the catalog; the cage starts as the topology says`,
      ),
    );
    assert.equal(again.lab.module("olt1", "lt1", 1).profile.id, "sfp-10gbase-sr");
  }));

Deno.test("rows that make no sense are reported with the file and ignored; the rest is restored", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      lab.lab.plug("olt1", "lt2", 3, { profile: "sfp-1000base-lx", overrides: { vendorSn: "GOOD" } });
    }
    const file = `${dir}/${STATE_FILE_NAME}`;
    const db = new DatabaseSync(file);
    const set = (column: string, value: unknown, board: string, cage: number) =>
      db.prepare(`UPDATE cage SET ${column} = ? WHERE board = ? AND cage = ?`).run(
        value as string,
        board,
        cage,
      );
    set("module", "{not json", "lt1", 1);
    set("module", JSON.stringify({ profile: "sfp-10gbase-sr", vendorName: 5 }), "lt1", 2);
    set("rx_los_forced", 7, "lt2", 1);
    set("module", JSON.stringify({ profile: "sfp-10gbase-sr", colour: "red" }), "lt2", 2);
    db.prepare("UPDATE board SET removed = 3 WHERE board = 'lt1'").run();
    db.prepare("INSERT INTO cage (olt, board, cage) VALUES ('olt1', 'lt2', 0), ('a/b', 'lt2', 1)").run();
    db.close();
    await using again = await LabFixture.start({ dir });
    const problems = again.logs.filter((l) => l.message === "saved state ignored").map((l) =>
      String(l.problem)
    );
    assert.equal(problems.length, 7, problems.join("\n"));
    for (const problem of problems) assert.ok(problem.startsWith(`state file ${file}: table `), problem);
    assert.ok(problems.some((p) => /row "olt1\/lt1\/1": module is not JSON/.test(p)), problems.join("\n"));
    assert.ok(problems.some((p) => /module\.vendorName: vendorName must be a string/.test(p)));
    assert.ok(problems.some((p) => /rx_los_forced is 7/.test(p)));
    assert.ok(problems.some((p) => /unknown key "colour"/.test(p)));
    assert.ok(problems.some((p) => /table board, row "olt1\/lt1": removed is not 0 or 1/.test(p)));
    assert.ok(problems.some((p) => /cage is 0, not a cage number/.test(p)));
    assert.ok(problems.some((p) => /olt is not a valid id/.test(p)));
    // Cages with bad rows start as the topology says; the good row is restored.
    assert.equal(again.lab.module("olt1", "lt1", 1).profile.id, "sfp-10gbase-sr");
    assert.equal(again.lab.module("olt1", "lt2", 3).decode().vendorSn, "GOOD");
    assert.equal(again.lab.board("olt1", "lt1").inserted, true);
  }));

Deno.test("files that are not a usable state file are refused by name and left untouched", () =>
  withDir(async (dir) => {
    const file = `${dir}/${STATE_FILE_NAME}`;
    const refuse = async (pattern: RegExp) => {
      const before = await Deno.readFile(file);
      await assert.rejects(LabFixture.start({ dir }), (error: Error) => {
        assert.ok(error instanceof StateFileError, String(error));
        assert.ok(error.message.startsWith(`state file ${file} `), error.message);
        assert.match(error.message, pattern);
        return true;
      });
      assert.deepEqual(await Deno.readFile(file), before, "the file was not changed");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [STATE_FILE_NAME], "no sockets opened");
    };

    await Deno.writeTextFile(file, "these are my notes, not a database\n".repeat(200));
    await refuse(/is not an SQLite database; it was left untouched/);

    await Deno.remove(file);
    const foreign = new DatabaseSync(file);
    foreign.exec("CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('ann')");
    foreign.close();
    await refuse(/is an SQLite database of another program/);

    await Deno.remove(file);
    StateFile.open(file).close();
    const newer = new DatabaseSync(file);
    newer.exec("PRAGMA user_version = 99");
    newer.close();
    await refuse(/was written by a newer sfpemu \(state schema 99/);

    await Deno.remove(file);
    StateFile.open(file).close();
    const altered = new DatabaseSync(file);
    altered.exec("ALTER TABLE cage DROP COLUMN user_eeprom");
    altered.close();
    await refuse(/has a table cage with columns/);

    // A damaged image: a valid header, then garbage where the tables were.
    await Deno.remove(file);
    StateFile.open(file).close();
    const bytes = await Deno.readFile(file);
    bytes.fill(0x5a, 100);
    await Deno.writeFile(file, bytes);
    await refuse(/is (damaged|not an SQLite database)/);
  }));

Deno.test("a second process on the same state file is refused while the first runs", () =>
  withDir(async (dir) => {
    await using lab = await LabFixture.start({ dir });
    const file = `${dir}/${STATE_FILE_NAME}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { StateFile } from "${new URL("../../src/store/state-file.ts", import.meta.url)}";
         try { StateFile.open(${JSON.stringify(file)}); console.log("opened"); }
         catch (error) { console.log(error.message); }`,
      ],
      stdout: "piped",
      stderr: "inherit",
    });
    const output = new TextDecoder().decode((await child.output()).stdout).trim();
    assert.equal(
      output,
      `state file ${file} is in use by another process (another sfpemu run on the same --state-dir?)`,
    );
    // The running lab still saves.
    lab.lab.unplug("olt1", "lt1", 1);
  }));

Deno.test("changes are saved in one transaction per turn: after the plug's interrupt, before the API answers", async () => {
  const saves: string[][] = [];
  const order: string[] = [];
  const save = StateFile.prototype.save;
  StateFile.prototype.save = function (changes: StateChanges) {
    const paths = [...changes.boards.keys(), ...changes.cages.keys()];
    saves.push(paths);
    order.push(`save ${paths.join(" ")}`);
    return save.call(this, changes);
  };
  try {
    await using lab = await LabFixture.start();
    const board = lab.lab.board("olt1", "lt1");
    const modAbs = cageLineIndex(2, "mod-abs");
    board.planes.gpio.onLevelChange((line, high) => {
      if (line === modAbs) order.push(`mod-abs ${high ? 1 : 0}`);
    });
    lab.lab.events.subscribe((event) => order.push(event.type));

    const response = await lab.request("PUT", "/olts/olt1/boards/lt1/cages/2/module", {
      profile: "sfp-10gbase-lr",
    });
    assert.equal(response.status, 201);
    assert.deepEqual(
      order.filter((step) => /^(module-inserted|mod-abs|save)/.test(step)),
      ["module-inserted", "mod-abs 0", "save olt1/lt1/2"],
      "the event first, then the pin the VM sees, then the file; the 2xx only after all three",
    );

    // Several changes in one turn: one transaction, each cage once, as the lab is at its end.
    saves.length = 0;
    lab.lab.setDiagnostics("olt1", "lt1", 2, { temperatureC: 61 });
    lab.lab.forceSignals("olt1", "lt1", 2, { rxLos: true });
    lab.lab.unplug("olt1", "lt2", 2);
    assert.deepEqual(saves, [], "nothing is written inside the events");
    await Promise.resolve();
    assert.deepEqual(saves, [["olt1/lt1/2", "olt1/lt2/2"]]);

    // A board and one of its cages in the same turn: the cage goes with its board.
    await lab.lab.removeBoard("olt1", "lt1");
    await Promise.resolve();
    saves.length = 0;
    lab.lab.insertBoard("olt1", "lt1", "four-port");
    lab.lab.plug("olt1", "lt1", 4, { profile: "sfp-1000base-lx", overrides: {} });
    await Promise.resolve();
    assert.deepEqual(saves, [["olt1/lt1"]]);
    assert.deepEqual(lab.lab.cageState("olt1", "lt1", 4).module?.profile, "sfp-1000base-lx");
  } finally {
    StateFile.prototype.save = save;
  }
});

/** TEST_TOPOLOGY with an LM75 on the four-port board (lt2); lt1 has none. */
const SENSOR_TOPOLOGY = TEST_TOPOLOGY.replace(
  "four-port: { cages: 4, formFactor: sfp }",
  "four-port: { cages: 4, formFactor: sfp, temperatureSensor: { temperatureC: 40 } }",
);

Deno.test("saved board temperatures that make no sense, or whose board has no sensor, are reported and ignored", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir, topology: SENSOR_TOPOLOGY });
      lab.lab.setBoardTemperature("olt1", "lt2", 60);
    }
    const file = `${dir}/${STATE_FILE_NAME}`;
    const db = new DatabaseSync(file);
    const set = db.prepare("UPDATE board SET temperature_c = ? WHERE board = ?");
    set.run(1e999, "lt2"); // a REAL column holds infinity; no LM75 reads it
    set.run(55.5, "lt1"); // lt1 has no sensor in TEST_TOPOLOGY
    db.close();
    await using again = await LabFixture.start({ dir, topology: SENSOR_TOPOLOGY });
    const problems = again.logs.filter((l) => l.message === "saved state ignored").map((l) =>
      String(l.problem)
    );
    assert.deepEqual(problems, [
      `state file ${file}: table board, row "olt1/lt2": temperature_c is Infinity, not a temperature; ` +
      "the temperature is ignored",
    ]);
    assert.ok(
      again.logs.some((l) => l.message === "saved board temperature not restored: the board has no sensor"),
    );
    assert.deepEqual(again.lab.boardState("olt1", "lt1"), { kind: "two-port", removed: false });
    assert.deepEqual(
      again.lab.boardState("olt1", "lt2"),
      { kind: "four-port", removed: false },
      "kept, as it was",
    );
    // The start saved the lab again: what went nowhere is gone from the file.
    await again.close();
    const after = new DatabaseSync(file);
    const left = after.prepare("SELECT board, temperature_c FROM board ORDER BY board").all();
    after.close();
    assert.deepEqual(left.map((row) => ({ ...row })), [
      { board: "lt1", temperature_c: null },
      { board: "lt2", temperature_c: null },
    ]);
  }));

Deno.test("a state file of schema 2 is upgraded: board temperatures move from meta rows to their boards", () =>
  withDir(async (dir) => {
    const file = `${dir}/${STATE_FILE_NAME}`;
    {
      await using lab = await LabFixture.start({ dir, topology: SENSOR_TOPOLOGY });
      lab.lab.setFault("olt1", "lt1", 1, "rx-los-flap", { periodMs: 1_000 });
      lab.lab.unplug("olt1", "lt2", 2);
    }
    // Back to what an sfpemu of schema 2 wrote: temperatures in meta rows, no fault progress.
    const old = new DatabaseSync(file);
    old.exec(`
      ALTER TABLE cage DROP COLUMN a2_control;
      ALTER TABLE cage DROP COLUMN fault_progress;
      ALTER TABLE board DROP COLUMN temperature_c;
      INSERT INTO meta VALUES ('board-temperature-c:olt1/lt2', '71.5'), ('board-temperature-c:olt1/lt9', '40'),
        ('board-temperature-c:olt1/lt1', 'hot');
      PRAGMA user_version = 2;
    `);
    old.close();
    {
      await using lab = await LabFixture.start({ dir, topology: SENSOR_TOPOLOGY });
      assert.equal(lab.lab.boardState("olt1", "lt2").temperatureC, 71.5);
      assert.equal(lab.lab.board("olt1", "lt2").planes.temperatureSensor?.temperatureC, 71.5);
      assert.equal(lab.lab.cage("olt1", "lt2", 2).cage.module, null, "the rest is restored as it was");
      assert.deepEqual(lab.lab.module("olt1", "lt1", 1).faults(), [
        { kind: "rx-los-flap", params: { periodMs: 1_000 } },
      ]);
      const problems = lab.logs.filter((l) => l.message === "saved state ignored").map((l) =>
        String(l.problem)
      );
      assert.deepEqual(problems, [
        `state file ${file}: table meta, row "board-temperature-c:olt1/lt1": "hot" is not a temperature; ` +
        "the row is ignored",
        `state file ${file}: table meta, row "board-temperature-c:olt1/lt9": no such board is saved; ` +
        "the row is ignored",
      ]);
    }
    const upgraded = new DatabaseSync(file, { readOnly: true });
    const version = upgraded.prepare("PRAGMA user_version").get() as { user_version: number };
    const meta = upgraded.prepare("SELECT key FROM meta WHERE key GLOB 'board-temperature-c:*'").all();
    const boards = upgraded.prepare("SELECT board, temperature_c FROM board ORDER BY board").all();
    upgraded.close();
    assert.equal(version.user_version, 4);
    assert.deepEqual(meta, []);
    assert.deepEqual(boards.map((row) => ({ ...row })), [
      { board: "lt1", temperature_c: null },
      { board: "lt2", temperature_c: 71.5 },
    ]);
  }));

Deno.test("the run's seed is kept: a restart not given one takes it, --seed replaces it, a bad row is reported", () =>
  withDir(async (dir) => {
    const started = (fixture: LabFixture) =>
      fixture.lab.events.since(0).find((e) => e.type === "emulator-started")!;
    let drawn: number;
    let moduleSeed: number;
    {
      await using first = await LabFixture.start({ dir });
      drawn = first.lab.seed;
      moduleSeed = first.lab.module("olt1", "lt1", 1).seed;
      assert.equal(started(first).seedFrom, "drawn");
      assert.equal(started(first).seed, drawn);
    }
    {
      // Not given one: the earlier run's, so every module (and its faults' random streams) is the same.
      await using second = await LabFixture.start({ dir });
      assert.equal(second.lab.seed, drawn);
      assert.equal(second.lab.module("olt1", "lt1", 1).seed, moduleSeed);
      assert.equal(started(second).seedFrom, "state file");
    }
    const given = drawn === 7 ? 8 : 7;
    {
      await using third = await LabFixture.start({ dir, seed: given });
      assert.equal(third.lab.seed, given);
      assert.equal(started(third).seedFrom, "given");
      assert.notEqual(third.lab.module("olt1", "lt1", 1).seed, moduleSeed);
      assert.ok(
        third.logs.some((l) => l.message.startsWith("state: the run's seed changed") && l.was === drawn),
        "the change of seed is logged",
      );
    }
    {
      // The given seed is the one kept from then on.
      await using fourth = await LabFixture.start({ dir });
      assert.equal(fourth.lab.seed, given);
    }
    const db = new DatabaseSync(`${dir}/${STATE_FILE_NAME}`);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'seed'").run("-3");
    db.close();
    await using fifth = await LabFixture.start({ dir });
    assert.equal(started(fifth).seedFrom, "drawn");
    assert.ok(
      fifth.logs.some((l) =>
        /table meta, row "seed": "-3" is not a seed .*a new seed drawn/.test(String(l.problem))
      ),
      JSON.stringify(fifth.logs.filter((l) => l.level === "warn")),
    );
  }));

Deno.test("regression (fuzz): an integer beyond 2^53 in a row is reported and the row ignored, not a failed start", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir });
      lab.lab.plug("olt1", "lt2", 3, { profile: "sfp-1000base-lx", overrides: { vendorSn: "GOOD" } });
    }
    // node:sqlite throws a RangeError for a whole query that meets such an integer.
    const db = new DatabaseSync(`${dir}/${STATE_FILE_NAME}`);
    db.prepare("UPDATE cage SET rx_los_forced = ? WHERE board = 'lt1' AND cage = 1").run(2n ** 62n);
    db.prepare("UPDATE board SET removed = ? WHERE board = 'lt1'").run(-(2n ** 60n));
    db.close();
    await using again = await LabFixture.start({ dir });
    const problems = again.logs.filter((l) => l.message === "saved state ignored").map((l) =>
      String(l.problem)
    );
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.ok(
      problems.some((p) => /row "olt1\/lt1\/1": rx_los_forced is "4611686018427387904"/.test(p)),
      problems.join("\n"),
    );
    assert.ok(problems.some((p) => /row "olt1\/lt1": removed is not 0 or 1/.test(p)), problems.join("\n"));
    assert.equal(again.lab.module("olt1", "lt2", 3).decode().vendorSn, "GOOD");
  }));
