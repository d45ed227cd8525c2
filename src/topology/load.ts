/**
 * The way in: topology text → checked, resolved `Topology`, or a `TopologyError` listing every
 * problem with its file, line, column and key path.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { expandEnvironment, readPlainScalar, resolveTopology } from "./expand.ts";
import { formatPath, type PathSegment, TopologyError, type TopologyIssue } from "./issue.ts";
import type { Topology } from "./model.ts";
import { type TopologyDocument, topologyShape } from "./schema.ts";
import { ShapeCheck } from "./validate.ts";

export interface LoadOptions {
  /** Named in every issue; relative paths in the topology are relative to its directory. */
  file?: string;
  /** The profile ids of the module catalog; a cage naming any other is an error. */
  knownProfiles: ReadonlySet<string>;
  /** Variables for `${NAME}` references; the process environment when absent. */
  env?: Record<string, string | undefined>;
  /**
   * Socket directory when the topology sets neither `defaults.socketDir` nor `defaults.stateDir`
   * (the runtime passes its state directory); the topology file's directory when absent too.
   */
  socketDir?: string;
}

/** Larger than any chassis description needs; a bigger file is a mistake, not a topology. */
export const maxTopologyLength = 4 * 1024 * 1024;

/** The name issues carry when the text came from no file. */
const unnamedSource = "<built-in>";

/** Parses, checks and resolves topology text; throws `TopologyError` with every issue found. */
export function loadTopology(text: string, options: LoadOptions): Topology {
  const file = options.file ?? unnamedSource;
  const issueAt = (line: number, column: number, path: string, message: string): TopologyIssue => ({
    file,
    line,
    column,
    path,
    message,
  });
  if (text.length > maxTopologyLength) {
    throw new TopologyError([
      issueAt(1, 1, "", `the topology is longer than ${maxTopologyLength} characters`),
    ]);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxIssues = yamlIssues(document, lineCounter, issueAt);
  if (syntaxIssues.length > 0) throw new TopologyError(syntaxIssues);
  if (document.contents === null) {
    throw new TopologyError([
      issueAt(
        1,
        1,
        "",
        "the topology is empty; it needs at least a name and olts (see examples/minimal.yaml)",
      ),
    ]);
  }

  const env = options.env;
  const check = new ShapeCheck({
    file,
    document,
    lineCounter,
    expandString: (value) =>
      expandEnvironment(value, env ? (name) => env[name] : (name) => Deno.env.get(name)),
    readPlainScalar,
  });
  const checked = check.checkRoot(topologyShape) as TopologyDocument | undefined;
  if (checked === undefined) throw new TopologyError(inDocumentOrder(check.issues));
  const topology = resolveTopology(checked, {
    check,
    knownProfiles: options.knownProfiles,
    file: options.file,
    socketDir: options.socketDir,
  });
  if (check.issues.length > 0) throw new TopologyError(inDocumentOrder(check.issues));
  return topology;
}

/** Reads and loads a topology file; a file that cannot be read is reported like any other issue. */
export async function loadTopologyFile(file: string, options: Omit<LoadOptions, "file">): Promise<Topology> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new TopologyError([{
      file,
      line: 1,
      column: 1,
      path: "",
      message: `cannot read the topology: ${reason}`,
    }]);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new TopologyError([{
      file,
      line: 1,
      column: 1,
      path: "",
      message: "the topology is not UTF-8 text",
    }]);
  }
  return loadTopology(text, { ...options, file });
}

/**
 * Every duplicate key, and the first syntax error only: after one, the parser's later complaints
 * are mostly echoes of it.
 */
function yamlIssues(
  document: Document,
  lineCounter: LineCounter,
  issueAt: (line: number, column: number, path: string, message: string) => TopologyIssue,
): TopologyIssue[] {
  const issues: TopologyIssue[] = [];
  let syntaxReported = false;
  for (const error of document.errors) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    if (error.code === "DUPLICATE_KEY") {
      const path = pathAtOffset(document.contents, error.pos[0]);
      const key = String(path.at(-1) ?? "");
      issues.push(
        issueAt(
          line,
          col,
          formatPath(path),
          `duplicate key ${JSON.stringify(key)}; a key may appear once in a mapping`,
        ),
      );
    } else if (!syntaxReported) {
      // No key path: where the parser notices a syntax error is seldom inside the key it belongs to.
      syntaxReported = true;
      const message = error.code === "MULTIPLE_DOCS"
        ? "the file holds more than one YAML document (---); a topology is one document"
        : `YAML syntax error: ${error.message}`;
      issues.push(issueAt(line, col, "", message));
    }
  }
  return issues;
}

/** The key path of the innermost node written at `offset`, for errors the YAML parser reports by offset. */
function pathAtOffset(root: unknown, offset: number): PathSegment[] {
  const contains = (candidate: unknown) => {
    const range = (candidate as Node | null)?.range;
    return range !== undefined && range !== null && range[0] <= offset &&
      offset < Math.max(range[1], range[0] + 1);
  };
  const path: PathSegment[] = [];
  // A loop, not recursion: a hostile file may nest thousands of levels deep.
  for (let node = root; node !== undefined;) {
    let next: unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.source ?? pair.key.value) : "?";
        if (contains(pair.key)) return [...path, key];
        if (contains(pair.value)) [path[path.length], next] = [key, pair.value];
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        if (contains(item)) [path[path.length], next] = [index, item];
      });
    }
    node = next;
  }
  return path;
}

/**
 * Sorted by position, and each problem once: content shared through an alias (*name) is checked
 * wherever it is used, but has one place to fix.
 */
function inDocumentOrder(issues: TopologyIssue[]): TopologyIssue[] {
  const seen = new Set<string>();
  return [...issues]
    .sort((a, b) => a.line - b.line || a.column - b.column)
    .filter((issue) => {
      const key = `${issue.line}:${issue.column}:${issue.message}`;
      return !seen.has(key) && seen.add(key) !== undefined;
    });
}
