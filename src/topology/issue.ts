/** What went wrong in a topology file, and where: the unit of every topology error. */
export interface TopologyIssue {
  /** The file name as the caller gave it, or `<built-in>` for the default topology. */
  file: string;
  /** 1-based line and column of the offending key or value. */
  line: number;
  column: number;
  /** The key path of the offending value, e.g. `olts[0].boards[2].cages.5.profile`; `""` for the document. */
  path: string;
  /** What was wrong and what would be right. */
  message: string;
}

/** One segment of a key path: a mapping key or a sequence index. */
export type PathSegment = string | number;

/** Thrown by `loadTopology`: every problem found in the file, in document order. */
export class TopologyError extends Error {
  override name = "TopologyError";
  constructor(readonly issues: TopologyIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

/** `file:line:column: path: message`, the shape compilers and editors jump to. */
export function formatIssue(issue: TopologyIssue): string {
  const path = issue.path === "" ? "" : `${issue.path}: `;
  return `${issue.file}:${issue.line}:${issue.column}: ${path}${issue.message}`;
}

/**
 * `olts[0].boards[2].cages.5.profile`: indices in brackets, plain keys after dots, and any key that
 * would be ambiguous in that notation (dots, spaces, brackets) as a quoted string in brackets.
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let text = "";
  for (const segment of segments) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

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

/** `; did you mean "x"? known: a, b, c`, the tail of every "unknown name" message. */
export function suggestion(word: string, known: readonly string[], listLimit = 12): string {
  const closest = closestName(word, known);
  const guess = closest === undefined ? "" : `; did you mean "${closest}"?`;
  if (known.length === 0) return "; none are defined";
  const listed = known.slice(0, listLimit).join(", ") + (known.length > listLimit ? ", ..." : "");
  return `${guess}${closest === undefined ? ";" : ""} known: ${listed}`;
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
