// Seeded randomness for faults and dynamics: the same seed and the same calls give the same
// numbers on every machine and every run, so a failing test or scenario can be replayed.
// Nothing here uses Math.random.

/** lowbias32 (Chris Wellons' hash-prospector): a 32-bit integer hash with good avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** One 32-bit value from any number of whole-number parts (each taken modulo 2^32). */
export function hashParts(...parts: readonly number[]): number {
  let hash = 0x9e3779b9;
  for (const part of parts) hash = mix32(hash ^ mix32((part >>> 0) + 0x6d2b79f5));
  return hash;
}

/** A number in [0, 1) from a 32-bit hash. */
export function unitInterval(hash: number): number {
  return (hash >>> 0) / 2 ** 32;
}

/** A seed as two 32-bit halves, so every safe integer (negative ones too) is a distinct seed. */
export function seedParts(seed: number): [number, number] {
  const bits = BigInt.asUintN(64, BigInt(seed));
  return [Number(bits & 0xffffffffn), Number(bits >> 32n)];
}

/** mulberry32: a small sequential generator for draws whose order is the order of the calls. */
export class SeededRandom {
  #state: number;

  constructor(seed32: number) {
    this.#state = seed32 >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }
}
