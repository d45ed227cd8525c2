// The running system: every OLT and board of a topology, their cages and modules, and the
// operations a test engineer performs on them (plug, unplug, pull a board, put it back).
import type { EventLoop } from "../native/event-loop.ts";
import type { Logger } from "../log/logger.ts";
import type { CageModule } from "../board/cage.ts";
import { BoardPlanes } from "../board/board.ts";
import type { Board as BoardSpec, ModuleSpec, Topology } from "../topology/model.ts";
import { LabError } from "./errors.ts";
import { EventBus } from "./events.ts";
import { LabBoard } from "./lab-board.ts";

/** How the lab makes modules; src/lab/sfp-modules.ts adapts the SFP model to it. */
export interface ModuleFactory<M extends CageModule> {
  /** A module from a spec; throws LabError("invalid") for an unknown profile or bad override. */
  create(spec: ModuleSpec, options: { dataReadyDelayMs: number }): M;
  /** The module as the API shows it (profile, vendorName, vendorPn, vendorSn, ...). */
  describe(module: M): Record<string, unknown>;
  /** The spec that would make this module again (what the store persists). */
  specOf(module: M): ModuleSpec;
}

export interface LabOptions<M extends CageModule> {
  topology: Topology;
  modules: ModuleFactory<M>;
  loop: EventLoop;
  log: Logger;
  events?: EventBus;
}

export class Lab<M extends CageModule = CageModule> {
  readonly events: EventBus;
  readonly topology: Topology;
  readonly modules: ModuleFactory<M>;
  readonly #boards = new Map<string, LabBoard<M>>();
  readonly #loop: EventLoop;
  readonly #log: Logger;

  constructor(options: LabOptions<M>) {
    this.topology = options.topology;
    this.modules = options.modules;
    this.#loop = options.loop;
    this.#log = options.log;
    this.events = options.events ?? new EventBus();
    for (const olt of this.topology.olts) {
      for (const spec of olt.boards) this.#boards.set(`${olt.id}/${spec.id}`, this.#makeBoard(olt.id, spec));
    }
  }

  #makeBoard(oltId: string, spec: BoardSpec, planes?: BoardPlanes<M>): LabBoard<M> {
    return new LabBoard<M>(oltId, spec, this.events, this.#log, (m) => this.modules.describe(m), planes);
  }

  /** Plugs the topology's initial modules (where `plugged` does not already say otherwise) and opens every socket. */
  start(): void {
    for (const board of this.#boards.values()) {
      for (const cage of board.spec.cages) {
        if (cage.module && !board.planes.cage(cage.id)!.module) {
          board.planes.cage(cage.id)!.plug(this.modules.create(cage.module, board.spec));
        }
      }
    }
    const started: LabBoard<M>[] = [];
    try {
      for (const board of this.#boards.values()) {
        board.insert(this.#loop);
        started.push(board);
      }
    } catch (error) {
      for (const board of started) board.remove();
      throw error;
    }
  }

  async stop(): Promise<void> {
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

  plug(oltId: string, boardId: string, cageId: number, spec: ModuleSpec): M {
    const { board, cage } = this.cage(oltId, boardId, cageId);
    if (cage.module) {
      throw new LabError(
        "conflict",
        `cage ${board.path}/${cageId} already holds a module; unplug it first`,
        `${board.path}/${cageId}`,
      );
    }
    const module = this.modules.create(spec, board.spec);
    cage.plug(module);
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

  /** Pulls a board out of its slot: its sockets close; its cages keep their modules. */
  async removeBoard(oltId: string, boardId: string): Promise<void> {
    const board = this.board(oltId, boardId);
    if (!board.inserted) throw new LabError("conflict", `board ${board.path} is already removed`, board.path);
    await board.remove();
    this.events.publish("board-removed", board.path, { slot: board.spec.slot, kind: board.spec.kind });
  }

  /**
   * Puts a board back. With another layout (a board of another kind in the same slot), cages that
   * exist on both keep their modules; the others are emptied.
   */
  insertBoard(oltId: string, boardId: string, replacement?: BoardSpec): LabBoard<M> {
    let board = this.board(oltId, boardId);
    if (board.inserted) throw new LabError("conflict", `board ${board.path} is already inserted`, board.path);
    if (
      replacement &&
      (replacement.cageCount !== board.spec.cageCount || replacement.formFactor !== board.spec.formFactor)
    ) {
      const planes = new BoardPlanes<M>({
        cageCount: replacement.cageCount,
        formFactor: replacement.formFactor,
      });
      for (const cage of board.planes.cages) {
        const module = cage.module;
        if (!module) continue;
        cage.unplug();
        planes.cage(cage.id)?.plug(module);
      }
      board = this.#makeBoard(oltId, replacement, planes);
      this.#boards.set(`${oltId}/${boardId}`, board);
    } else if (replacement) {
      board.spec = replacement;
    }
    board.insert(this.#loop);
    this.events.publish("board-inserted", board.path, { slot: board.spec.slot, kind: board.spec.kind });
    return board;
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
            cages: board.planes.cages.map((cage) => ({
              id: cage.id,
              formFactor: cage.formFactor,
              module: cage.module ? this.modules.describe(cage.module) : null,
            })),
          };
        }),
      })),
    };
  }
}
