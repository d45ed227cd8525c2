// The state file: one SQLite database (node:sqlite) in the state directory that holds what the lab
// must find again after a restart: per board its kind, whether it is pulled out and the
// temperature the user set, per cage the module (profile, overrides, diagnostics the user set),
// forced pins, faults in force with how far they have got (when each was set, a ramp's origin),
// the user EEPROM bytes and the rest of what the host wrote into A2h (control bits, page select,
// other pages); and in `meta` the topology's name, how far the event numbers went and the run's seed.
//
// Durability: WAL with synchronous=NORMAL. A commit is in the WAL file (the OS page cache) before
// the call returns, so SIGKILL or a crash of sfpemu loses nothing; only a power cut can lose the last
// few commits, and never corrupts the file. FULL would fsync on every plug and every EEPROM save for
// a guarantee an emulator's lab state does not need.
//
// The file is untrusted input: a file that is not ours (another program's database, garbage, a
// newer schema, a damaged image) is refused with a message naming it and never modified; a row
// that does not make sense is reported and ignored.
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type {
  BoardState,
  CageState,
  FaultProgress,
  FaultProgressByKind,
  FaultSettings,
  ForcedSignals,
  LabState,
} from "../lab/lab.ts";
import { moduleSpecJson, parseModuleSpec, ShapeError } from "../lab/module-spec.ts";
import { MAX_SEED, parseSeed } from "../lab/seed.ts";

export const STATE_FILE_NAME = "sfpemu-state.db";

/** PRAGMA application_id "SFPE": tells our file from another program's SQLite database. */
const APPLICATION_ID = 0x53465045;
/**
 * 2: cage.faults added (issue 7). 3: cage.fault_progress, and board.temperature_c (schema 2 kept
 * it in a meta row per board). 4: cage.a2_control (the host's A2h control bits, page select and
 * other pages). Files of older schemas are upgraded in place when opened.
 */
const SCHEMA_VERSION = 4;

const SCHEMA = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE board (
    olt TEXT NOT NULL, board TEXT NOT NULL,
    kind TEXT NOT NULL,
    topology_kind TEXT NOT NULL,
    removed INTEGER NOT NULL,
    temperature_c REAL,
    PRIMARY KEY (olt, board)
  ) STRICT;
  CREATE TABLE cage (
    olt TEXT NOT NULL, board TEXT NOT NULL, cage INTEGER NOT NULL,
    module TEXT,
    rx_los_forced INTEGER,
    tx_fault_forced INTEGER,
    user_eeprom BLOB,
    faults TEXT,
    fault_progress TEXT,
    a2_control BLOB,
    PRIMARY KEY (olt, board, cage)
  ) STRICT;
`;

/** The tables' columns in each schema version, to tell our tables from altered ones. */
const COLUMNS: Record<number, Record<string, string>> = {
  1: {
    meta: "key,value",
    board: "olt,board,kind,topology_kind,removed",
    cage: "olt,board,cage,module,rx_los_forced,tx_fault_forced,user_eeprom",
  },
  2: {
    meta: "key,value",
    board: "olt,board,kind,topology_kind,removed",
    cage: "olt,board,cage,module,rx_los_forced,tx_fault_forced,user_eeprom,faults",
  },
  3: {
    meta: "key,value",
    board: "olt,board,kind,topology_kind,removed,temperature_c",
    cage: "olt,board,cage,module,rx_los_forced,tx_fault_forced,user_eeprom,faults,fault_progress",
  },
  4: {
    meta: "key,value",
    board: "olt,board,kind,topology_kind,removed,temperature_c",
    cage: "olt,board,cage,module,rx_los_forced,tx_fault_forced,user_eeprom,faults,fault_progress,a2_control",
  },
};

/** What takes a file of schema N to N + 1; rows it could not carry over, each with why. */
const UPGRADES: Record<number, (db: DatabaseSync) => string[]> = {
  1: (db) => {
    db.exec("ALTER TABLE cage ADD COLUMN faults TEXT");
    return [];
  },
  2: upgradeTo3,
  // Modules saved before it start with the control bits at their defaults, as they did then.
  3: (db) => {
    db.exec("ALTER TABLE cage ADD COLUMN a2_control BLOB");
    return [];
  },
};

/** Schema 2's meta key of a board's temperature: this followed by the board's path. */
const SCHEMA_2_TEMPERATURE_KEY = "board-temperature-c:";

/** Schema 2 to 3: room for fault progress; each board's temperature from its meta row to its own row. */
function upgradeTo3(db: DatabaseSync): string[] {
  db.exec("ALTER TABLE cage ADD COLUMN fault_progress TEXT; ALTER TABLE board ADD COLUMN temperature_c REAL");
  const problems: string[] = [];
  const move = db.prepare("UPDATE board SET temperature_c = ? WHERE olt || '/' || board = ?");
  const rows = db.prepare("SELECT key, value FROM meta WHERE key GLOB ? ORDER BY key")
    .all(`${SCHEMA_2_TEMPERATURE_KEY}*`) as Row[];
  for (const row of rows) {
    const temperatureC = Number(row.value);
    const problem = row.value === "" || !Number.isFinite(temperatureC)
      ? `${JSON.stringify(row.value)} is not a temperature`
      : move.run(temperatureC, (row.key as string).slice(SCHEMA_2_TEMPERATURE_KEY.length)).changes === 0
      ? "no such board is saved"
      : undefined;
    if (problem) problems.push(`table meta, row ${JSON.stringify(row.key)}: ${problem}; the row is ignored`);
  }
  db.prepare("DELETE FROM meta WHERE key GLOB ?").run(`${SCHEMA_2_TEMPERATURE_KEY}*`);
  return problems;
}

/** SQLite result codes (sqlite3.h) that say something about the file. */
const SQLITE_BUSY = 5;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

export class StateFileError extends Error {
  override name = "StateFileError";
  constructor(readonly file: string, message: string) {
    super(`state file ${file} ${message}`);
  }
}

/** A saved board; `topologyKind` is the kind the topology gave it when it was saved. */
export interface SavedBoard extends BoardState {
  topologyKind: string;
}

export interface SavedState extends LabState {
  boards: Map<string, SavedBoard>;
  /** The topology the state was saved for; undefined in a new file. */
  topologyName?: string;
  /** What earlier runs left of their event numbers. */
  events: SavedEventSeq;
  /** The seed of the run that last used the file (undefined in a new file, or one before it was kept). */
  seed?: number;
  /** Rows that were ignored, each with why. */
  problems: string[];
}

/** How an earlier run on this file numbered its events, so the next one goes on above them. */
export interface SavedEventSeq {
  /** No earlier event had a higher number: this run's first event gets the next one. */
  lastSeq: number;
  /**
   * clean: the earlier run stopped in order and lastSeq was its last event; unclean: it was killed
   * (or crashed) and lastSeq is what it had reserved, its last event at most; none: no earlier run
   * numbered events here (a new file, or one of an sfpemu before schema 3).
   */
  previousStop: "clean" | "unclean" | "none";
}

/** Meta keys: the highest event number reserved (written ahead); the last one, at a clean stop. */
const EVENT_SEQ_RESERVED_KEY = "event-seq-reserved";
const EVENT_SEQ_LAST_KEY = "event-seq-last";
/** Meta key of the run's seed: a restart without --seed makes the same random choices again. */
const SEED_KEY = "seed";

/** What changed since the last save: boards with all their cages, and single cages. */
export interface StateChanges {
  /** Each board's cages are all of them: its layout may have changed, other cage rows go. */
  boards: Map<string, { board: SavedBoard; cages: Map<string, CageState> }>;
  cages: Map<string, CageState>;
}

type Row = Record<string, unknown>;

/**
 * A query's rows, with every integer SQLite holds: node:sqlite throws a RangeError for the whole
 * query on an integer beyond 2^53 (a damaged or hand-edited file), so integers are read as bigints
 * and turned back into numbers where they fit; one that does not fit is kept as its text, and the
 * row's checks report it like any other value that makes no sense.
 */
function rowsOf(statement: StatementSync): Row[] {
  statement.setReadBigInts(true);
  return (statement.all() as Row[]).map((row) => {
    for (const [column, value] of Object.entries(row)) {
      if (typeof value === "bigint") {
        row[column] = Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
      }
    }
    return row;
  });
}

/** The writes, prepared once per file: a plug must not pay for parsing SQL. */
interface Statements {
  writeBoard: StatementSync;
  writeCage: StatementSync;
  deleteBoardCages: StatementSync;
  writeUserEeprom: StatementSync;
  writeTopologyName: StatementSync;
  writeMeta: StatementSync;
  deleteMeta: StatementSync;
}

export class StateFile {
  readonly #db: DatabaseSync;
  readonly #statements: Statements;
  /** Rows an upgrade of the file's schema could not carry over: load() reports them. */
  readonly #upgradeProblems: string[];

  private constructor(readonly file: string, db: DatabaseSync, upgradeProblems: string[]) {
    this.#db = db;
    this.#upgradeProblems = upgradeProblems;
    this.#statements = {
      writeBoard: db.prepare(
        `INSERT OR REPLACE INTO board (olt, board, kind, topology_kind, removed, temperature_c)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      writeCage: db.prepare(
        `INSERT OR REPLACE INTO cage
           (olt, board, cage, module, rx_los_forced, tx_fault_forced, user_eeprom, faults, fault_progress,
            a2_control)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteBoardCages: db.prepare("DELETE FROM cage WHERE olt = ? AND board = ?"),
      writeUserEeprom: db.prepare("UPDATE cage SET user_eeprom = ? WHERE olt = ? AND board = ? AND cage = ?"),
      writeTopologyName: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('topology', ?)"),
      writeMeta: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      deleteMeta: db.prepare("DELETE FROM meta WHERE key = ?"),
    };
  }

  /** Opens (or creates) the state file and takes it for this process alone. */
  static open(file: string): StateFile {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(file);
    } catch (error) {
      throw new StateFileError(file, `cannot be opened: ${(error as Error).message}`);
    }
    let upgradeProblems: string[];
    try {
      upgradeProblems = prepare(db, file);
    } catch (error) {
      db.close();
      if (error instanceof StateFileError) throw error;
      throw new StateFileError(file, explain(error));
    }
    return new StateFile(file, db, upgradeProblems);
  }

  load(): SavedState {
    const state: SavedState = {
      boards: new Map(),
      cages: new Map(),
      events: { lastSeq: 0, previousStop: "none" },
      problems: this.#upgradeProblems.map((problem) => `state file ${this.file}: ${problem}`),
    };
    const name = this.#db.prepare("SELECT value FROM meta WHERE key = 'topology'").get() as Row | undefined;
    if (typeof name?.value === "string") state.topologyName = name.value;
    this.#loadEventSeq(state);
    this.#loadSeed(state);
    for (const row of rowsOf(this.#db.prepare("SELECT * FROM board ORDER BY olt, board"))) {
      const problem = checkIds(row) ??
        (typeof row.kind !== "string" || typeof row.topology_kind !== "string"
          ? "kind is not text"
          : row.removed !== 0 && row.removed !== 1
          ? "removed is not 0 or 1"
          : undefined);
      if (problem) {
        state.problems.push(this.#problem("board", row, problem));
        continue;
      }
      const temperatureC = row.temperature_c;
      const temperatureKnown = typeof temperatureC === "number" && Number.isFinite(temperatureC);
      if (temperatureC !== null && !temperatureKnown) {
        state.problems.push(
          `${this.#where("board", row)}: temperature_c is ${String(temperatureC)}, not a temperature; ` +
            "the temperature is ignored",
        );
      }
      state.boards.set(`${row.olt}/${row.board}`, {
        kind: row.kind as string,
        topologyKind: row.topology_kind as string,
        removed: row.removed === 1,
        ...(temperatureKnown ? { temperatureC: temperatureC as number } : {}),
      });
    }
    for (const row of rowsOf(this.#db.prepare("SELECT * FROM cage ORDER BY olt, board, cage"))) {
      try {
        const note = (problem: string) => state.problems.push(`${this.#where("cage", row)}: ${problem}`);
        state.cages.set(`${row.olt}/${row.board}/${row.cage}`, cageOfRow(row, note));
      } catch (error) {
        state.problems.push(this.#problem("cage", row, (error as Error).message));
      }
    }
    return state;
  }

  #loadEventSeq(state: SavedState): void {
    const seqOf = (key: string) =>
      this.#metaValue(
        state,
        key,
        (text) => /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined,
        "an event number",
      );
    const reserved = seqOf(EVENT_SEQ_RESERVED_KEY);
    const last = seqOf(EVENT_SEQ_LAST_KEY);
    if (last !== undefined && last >= (reserved ?? 0)) {
      state.events = { lastSeq: last, previousStop: "clean" };
    } else if (reserved !== undefined) state.events = { lastSeq: reserved, previousStop: "unclean" };
  }

  #loadSeed(state: SavedState): void {
    state.seed = this.#metaValue(state, SEED_KEY, parseSeed, `a seed (0..${MAX_SEED}): a new seed drawn`);
  }

  /** A meta row's value as `parse` reads it; undefined when there is none, or (a problem) when it does not parse. */
  #metaValue<T>(
    state: SavedState,
    key: string,
    parse: (text: string) => T | undefined,
    what: string,
  ): T | undefined {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as Row | undefined;
    if (row === undefined) return undefined;
    const value = typeof row.value === "string" ? parse(row.value) : undefined;
    if (value === undefined) {
      state.problems.push(
        `state file ${this.file}: table meta, row ${JSON.stringify(key)}: ` +
          `${JSON.stringify(row.value)} is not ${what}; the row is ignored`,
      );
    }
    return value;
  }

  #problem(table: string, row: Row, problem: string): string {
    return `${this.#where(table, row)}: ${problem}; the row is ignored`;
  }

  /** `state file F: table T, row "olt/board/cage"`. */
  #where(table: string, row: Row): string {
    const key = [row.olt, row.board, row.cage].filter((part) => part !== undefined).map(String).join("/");
    return `state file ${this.file}: table ${table}, row ${JSON.stringify(key)}`;
  }

  /** Replaces everything with `state` (after a start: what reconciling dropped goes away). */
  replaceAll(state: LabState, boards: Map<string, SavedBoard>, topologyName: string): void {
    this.#transaction(() => {
      this.#db.exec("DELETE FROM board; DELETE FROM cage;");
      this.#statements.writeTopologyName.run(topologyName);
      for (const [path, board] of boards) this.#writeBoard(path, board);
      for (const [path, cage] of state.cages) this.#writeCage(path, cage);
    });
  }

  /** Everything that changed, in one transaction: all of it is saved, or none. */
  save(changes: StateChanges): void {
    this.#transaction(() => {
      for (const [path, { board, cages }] of changes.boards) {
        const [olt, boardId] = path.split("/");
        this.#writeBoard(path, board);
        this.#statements.deleteBoardCages.run(olt, boardId);
        for (const [cagePath, cage] of cages) this.#writeCage(cagePath, cage);
      }
      for (const [path, cage] of changes.cages) this.#writeCage(path, cage);
    });
  }

  /**
   * Reserves event numbers up to `upTo` for this run: a restart, even after SIGKILL, goes on above
   * them. The run is no longer stopped cleanly until saveLastEventSeq says so.
   */
  reserveEventSeqs(upTo: number): void {
    this.#transaction(() => {
      this.#statements.writeMeta.run(EVENT_SEQ_RESERVED_KEY, String(upTo));
      this.#statements.deleteMeta.run(EVENT_SEQ_LAST_KEY);
    });
  }

  /** At a clean stop: `seq` was the run's last event; the next run goes on right after it. */
  saveLastEventSeq(seq: number): void {
    this.#transaction(() => {
      this.#statements.writeMeta.run(EVENT_SEQ_RESERVED_KEY, String(seq));
      this.#statements.writeMeta.run(EVENT_SEQ_LAST_KEY, String(seq));
    });
  }

  /** The run's seed, kept for the next run on this file that is not given one. */
  saveSeed(seed: number): void {
    this.#statements.writeMeta.run(SEED_KEY, String(seed));
  }

  saveUserEeprom(path: string, bytes: Uint8Array): void {
    const [olt, board, cage] = path.split("/");
    this.#statements.writeUserEeprom.run(bytes, olt, board, Number(cage));
  }

  /** One cage's row, whole: a single statement, so SQLite commits it on its own. */
  saveCage(path: string, cage: CageState): void {
    this.#writeCage(path, cage);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #writeBoard(path: string, board: SavedBoard): void {
    const [olt, boardId] = path.split("/");
    this.#statements.writeBoard.run(
      olt,
      boardId,
      board.kind,
      board.topologyKind,
      board.removed ? 1 : 0,
      board.temperatureC ?? null,
    );
  }

  #writeCage(path: string, cage: CageState): void {
    const [olt, board, cageId] = path.split("/");
    const json = (value: object | undefined) =>
      value && Object.keys(value).length > 0 ? JSON.stringify(value) : null;
    this.#statements.writeCage.run(
      olt,
      board,
      Number(cageId),
      cage.module ? JSON.stringify(moduleSpecJson(cage.module)) : null,
      forcedColumn(cage.forcedSignals.rxLos),
      forcedColumn(cage.forcedSignals.txFault),
      cage.userEeprom ?? null,
      json(cage.faults),
      json(cage.faultProgress),
      cage.a2Control ?? null,
    );
  }

  #transaction(work: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * Checks the file is ours (or new), intact and not in use; creates the tables in a new file,
 * upgrades an older one. The rows an upgrade could not carry over, each with why.
 */
function prepare(db: DatabaseSync, file: string): string[] {
  // Fail at once instead of waiting when another process holds the file.
  db.exec("PRAGMA busy_timeout = 0");
  // Held until close: a second `sfpemu run` on the same state directory is refused, not interleaved.
  db.exec("PRAGMA locking_mode = EXCLUSIVE");
  const applicationId = pragma(db, "application_id");
  const version = pragma(db, "user_version");
  const objects = (db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as Row).n as number;
  if (applicationId !== APPLICATION_ID && (applicationId !== 0 || objects > 0)) {
    throw new StateFileError(
      file,
      "is an SQLite database of another program, not an sfpemu state file; it was left untouched: " +
        "move it away or use another --state-dir",
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new StateFileError(
      file,
      `was written by a newer sfpemu (state schema ${version}; this one knows ${SCHEMA_VERSION}); ` +
        "it was left untouched: run the newer sfpemu or use another --state-dir",
    );
  }
  const check = db.prepare("PRAGMA quick_check").all() as Row[];
  if (check.length !== 1 || check[0].quick_check !== "ok") {
    const details = check.slice(0, 3).map((row) => String(row.quick_check)).join("; ");
    throw new StateFileError(
      file,
      `is damaged (${details}); it was left untouched: move it away (sfpemu then starts from the topology)`,
    );
  }
  if (pragmaText(db, "journal_mode = WAL") !== "wal") {
    throw new StateFileError(file, "cannot be switched to write-ahead logging (WAL)");
  }
  db.exec("PRAGMA synchronous = NORMAL");
  // Taking the write lock now makes a second process fail here, at open, with a clear message.
  db.exec("BEGIN IMMEDIATE");
  const problems: string[] = [];
  try {
    if (objects === 0) {
      db.exec(SCHEMA);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}; PRAGMA user_version = ${SCHEMA_VERSION}`);
    } else {
      // A file of schema 0 with our tables cannot exist: 1 was the first.
      checkTables(db, file, Math.max(version, 1));
      for (let from = Math.max(version, 1); from < SCHEMA_VERSION; from++) {
        problems.push(...UPGRADES[from](db));
      }
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }
    db.exec("COMMIT");
    return problems;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** Our application id and version, but tables that are not ours: refuse rather than guess. */
function checkTables(db: DatabaseSync, file: string, version: number): void {
  const columns = (table: string) =>
    (db.prepare(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`).all() as Row[])
      .map((row) => row.name).join(",");
  for (const [table, want] of Object.entries(COLUMNS[version])) {
    const have = columns(table);
    if (have !== want) {
      throw new StateFileError(
        file,
        `has a table ${table} with columns (${have || "none"}), expected (${want}); it was left untouched: ` +
          "move it away or use another --state-dir",
      );
    }
  }
}

function pragma(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get() as Row;
  return Number(Object.values(row)[0]);
}

function pragmaText(db: DatabaseSync, statement: string): string {
  const row = db.prepare(`PRAGMA ${statement}`).get() as Row;
  return String(Object.values(row)[0]);
}

/** What SQLite's error means for the user. */
function explain(error: unknown): string {
  const code = (error as { errcode?: number }).errcode;
  const message = (error as Error).message;
  if (code === SQLITE_NOTADB) {
    return "is not an SQLite database; it was left untouched: move it away or use another --state-dir";
  }
  if (code === SQLITE_BUSY) {
    return "is in use by another process (another sfpemu run on the same --state-dir?)";
  }
  if (code === SQLITE_CORRUPT) {
    return `is damaged (${message}); it was left untouched: move it away (sfpemu then starts from the topology)`;
  }
  return `cannot be used: ${message}`;
}

function forcedColumn(value: boolean | null): number | null {
  return value === null ? null : value ? 1 : 0;
}

function forcedValue(value: unknown, column: string): boolean | null {
  if (value === null) return null;
  if (value === 0 || value === 1) return value === 1;
  throw new Error(`${column} is ${JSON.stringify(value)}, not 0, 1 or NULL`);
}

/** One id: what the topology allows in a path segment (no "/", not empty). */
function checkIds(row: Row): string | undefined {
  for (const column of ["olt", "board"]) {
    const id = row[column];
    if (typeof id !== "string" || id === "" || id.includes("/")) return `${column} is not a valid id`;
  }
  return undefined;
}

/** A cage row as the lab takes it; throws for a row that makes no sense, notes lesser problems. */
function cageOfRow(row: Row, note: (problem: string) => void): CageState {
  const idProblem = checkIds(row);
  if (idProblem) throw new Error(idProblem);
  if (typeof row.cage !== "number" || !Number.isSafeInteger(row.cage) || row.cage < 1) {
    throw new Error(`cage is ${JSON.stringify(row.cage)}, not a cage number`);
  }
  const forcedSignals: ForcedSignals = {
    rxLos: forcedValue(row.rx_los_forced, "rx_los_forced"),
    txFault: forcedValue(row.tx_fault_forced, "tx_fault_forced"),
  };
  if (row.module === null) return { module: null, forcedSignals };
  if (typeof row.module !== "string") throw new Error("module is not JSON text");
  let json: unknown;
  try {
    json = JSON.parse(row.module);
  } catch (error) {
    throw new Error(`module is not JSON: ${(error as Error).message}`);
  }
  let module;
  try {
    module = parseModuleSpec(json, "module");
  } catch (error) {
    if (error instanceof ShapeError) throw new Error(`${error.path}: ${error.message}`);
    throw error;
  }
  if (row.user_eeprom !== null && !(row.user_eeprom instanceof Uint8Array)) {
    throw new Error("user_eeprom is not a BLOB");
  }
  const faults: FaultSettings | undefined = byKindOfColumn(row, "faults", "parameter objects");
  let faultProgress: FaultProgressByKind | undefined;
  try {
    faultProgress = faults && byKindOfColumn<FaultProgress>(row, "fault_progress", "progress objects");
  } catch (error) {
    // Without it the faults start over: worse than going on, better than losing the module.
    note(`${(error as Error).message}; the faults start over`);
  }
  const a2Control = row.a2_control;
  if (a2Control !== null && !(a2Control instanceof Uint8Array)) {
    // Without it the module starts with its control bits at their defaults, as a new one would.
    note("a2_control is not a BLOB; the module's control bytes start at their defaults");
  }
  return {
    module,
    forcedSignals,
    ...(row.user_eeprom instanceof Uint8Array ? { userEeprom: row.user_eeprom } : {}),
    ...(a2Control instanceof Uint8Array ? { a2Control } : {}),
    ...(faults ? { faults } : {}),
    ...(faultProgress ? { faultProgress } : {}),
  };
}

/**
 * A column holding a JSON object from fault kind to an object (the faults' parameters, or how far
 * they have got). Only its shape is checked here; each fault is checked again when the module
 * takes it back, and one it refuses is left out alone.
 */
function byKindOfColumn<T extends object>(
  row: Row,
  column: string,
  values: string,
): Record<string, T> | undefined {
  const value = row[column];
  if (value === null || value === undefined) return undefined;
  if (typeof value !== "string") throw new Error(`${column} is not JSON text`);
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (error) {
    throw new Error(`${column} is not JSON: ${(error as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(json) || !Object.values(json).every(isObject)) {
    throw new Error(`${column} is not an object of fault kinds to ${values}`);
  }
  return json as Record<string, T>;
}
