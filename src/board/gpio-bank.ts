// The board's GPIO plane: named lines, each either an input whose level a model drives (a
// module's MOD_ABS, RX_LOS, TX_FAULT) or an output the guest drives (TX_DISABLE, RS0, RS1) that
// falls back to its pull resistor's level while the guest does not drive it.
import type { GpioController, GpioDirection } from "../virtio/gpio.ts";

interface LineState {
  name: string;
  /** Inputs: the model's level now. */
  read?: () => boolean;
  /** Outputs: told whenever the line's effective level changes. */
  drive?: (high: boolean) => void;
  /** Outputs: the level of the pull resistor when the guest does not drive the line. */
  pullLevel: boolean;
  direction: GpioDirection;
  /** Outputs: the value the guest last set (it may set it before switching to output). */
  value: boolean;
  /** Last level reported to listeners, to report changes only. */
  level: boolean;
}

export class GpioBank implements GpioController {
  readonly #lines: LineState[] = [];
  readonly #listeners = new Set<(line: number, high: boolean) => void>();

  get lineCount(): number {
    return this.#lines.length;
  }

  /** Adds an input line driven by `read`; returns its index. */
  addInput(name: string, read: () => boolean): number {
    const level = read();
    return this.#lines.push({ name, read, pullLevel: level, direction: "in", value: level, level }) - 1;
  }

  /** Adds a guest-driven output line with its pull level; returns its index. */
  addOutput(name: string, pullLevel: boolean, drive: (high: boolean) => void): number {
    return this.#lines.push({ name, drive, pullLevel, direction: "in", value: pullLevel, level: pullLevel }) -
      1;
  }

  lineNames(): readonly string[] {
    return this.#lines.map((l) => l.name);
  }

  lineIndex(name: string): number {
    return this.#lines.findIndex((l) => l.name === name);
  }

  direction(line: number): GpioDirection {
    return this.#lines[line].direction;
  }

  setDirection(line: number, direction: GpioDirection): boolean {
    const state = this.#lines[line];
    if (!state) return false;
    // An input pin is driven by the module: the guest driving it too would be a bus fight.
    if (state.read && direction === "out") return false;
    state.direction = direction;
    // virtio 1.2 §5.20.6 device requirements: a line set to none forgets its state, its value too.
    if (direction === "none" && state.drive) state.value = state.pullLevel;
    this.#update(line);
    return true;
  }

  level(line: number): boolean {
    const state = this.#lines[line];
    if (state.read) return state.read();
    return state.direction === "out" ? state.value : state.pullLevel;
  }

  setValue(line: number, high: boolean): boolean {
    const state = this.#lines[line];
    if (!state?.drive) return false;
    state.value = high;
    this.#update(line);
    return true;
  }

  /** An input's model changed: report the line if its level did. */
  refresh(line: number): void {
    this.#update(line);
  }

  onLevelChange(listener: (line: number, high: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Power-on: every line an input again, the guest-driven ones released to their pull level. */
  reset(): void {
    for (let line = 0; line < this.#lines.length; line++) {
      const state = this.#lines[line];
      // A module-driven line the last guest freed (direction none) reads as an input again too.
      state.direction = "in";
      if (!state.drive) continue;
      state.value = state.pullLevel;
      this.#update(line);
    }
  }

  #update(line: number): void {
    const state = this.#lines[line];
    const level = this.level(line);
    if (level === state.level) return;
    state.level = level;
    // Listeners first: a line the host drives is told before what it does to the module.
    for (const listener of this.#listeners) listener(line, level);
    state.drive?.(level);
  }
}
