// The running system: every OLT and board of a topology, their cages and modules, and the
// operations a test engineer performs on them (plug, unplug, change readings, force pins, pull a
// board, put it back, break a module with a fault). Every operation publishes an event; the store
// (src/store/) saves from them. A ticker moves modules whose faults change them with time (ramps,
// flaps, noise), so their alarms and pin edges are raised even when no guest reads them.
import type { EventLoop } from "../native/event-loop.ts";
import type { Logger } from "../log/logger.ts";
import type { CageModule } from "../board/cage.ts";
import { BoardPlanes } from "../board/board.ts";
import type { FaultProgress } from "../sfp/module.ts";
import type {
  Board as BoardSpec,
  BoardKind,
  ModuleDiagnostics,
  ModuleSpec,
  Topology,
} from "../topology/model.ts";
import { LabError } from "./errors.ts";
import { EventBus } from "./events.ts";
import { boardLayout, LabBoard } from "./lab-board.ts";
import { moduleSeed, randomSeed } from "./seed.ts";

/** An output pin the test engineer can force: RX_LOS or TX_FAULT. */
export type ForcibleSignal = "rxLos" | "txFault";
export const FORCIBLE_SIGNALS: readonly ForcibleSignal[] = ["rxLos", "txFault"];
/** true/false: forced high/low; null: the module decides (automatic). */
export type ForcedSignals = Record<ForcibleSignal, boolean | null>;

/** A fault in force in a module: its kind and its parameters as applied (defaults filled in). */
export interface LabFault {
  readonly kind: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** Faults by kind, each with its parameters: how PUT .../module and the store carry them. */
export type FaultSettings = Record<string, Readonly<Record<string, unknown>>>;

export type { FaultProgress };
/** How far each fault in force has got, by kind (when set, its random stream, a ramp's origin). */
export type FaultProgressByKind = Partial<Record<string, FaultProgress>>;

/** What the lab needs from a module: what a cage needs, plus readings, forcing, faults and images. */
export interface LabModule extends CageModule {
  diagnostics(): Readonly<Required<ModuleDiagnostics>>;
  setDiagnostics(patch: ModuleDiagnostics): void;
  forceSignal(signal: ForcibleSignal, value: boolean | null): void;
  readonly txDisabled: boolean;
  a0(): Uint8Array;
  a2(): Uint8Array;
  /** The bytes a host may write and expects to keep (SFF-8472 user EEPROM, A2h 128-247). */
  userEeprom(): Uint8Array;
  restoreUserEeprom(bytes: Uint8Array): void;
  /**
   * The rest of what a host wrote and expects to keep: the control bits (soft TX_DISABLE, rate
   * select, power level select), the page select and other pages (src/sfp/module.ts a2Control).
   */
  a2Control(): Uint8Array;
  /** Puts a2Control() bytes back into a module not yet plugged, with their effects, without events. */
  restoreA2Control(bytes: Uint8Array): void;
  /**
   * Puts a fault in (replacing one of its kind); throws for a kind or parameter it cannot take.
   * With `progress` (saved from faultProgress() before a restart) it goes on from there.
   */
  setFault(kind: string, params?: unknown, progress?: FaultProgress): LabFault;
  faultProgress(): FaultProgressByKind;
  /** Takes a fault out; false when none of that kind was in. */
  clearFault(kind: string): boolean;
  faults(): readonly LabFault[];
  /** Whether a fault changes the module with time: the lab's ticker then calls advance(). */
  readonly hasTimedBehaviour: boolean;
  advance(): void;
  /** What every random choice of the module derives from. */
  readonly seed: number;
}

/** How the lab makes modules; src/lab/sfp-modules.ts adapts the SFP model to it. */
export interface ModuleFactory<M extends LabModule> {
  /**
   * A module from a spec for the cage at `path` (`olt/board/cage`); throws LabError("invalid") for
   * an unknown profile or bad override.
   */
  create(spec: ModuleSpec, options: { dataReadyDelayMs: number; seed: number; path: string }): M;
  /** The module as the API shows it (profile, vendorName, vendorPn, vendorSn, ...). */
  describe(module: M): Record<string, unknown>;
  /** The spec this module was made from. */
  specOf(module: M): ModuleSpec;
}

/** A cage as the store keeps it: what is plugged, with what the user set since, or null. */
export interface CageState {
  /** Profile, overrides and every diagnostic value the user set (at plug time or since). */
  module: ModuleSpec | null;
  forcedSignals: ForcedSignals;
  /** Absent for an empty cage (and for a module without user EEPROM: zero bytes). */
  userEeprom?: Uint8Array;
  /** What the host wrote into the module's control bytes and other pages (a2Control()); as userEeprom. */
  a2Control?: Uint8Array;
  /** Faults in force; absent or empty for none. */
  faults?: FaultSettings;
  /** How far those faults have got, so a restart goes on with them; absent for a fault without. */
  faultProgress?: FaultProgressByKind;
}

export interface BoardState {
  kind: string;
  /** Pulled out of its slot: no sockets. */
  removed: boolean;
  /** What the user set the board's temperature sensor to; absent when never set. */
  temperatureC?: number;
}

/** The range an LM75 measures (datasheet: -55 to +125 °C). */
export const BOARD_TEMPERATURE_RANGE_C = { min: -55, max: 125 } as const;

/** The whole lab as the store keeps it, keyed by path (`olt/board`, `olt/board/cage`). */
export interface LabState {
  boards: Map<string, BoardState>;
  cages: Map<string, CageState>;
}

export const AUTOMATIC_SIGNALS: Readonly<ForcedSignals> = Object.freeze({ rxLos: null, txFault: null });

/**
 * How often the ticker moves modules with timed faults: the noise sample period, and about how
 * often Linux's sfp driver and hwmon poll, so nothing a guest could see is skipped.
 */
export const TICK_MS = 100;

export interface LabOptions<M extends LabModule> {
  topology: Topology;
  modules: ModuleFactory<M>;
  loop: EventLoop;
  log: Logger;
  events?: EventBus;
  /** The run's seed, from which every module's seed derives; default a random one (see seed). */
  seed?: number;
}

/** faults() as settings by kind. */
export function faultSettings(faults: readonly LabFault[]): FaultSettings {
  return Object.fromEntries(faults.map((fault) => [fault.kind, fault.params]));
}

/** A board spec of another kind for the same slot: the kind's layout, the board's id, slot and sockets. */
export function boardOfKind(current: BoardSpec, kindName: string, kind: BoardKind): BoardSpec {
  return {
    id: current.id,
    slot: current.slot,
    kind: kindName,
    ...(kind.description === undefined ? {} : { description: kind.description }),
    cageCount: kind.cageCount,
    formFactor: kind.formFactor,
    extras: structuredClone(kind.extras),
    sockets: { ...current.sockets },
    cages: kind.cageFormFactors.map((formFactor, index) => ({ id: index + 1, formFactor, module: null })),
    dataReadyDelayMs: kind.dataReadyDelayMs,
  };
}

export class Lab<M extends LabModule = LabModule> {
  readonly events: EventBus;
  readonly topology: Topology;
  readonly modules: ModuleFactory<M>;
  readonly #boards = new Map<string, LabBoard<M>>();
  /** Each board as the topology has it, for putting it back as its own kind. */
  readonly #topologySpecs = new Map<string, BoardSpec>();
  /** What the user changed on a module since it was plugged (the store saves it). */
  readonly #diagnosticsSet = new WeakMap<M, ModuleDiagnostics>();
  readonly #forced = new WeakMap<M, ForcedSignals>();
  /** Board temperatures the user set, by board path (they outlive a change of kind). */
  readonly #boardTemperatures = new Map<string, number>();
  readonly #loop: EventLoop;
  readonly #log: Logger;
  /** The run's seed: with the same one, every cage's module makes the same random choices. */
  readonly seed: number;
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(options: LabOptions<M>) {
    this.topology = options.topology;
    this.modules = options.modules;
    this.#loop = options.loop;
    this.#log = options.log;
    this.events = options.events ?? new EventBus();
    this.seed = options.seed ?? randomSeed();
    if (!Number.isSafeInteger(this.seed) || this.seed < 0) {
      throw new RangeError(`the lab's seed must be a whole number ≥ 0, got ${String(options.seed)}`);
    }
    for (const olt of this.topology.olts) {
      for (const spec of olt.boards) {
        this.#boards.set(`${olt.id}/${spec.id}`, this.#makeBoard(olt.id, spec));
        this.#topologySpecs.set(`${olt.id}/${spec.id}`, spec);
      }
    }
  }

  #makeBoard(oltId: string, spec: BoardSpec, planes?: BoardPlanes<M>): LabBoard<M> {
    return new LabBoard<M>(oltId, spec, this.events, this.#log, (m) => this.modules.describe(m), {
      planes,
      topologyName: this.topology.name,
    });
  }

  /**
   * Fills the cages and opens every socket. A cage in `saved` starts as saved (a restart); any
   * other cage gets the topology's initial module. Boards saved as removed stay out of their slots.
   */
  start(saved?: LabState): void {
    for (const [path, board] of [...this.#boards]) {
      const savedKind = saved?.boards.get(path)?.kind;
      let current = board;
      if (savedKind !== undefined && savedKind !== board.spec.kind) {
        try {
          current = this.#relayout(board, this.#specOfKind(board, savedKind));
        } catch (error) {
          this.#log.warn("saved board kind not restored", { board: path, kind: savedKind, error });
        }
      }
      const savedTemperatureC = saved?.boards.get(path)?.temperatureC;
      if (savedTemperatureC !== undefined) {
        if (current.planes.temperatureSensor) this.#boardTemperatures.set(path, savedTemperatureC);
        else this.#log.warn("saved board temperature not restored: the board has no sensor", { board: path });
        this.#applyBoardTemperature(current);
      }
      for (const cageSpec of current.spec.cages) {
        const savedCage = saved?.cages.get(`${path}/${cageSpec.id}`);
        if (savedCage && this.#restoreCage(current, cageSpec.id, savedCage)) continue;
        const cage = current.planes.cage(cageSpec.id)!;
        if (!cageSpec.module || cage.module) continue;
        try {
          cage.plug(this.#createModule(current, cageSpec.id, cageSpec.module));
        } catch (error) {
          // The topology's profiles were checked against the catalog; an override may still not fit.
          this.#log.warn("topology module not plugged", { cage: `${path}/${cageSpec.id}`, error });
        }
      }
    }
    const started: LabBoard<M>[] = [];
    try {
      for (const [path, board] of this.#boards) {
        if (saved?.boards.get(path)?.removed) continue;
        board.insert(this.#loop);
        started.push(board);
      }
    } catch (error) {
      for (const board of started) board.remove();
      throw error;
    }
    this.#ticker = setInterval(() => this.tick(), TICK_MS);
    // The ticker only serves the rest of the lab: it must not keep a stopping process alive.
    Deno.unrefTimer(this.#ticker);
  }

  /**
   * Applies time to every module whose faults change it with time (what the ticker does every
   * TICK_MS), so alarms and pin edges are raised when they happen, not when someone next reads.
   */
  tick(): void {
    for (const board of this.#boards.values()) {
      for (const cage of board.planes.cages) {
        const module = cage.module;
        if (!module?.hasTimedBehaviour) continue;
        try {
          module.advance();
        } catch (error) {
          this.#log.error("module could not apply time", { cage: `${board.path}/${cage.id}`, error });
        }
      }
    }
  }

  #createModule(board: LabBoard<M>, cageId: number, spec: ModuleSpec): M {
    const path = `${board.path}/${cageId}`;
    const seed = moduleSeed(this.seed, path);
    return this.modules.create(spec, { dataReadyDelayMs: board.spec.dataReadyDelayMs, seed, path });
  }

  /** Puts faults into a module not yet plugged; LabError("invalid") names the one refused. */
  #applyFaults(module: M, faults: FaultSettings, path: string): void {
    for (const [kind, params] of Object.entries(faults)) {
      try {
        module.setFault(kind, params);
      } catch (error) {
        throw new LabError("invalid", (error as Error).message, path);
      }
    }
  }

  /** Plugs a saved module; false when it cannot be made again (the topology's module is used). */
  #restoreCage(board: LabBoard<M>, cageId: number, saved: CageState): boolean {
    if (!saved.module) return true; // the user emptied it: stays empty
    const path = `${board.path}/${cageId}`;
    let module: M;
    try {
      module = this.#createModule(board, cageId, saved.module);
      for (const signal of FORCIBLE_SIGNALS) {
        if (saved.forcedSignals[signal] !== null) module.forceSignal(signal, saved.forcedSignals[signal]);
      }
    } catch (error) {
      this.#log.warn("saved module cannot be restored; the cage starts as the topology says", {
        cage: path,
        profile: saved.module.profile,
        error,
      });
      return false;
    }
    try {
      if (saved.userEeprom) module.restoreUserEeprom(saved.userEeprom);
    } catch (error) {
      // Another profile of the same id may have a different EEPROM: the module is still worth having.
      this.#log.warn("saved user EEPROM not restored", { cage: path, error });
    }
    try {
      // Before the faults: a latched TX_FAULT's pulse under way needs the transmitter still off.
      if (saved.a2Control) module.restoreA2Control(saved.a2Control);
    } catch (error) {
      // Another profile of the same id may have other pages: the module starts at its defaults.
      this.#log.warn("saved A2h control bytes not restored", { cage: path, error });
    }
    for (const [kind, params] of Object.entries(saved.faults ?? {})) {
      this.#restoreFault(module, path, kind, params, saved.faultProgress?.[kind]);
    }
    this.#forced.set(module, { ...saved.forcedSignals });
    board.planes.cage(cageId)!.plug(module);
    return true;
  }

  /** Puts a saved fault back, going on from its progress; a warning for what cannot be. */
  #restoreFault(module: M, path: string, kind: string, params: unknown, progress?: FaultProgress): void {
    if (progress !== undefined) {
      try {
        module.setFault(kind, params, progress);
        return;
      } catch (error) {
        this.#log.warn("saved fault progress not restored; the fault starts over", {
          cage: path,
          kind,
          error,
        });
      }
    }
    try {
      module.setFault(kind, params);
    } catch (error) {
      // A fault this version no longer takes: the module is still worth having without it.
      this.#log.warn("saved fault not restored", { cage: path, kind, error });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    for (const board of this.#boards.values()) await board.remove();
  }

  get boards(): LabBoard<M>[] {
    return [...this.#boards.values()];
  }

  board(oltId: string, boardId: string): LabBoard<M> {
    const board = this.#boards.get(`${oltId}/${boardId}`);
    if (!board) {
      const oltKnown = this.topology.olts.some((o) => o.id === oltId);
      throw new LabError(
        "not_found",
        oltKnown ? `OLT ${oltId} has no board ${boardId}` : `no OLT ${oltId}`,
        `${oltId}/${boardId}`,
      );
    }
    return board;
  }

  cage(oltId: string, boardId: string, cageId: number) {
    const board = this.board(oltId, boardId);
    const cage = board.planes.cage(cageId);
    if (!cage) {
      throw new LabError(
        "not_found",
        `board ${board.path} has cages 1..${board.planes.cages.length}, not ${cageId}`,
        `${board.path}/${cageId}`,
      );
    }
    return { board, cage };
  }

  /**
   * Plugs a module; `faults` are in it from the moment of insertion (a slow-ready module is slow
   * from the first transfer), and each is told as fault-set right after module-inserted.
   */
  plug(oltId: string, boardId: string, cageId: number, spec: ModuleSpec, faults: FaultSettings = {}): M {
    const { board, cage } = this.cage(oltId, boardId, cageId);
    const path = `${board.path}/${cageId}`;
    if (cage.module) {
      throw new LabError("conflict", `cage ${path} already holds a module; unplug it first`, path);
    }
    const module = this.#createModule(board, cageId, spec);
    this.#applyFaults(module, faults, path);
    cage.plug(module);
    for (const fault of module.faults()) {
      this.events.publish("fault-set", path, { kind: fault.kind, params: fault.params });
    }
    return module;
  }

  unplug(oltId: string, boardId: string, cageId: number): M {
    const { board, cage } = this.cage(oltId, boardId, cageId);
    if (!cage.module) {
      throw new LabError("conflict", `cage ${board.path}/${cageId} is empty`, `${board.path}/${cageId}`);
    }
    return cage.unplug();
  }

  module(oltId: string, boardId: string, cageId: number): M {
    const { board, cage } = this.cage(oltId, boardId, cageId);
    if (!cage.module) {
      throw new LabError("not_found", `cage ${board.path}/${cageId} is empty`, `${board.path}/${cageId}`);
    }
    return cage.module;
  }

  /** Changes live readings (human units); the module keeps flags and pins consistent. */
  setDiagnostics(oltId: string, boardId: string, cageId: number, patch: ModuleDiagnostics): M {
    const module = this.module(oltId, boardId, cageId);
    const path = `${oltId}/${boardId}/${cageId}`;
    try {
      module.setDiagnostics(patch);
    } catch (error) {
      throw new LabError("invalid", (error as Error).message, path);
    }
    this.#diagnosticsSet.set(module, { ...this.#diagnosticsSet.get(module), ...patch });
    this.events.publish("diagnostics-set", path, { diagnostics: { ...patch } });
    return module;
  }

  /** Forces RX_LOS / TX_FAULT (true, false) or returns them to automatic (null). */
  forceSignals(
    oltId: string,
    boardId: string,
    cageId: number,
    patch: Partial<ForcedSignals>,
  ): M {
    const module = this.module(oltId, boardId, cageId);
    const forced = { ...(this.#forced.get(module) ?? AUTOMATIC_SIGNALS) };
    for (const signal of FORCIBLE_SIGNALS) {
      const value = patch[signal];
      if (value === undefined) continue;
      module.forceSignal(signal, value);
      forced[signal] = value;
    }
    this.#forced.set(module, forced);
    this.events.publish("signals-forced", `${oltId}/${boardId}/${cageId}`, { forced: { ...patch } });
    return module;
  }

  forcedSignals(module: M): ForcedSignals {
    return { ...(this.#forced.get(module) ?? AUTOMATIC_SIGNALS) };
  }

  /**
   * Puts a fault into a plugged module, replacing one of its kind; returns it as applied. The
   * module tells of it (fault-set) and of what it causes. LabError("invalid") when refused.
   */
  setFault(oltId: string, boardId: string, cageId: number, kind: string, params?: unknown): LabFault {
    const module = this.module(oltId, boardId, cageId);
    try {
      return module.setFault(kind, params);
    } catch (error) {
      throw new LabError("invalid", (error as Error).message, `${oltId}/${boardId}/${cageId}`);
    }
  }

  /** Takes a fault out of a plugged module; returns it; LabError("not_found") when it was not in. */
  clearFault(oltId: string, boardId: string, cageId: number, kind: string): LabFault {
    const module = this.module(oltId, boardId, cageId);
    const path = `${oltId}/${boardId}/${cageId}`;
    const fault = module.faults().find((f) => f.kind === kind);
    if (!fault) {
      const set = module.faults().map((f) => f.kind).join(", ") || "none";
      throw new LabError(
        "not_found",
        `module in ${path} has no ${kind} fault (faults in force: ${set})`,
        path,
      );
    }
    module.clearFault(kind);
    return fault;
  }

  /**
   * Sets what the board's LM75 reads (the guest's lm75 driver sees it at once); LabError
   * "invalid" when the board has no sensor or the value is outside what an LM75 measures.
   */
  setBoardTemperature(oltId: string, boardId: string, temperatureC: number): number {
    const board = this.board(oltId, boardId);
    const sensor = board.planes.temperatureSensor;
    if (!sensor) {
      throw new LabError(
        "invalid",
        `board ${board.path} has no temperature sensor (its kind ${board.spec.kind} has temperatureSensor: false)`,
        board.path,
      );
    }
    const { min, max } = BOARD_TEMPERATURE_RANGE_C;
    if (!Number.isFinite(temperatureC) || temperatureC < min || temperatureC > max) {
      throw new LabError(
        "invalid",
        `a board temperature is ${min} to ${max} °C (what an LM75 measures), not ${temperatureC}`,
        board.path,
      );
    }
    this.#boardTemperatures.set(board.path, temperatureC);
    sensor.setTemperature(temperatureC);
    this.events.publish("board-temperature-set", board.path, { temperatureC });
    return sensor.temperatureC;
  }

  /** A temperature the user set, on the board's sensor as it is now (after a change of kind too). */
  #applyBoardTemperature(board: LabBoard<M>): void {
    const temperatureC = this.#boardTemperatures.get(board.path);
    if (temperatureC === undefined) return;
    if (board.planes.temperatureSensor) board.planes.temperatureSensor.setTemperature(temperatureC);
    else this.#boardTemperatures.delete(board.path); // the kind it has now has no sensor
  }

  /** Pulls a board out of its slot: its sockets close; its cages keep their modules. */
  async removeBoard(oltId: string, boardId: string): Promise<void> {
    const board = this.board(oltId, boardId);
    if (!board.inserted) throw new LabError("conflict", `board ${board.path} is already removed`, board.path);
    await board.remove();
    this.events.publish("board-removed", board.path, { slot: board.spec.slot, kind: board.spec.kind });
  }

  /**
   * Puts a board back, as its own kind or as another kind of the topology. With another layout,
   * cages that exist on both keep their modules; the others are emptied.
   */
  insertBoard(oltId: string, boardId: string, kind?: string): LabBoard<M> {
    let board = this.board(oltId, boardId);
    if (board.inserted) throw new LabError("conflict", `board ${board.path} is already inserted`, board.path);
    if (kind !== undefined && kind !== board.spec.kind) {
      board = this.#relayout(board, this.#specOfKind(board, kind));
      this.#applyBoardTemperature(board);
    }
    board.insert(this.#loop);
    this.events.publish("board-inserted", board.path, { slot: board.spec.slot, kind: board.spec.kind });
    return board;
  }

  #specOfKind(board: LabBoard<M>, kind: string): BoardSpec {
    const original = this.#topologySpecs.get(board.path)!;
    if (kind === original.kind) return original;
    if (!Object.hasOwn(this.topology.kinds, kind)) {
      const known = Object.keys(this.topology.kinds).join(", ") || "none";
      throw new LabError("invalid", `unknown board kind "${kind}"; known kinds: ${known}`, board.path);
    }
    return boardOfKind(board.spec, kind, this.topology.kinds[kind]);
  }

  /** Gives an out-of-slot board another layout, moving the modules of cages both layouts have. */
  #relayout(board: LabBoard<M>, spec: BoardSpec): LabBoard<M> {
    const layout = boardLayout(board.oltId, spec, this.topology.name);
    if (spec.cageCount === board.spec.cageCount && spec.formFactor === board.spec.formFactor) {
      // The same cages: only the board's own devices change (its ID EEPROM names the new kind).
      board.planes.setExtras(layout.extras);
      board.spec = spec;
      return board;
    }
    const planes = new BoardPlanes<M>(layout);
    for (const cage of board.planes.cages) {
      const module = cage.module;
      if (!module) continue;
      cage.unplug();
      planes.cage(cage.id)?.plug(module);
    }
    const replacement = this.#makeBoard(board.oltId, spec, planes);
    this.#boards.set(board.path, replacement);
    return replacement;
  }

  /** One cage as the store keeps it. */
  cageState(oltId: string, boardId: string, cageId: number): CageState {
    const module = this.cage(oltId, boardId, cageId).cage.module;
    if (!module) return { module: null, forcedSignals: { ...AUTOMATIC_SIGNALS } };
    const spec = this.modules.specOf(module);
    const diagnostics = { ...spec.diagnostics, ...this.#diagnosticsSet.get(module) };
    const faults = module.faults();
    return {
      module: Object.keys(diagnostics).length > 0 ? { ...spec, diagnostics } : spec,
      forcedSignals: this.forcedSignals(module),
      userEeprom: module.userEeprom(),
      a2Control: module.a2Control(),
      ...(faults.length > 0 ? { faults: faultSettings(faults), faultProgress: module.faultProgress() } : {}),
    };
  }

  boardState(oltId: string, boardId: string): BoardState {
    const board = this.board(oltId, boardId);
    const temperatureC = this.#boardTemperatures.get(board.path);
    return {
      kind: board.spec.kind,
      removed: !board.inserted,
      ...(temperatureC === undefined ? {} : { temperatureC }),
    };
  }

  /** A board's own devices as GET /topology shows them: what it has, what they hold and read. */
  boardExtras(board: LabBoard<M>) {
    const { identity, temperatureSensor } = board.planes;
    return {
      idEeprom: identity !== undefined,
      temperatureSensor: temperatureSensor !== undefined,
      ...(identity ? { identity: { ...identity } } : {}),
      ...(temperatureSensor ? { temperatureC: temperatureSensor.temperatureC } : {}),
    };
  }

  /** Every board and cage as the store keeps them. */
  state(): LabState {
    const state: LabState = { boards: new Map(), cages: new Map() };
    for (const [path, board] of this.#boards) {
      state.boards.set(path, this.boardState(board.oltId, board.spec.id));
      for (const cage of board.planes.cages) {
        state.cages.set(`${path}/${cage.id}`, this.cageState(board.oltId, board.spec.id, cage.id));
      }
    }
    return state;
  }

  /** The whole tree as GET /topology shows it. */
  snapshot() {
    return {
      name: this.topology.name,
      olts: this.topology.olts.map((olt) => ({
        id: olt.id,
        boards: olt.boards.map((spec) => {
          const board = this.board(olt.id, spec.id);
          return {
            id: board.spec.id,
            slot: board.spec.slot,
            kind: board.spec.kind,
            inserted: board.inserted,
            sockets: { ...board.spec.sockets },
            frontends: {
              i2c: board.listeners[0]?.connected ?? false,
              gpio: board.listeners[1]?.connected ?? false,
            },
            extras: this.boardExtras(board),
            cages: board.planes.cages.map((cage) => ({
              id: cage.id,
              // The spec knows per-cage form factors (an SFP28 uplink on an SFP+ board); the planes do not.
              formFactor: board.spec.cages[cage.id - 1]?.formFactor ?? cage.formFactor,
              module: cage.module ? this.modules.describe(cage.module) : null,
            })),
          };
        }),
      })),
    };
  }
}
