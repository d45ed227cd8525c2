// A cage: the slot a module plugs into. On the I2C plane it is the device at 0x50/0x51 of its mux
// channel (an empty cage answers nothing); on the GPIO plane it owns six lines (board.ts).
import type { I2cTarget } from "./i2c-bus.ts";

/** What a cage needs from a transceiver model (src/sfp/module.ts's SfpModule fits). */
export interface CageModule {
  read(address: number, buffer: Uint8Array): boolean;
  write(address: number, data: Uint8Array): boolean;
  readonly rxLos: boolean;
  readonly txFault: boolean;
  /** atInsertion: the level the host held when the module made contact, not a change it saw. */
  setTxDisable(high: boolean, options?: { atInsertion?: boolean }): void;
  setRs0(high: boolean): void;
  setRs1(high: boolean): void;
  onChange(listener: (event: unknown) => void): () => void;
  /** A module that answers slowly (a fault) says how long; the device never sleeps itself. */
  responseDelayMs?(address: number): number;
}

export type CageEvent<M extends CageModule = CageModule> =
  | { type: "inserted"; cage: Cage<M>; module: M }
  | { type: "removed"; cage: Cage<M>; module: M }
  | { type: "module"; cage: Cage<M>; module: M; event: unknown };

/**
 * What the board does when a module makes or breaks contact: drive its pins with the host's
 * levels, report MOD_ABS and the module's outputs. Runs after the cage's listeners heard of the
 * insertion or removal, so whoever listens learns of the cause before its effects.
 */
export interface CageWiring<M extends CageModule = CageModule> {
  connected(module: M): void;
  disconnected(module: M): void;
  /**
   * The module told of a change (an output pin, a fault, a flag). Called after the cage's
   * listeners heard of it, so that what the change does to the pins is told after its cause.
   */
  changed(module: M): void;
}

export class CageOccupiedError extends Error {
  override name = "CageOccupiedError";
}
export class CageEmptyError extends Error {
  override name = "CageEmptyError";
}

export class Cage<M extends CageModule = CageModule> implements I2cTarget {
  #module: M | null = null;
  #unsubscribe: (() => void) | undefined;
  #wiring: CageWiring<M> | undefined;
  readonly #listeners = new Set<(event: CageEvent<M>) => void>();

  constructor(readonly id: number, readonly formFactor: string) {}

  get module(): M | null {
    return this.#module;
  }

  /** The board's wiring of this cage (one per cage; board.ts sets it). */
  wire(wiring: CageWiring<M>): void {
    this.#wiring = wiring;
  }

  plug(module: M): void {
    if (this.#module) throw new CageOccupiedError(`cage ${this.id} already holds a module`);
    this.#module = module;
    this.#unsubscribe = module.onChange((event) => {
      try {
        this.#emit({ type: "module", cage: this, module, event });
      } finally {
        this.#wiring?.changed(module);
      }
    });
    try {
      this.#emit({ type: "inserted", cage: this, module });
    } finally {
      this.#wiring?.connected(module);
    }
  }

  unplug(): M {
    const module = this.#module;
    if (!module) throw new CageEmptyError(`cage ${this.id} is empty`);
    this.#unsubscribe?.();
    this.#module = null;
    try {
      this.#emit({ type: "removed", cage: this, module });
    } finally {
      this.#wiring?.disconnected(module);
    }
    return module;
  }

  onChange(listener: (event: CageEvent<M>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  read(address: number, buffer: Uint8Array): boolean {
    return this.#module?.read(address, buffer) ?? false;
  }

  write(address: number, data: Uint8Array): boolean {
    return this.#module?.write(address, data) ?? false;
  }

  responseDelayMs(address: number): number {
    return this.#module?.responseDelayMs?.(address) ?? 0;
  }

  #emit(event: CageEvent<M>): void {
    for (const listener of this.#listeners) listener(event);
  }
}
