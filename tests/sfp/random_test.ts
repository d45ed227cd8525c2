import assert from "node:assert/strict";
import { hashParts, SeededRandom, seedParts, unitInterval } from "../../src/sfp/random.ts";

Deno.test("SeededRandom: the same seed gives the same sequence, in [0, 1), roughly uniform", () => {
  const draw = (seed: number, n: number) => {
    const random = new SeededRandom(seed);
    return Array.from({ length: n }, () => random.next());
  };
  assert.deepEqual(draw(1, 100), draw(1, 100));
  assert.notDeepEqual(draw(1, 100), draw(2, 100));
  const many = draw(12345, 10_000);
  assert.ok(many.every((x) => x >= 0 && x < 1));
  const mean = many.reduce((a, b) => a + b, 0) / many.length;
  // σ of the mean of 10 000 uniforms is 0.0029: ±0.03 is a margin of ten σ.
  assert.ok(Math.abs(mean - 0.5) < 0.03, `mean ${mean}`);
  const tenths = new Array(10).fill(0);
  for (const x of many) tenths[Math.floor(x * 10)]++;
  assert.ok(tenths.every((count) => count > 800 && count < 1_200), `deciles ${tenths}`);
});

Deno.test("hashParts: a pure function of its parts, sensitive to each and to their order", () => {
  assert.equal(hashParts(1, 2, 3), hashParts(1, 2, 3));
  const hashes = new Set([
    hashParts(1, 2, 3),
    hashParts(1, 2, 4),
    hashParts(3, 2, 1),
    hashParts(1, 2),
    hashParts(),
  ]);
  assert.equal(hashes.size, 5);
  const units = Array.from({ length: 1_000 }, (_, i) => unitInterval(hashParts(7, i)));
  assert.ok(units.every((u) => u >= 0 && u < 1));
  assert.ok(new Set(units).size === 1_000);
});

Deno.test("seedParts: every safe integer, negative ones too, is its own pair of 32-bit halves", () => {
  assert.deepEqual(seedParts(0), [0, 0]);
  assert.deepEqual(seedParts(1), [1, 0]);
  assert.deepEqual(seedParts(2 ** 32 + 5), [5, 1]);
  assert.deepEqual(seedParts(-1), [0xffffffff, 0xffffffff]);
  assert.notDeepEqual(seedParts(-1), seedParts(2 ** 32 - 1));
});
