// The run's seed and the seeds of its modules. Every random choice a module makes (intermittent
// NACKs, noise) comes from its own seed, and each module's seed comes from the run's seed and the
// cage it sits in: the same --seed gives every cage the same behaviour on every run, whatever
// else was plugged, in whatever order.
import { hashParts, seedParts } from "../sfp/random.ts";

/** Seeds are whole numbers up to this: short enough to type back in from a log line. */
export const MAX_SEED = 0xffff_ffff;

/** A fresh run seed, for runs not given one (printed, so the run can be replayed). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** The seed of the module in a cage (`olt/board/cage`) of a run with this seed. */
export function moduleSeed(runSeed: number, cagePath: string): number {
  return hashParts(...seedParts(runSeed), ...new TextEncoder().encode(cagePath));
}

/** A seed as typed (`--seed 42`); undefined when it is not a whole number in 0..MAX_SEED. */
export function parseSeed(text: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(text)) return undefined;
  const seed = Number(text);
  return seed <= MAX_SEED ? seed : undefined;
}
