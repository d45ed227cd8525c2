// Seeded property-based fuzzing (fast-check) for the tests that drive the real backend over its
// socket: a fixed seed and a bounded number of runs per property, so a run is deterministic and
// its failure can be replayed. SFPEMU_FUZZ_SEED and SFPEMU_FUZZ_RUNS override both (e.g. a long
// run with a new seed by hand); a failure names the seed, the path and the shrunk input.
import fc from "fast-check";

export { fc };

export interface FuzzOptions {
  /** What the property checks, for the failure message. */
  name: string;
  seed: number;
  numRuns: number;
}

function fromEnv(name: string): number | undefined {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name}=${text} is not an integer`);
  return value;
}

/**
 * Runs an async property over `numRuns` inputs drawn from `seed` and fails with the seed, the
 * replay path and the (shrunk) counterexample. Runs are sequential: the backend is one process.
 */
export async function fuzz<T>(
  options: FuzzOptions,
  arbitrary: fc.Arbitrary<T>,
  property: (input: T) => Promise<void>,
): Promise<{ numRuns: number }> {
  const seed = fromEnv("SFPEMU_FUZZ_SEED") ?? options.seed;
  const numRuns = fromEnv("SFPEMU_FUZZ_RUNS") ?? options.numRuns;
  // The first failure as it happened: the backend lives on across runs, so what a failed run left
  // behind can make the shrunk input fail for another reason. Both are reported.
  let first: { input: T; error: unknown } | undefined;
  const checked = async (input: T) => {
    try {
      await property(input);
    } catch (error) {
      first ??= { input, error };
      throw error;
    }
  };
  const details = await fc.check(fc.asyncProperty(arbitrary, checked), { seed, numRuns });
  if (details.failed) {
    throw new Error(
      `fuzz "${options.name}" failed at run ${details.numRuns} (seed ${seed}, then ${details.numShrinks} shrinks)\n` +
        `  replay: SFPEMU_FUZZ_SEED=${seed} SFPEMU_FUZZ_RUNS=${details.numRuns} ` +
        `(fast-check seed ${seed}, path "${details.counterexamplePath}")\n` +
        `  first failing input: ${fc.stringify(first?.input)}\n` +
        `  its error: ${describeError(first?.error)}\n` +
        `  shrunk input: ${fc.stringify(details.counterexample)}\n` +
        `  its error: ${describeError(details.errorInstance)}`,
    );
  }
  return { numRuns: details.numRuns };
}

/** An error's stack, cut short: a deadline message can list thousands of events. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? error.stack ?? error.message : String(error);
  return text.length > 3000 ? `${text.slice(0, 3000)} ...` : text;
}

/** Bytes of a given length range (a plain Uint8Array, which fc.uint8Array also gives). */
export function bytes(maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength, maxLength });
}

/** The lab events a board fixture publishes (only what is needed here). */
interface EventSource {
  subscribe(listener: (event: { type: string; device?: unknown }) => void): () => void;
}

/**
 * Counts a board's frontend disconnections per device from the moment it is made. The event bus
 * keeps only its last 1000 events, which a long fuzz run passes: a count of its history stops
 * growing, this one does not.
 */
export class DisconnectCounter {
  readonly #counts = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  readonly #stop: () => void;

  constructor(events: EventSource) {
    this.#stop = events.subscribe((event) => {
      if (event.type !== "frontend-disconnected") return;
      const device = String(event.device);
      this.#counts.set(device, this.count(device) + 1);
      for (const wake of this.#waiters) wake();
    });
  }

  count(device: string): number {
    return this.#counts.get(device) ?? 0;
  }

  /** Resolves once `count` disconnections of the device were seen in total. */
  waitFor(device: string, count: number, timeoutMs: number): Promise<void> {
    if (this.count(device) >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (this.count(device) < count) return;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(
          new Error(
            `waited ${timeoutMs} ms for disconnection ${count} of ${device}, saw ${this.count(device)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  [Symbol.dispose](): void {
    this.#stop();
  }
}
