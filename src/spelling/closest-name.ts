// "Did you mean ...?": the known name a user most likely meant when they mistyped one — in a
// topology, a module profile, a fault, an API body. One algorithm, so every message agrees.

/** The closest of `known` to a misspelt `word`, if it is close enough to be what was meant. */
export function closestName(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  let bestShared = 0;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    // Ties go to the name sharing more letter pairs: "sfp-10g-srr" is sfp-10gbase-sr, not -lr.
    const shared = sharedPairs(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance || (distance === bestDistance && shared > bestShared)) {
      [best, bestDistance, bestShared] = [candidate, distance, shared];
    }
  }
  if (best === undefined) return undefined;
  // A third of the longer name, but at least 2: catches typos and dropped words, not unrelated names;
  // and never a rewrite of the whole word, which would "correct" any short name into any other.
  const limit = Math.max(2, Math.ceil(Math.max(word.length, best.length) / 3));
  return bestDistance <= limit && bestDistance < word.length ? best : undefined;
}

function sharedPairs(a: string, b: string): number {
  const inA = new Set(letterPairs(a));
  return letterPairs(b).filter((pair) => inA.has(pair)).length;
}

function letterPairs(word: string): string[] {
  return Array.from({ length: Math.max(0, word.length - 1) }, (_, i) => word.slice(i, i + 2));
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}
