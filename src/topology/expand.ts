/**
 * From the checked document to the model: `${NAME}` references, inheritance board → kind →
 * defaults → built-in defaults, the checks that need more than one key (ids, slots, cage numbers,
 * profiles), and absolute socket paths.
 */
import { dirname, join, resolve } from "node:path";
import { formatPath, type PathSegment, suggestion } from "./issue.ts";
import type { Board, BoardExtras, BoardKind, Cage, FormFactor, ModuleSpec, Olt, Topology } from "./model.ts";
import {
  type BoardDocument,
  builtinDefaults,
  type KindDocument,
  maxCagesPerBoard,
  type ModuleDocument,
  type TopologyDocument,
} from "./schema.ts";
import type { ShapeCheck } from "./validate.ts";

/** Looks an environment variable up; undefined when it is not set. */
export type EnvironmentLookup = (name: string) => string | undefined;

/** sun_path is 108 bytes including the terminating NUL (unix(7)). */
export const maxSocketPathBytes = 107;

/**
 * Expands `${NAME}` and `${NAME:=default}` (the default applies when NAME is unset or empty);
 * `$${` stands for a literal `${`, and any other `$` is kept as it is.
 */
export function expandEnvironment(
  text: string,
  lookup: EnvironmentLookup,
): { value: string } | { error: string } {
  let value = "";
  let index = 0;
  while (index < text.length) {
    const dollar = text.indexOf("$", index);
    if (dollar < 0) break;
    value += text.slice(index, dollar);
    if (text.startsWith("$${", dollar)) {
      value += "${";
      index = dollar + 3;
      continue;
    }
    if (text[dollar + 1] !== "{") {
      value += "$";
      index = dollar + 1;
      continue;
    }
    const close = text.indexOf("}", dollar);
    if (close < 0) {
      return {
        error: `unterminated "\${" in ${JSON.stringify(text)}; write \${NAME} or \${NAME:=default}, ` +
          `or $\${ for a literal "\${"`,
      };
    }
    const reference = text.slice(dollar + 2, close);
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::=(.*))?$/s.exec(reference);
    if (match === null) {
      return {
        error: `"\${${reference}}" is not a valid reference: write \${NAME} or \${NAME:=default}, ` +
          "where NAME is letters, digits and _ and does not start with a digit",
      };
    }
    const [, name, fallback] = match;
    const found = lookup(name);
    if ((found === undefined || found === "") && fallback !== undefined) {
      value += fallback;
    } else if (found === undefined) {
      return {
        error: `environment variable ${name} is not set; set it or give a default: \${${name}:=value}`,
      };
    } else {
      value += found;
    }
    index = close + 1;
  }
  return { value: value + text.slice(index) };
}

/** What YAML 1.2 (core schema) reads an unquoted scalar as, for scalars that came from `${...}`. */
export function readPlainScalar(text: string): string | number | boolean {
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return Number.parseInt(text.slice(2), 16);
  if (/^0o[0-7]+$/.test(text)) return Number.parseInt(text.slice(2), 8);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  return text;
}

export interface ResolveOptions {
  /** The shape check that produced the document: knows where each key was written and collects issues. */
  check: ShapeCheck;
  knownProfiles: ReadonlySet<string>;
  /** The topology file, as given; relative paths in it are relative to its directory. */
  file?: string;
  /** Socket directory when the file sets neither `defaults.socketDir` nor `defaults.stateDir`. */
  socketDir?: string;
}

type Defaults = NonNullable<TopologyDocument["defaults"]>;

/** What resolving one board needs to know of the whole topology. */
interface Context extends ResolveOptions {
  defaults: Defaults;
  kinds: Map<string, KindDocument>;
  /** Cage count of every kind that has one; a kind without is reported once, not per board. */
  cageCounts: Map<string, number>;
  /** Relative paths in the topology are relative to this. */
  inFile: (path: string) => string;
  socketDir: string;
  /** Every socket path handed out so far, with who holds it. */
  sockets: Map<string, string>;
}

/** Applies defaults and kinds; every problem goes to `options.check.issues`. */
export function resolveTopology(document: TopologyDocument, options: ResolveOptions): Topology {
  const defaults: Defaults = document.defaults ?? {};
  const baseDir = options.file === undefined ? Deno.cwd() : dirname(resolve(options.file));
  const inFile = (path: string) => resolve(baseDir, path);
  const stateDir = defaults.stateDir === undefined ? undefined : inFile(defaults.stateDir);
  const socketDir = defaults.socketDir !== undefined
    ? inFile(defaults.socketDir)
    : stateDir ?? resolve(options.socketDir ?? baseDir);
  const kinds = document.kinds ?? new Map<string, KindDocument>();
  const context: Context = {
    ...options,
    defaults,
    kinds,
    cageCounts: checkKinds(kinds, defaults, options.check),
    inFile,
    socketDir,
    sockets: new Map(),
  };

  const firstWithId = new Map<string, PathSegment[]>();
  const olts = document.olts.map((olt): Olt => {
    const path = options.check.pathOf(olt);
    const earlier = firstWithId.get(olt.id);
    if (earlier !== undefined) {
      options.check.report(
        [...path, "id"],
        `duplicate OLT id "${olt.id}"; ${formatPath(earlier)} has it already`,
      );
    }
    firstWithId.set(olt.id, path);
    return { id: olt.id, boards: resolveBoards(olt.id, olt.boards, context) };
  });
  return {
    name: document.name,
    ...(options.file === undefined ? {} : { file: options.file }),
    ...(stateDir === undefined ? {} : { stateDir }),
    socketDir,
    kinds: resolveKinds(context),
    olts,
  };
}

/** Each kind with a cage count, laid out as kind → defaults → built-in defaults. */
function resolveKinds({ kinds, defaults, cageCounts }: Context): Record<string, BoardKind> {
  const resolved: Record<string, BoardKind> = {};
  for (const [name, kind] of kinds) {
    const cageCount = cageCounts.get(name);
    if (cageCount === undefined) continue;
    const inherited = <K extends keyof typeof builtinDefaults>(key: K) =>
      kind[key] ?? defaults[key] ?? builtinDefaults[key];
    const formFactor = inherited("formFactor");
    resolved[name] = {
      ...(kind.description === undefined ? {} : { description: kind.description }),
      cageCount,
      formFactor,
      cageFormFactors: Array.from(
        { length: cageCount },
        (_, index) => kind.cageFormFactors?.get(index + 1) ?? formFactor,
      ),
      extras: boardExtras(inherited("idEeprom"), inherited("temperatureSensor")),
      dataReadyDelayMs: inherited("dataReadyDelayMs"),
    };
  }
  return resolved;
}

/** The cage count of each kind, checking what a kind alone can get wrong. */
function checkKinds(
  kinds: Map<string, KindDocument>,
  defaults: Defaults,
  check: ShapeCheck,
): Map<string, number> {
  const cageCounts = new Map<string, number>();
  for (const [name, kind] of kinds) {
    const count = kind.cages ?? defaults.cages;
    if (count === undefined) {
      check.report(
        ["kinds", name, "cages"],
        `missing required key "cages" (number of cages, 1..${maxCagesPerBoard}), and defaults.cages is not set`,
      );
      continue;
    }
    cageCounts.set(name, count);
    for (const cage of kind.cageFormFactors?.keys() ?? []) {
      if (cage > count) {
        check.report(
          ["kinds", name, "cageFormFactors", String(cage)],
          `cage ${cage} is out of range: kind ${name} has cages 1..${count}`,
          "key",
        );
      }
    }
  }
  if (defaults.kind !== undefined && !kinds.has(defaults.kind)) {
    check.report(
      ["defaults", "kind"],
      `unknown kind "${defaults.kind}"${suggestion(defaults.kind, [...kinds.keys()])}`,
    );
  }
  return cageCounts;
}

/** The boards of one OLT: ids and slots unique within it. */
function resolveBoards(olt: string, documents: BoardDocument[], context: Context): Board[] {
  const { check } = context;
  const firstWithId = new Map<string, PathSegment[]>();
  const slots = new Map<number, string>();
  const boards: Board[] = [];
  for (const document of documents) {
    const path = check.pathOf(document);
    const earlier = firstWithId.get(document.id);
    if (earlier !== undefined) {
      check.report(
        [...path, "id"],
        `duplicate board id "${document.id}" in OLT ${olt}; ${formatPath(earlier)} has it already`,
      );
    }
    firstWithId.set(document.id, path);
    const slotHolder = slots.get(document.slot);
    if (slotHolder !== undefined) {
      check.report(
        [...path, "slot"],
        `slot ${document.slot} of OLT ${olt} is already taken by board ${slotHolder}`,
      );
    }
    slots.set(document.slot, document.id);
    // A board that repeats an id repeats its default socket paths too: one issue is enough.
    const board = resolveBoard(olt, document, path, earlier === undefined, context);
    if (board !== undefined) boards.push(board);
  }
  return boards;
}

function resolveBoard(
  olt: string,
  document: BoardDocument,
  path: PathSegment[],
  checkSocketsToo: boolean,
  context: Context,
): Board | undefined {
  const { check, defaults, kinds } = context;
  const kindName = document.kind ?? defaults.kind;
  if (kindName === undefined) {
    const known = [...kinds.keys()];
    check.report(
      [...path, "kind"],
      `missing required key "kind", and defaults.kind is not set; ` +
        (known.length === 0 ? "define one under kinds" : `known kinds: ${known.join(", ")}`),
    );
    return undefined;
  }
  const kind = kinds.get(kindName);
  if (kind === undefined) {
    // An unknown defaults.kind is reported once, by checkKinds, not for every board that inherits it.
    if (document.kind !== undefined) {
      check.report([...path, "kind"], `unknown kind "${kindName}"${suggestion(kindName, [...kinds.keys()])}`);
    }
    return undefined;
  }
  const cageCount = context.cageCounts.get(kindName);
  if (cageCount === undefined) return undefined;

  const inherited = <K extends keyof typeof builtinDefaults>(key: K) =>
    document[key] ?? kind[key] ?? defaults[key] ?? builtinDefaults[key];
  const formFactor = inherited("formFactor");
  const socketPath = (device: "i2c" | "gpio") => {
    const explicit = document.sockets?.[device];
    return explicit === undefined
      ? join(context.socketDir, `${olt}-${document.id}-${device}.sock`)
      : context.inFile(explicit);
  };
  const sockets = { i2c: socketPath("i2c"), gpio: socketPath("gpio") };
  if (checkSocketsToo) checkSockets(sockets, `${olt}/${document.id}`, [...path, "sockets"], context);
  const description = document.description ?? kind.description;
  return {
    id: document.id,
    slot: document.slot,
    kind: kindName,
    ...(description === undefined ? {} : { description }),
    cageCount,
    formFactor,
    extras: boardExtras(inherited("idEeprom"), inherited("temperatureSensor")),
    sockets,
    cages: resolveCages(document, kind, kindName, cageCount, formFactor, path, context),
    dataReadyDelayMs: inherited("dataReadyDelayMs"),
  };
}

function resolveCages(
  board: BoardDocument,
  kind: KindDocument,
  kindName: string,
  cageCount: number,
  boardFormFactor: FormFactor,
  boardPath: PathSegment[],
  { check, knownProfiles }: Context,
): Cage[] {
  const cages: Cage[] = Array.from({ length: cageCount }, (_, index) => ({
    id: index + 1,
    formFactor: kind.cageFormFactors?.get(index + 1) ?? boardFormFactor,
    module: null,
  }));
  for (const [cage, module] of board.cages ?? []) {
    const cagePath = [...boardPath, "cages", String(cage)];
    if (cage > cageCount) {
      check.report(
        cagePath,
        `cage ${cage} is out of range: board ${board.id} (kind ${kindName}) has cages 1..${cageCount}`,
        "key",
      );
      continue;
    }
    if (module === null) continue;
    const document: ModuleDocument = typeof module === "string" ? { profile: module } : module;
    if (!knownProfiles.has(document.profile)) {
      check.report(
        typeof module === "string" ? cagePath : [...cagePath, "profile"],
        `unknown module profile "${document.profile}"` +
          (knownProfiles.size === 0
            ? "; the module catalog is empty"
            : suggestion(document.profile, [...knownProfiles].sort())),
      );
      continue;
    }
    cages[cage - 1].module = moduleSpec(document);
  }
  return cages;
}

function moduleSpec(document: ModuleDocument): ModuleSpec {
  const { profile, diagnostics, vendorOui, ...identity } = document;
  const overrides: ModuleSpec["overrides"] = { ...identity };
  if (vendorOui !== undefined) {
    const hex = vendorOui.replace(/[:-]/g, "").toUpperCase();
    overrides.vendorOui = `${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
  }
  return diagnostics === undefined
    ? { profile, overrides }
    : { profile, overrides, diagnostics: { ...diagnostics } };
}

function boardExtras(
  idEeprom: boolean | { productName?: string; partNumber?: string; serialNumber?: string },
  temperatureSensor: boolean | { temperatureC?: number },
): BoardExtras {
  const extras: BoardExtras = {
    idEeprom: idEeprom !== false,
    temperatureSensor: temperatureSensor !== false,
  };
  if (typeof idEeprom === "object") extras.idEepromContent = { ...idEeprom };
  if (typeof temperatureSensor === "object" && temperatureSensor.temperatureC !== undefined) {
    extras.boardTemperatureC = temperatureSensor.temperatureC;
  }
  return extras;
}

/** One issue per board at most, naming every path that is too long or already taken. */
function checkSockets(
  paths: { i2c: string; gpio: string },
  board: string,
  at: PathSegment[],
  context: Context,
) {
  const problems: string[] = [];
  for (const [device, path] of Object.entries(paths)) {
    const bytes = new TextEncoder().encode(path).length;
    if (bytes > maxSocketPathBytes) problems.push(`${device} socket ${path} is ${bytes} bytes`);
  }
  if (problems.length > 0) {
    context.check.report(
      at,
      `socket paths of board ${board} exceed the ${maxSocketPathBytes}-byte limit of unix socket paths: ` +
        `${problems.join("; ")}; use a shorter defaults.socketDir or set sockets.i2c and sockets.gpio`,
    );
    return;
  }
  for (const [device, path] of Object.entries(paths)) {
    const holder = context.sockets.get(path);
    if (holder !== undefined) problems.push(`${device} socket ${path} is already used by ${holder}`);
    else context.sockets.set(path, `board ${board} (${device})`);
  }
  if (problems.length > 0) {
    context.check.report(at, `${problems.join("; ")}; give each board its own sockets`);
  }
}
