// A module spec as JSON: `{ profile, ...overrides, diagnostics? }`, the shape a PUT .../module body
// and a module in the state file share. Parsing it checks every key and type and refuses with a
// ShapeError naming where (a JSON path such as body.diagnostics.vccV) and what was expected; the API
// answers it with a 422, the store reports the row and ignores it.
import type { ModuleSpec } from "../topology/model.ts";

/** A JSON value of the wrong shape: `path` is where it is, the message what was wrong. */
export class ShapeError extends Error {
  override name = "ShapeError";
  constructor(message: string, readonly path: string) {
    super(message);
  }
}

/** The value as a JSON object; a ShapeError when it is none. */
export function jsonObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ShapeError(`${where} must be a JSON object`, where);
  }
  return value as Record<string, unknown>;
}

/** A ShapeError naming the first key of `body` that is not allowed, and what is. */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw new ShapeError(
        `unknown key "${key}" in ${where}; allowed: ${allowed.join(", ")}`,
        `${where}.${key}`,
      );
    }
  }
}

export const DIAGNOSTIC_KEYS = ["temperatureC", "vccV", "txBiasMa", "txPowerDbm", "rxPowerDbm"] as const;
export type DiagnosticKey = (typeof DIAGNOSTIC_KEYS)[number];
export const OVERRIDE_KEYS = [
  "vendorName",
  "vendorPn",
  "vendorRev",
  "vendorSn",
  "dateCode",
  "vendorOui",
] as const;

/** `{ temperatureC?, vccV?, ... }`: each a finite number. */
export function parseDiagnosticsPatch(
  value: unknown,
  where = "body",
): Partial<Record<DiagnosticKey, number>> {
  const body = jsonObject(value, where);
  onlyKeys(body, DIAGNOSTIC_KEYS, where);
  const patch: Partial<Record<DiagnosticKey, number>> = {};
  for (const [key, v] of Object.entries(body)) {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ShapeError(`${key} must be a finite number`, `${where}.${key}`);
    }
    patch[key as DiagnosticKey] = v;
  }
  return patch;
}

/**
 * `{ profile, ...overrides, diagnostics? }`: a module in the state file, and a PUT .../module body
 * (which may also hold `otherKeys`, for its caller to read).
 */
export function parseModuleSpec(
  value: unknown,
  where = "body",
  otherKeys: readonly string[] = [],
): ModuleSpec {
  const body = jsonObject(value, where);
  onlyKeys(body, ["profile", ...OVERRIDE_KEYS, "diagnostics", ...otherKeys], where);
  if (typeof body.profile !== "string" || !body.profile) {
    throw new ShapeError(`"profile" (a catalog profile id) is required`, `${where}.profile`);
  }
  const overrides: Record<string, string> = {};
  for (const key of OVERRIDE_KEYS) {
    if (body[key] === undefined) continue;
    if (typeof body[key] !== "string") {
      throw new ShapeError(`${key} must be a string`, `${where}.${key}`);
    }
    overrides[key] = body[key] as string;
  }
  const spec: ModuleSpec = { profile: body.profile, overrides };
  if (body.diagnostics !== undefined) {
    spec.diagnostics = parseDiagnosticsPatch(body.diagnostics, `${where}.diagnostics`);
  }
  return spec;
}

/** The inverse of parseModuleSpec. */
export function moduleSpecJson(spec: ModuleSpec): Record<string, unknown> {
  return {
    profile: spec.profile,
    ...spec.overrides,
    ...(spec.diagnostics === undefined ? {} : { diagnostics: spec.diagnostics }),
  };
}
