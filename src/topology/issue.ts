import { closestName } from "../spelling/closest-name.ts";
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

/** `; did you mean "x"? known: a, b, c`, the tail of every "unknown name" message. */
export function suggestion(word: string, known: readonly string[], listLimit = 12): string {
  const closest = closestName(word, known);
  const guess = closest === undefined ? "" : `; did you mean "${closest}"?`;
  if (known.length === 0) return "; none are defined";
  const listed = known.slice(0, listLimit).join(", ") + (known.length > listLimit ? ", ..." : "");
  return `${guess}${closest === undefined ? ";" : ""} known: ${listed}`;
}
