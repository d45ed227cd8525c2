// Keeps the state file in step with the running lab: after the start it saves everything once
// (so what reconciling dropped is gone), then every change its events announce.
//
// When a change is saved: not inside the event, which is published between the cause and its
// effects (a plug's module-inserted comes before the board raises MOD_ABS and interrupts the VM),
// but in a microtask queued by the first change: every change of the same turn of the event loop
// goes into one transaction, which commits before the turn ends. An API handler's response is
// written only after its turn has ended, so a client that got a 2xx for a change finds it in the
// file even if sfpemu is SIGKILLed the moment after (the commit is in the WAL: see state-file.ts).
//
// A guest's write to the user EEPROM is the exception: it is saved inside its event, which the
// module raises once the bytes are stored and before the I2C device hands the request back, so the
// guest never sees a write acknowledged that a SIGKILL could still take away. The event loop answers
// many requests in one turn (DESIGN.md), so a save at the end of the turn would come too late. It is
// one small UPDATE per write (at24 without a page size writes one byte per transfer): measured at
// a median of 0.007 ms (0.015 ms with its event) on a transfer whose round trip takes 0.05-0.1 ms;
// once every few hundred writes SQLite's WAL checkpoint makes one take a few ms (a real EEPROM's
// write cycle is 5 ms).
//
// So is a guest's write to the rest of what it may write into A2h (a2-control-written: soft
// TX_DISABLE, rate and power level select, the page select, another page's bytes). The module
// raises it after what the write caused, and the cage's whole row is saved as the write left it:
// a latched TX_FAULT's reset count, or the fault a reset pulse cleared, goes with the soft
// TX_DISABLE that did it. One INSERT OR REPLACE per write that changed a bit (a write of what is
// there already changes none): measured at a median of 0.009 ms more per write (0.015 ms for a
// byte-118 write with its event, 0.034 ms for a soft TX_DISABLE with its flags and pins).
import type { Logger } from "../log/logger.ts";
import { LabError } from "../lab/errors.ts";
import type { CageState, Lab, LabModule } from "../lab/lab.ts";
import type { LabEvent } from "../lab/events.ts";
import type { SavedBoard, StateChanges, StateFile } from "./state-file.ts";

const CAGE_EVENTS = new Set([
  "module-inserted",
  "module-removed",
  "diagnostics-set",
  "signals-forced",
  "fault-set",
  "fault-cleared",
  // The host's TX_DISABLE (pin or soft bit): a reset pulse counts down a latched TX_FAULT.
  "module-txDisable",
]);
const BOARD_EVENTS = new Set(["board-inserted", "board-removed", "board-temperature-set"]);

export interface LabStoreOptions {
  log: Logger;
}

export class LabStore<M extends LabModule = LabModule> {
  readonly #file: StateFile;
  readonly #log: Logger;
  readonly #lab: Lab<M>;
  /** Changes announced and not yet saved (paths), and whether a save of them is queued. */
  readonly #changedCages = new Set<string>();
  readonly #changedBoards = new Set<string>();
  #saveQueued = false;
  #started = false;
  #closed = false;
  #unsubscribe: (() => void) | undefined;
  /** A save failed: the next change saves everything, so nothing stays behind. */
  #behind = false;

  /**
   * From now on the lab's event numbers are reserved in the file before events carry them (see
   * src/lab/events.ts), so a restart on it goes on above them.
   */
  constructor(file: StateFile, lab: Lab<M>, options: LabStoreOptions) {
    this.#file = file;
    this.#lab = lab;
    this.#log = options.log;
    lab.events.keepSeqsWith((upTo) =>
      this.#attempt(
        `event numbers up to ${upTo}`,
        () => file.reserveEventSeqs(upTo),
        "event numbers not reserved; the next event tries again",
      )
    );
  }

  get file(): string {
    return this.#file.file;
  }

  /** Saves the started lab as it is, then follows its events. */
  start(): void {
    if (this.#started) throw new Error("the store has already started");
    this.#started = true;
    this.#saveEverything();
    this.#unsubscribe = this.#lab.events.subscribe((event) => this.#onEvent(event));
  }

  /** Saves at once the changes of this turn still waiting for their microtask. */
  flush(): void {
    this.#saveChanges();
  }

  /**
   * Flushes, stops following the lab, notes its last event number (a clean stop: the next run
   * numbers on from it) and closes the file.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.flush();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const events = this.#lab.events;
    events.keepSeqsWith(undefined);
    this.#attempt(
      "the last event number",
      () => this.#file.saveLastEventSeq(events.lastSeq),
      "last event number not saved; the next run numbers on above what this one reserved",
    );
    this.#file.close();
  }

  #onEvent(event: LabEvent): void {
    if (this.#behind) this.#queueSave(); // any change retries the save of everything
    if (CAGE_EVENTS.has(event.type)) {
      this.#changedCages.add(event.path);
      this.#queueSave();
    } else if (BOARD_EVENTS.has(event.type)) {
      this.#changedBoards.add(event.path);
      this.#queueSave();
    } else if (event.type === "user-eeprom-written") {
      this.#saveUserEeprom(event.path);
    } else if (event.type === "a2-control-written") {
      this.#saveCageNow(event.path);
    }
  }

  #queueSave(): void {
    if (this.#saveQueued) return;
    this.#saveQueued = true;
    queueMicrotask(() => this.#saveChanges());
  }

  /** One transaction for every change announced since the last save, as the lab is now. */
  #saveChanges(): void {
    this.#saveQueued = false;
    const boardPaths = [...this.#changedBoards];
    const cagePaths = [...this.#changedCages];
    this.#changedBoards.clear();
    this.#changedCages.clear();
    if (this.#behind) {
      this.#saveEverything();
      return;
    }
    if (boardPaths.length === 0 && cagePaths.length === 0) return;
    this.#save([...boardPaths, ...cagePaths].join(", "), () => {
      const changes: StateChanges = { boards: new Map(), cages: new Map() };
      for (const path of boardPaths) changes.boards.set(path, this.#boardChange(path));
      for (const path of cagePaths) {
        const boardPath = path.slice(0, path.lastIndexOf("/"));
        if (changes.boards.has(boardPath)) continue; // saved with its board
        const cage = this.#cageState(path);
        if (cage) changes.cages.set(path, cage);
      }
      this.#file.save(changes);
    });
  }

  /** A cage as the lab has it now; undefined when its board's layout no longer has it. */
  #cageState(path: string): CageState | undefined {
    const [olt, board, cage] = path.split("/");
    try {
      return this.#lab.cageState(olt, board, Number(cage));
    } catch (error) {
      if (error instanceof LabError && error.code === "not_found") return undefined;
      throw error;
    }
  }

  /**
   * The module's user EEPROM into its cage's row, now. A cage whose row is not written yet (plugged
   * in this very turn) gets the bytes with the row, from the save its plug queued.
   */
  #saveUserEeprom(path: string): void {
    const [olt, board, cage] = path.split("/");
    const bytes = this.#lab.module(olt, board, Number(cage)).userEeprom();
    if (!this.#save(path, () => this.#file.saveUserEeprom(path, bytes))) return;
    // Heard after user-eeprom-written by every listener: the bus delivers it once that one is done.
    this.#lab.events.publish("user-eeprom-saved", path, { bytes: bytes.length });
  }

  /** A cage's row as the lab has it now, before the guest's write is acknowledged. */
  #saveCageNow(path: string): void {
    const cage = this.#cageState(path);
    if (!cage || !this.#save(path, () => this.#file.saveCage(path, cage))) return;
    // Saved as it is now: a save queued for it this turn has nothing left to do (unless it changes again).
    this.#changedCages.delete(path);
    this.#lab.events.publish("a2-control-saved", path, {});
  }

  #boardChange(path: string): { board: SavedBoard; cages: Map<string, CageState> } {
    const lab = this.#lab;
    const [olt, boardId] = path.split("/");
    const board = lab.board(olt, boardId);
    const cages = new Map(
      board.planes.cages.map((cage) => [`${path}/${cage.id}`, lab.cageState(olt, boardId, cage.id)]),
    );
    return { board: this.#savedBoard(path), cages };
  }

  #saveAll(): void {
    const lab = this.#lab;
    const state = lab.state();
    const boards = new Map([...state.boards.keys()].map((path) => [path, this.#savedBoard(path)]));
    this.#file.replaceAll(state, boards, lab.topology.name);
  }

  #savedBoard(path: string): SavedBoard {
    const lab = this.#lab;
    const [olt, boardId] = path.split("/");
    const topologyKind = lab.topology.olts.find((o) => o.id === olt)!.boards.find((b) => b.id === boardId)!
      .kind;
    return { ...lab.boardState(olt, boardId), topologyKind };
  }

  /**
   * Runs a save of lab state; a failure (disk full, file gone) is logged and the next change saves
   * everything. Whether it was saved.
   */
  #save(what: string, work: () => void): boolean {
    const saved = this.#attempt(what, work, "state not saved; the next change retries with everything");
    if (!saved) this.#behind = true;
    return saved;
  }

  /** Saves the whole lab: what a failed save left behind is in the file again. */
  #saveEverything(): void {
    const wasBehind = this.#behind;
    if (!this.#save("the whole lab", () => this.#saveAll())) return;
    this.#behind = false;
    if (wasBehind) this.#log.info("state saved again", { file: this.#file.file });
  }

  /** Runs work on the file; a failure is logged with `failed`. Whether it succeeded. */
  #attempt(what: string, work: () => void, failed: string): boolean {
    try {
      work();
      return true;
    } catch (error) {
      this.#log.error(failed, { file: this.#file.file, what, error });
      return false;
    }
  }
}
