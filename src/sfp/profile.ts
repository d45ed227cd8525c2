// Module profiles: one module type (identity, codes, wavelength, thresholds, typical diagnostics)
// as a devices/<id>.yaml file. Loading checks everything against the field map and reports each
// mistake with file, line and key path; a file with any mistake yields no profile.
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import {
  conditionHolds,
  describeCondition,
  type FieldValue,
  FieldValueError,
  type FieldValues,
  normaliseFieldValue,
} from "./codec.ts";
import {
  DIAGNOSTIC_NAMES,
  type Diagnostics,
  OPTICAL_POWER,
  quantityOf,
  THRESHOLD_LEVELS,
  thresholdOrderProblem,
  type Thresholds,
  type ThresholdSet,
} from "./diagnostics.ts";
import { type FieldSpec, SFF8472_FIELDS, thresholdField } from "./field-map.ts";
import { didYouMean } from "./spelling.ts";

export const FORM_FACTORS = ["sfp", "sfp+", "sfp28"] as const;
export type FormFactor = (typeof FORM_FACTORS)[number];

/** What OLT hosts and Linux quirks recognise a module by (A0h vendor fields). */
export interface ModuleIdentity {
  vendorName: string;
  vendorOui: string;
  vendorPn: string;
  vendorRev: string;
  vendorSn: string;
  dateCode: string;
}

/** Rx power levels for RX_LOS: asserts below assertDbm, clears again at deassertDbm or above. */
export interface LosThresholds {
  assertDbm: number;
  deassertDbm: number;
}

export interface ModuleProfile {
  readonly id: string;
  readonly formFactor: FormFactor;
  readonly description: string;
  readonly identity: Readonly<ModuleIdentity>;
  /** The other A0h fields by field-map name (connector, transceiverCodes, options, ...). */
  readonly codes: FieldValues;
  /** Laser wavelength; absent for cables. */
  readonly wavelengthNm?: number;
  /** Alarm and warning thresholds; absent when the module has no A2h. */
  readonly thresholds?: Readonly<Thresholds>;
  /** Typical live values at insertion; absent when the module has no A2h. */
  readonly diagnostics?: Readonly<Diagnostics>;
  /** Absent: RX_LOS never asserts by itself (cables). */
  readonly los?: Readonly<LosThresholds>;
  /** How long Data_Ready_Bar stays set after insertion. */
  readonly dataReadyDelayMs: number;
  /** A2h upper pages (byte 127 selects one); 1 means no paging. */
  readonly a2hPages: number;
  /** A0h bytes 96-127, hex. */
  readonly vendorSpecific?: string;
  /** Initial A2h page 00h user EEPROM, hex. */
  readonly userEeprom?: string;
  /** Where the profile came from, for messages. */
  readonly source?: string;
}

/** Per-module changes to a profile: the identity an OLT sees, and the insertion timing. */
export type ModuleOverrides = Partial<ModuleIdentity> & { dataReadyDelayMs?: number };

/** SFF-8472 t_init-like default: the A/D values are valid 300 ms after insertion (t_data ≤ 1 s). */
export const DEFAULT_DATA_READY_DELAY_MS = 300;
export const ID_PATTERN = /^[a-z0-9][a-z0-9+._-]*$/;
export const MAX_ID_LENGTH = 64;
export const MAX_DESCRIPTION_LENGTH = 200;
export const MAX_DATA_READY_DELAY_MS = 60_000;
export const MAX_A2H_PAGES = 128;
const MAX_PROFILE_BYTES = 1 << 20;

export interface ProfileProblem {
  /** Dotted key path, e.g. "thresholds.rxPowerDbm.lowAlarm"; "" for the whole file. */
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/** Everything wrong with one profile, each mistake on its own `file:line:column: path: message` line. */
export class ProfileError extends Error {
  override name = "ProfileError";
  constructor(readonly file: string, readonly problems: readonly ProfileProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
  }
}

function formatProblem(file: string, problem: ProfileProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  return `${where}: ${problem.path ? `${problem.path}: ` : ""}${problem.message}`;
}

type Path = readonly (string | number)[];
/** Where a key ("key") or its value ("value") stands in the source; undefined when unknown. */
type Locate = (path: Path, at: "key" | "value") => { line: number; column: number } | undefined;

/** Every key a profile file may have at the top. */
export const TOP_LEVEL_KEYS = [
  "id",
  "formFactor",
  "description",
  "identity",
  "codes",
  "wavelengthNm",
  "thresholds",
  "diagnostics",
  "los",
  "dataReadyDelayMs",
  "a2hPages",
  "vendorSpecific",
  "userEeprom",
];
export const REQUIRED_TOP_LEVEL = ["id", "formFactor", "description", "identity", "codes"];
export const REQUIRED_IDENTITY = ["vendorName", "vendorPn"];
export const REQUIRED_CODES = ["connector", "sff8472Compliance"];
/** Top-level keys that only mean something for a module with an A2h. */
const A2H_KEYS = ["thresholds", "diagnostics", "los", "a2hPages", "userEeprom"];

/** Fields a profile sets, keyed by their profile path ("identity.vendorName", "wavelengthNm"). */
export function profileFields(section?: string): FieldSpec[] {
  return SFF8472_FIELDS.filter((f) =>
    f.profileKey && (section === undefined ? f.profileKey.length === 1 : f.profileKey[0] === section)
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const trusted = new WeakSet<ModuleProfile>();

/** Checks one profile's data; collects every problem rather than stopping at the first. */
class ProfileChecker {
  readonly problems: ProfileProblem[] = [];
  constructor(private readonly locate: Locate) {}

  report(path: Path, message: string, at: "key" | "value" = "value"): void {
    const position = this.locate(path, at);
    this.problems.push({ path: path.join("."), message, line: position?.line, column: position?.column });
  }

  /** A mapping, with no key outside `known`. */
  mapping(value: unknown, path: Path, known: readonly string[]): Record<string, unknown> | undefined {
    if (!isRecord(value)) {
      this.report(path, `expected a mapping of ${known.join(", ")}, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        this.report(
          [...path, key],
          `unknown field${didYouMean(key, known)}; expected one of: ${known.join(", ")}`,
          "key",
        );
      }
    }
    return value;
  }

  /** A mapping of exactly `keys`, all present. */
  completeMapping(value: unknown, path: Path, keys: readonly string[]): Record<string, unknown> | undefined {
    const map = this.mapping(value, path, keys);
    if (map) this.required(map, path, keys);
    return map;
  }

  required(map: Record<string, unknown>, path: Path, keys: readonly string[]): void {
    for (const key of keys) {
      if (map[key] === undefined) this.report(path, `missing required field "${key}"`, "key");
    }
  }

  string(value: unknown, path: Path, maxLength: number, pattern?: RegExp, hint?: string): string | undefined {
    if (typeof value !== "string" || value.trim() === "") {
      this.report(path, `expected a non-empty string, got ${describe(value)}`);
    } else if (value.length > maxLength) {
      this.report(path, `is ${value.length} characters; at most ${maxLength} allowed`);
    } else if (pattern && !pattern.test(value)) {
      this.report(path, `${JSON.stringify(value)} is not ${hint}`);
    } else return value;
    return undefined;
  }

  integer(value: unknown, path: Path, min: number, max: number, units: string): number | undefined {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      this.report(path, `expected a whole number of ${units}, got ${describe(value)}`);
    } else if (value < min || value > max) {
      this.report(path, `${value} ${units} is out of range: allowed ${min}..${max}`);
    } else return value;
    return undefined;
  }

  field(spec: FieldSpec, value: unknown, path: Path): FieldValue | undefined {
    try {
      return normaliseFieldValue(spec, value);
    } catch (error) {
      if (!(error instanceof FieldValueError)) throw error;
      this.report(path, error.problem);
      return undefined;
    }
  }

  /** A value in a monitored quantity's units and range (−∞ allowed for optical power only). */
  quantity(value: unknown, path: Path, name: keyof Diagnostics): number | undefined {
    const quantity = quantityOf(name);
    if (typeof value !== "number" || Number.isNaN(value)) {
      this.report(path, `expected a number of ${quantity.units}, got ${describe(value)}`);
    } else if (!(value >= quantity.min && value <= quantity.max)) {
      this.report(
        path,
        `${value} ${quantity.units} is out of range: allowed ${quantity.min}..${quantity.max} ${quantity.units}`,
      );
    } else return value;
    return undefined;
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function hasA2h(codes: FieldValues): boolean {
  const compliance = codes.sff8472Compliance;
  return compliance !== undefined && compliance !== "none" && compliance !== 0;
}

/**
 * Validates profile data (parsed YAML or an object built in code) and returns the frozen profile,
 * or the problems found. `expectedId` is the file's base name, which the id must equal.
 */
export function validateProfile(
  data: unknown,
  options: { locate?: Locate; expectedId?: string; source?: string } = {},
): { profile: ModuleProfile; problems: [] } | { profile: undefined; problems: ProfileProblem[] } {
  const check = new ProfileChecker(options.locate ?? (() => undefined));
  const root = check.mapping(data, [], TOP_LEVEL_KEYS);
  if (!root) return { profile: undefined, problems: check.problems };
  check.required(root, [], REQUIRED_TOP_LEVEL);

  const id = root.id === undefined
    ? undefined
    : check.string(root.id, ["id"], MAX_ID_LENGTH, ID_PATTERN, "lower-case letters, digits and + . _ -");
  if (id !== undefined && options.expectedId !== undefined && id !== options.expectedId) {
    check.report(
      ["id"],
      `"${id}" does not match the file name: rename the file to ${id}.yaml or set id: ${options.expectedId}`,
    );
  }
  if (root.formFactor !== undefined && !FORM_FACTORS.includes(root.formFactor as FormFactor)) {
    check.report(
      ["formFactor"],
      `expected one of ${FORM_FACTORS.join(", ")}, got ${describe(root.formFactor)}`,
    );
  }
  if (root.description !== undefined) check.string(root.description, ["description"], MAX_DESCRIPTION_LENGTH);

  const identity = checkSection(check, root, "identity", REQUIRED_IDENTITY, {});
  const codes = checkSection(check, root, "codes", REQUIRED_CODES, {});
  const topFields = checkSection(check, root, undefined, [], codes);

  const a2h = hasA2h(codes);
  let thresholds: Thresholds | undefined;
  let diagnostics: Diagnostics | undefined;
  let los: LosThresholds | undefined;
  if (a2h) {
    check.required(root, [], ["thresholds", "diagnostics"]);
    if (root.thresholds !== undefined) thresholds = checkThresholds(check, root.thresholds);
    if (root.diagnostics !== undefined) diagnostics = checkDiagnostics(check, root.diagnostics);
    if (root.los !== undefined) los = checkLos(check, root.los);
  } else if (codes.sff8472Compliance !== undefined) {
    for (const key of A2H_KEYS.filter((k) => root[k] !== undefined)) {
      check.report(
        [key],
        `needs an A2h, but codes.sff8472Compliance is none (no diagnostics); remove it`,
        "key",
      );
    }
  }
  const dataReadyDelayMs = root.dataReadyDelayMs === undefined
    ? DEFAULT_DATA_READY_DELAY_MS
    : check.integer(root.dataReadyDelayMs, ["dataReadyDelayMs"], 0, MAX_DATA_READY_DELAY_MS, "ms");
  const a2hPages = root.a2hPages === undefined
    ? 1
    : check.integer(root.a2hPages, ["a2hPages"], 1, MAX_A2H_PAGES, "pages");
  const options_ = codes.options;
  if (
    a2hPages !== undefined && a2hPages > 1 &&
    !(Array.isArray(options_) && options_.includes("pagingImplemented"))
  ) {
    check.report(
      ["a2hPages"],
      `${a2hPages} pages need codes.options to include pagingImplemented (A0h byte 64 bit 4)`,
    );
  }
  if (check.problems.length > 0) return { profile: undefined, problems: check.problems };

  const profile: ModuleProfile = deepFreeze({
    id: id!,
    formFactor: root.formFactor as FormFactor,
    description: (root.description as string).trim(),
    identity: {
      vendorOui: "00:00:00",
      vendorRev: "",
      vendorSn: "",
      dateCode: "",
      ...identity,
    } as ModuleIdentity,
    codes,
    ...topFields,
    ...(thresholds && { thresholds }),
    ...(diagnostics && { diagnostics }),
    ...(los && { los }),
    dataReadyDelayMs: dataReadyDelayMs!,
    a2hPages: a2hPages!,
    ...((options.source ?? root.source) !== undefined &&
      { source: (options.source ?? root.source) as string }),
  });
  trusted.add(profile);
  return { profile, problems: [] };
}

/** SFF-8024 connectors of copper transceivers, which have no laser wavelength. */
const COPPER_CONNECTORS = new Set<FieldValue>(["RJ45", "copper pigtail", 0x22, 0x21]);
function hasCopperConnector(fields: FieldValues): boolean {
  return COPPER_CONNECTORS.has(fields.connector);
}

/**
 * The fields of one profile section, in field-map order so that a field's condition sees the
 * fields it depends on (`resolved` holds the codes for the top-level wavelength's condition).
 */
function checkSection(
  check: ProfileChecker,
  root: Record<string, unknown>,
  section: string | undefined,
  required: readonly string[],
  resolved: FieldValues,
): Record<string, FieldValue> {
  const specs = profileFields(section);
  const keyOf = (spec: FieldSpec) => spec.profileKey![spec.profileKey!.length - 1];
  const result: Record<string, FieldValue> = {};
  const map = section === undefined ? root : check.mapping(root[section], [section], specs.map(keyOf));
  if (!map) return result;
  if (section !== undefined) check.required(map, [section], required);
  const known = { ...resolved };
  for (const spec of specs) {
    const path = spec.profileKey!;
    const value = map[keyOf(spec)];
    const applies = !spec.when || conditionHolds(spec.when, known);
    if (value === undefined) {
      // An optical module without a wavelength would show Linux and ethtool 0 nm. A copper
      // transceiver (RJ45 or pigtail, e.g. 1000BASE-T) has no laser: bytes 60-61 stay 0.
      if (spec.name === "wavelengthNm" && applies && !hasCopperConnector(known)) {
        check.report(
          [],
          `missing required field "wavelengthNm" (laser wavelength in nm; cables list a cable type in codes.transceiverCodes instead)`,
          "key",
        );
      }
      continue;
    }
    if (!applies) {
      check.report(path, `does not apply: it is set only when ${describeCondition(spec.when!)}`, "key");
      continue;
    }
    const normalised = check.field(spec, value, path);
    if (normalised !== undefined) result[spec.name] = known[spec.name] = normalised;
  }
  return result;
}

function checkThresholds(check: ProfileChecker, value: unknown): Thresholds | undefined {
  const map = check.completeMapping(value, ["thresholds"], DIAGNOSTIC_NAMES);
  if (!map) return undefined;
  const result: Partial<Thresholds> = {};
  for (const name of DIAGNOSTIC_NAMES) {
    if (map[name] === undefined) continue;
    const path = ["thresholds", name];
    const set = check.completeMapping(map[name], path, THRESHOLD_LEVELS);
    if (!set) continue;
    const levels: Partial<ThresholdSet> = {};
    for (const level of THRESHOLD_LEVELS) {
      if (set[level] === undefined) continue;
      const normalised = check.field(thresholdField(name, level), set[level], [...path, level]);
      if (normalised !== undefined) levels[level] = normalised as number;
    }
    if (THRESHOLD_LEVELS.every((level) => levels[level] !== undefined)) {
      const complete = levels as ThresholdSet;
      const problem = thresholdOrderProblem(complete) ?? quantisedOrderProblem(name, complete);
      if (problem) check.report(path, `threshold order wrong: ${problem}`, "key");
      result[name] = complete;
    }
  }
  return DIAGNOSTIC_NAMES.every((n) => result[n]) ? result as Thresholds : undefined;
}

/** Thresholds in order as written can still collide once stored in raw counts (coarse PON Rx power). */
function quantisedOrderProblem(name: keyof Diagnostics, set: ThresholdSet): string | undefined {
  const quantity = quantityOf(name);
  const raw = Object.fromEntries(THRESHOLD_LEVELS.map((l) => [l, quantity.toRaw(set[l])])) as ThresholdSet;
  const problem = thresholdOrderProblem(raw);
  if (!problem) return undefined;
  const stored = THRESHOLD_LEVELS.map((l) => `${l} ${set[l]} → ${quantity.fromRaw(raw[l])}`).join(", ");
  return `${problem} once stored in steps of ${quantity.resolution} (${stored} ${quantity.units}); spread them further apart`;
}

function checkDiagnostics(check: ProfileChecker, value: unknown): Diagnostics | undefined {
  const map = check.completeMapping(value, ["diagnostics"], DIAGNOSTIC_NAMES);
  if (!map) return undefined;
  const result: Partial<Diagnostics> = {};
  for (const name of DIAGNOSTIC_NAMES) {
    if (map[name] !== undefined) result[name] = check.quantity(map[name], ["diagnostics", name], name);
  }
  return DIAGNOSTIC_NAMES.every((n) => result[n] !== undefined) ? result as Diagnostics : undefined;
}

function checkLos(check: ProfileChecker, value: unknown): LosThresholds | undefined {
  const keys = ["assertDbm", "deassertDbm"] as const;
  const map = check.completeMapping(value, ["los"], keys);
  if (!map) return undefined;
  const [assertDbm, deassertDbm] = keys.map((k) =>
    map[k] === undefined ? undefined : check.quantity(map[k], ["los", k], "rxPowerDbm")
  );
  if (assertDbm === undefined || deassertDbm === undefined) return undefined;
  if (OPTICAL_POWER.toRaw(assertDbm) > OPTICAL_POWER.toRaw(deassertDbm)) {
    check.report(
      ["los", "deassertDbm"],
      `${deassertDbm} dBm is below assertDbm ${assertDbm} dBm: LOS must clear at or above the level where it asserts`,
    );
    return undefined;
  }
  return { assertDbm, deassertDbm };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * The profile to build a module from: profiles loaded by this module are trusted as they are;
 * any other object is validated first (throws ProfileError).
 */
export function checkedProfile(profile: ModuleProfile): ModuleProfile {
  if (trusted.has(profile)) return profile;
  if (!isRecord(profile)) {
    throw new ProfileError("profile", [{ path: "", message: "expected a profile object" }]);
  }
  const { source, ...data } = profile;
  const result = validateProfile(data, { source: typeof source === "string" ? source : undefined });
  if (!result.profile) {
    throw new ProfileError(
      typeof profile.id === "string" ? `profile ${profile.id}` : "profile",
      result.problems,
    );
  }
  return result.profile;
}

/** Per-module overrides, checked like profile fields (same lengths, same character rules). */
export function checkedOverrides(overrides: unknown): ModuleOverrides {
  if (overrides === undefined) return {};
  if (!isRecord(overrides)) {
    throw new TypeError(`options.overrides must be an object like { vendorSn: "X1234" }`);
  }
  const identityFields = profileFields("identity");
  const known = [...identityFields.map((f) => f.name), "dataReadyDelayMs"];
  const checked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!known.includes(key)) {
      throw new TypeError(
        `unknown override "${key}"${didYouMean(key, known)}; expected one of: ${known.join(", ")}`,
      );
    }
    if (key === "dataReadyDelayMs") {
      if (
        typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_DATA_READY_DELAY_MS
      ) {
        throw new RangeError(
          `override dataReadyDelayMs must be a whole number 0..${MAX_DATA_READY_DELAY_MS} ms, got ${
            describe(value)
          }`,
        );
      }
      checked[key] = value;
      continue;
    }
    try {
      checked[key] = normaliseFieldValue(identityFields.find((f) => f.name === key)!, value);
    } catch (error) {
      if (error instanceof FieldValueError) throw new RangeError(`override ${key}: ${error.problem}`);
      throw error;
    }
  }
  return checked as ModuleOverrides;
}

/** Field values for the encoder: the profile's fields by field-map name, then the overrides. */
export function profileFieldValues(profile: ModuleProfile, overrides: ModuleOverrides = {}): FieldValues {
  const values: Record<string, FieldValue> = {};
  for (const spec of SFF8472_FIELDS) {
    if (!spec.profileKey) continue;
    let node: unknown = profile;
    for (const key of spec.profileKey) node = isRecord(node) ? node[key] : undefined;
    if (node !== undefined) values[spec.name] = node as FieldValue;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (key !== "dataReadyDelayMs" && value !== undefined) values[key] = value;
  }
  return values;
}

/** Whether the module answers at A2h: SFF-8472 compliance other than none (Linux's rule). */
export function profileHasA2h(profile: ModuleProfile): boolean {
  return hasA2h(profile.codes);
}

// ---------------------------------------------------------------- YAML files

function yamlLocator(doc: ReturnType<typeof parseDocument>, lines: LineCounter): Locate {
  return (path, at) => {
    let node: unknown = doc.contents;
    let keyNode: Node | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
        keyNode = undefined;
      } else break;
    }
    const target = (at === "key" || !node ? keyNode : node as Node) ?? (doc.contents as Node | null);
    const offset = target?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
}

/** Parses and validates one profile file's text; throws ProfileError listing every problem. */
export function parseProfile(text: string, file: string): ModuleProfile {
  if (text.length > MAX_PROFILE_BYTES) {
    throw new ProfileError(file, [{
      path: "",
      message: `is ${text.length} bytes; a profile is at most ${MAX_PROFILE_BYTES}`,
    }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ProfileError(
      file,
      doc.errors.map((error) => {
        const { line, col } = lines.linePos(error.pos[0]);
        return { path: "", message: `YAML: ${error.message}`, line, column: col };
      }),
    );
  }
  const baseName = file.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/, "");
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ProfileError(file, [{ path: "", message: `YAML: ${(error as Error).message}` }]);
  }
  const result = validateProfile(data, {
    locate: yamlLocator(doc, lines),
    expectedId: baseName,
    source: file,
  });
  if (!result.profile) throw new ProfileError(file, result.problems);
  return result.profile;
}

/** Reads and parses one devices/*.yaml file. */
export async function loadProfileFile(path: string): Promise<ModuleProfile> {
  return parseProfile(await Deno.readTextFile(path), path);
}
