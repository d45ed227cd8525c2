// Mutations of YAML files for the fuzz tests of what users write by hand (topologies, scenarios,
// device profiles): as data — a value replaced by any other, a key dropped, a made-up key added,
// through the yaml library's document so the rest of the file keeps its form — and as text —
// bytes cut, repeated or inserted, YAML punctuation among them.
import { parseDocument } from "yaml";
import { fc } from "./fuzz.ts";

export type YamlMutation =
  | { kind: "set"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "add"; at: number; key: string; value: unknown }
  | { kind: "cut" | "repeat"; at: number; length: number }
  | { kind: "insert"; at: number; text: string };

/** Mutations whose new values are any JSON or one of `interesting` (values near the file's own). */
export function yamlMutation(interesting: readonly unknown[]): fc.Arbitrary<YamlMutation> {
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(0, -1, 1e9, 2 ** 53, "", "${UNSET}", ...interesting),
  );
  return fc.oneof(
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("add" as const), at: fc.nat(), key: fc.string({ maxLength: 12 }), value }),
    fc.record({
      kind: fc.constantFrom("cut" as const, "repeat" as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 40 }),
    }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.constantFrom(":", "- ", "\n  ", "&a ", "*a", "!!binary ", "\t", "{", "["),
      ),
    }),
  );
}

/** Paths to every node of a parsed document (maps as Maps: a key may be any node). */
function nodePaths(value: unknown, path: unknown[] = [], out: unknown[][] = []): unknown[][] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => nodePaths(v, [...path, i], out));
  else if (value instanceof Map) { for (const [k, v] of value) nodePaths(v, [...path, k], out); }
  return out;
}

/** The text after one mutation (reduce a list of them over a file's text). */
export function mutateYaml(text: string, m: YamlMutation): string {
  if (m.kind === "cut" || m.kind === "repeat" || m.kind === "insert") {
    const at = m.at % (text.length + 1);
    if (m.kind === "insert") return text.slice(0, at) + m.text + text.slice(at);
    if (m.kind === "cut") return text.slice(0, at) + text.slice(at + m.length);
    return text.slice(0, at) + text.slice(at, at + m.length) + text.slice(at);
  }
  // A data mutation the yaml library cannot apply (an earlier mutation broke the document, an
  // alias left without its anchor, a path into a scalar) leaves the text as it was.
  try {
    const doc = parseDocument(text);
    const paths = nodePaths(doc.toJS({ mapAsMap: true })).filter((p) => p.length > 0);
    if (paths.length === 0) return text;
    const path = paths[m.at % paths.length];
    if (m.kind === "set") doc.setIn(path, m.value);
    else if (m.kind === "delete") doc.deleteIn(path);
    else if (m.kind === "add") doc.setIn([...path.slice(0, -1), m.key], m.value);
    return doc.toString();
  } catch {
    return text;
  }
}
