// Seeded fuzzing of the state file: it is untrusted input (a file on disk, edited, damaged, or left
// by another version). A lab with every kind of saved state (modules with overrides, faults with
// progress, forced pins, set readings, user EEPROM and A2h control bytes, a board pulled, a board
// temperature) is stopped, then cells of its rows are overwritten — with any SQLite value, or for
// the JSON columns with the saved JSON changed at one place — and the lab started again.
// Properties: the start either refuses the file with a StateFileError or starts, reporting what it
// ignored; a started lab answers (every module's A0h, A2h and readings, time going on); and the
// state it saves from then on reads back clean: a second restart reports nothing.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { STATE_FILE_NAME, StateFileError } from "../../src/store/state-file.ts";
import { fc, fuzz } from "../support/fuzz.ts";
import { LabFixture, withDir } from "./lab-fixture.ts";

const A2 = 0x51;

/** Every kind of state the file keeps, in one lab. */
async function savedLab(dir: string): Promise<void> {
  await using fixture = await LabFixture.start({ dir, seed: 3 });
  const { lab } = fixture;
  lab.plug("olt1", "lt2", 3, {
    profile: "sfp-1000base-lx",
    overrides: { vendorSn: "KEEP", vendorName: "ACME" },
  }, {
    "temperature-ramp": { targetC: 90, ratePerS: 2 },
    "tx-fault": { mode: "latched", resets: 2 },
  });
  lab.setFault("olt1", "lt1", 1, "noise", { band: { temperatureC: 2 } });
  lab.setDiagnostics("olt1", "lt2", 2, { temperatureC: 55.5, rxPowerDbm: -20 });
  lab.forceSignals("olt1", "lt2", 2, { rxLos: true });
  const module = lab.module("olt1", "lt2", 3);
  module.write(A2, Uint8Array.of(128, ...Array.from({ length: 16 }, (_, i) => i * 11)));
  module.write(A2, Uint8Array.of(110, 0x40)); // soft TX_DISABLE
  await lab.removeBoard("olt1", "lt1");
}

interface CellEdit {
  table: "board" | "cage" | "meta";
  row: number;
  column: number;
  /** A raw value, or for a JSON cell: a path into it (numbers pick keys) and the new value there. */
  value: unknown;
  jsonPath: number[];
}

const sqliteValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.constant(null),
  fc.constantFrom(0, 1, -1, 2 ** 62, "olt1", "lt1", "{}", "[]", "null", '{"profile":"sfp-10gbase-sr"}'),
);
const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 1e308, "", "sfp-10gbase-sr", {}, []),
);

const cellEdit: fc.Arbitrary<CellEdit> = fc.record({
  table: fc.constantFrom("board" as const, "cage" as const, "cage" as const, "meta" as const),
  row: fc.nat(),
  column: fc.nat(),
  value: fc.oneof(sqliteValue, jsonValue),
  jsonPath: fc.array(fc.nat(), { maxLength: 3 }),
});

/** The JSON text with the value at `path` (each number picks a key or index, modulo) replaced. */
function editJson(text: string, path: number[], value: unknown): string | undefined {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (path.length === 0) return JSON.stringify(value);
  let node = root as Record<string, unknown>;
  for (let i = 0; i < path.length; i++) {
    if (!node || typeof node !== "object") return JSON.stringify(root);
    const keys = Object.keys(node);
    if (keys.length === 0) return JSON.stringify(root);
    const key = keys[path[i] % keys.length];
    if (i === path.length - 1) node[key] = value;
    else node = node[key] as Record<string, unknown>;
  }
  return JSON.stringify(root);
}

function applyEdits(file: string, edits: CellEdit[]): void {
  const db = new DatabaseSync(file);
  try {
    for (const edit of edits) {
      const columns = (db.prepare(`PRAGMA table_info(${edit.table})`).all() as { name: string }[]).map((c) =>
        c.name
      );
      const select = db.prepare(`SELECT rowid AS id, * FROM ${edit.table}`);
      select.setReadBigInts(true); // an earlier edit may have left an integer beyond 2^53
      const rows = select.all() as Record<string, unknown>[];
      if (rows.length === 0) continue;
      const row = rows[edit.row % rows.length];
      const column = columns[edit.column % columns.length];
      let value = edit.value;
      const current = row[column];
      if (typeof current === "string" && /^[[{]/.test(current) && edit.jsonPath.length > 0) {
        value = editJson(current, edit.jsonPath, edit.value) ?? edit.value;
      }
      if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
        value = JSON.stringify(value);
      }
      try {
        db.prepare(`UPDATE ${edit.table} SET ${column} = ? WHERE rowid = ?`).run(
          value as string | number | bigint | null | Uint8Array,
          row.id as bigint,
        );
      } catch {
        // A STRICT column or a key constraint refused the value: SQLite keeps its own invariants.
      }
    }
  } finally {
    db.close();
  }
}

Deno.test("fuzz: a damaged state file is refused or reported and ignored, never a crash; what is saved after reads back clean", async () => {
  const outcomes = { started: 0, refused: 0, ignoredRows: 0 };
  const { numRuns } = await fuzz(
    { name: "state file cells", seed: 0x57a7e, numRuns: 120 },
    fc.array(cellEdit, { minLength: 1, maxLength: 6 }),
    (edits) =>
      withDir(async (dir) => {
        await savedLab(dir);
        applyEdits(`${dir}/${STATE_FILE_NAME}`, edits);
        let fixture: LabFixture;
        try {
          fixture = await LabFixture.start({ dir, seed: 3 });
        } catch (error) {
          if (!(error instanceof StateFileError)) throw error;
          outcomes.refused++;
          return;
        }
        try {
          outcomes.started++;
          const ignored = fixture.logs.filter((l) => l.message === "saved state ignored");
          outcomes.ignoredRows += ignored.length;
          for (const line of ignored) assert.match(String(line.problem), /^state file /);
          const { lab } = fixture;
          for (const board of lab.boards) {
            for (const cage of board.planes.cages) {
              const module = cage.module;
              if (!module) continue;
              assert.equal(module.a0().length, 256);
              assert.equal(module.a2().length, 256);
              for (const [name, value] of Object.entries(module.diagnostics())) {
                assert.ok(!Number.isNaN(value), `${name} is NaN`); // -Infinity dBm: a dark laser
              }
            }
          }
          lab.snapshot();
          assert.ok(!fixture.logs.some((l) => l.level === "error"), JSON.stringify(fixture.logs));
        } finally {
          await fixture.close();
        }
        await using again = await LabFixture.start({ dir, seed: 3 });
        const problems = again.logs.filter((l) => l.message === "saved state ignored").map((l) => l.problem);
        assert.deepEqual(problems, [], "what the lab saved after the damaged start reads back clean");
      }),
  );
  console.log(
    `${numRuns} damaged files: ${outcomes.started} started (${outcomes.ignoredRows} rows ignored), ` +
      `${outcomes.refused} refused`,
  );
  assert.ok(outcomes.started > 0 && outcomes.ignoredRows > 0, JSON.stringify(outcomes));
});
