// Keeps the state file in step with the running lab: after the start it saves everything once
// (so what reconciling dropped is gone), then every change as its event arrives. Guests write the
// user EEPROM a few bytes at a time, so those saves wait until a cage's writes pause.
import type { Logger } from "../log/logger.ts";
import type { Lab, LabModule } from "../lab/lab.ts";
import type { LabEvent } from "../lab/events.ts";
import type { SavedBoard, StateFile } from "./state-file.ts";

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
const BOARD_EVENTS = new Set(["board-inserted", "board-removed"]);

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
  #started = false;
  #unsubscribe: (() => void) | undefined;
  /** A save failed: the next change saves everything, so nothing stays behind. */
  #behind = false;

  constructor(file: StateFile, lab: Lab<M>, options: LabStoreOptions) {
    this.#file = file;
    this.#lab = lab;
    this.#log = options.log;
    this.#delayMs = options.userEepromSaveDelayMs ?? USER_EEPROM_SAVE_DELAY_MS;
  }

  get file(): string {
    return this.#file.file;
  }

  /** Saves the started lab as it is, then follows its events. */
  start(): void {
    if (this.#started) throw new Error("the store has already started");
    this.#started = true;
    this.#save("the whole lab", () => this.#saveAll());
    this.#unsubscribe = this.#lab.events.subscribe((event) => this.#onEvent(event));
  }

  /** Saves user EEPROM writes that are still waiting for their pause. */
  flush(): void {
    for (const path of [...this.#pendingEeprom.keys()]) this.#saveUserEeprom(path);
  }

  /** Flushes, stops following the lab and closes the file. */
  close(): void {
    this.flush();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#file.close();
  }

  #onEvent(event: LabEvent): void {
    if (this.#behind) {
      this.#save("the whole lab", () => this.#saveAll());
      if (!this.#behind) return; // that saved this change too
    }
    if (CAGE_EVENTS.has(event.type)) {
      this.#cancelEeprom(event.path); // the cage row carries the EEPROM bytes too
      this.#save(event.path, () => {
        const [olt, board, cage] = event.path.split("/");
        this.#file.saveCage(event.path, this.#lab.cageState(olt, board, Number(cage)));
      });
    } else if (BOARD_EVENTS.has(event.type)) {
      this.#save(event.path, () => this.#saveBoard(event.path));
    } else if (event.type === "user-eeprom-written" && !this.#pendingEeprom.has(event.path)) {
      this.#pendingEeprom.set(event.path, setTimeout(() => this.#saveUserEeprom(event.path), this.#delayMs));
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

  #saveBoard(path: string): void {
    const lab = this.#lab;
    const [olt, boardId] = path.split("/");
    const board = lab.board(olt, boardId);
    const cages = new Map(
      board.planes.cages.map((cage) => [`${path}/${cage.id}`, lab.cageState(olt, boardId, cage.id)]),
    );
    for (const cagePath of cages.keys()) this.#cancelEeprom(cagePath);
    this.#file.saveBoard(path, this.#savedBoard(path), cages);
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

  /** Runs a save; a failure (disk full, file gone) is logged and the next change saves everything. */
  #save(what: string, work: () => void): void {
    try {
      work();
      if (this.#behind) this.#log.info("state saved again", { file: this.#file.file });
      this.#behind = false;
    } catch (error) {
      this.#behind = true;
      this.#log.error("state not saved; the next change retries with everything", {
        file: this.#file.file,
        what,
        error,
      });
    }
  }
}
