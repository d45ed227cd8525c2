/**
 * Checks a parsed YAML document against a shape (shape.ts) and turns it into plain values, keeping
 * for every key path where it was written, so that later checks can point at the same line.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import { formatPath, type PathSegment, suggestion, type TopologyIssue } from "./issue.ts";
import type { KeyedListShape, MapShape, ObjectShape, Shape, StringShape } from "./shape.ts";

export interface Position {
  line: number;
  column: number;
}

/** Where a key path was written: its key (absent for sequence items) and its value. */
interface Located {
  key?: Position;
  value: Position;
}

/** Expands `${NAME}` references in a string scalar, or says why it cannot. */
export type StringExpansion = (text: string) => { value: string } | { error: string };

/** Turns the text of an expanded plain scalar into what YAML would have read (`${SLOT}` → 3). */
export type PlainScalarReading = (text: string) => string | number | boolean;

/** A value as read from a node, before the shape decides whether it fits. */
type Reading =
  | { type: "null"; at: Position }
  | { type: "string"; value: string; at: Position }
  | { type: "number"; value: number; source: string; at: Position }
  | { type: "boolean"; value: boolean; source: string; at: Position }
  | { type: "mapping"; node: Node; at: Position }
  | { type: "sequence"; node: Node; at: Position };

const invalid = Symbol("invalid");
type Checked = unknown | typeof invalid;

// Far above any real chassis (2 OLTs x 16 boards x 64 cages x 10 keys is 20 000 nodes), far below
// what a few nested aliases can expand to ("billion laughs").
const nodeBudget = 250_000;

export interface ShapeCheckOptions {
  file: string;
  document: Document;
  lineCounter: LineCounter;
  expandString: StringExpansion;
  readPlainScalar: PlainScalarReading;
}

export class ShapeCheck {
  readonly issues: TopologyIssue[] = [];
  readonly #locations = new Map<string, Located>();
  readonly #paths = new WeakMap<object, PathSegment[]>();
  #nodesLeft = nodeBudget;

  constructor(private readonly options: ShapeCheckOptions) {}

  /** The checked value of the document's root, or undefined when any issue was found. */
  checkRoot(shape: Shape): unknown {
    const root = this.options.document.contents;
    this.#locations.set("", { value: root ? this.#position(root) : { line: 1, column: 1 } });
    const value = this.#check(shape, root, []);
    return value === invalid || this.issues.length > 0 ? undefined : value;
  }

  /** The key path of an object that a record shape produced. */
  pathOf(value: object): PathSegment[] {
    return this.#paths.get(value) ?? [];
  }

  /** Where `path` was written; a path that was not written points at its nearest written parent. */
  locate(path: readonly PathSegment[], part: "key" | "value" = "value"): Position {
    for (let length = path.length; length >= 0; length--) {
      const located = this.#locations.get(formatPath(path.slice(0, length)));
      if (located !== undefined) return (part === "key" ? located.key : undefined) ?? located.value;
    }
    return { line: 1, column: 1 };
  }

  report(path: readonly PathSegment[], message: string, part: "key" | "value" = "value"): void {
    this.#reportAt(this.locate(path, part), path, message);
  }

  #reportAt(at: Position, path: readonly PathSegment[], message: string): void {
    this.issues.push({
      file: this.options.file,
      line: at.line,
      column: at.column,
      path: formatPath(path),
      message,
    });
  }

  #position(node: Node | { range?: unknown }): Position {
    const range = (node as { range?: [number, number, number] }).range;
    if (range === undefined) return { line: 1, column: 1 };
    const { line, col } = this.options.lineCounter.linePos(range[0]);
    return { line, column: col };
  }

  #check(shape: Shape, node: unknown, path: PathSegment[], fallback?: Position): Checked {
    const reading = this.#read(node, path, fallback);
    return reading === invalid ? invalid : this.#checkReading(shape, reading, path);
  }

  /** Reads a node: follows aliases, expands environment references, keeps the position. */
  #read(node: unknown, path: PathSegment[], fallback?: Position): Reading | typeof invalid {
    const at = node === null || node === undefined
      ? fallback ?? { line: 1, column: 1 }
      : this.#position(node as Node);
    if (--this.#nodesLeft < 0) {
      if (this.#nodesLeft === -1) {
        this.#reportAt(
          at,
          path,
          `the topology expands to more than ${nodeBudget} values; are aliases (*name) repeated inside lists that are themselves repeated?`,
        );
      }
      return invalid;
    }
    if (node === null || node === undefined) return { type: "null", at };
    if (isAlias(node)) {
      const target = node.resolve(this.options.document);
      if (target === undefined) {
        this.#reportAt(at, path, `alias *${node.source} refers to no anchor &${node.source} before it`);
        return invalid;
      }
      const reading = this.#read(target, path, at);
      return reading === invalid ? invalid : { ...reading, at };
    }
    if (isMap(node)) return { type: "mapping", node, at };
    if (isSeq(node)) return { type: "sequence", node, at };
    if (!isScalar(node)) {
      this.#reportAt(at, path, "unsupported YAML node here; expected a scalar, mapping or sequence");
      return invalid;
    }
    const plain = node.type === "PLAIN";
    let value = node.value;
    if (typeof value === "string" && value.includes("$")) {
      const expanded = this.options.expandString(value);
      if ("error" in expanded) {
        this.#reportAt(at, path, expanded.error);
        return invalid;
      }
      // Unquoted `slot: ${SLOT}` should read as the number it expands to, as if written in place.
      value = plain && expanded.value !== value
        ? this.options.readPlainScalar(expanded.value)
        : expanded.value;
    }
    const source = typeof node.source === "string" && typeof value === typeof node.value
      ? node.source
      : String(value);
    if (value === null) return { type: "null", at };
    if (typeof value === "string") return { type: "string", value, at };
    if (typeof value === "number") return { type: "number", value, source, at };
    if (typeof value === "boolean") return { type: "boolean", value, source, at };
    this.#reportAt(
      at,
      path,
      `unsupported value ${describeSource(String(value))}; expected plain text or a number`,
    );
    return invalid;
  }

  #checkReading(shape: Shape, reading: Reading, path: PathSegment[]): Checked {
    switch (shape.type) {
      case "string":
        return this.#checkString(shape, reading, path);
      case "integer":
      case "number": {
        const expected = `${
          shape.type === "integer" ? "an integer" : "a number"
        } ${shape.minimum}..${shape.maximum}`;
        if (reading.type !== "number" || (shape.type === "integer" && !Number.isInteger(reading.value))) {
          return this.#mismatch(expected, reading, path);
        }
        if (
          !Number.isFinite(reading.value) || reading.value < shape.minimum || reading.value > shape.maximum
        ) {
          this.#reportAt(reading.at, path, `${reading.source} is out of range; expected ${expected}`);
          return invalid;
        }
        return reading.value;
      }
      case "boolean":
        return reading.type === "boolean" ? reading.value : this.#mismatch("true or false", reading, path);
      case "null":
        return reading.type === "null" ? null : this.#mismatch("nothing (null)", reading, path);
      case "object":
        return reading.type === "mapping"
          ? this.#checkObject(shape, reading, path)
          : this.#mismatch(describeShape(shape), reading, path);
      case "map":
        return reading.type === "mapping"
          ? this.#checkMap(shape, reading, path)
          : this.#mismatch(describeShape(shape), reading, path);
      case "keyedList":
        return this.#checkKeyedList(shape, reading, path);
      case "oneOf": {
        const variant = shape.variants.find((candidate) => accepts(candidate, reading));
        if (variant === undefined) {
          return this.#mismatch(shape.variants.map(describeShape).join(" or "), reading, path);
        }
        return this.#checkReading(variant, reading, path);
      }
    }
  }

  #mismatch(expected: string, reading: Reading, path: PathSegment[]): typeof invalid {
    this.#reportAt(reading.at, path, `expected ${expected}, got ${describeReading(reading)}`);
    return invalid;
  }

  #checkString(shape: StringShape, reading: Reading, path: PathSegment[]): Checked {
    // Unquoted `dateCode: 240115` or `vendorRev: 1.0` is meant as the text written, not a number.
    const value = reading.type === "string"
      ? reading.value
      : reading.type === "number" || reading.type === "boolean"
      ? reading.source
      : undefined;
    if (value === undefined) return this.#mismatch(describeShape(shape), reading, path);
    const fail = (message: string) => {
      this.#reportAt(reading.at, path, message);
      return invalid;
    };
    if (shape.enum !== undefined && !shape.enum.includes(value)) {
      return fail(
        `unknown ${shape.what ?? "value"} ${describeSource(value)}${suggestion(value, shape.enum)}`,
      );
    }
    if (shape.minLength !== undefined && value.length < shape.minLength) {
      return fail(
        value.length === 0 ? "must not be empty" : `must be at least ${shape.minLength} characters long`,
      );
    }
    if (shape.maxLength !== undefined && value.length > shape.maxLength) {
      const where = shape.standard === undefined ? "allowed" : `fit (${shape.standard})`;
      return fail(
        `${describeSource(value)} is ${value.length} characters long; at most ${shape.maxLength} ${where}`,
      );
    }
    if (shape.pattern !== undefined && !new RegExp(shape.pattern, "u").test(value)) {
      return fail(
        `${describeSource(value)} is not valid: ${shape.patternHint ?? `expected ${shape.pattern}`}`,
      );
    }
    return value;
  }

  #checkObject(
    shape: ObjectShape,
    reading: Reading & { type: "mapping" },
    path: PathSegment[],
    optionalKey?: string,
  ) {
    const result: Record<string, unknown> = {};
    const { pairs, allNamed } = this.#namedPairs(reading, path);
    let ok = allNamed;
    for (const { key, keyAt, value: node } of pairs) {
      const fieldPath = [...path, key];
      const field = Object.hasOwn(shape.fields, key) ? shape.fields[key] : undefined;
      if (field === undefined) {
        const known = Object.keys(shape.fields);
        this.#reportAt(
          keyAt,
          fieldPath,
          key === "<<"
            ? "YAML merge keys (<<) are not supported; share settings through kinds and defaults"
            : `unknown key ${describeSource(key)}${suggestion(key, known, known.length)}`,
        );
        ok = false;
        continue;
      }
      const value = this.#checkPair(field, node, fieldPath, keyAt);
      if (value === invalid) ok = false;
      else result[key] = value;
    }
    // After a bad key, a missing one is most likely that key misspelt: one mistake, one issue.
    for (const key of shape.required) {
      if (key === optionalKey || Object.hasOwn(result, key) || !ok) continue;
      const description = shape.fields[key].description;
      this.#reportAt(
        reading.at,
        [...path, key],
        `missing required key "${key}"${description === undefined ? "" : ` (${description})`}`,
      );
      ok = false;
    }
    if (!ok) return invalid;
    this.#paths.set(result, path);
    return result;
  }

  /** Checks a mapping value and remembers where its key and value were written. */
  #checkPair(shape: Shape, value: unknown, path: PathSegment[], keyAt: Position): Checked {
    const valueAt = value ? this.#position(value as Node) : keyAt;
    this.#locations.set(formatPath(path), { key: keyAt, value: valueAt });
    return this.#check(shape, value, path, keyAt);
  }

  /** A mapping's pairs with their keys as text; a key that is not a plain name is reported and left out. */
  #namedPairs(reading: Reading & { type: "mapping" }, path: PathSegment[]) {
    const pairs: { key: string; keyAt: Position; value: unknown }[] = [];
    let allNamed = true;
    for (
      const { key, value } of (reading.node as Node & { items: { key: unknown; value: unknown }[] }).items
    ) {
      const keyAt = key ? this.#position(key as Node) : reading.at;
      if (isScalar(key) && (typeof key.value === "string" || typeof key.value === "number")) {
        // A number key is kept as written: cage `05` stays "05" in messages, `0x10` is not cage 16.
        const text = typeof key.value === "number" && typeof key.source === "string"
          ? key.source
          : String(key.value);
        pairs.push({ key: text, keyAt, value });
      } else {
        this.#reportAt(keyAt, path, "keys must be plain names");
        allNamed = false;
      }
    }
    return { pairs, allNamed };
  }

  #checkMap(shape: MapShape, reading: Reading & { type: "mapping" }, path: PathSegment[]): Checked {
    const result = new Map<string | number, unknown>();
    const seen = new Set<number>();
    const { pairs, allNamed } = this.#namedPairs(reading, path);
    let ok = allNamed;
    for (const { key: text, keyAt, value: node } of pairs) {
      const key = this.#mapKey(shape, text, keyAt, [...path, text], seen);
      if (key === invalid) {
        ok = false;
        continue;
      }
      const value = this.#checkPair(shape.values, node, [...path, text], keyAt);
      if (value === invalid) ok = false;
      else result.set(key, value);
    }
    return ok ? result : invalid;
  }

  #mapKey(
    shape: MapShape,
    text: string,
    at: Position,
    path: PathSegment[],
    seen: Set<number>,
  ): string | number | typeof invalid {
    const keys = shape.keys;
    const fail = (message: string): typeof invalid => {
      this.#reportAt(at, path, message);
      return invalid;
    };
    if (keys.type === "name") {
      if (text.length > keys.maxLength) {
        return fail(`${keys.what} name ${describeSource(text)} is longer than ${keys.maxLength} characters`);
      }
      if (!new RegExp(keys.pattern, "u").test(text)) {
        return fail(`${keys.what} name ${describeSource(text)} is not valid: ${keys.patternHint}`);
      }
      return text;
    }
    const number = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(number)) {
      return fail(
        `${
          describeSource(text)
        } is not a ${keys.what} number; expected an integer ${keys.minimum}..${keys.maximum}`,
      );
    }
    if (number < keys.minimum || number > keys.maximum) {
      return fail(`${keys.what} ${text} is out of range; expected ${keys.minimum}..${keys.maximum}`);
    }
    if (seen.has(number)) return fail(`${keys.what} ${number} is listed twice`);
    seen.add(number);
    return number;
  }

  #checkKeyedList(shape: KeyedListShape, reading: Reading, path: PathSegment[]): Checked {
    const items: unknown[] = [];
    let ok = true;
    if (reading.type === "sequence") {
      const sequence = reading.node as Node & { items: unknown[] };
      sequence.items.forEach((node, index) => {
        const at = node ? this.#position(node as Node) : reading.at;
        this.#locations.set(formatPath([...path, index]), { value: at });
        const item = this.#read(node, [...path, index], at);
        const value = item === invalid
          ? invalid
          : item.type === "mapping"
          ? this.#checkObject(shape.item, item, [...path, index])
          : this.#mismatch(describeShape(shape.item), item, [...path, index]);
        if (value === invalid) ok = false;
        else items.push(value);
      });
      return ok ? items : invalid;
    }
    if (reading.type !== "mapping") {
      return this.#mismatch(
        `a list of ${shape.what}s or a mapping from ${shape.what} id to ${shape.what}`,
        reading,
        path,
      );
    }
    const { pairs, allNamed } = this.#namedPairs(reading, path);
    ok = allNamed;
    for (const { key: id, keyAt, value: node } of pairs) {
      const itemPath = [...path, id];
      this.#locations.set(formatPath(itemPath), {
        key: keyAt,
        value: node ? this.#position(node as Node) : keyAt,
      });
      const idOk = this.#checkString(shape.id, { type: "string", value: id, at: keyAt }, itemPath);
      const item = this.#read(node, itemPath, keyAt);
      if (idOk === invalid || item === invalid) {
        ok = false;
        continue;
      }
      if (item.type !== "mapping") {
        this.#mismatch(describeShape(shape.item), item, itemPath);
        ok = false;
        continue;
      }
      const value = this.#checkObject(shape.item, item, itemPath, "id") as
        | Record<string, unknown>
        | typeof invalid;
      if (value === invalid) {
        ok = false;
      } else if (value.id !== undefined && value.id !== id) {
        this.report(
          [...itemPath, "id"],
          `id "${value.id}" differs from its key "${id}"; drop the id or make them equal`,
        );
        ok = false;
      } else {
        value.id = id;
        items.push(value);
      }
    }
    return ok ? items : invalid;
  }
}

/** Whether a oneOf variant is the one meant for this kind of value. */
function accepts(shape: Shape, reading: Reading): boolean {
  switch (shape.type) {
    case "string":
      return reading.type === "string" || reading.type === "number" || reading.type === "boolean";
    case "integer":
    case "number":
      return reading.type === "number";
    case "boolean":
      return reading.type === "boolean";
    case "null":
      return reading.type === "null";
    case "object":
    case "map":
      return reading.type === "mapping";
    case "keyedList":
      return reading.type === "mapping" || reading.type === "sequence";
    case "oneOf":
      return shape.variants.some((variant) => accepts(variant, reading));
  }
}

/** The expected value in words, as in "expected a mapping (profile, vendorName, ...)". */
function describeShape(shape: Shape): string {
  switch (shape.type) {
    case "string":
      return shape.enum === undefined ? "a string" : `one of ${shape.enum.join(", ")}`;
    case "integer":
      return `an integer ${shape.minimum}..${shape.maximum}`;
    case "number":
      return `a number ${shape.minimum}..${shape.maximum}`;
    case "boolean":
      return "true or false";
    case "null":
      return "nothing";
    case "object": {
      const keys = Object.keys(shape.fields);
      const listed = keys.slice(0, 6).join(", ") + (keys.length > 6 ? ", ..." : "");
      return `a mapping (${listed})`;
    }
    case "map":
      return `a mapping by ${shape.keys.what}`;
    case "keyedList":
      return `a list of ${shape.what}s`;
    case "oneOf":
      return shape.variants.map(describeShape).join(" or ");
  }
}

function describeReading(reading: Reading): string {
  switch (reading.type) {
    case "null":
      return "nothing";
    case "string":
      return `the string ${describeSource(reading.value)}`;
    case "number":
      return `the number ${reading.source}`;
    case "boolean":
      return reading.source;
    case "mapping":
      return "a mapping";
    case "sequence":
      return "a list";
  }
}

/** A value quoted for a message, cut short so that a pasted blob does not flood the terminal. */
function describeSource(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}
