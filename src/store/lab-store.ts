// Keeps the state file in step with the running lab: after the start it saves everything once
// (so what reconciling dropped is gone), then every change its events announce. Guests write the
// user EEPROM a few bytes at a time, so those saves wait until a cage's writes pause.
//
// When a change is saved: not inside the event, which is published between the cause and its
// effects (a plug's module-inserted comes before the board raises MOD_ABS and interrupts the VM),
// but in a microtask queued by the first change: every change of the same turn of the event loop
// goes into one transaction, which commits before the turn ends. An API handler's response is
// written only after its turn has ended, so a client that got a 2xx for a change finds it in the
// file even if sfpemu is SIGKILLed the moment after (the commit is in the WAL: see state-file.ts).
import type { Logger } from "../log/logger.ts";
import { LabError } from "../lab/errors.ts";
import type { CageState, Lab, LabModule } from "../lab/lab.ts";
import type { LabEvent } from "../lab/events.ts";
import type { SavedBoard, StateChanges, StateFile } from "./state-file.ts";

/** How long a cage's user EEPROM must be left alone before it is saved. */
export const USER_EEPROM_SAVE_DELAY_MS = 200;

const CAGE_EVENTS = new Set([
  "module-inserted",
  "module-removed",
  "diagnostics-set",
  "signals-forced",
  "fault-set",
  "fault-cleared",
]);
const BOARD_EVENTS = new Set(["board-inserted", "board-removed", "board-temperature-set"]);

export interface LabStoreOptions {
  log: Logger;
  userEepromSaveDelayMs?: number;
}

export class LabStore<M extends LabModule = LabModule> {
  readonly #file: StateFile;
  readonly #log: Logger;
  readonly #delayMs: number;
  readonly #pendingEeprom = new Map<string, ReturnType<typeof setTimeout>>();
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
    this.#delayMs = options.userEepromSaveDelayMs ?? USER_EEPROM_SAVE_DELAY_MS;
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

  /** Saves at once what is still waiting: changes of this turn, user EEPROM writes before their pause. */
  flush(): void {
    this.#saveChanges();
    for (const path of [...this.#pendingEeprom.keys()]) this.#saveUserEeprom(path);
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
      this.#cancelEeprom(event.path); // the cage row carries the EEPROM bytes too
      this.#changedCages.add(event.path);
      this.#queueSave();
    } else if (BOARD_EVENTS.has(event.type)) {
      this.#changedBoards.add(event.path);
      this.#queueSave();
    } else if (event.type === "user-eeprom-written" && !this.#pendingEeprom.has(event.path)) {
      this.#pendingEeprom.set(event.path, setTimeout(() => this.#saveUserEeprom(event.path), this.#delayMs));
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

  #saveUserEeprom(path: string): void {
    this.#cancelEeprom(path);
    const [olt, board, cage] = path.split("/");
    const lab = this.#lab;
    this.#save(path, () => {
      let bytes;
      try {
        bytes = lab.cageState(olt, board, Number(cage)).userEeprom;
      } catch {
        return; // the board changed layout since: its board save covered it
      }
      if (!bytes) return; // unplugged since: the cage row says so already
      this.#file.saveUserEeprom(path, bytes);
      lab.events.publish("user-eeprom-saved", path, { bytes: bytes.length });
    });
  }

  #cancelEeprom(path: string): void {
    clearTimeout(this.#pendingEeprom.get(path));
    this.#pendingEeprom.delete(path);
  }

  #boardChange(path: string): { board: SavedBoard; cages: Map<string, CageState> } {
    const lab = this.#lab;
    const [olt, boardId] = path.split("/");
    const board = lab.board(olt, boardId);
    const cages = new Map(
      board.planes.cages.map((cage) => [`${path}/${cage.id}`, lab.cageState(olt, boardId, cage.id)]),
    );
    for (const cagePath of cages.keys()) this.#cancelEeprom(cagePath);
    return { board: this.#savedBoard(path), cages };
  }

  #saveAll(): void {
    const lab = this.#lab;
    const state = lab.state();
    const boards = new Map([...state.boards.keys()].map((path) => [path, this.#savedBoard(path)]));
    this.#file.replaceAll(state, boards, lab.topology.name);
    for (const path of [...this.#pendingEeprom.keys()]) this.#cancelEeprom(path);
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
