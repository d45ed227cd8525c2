// Validation of request bodies at the edge: an API caller is untrusted, so every body is checked
// for shape and type here and refused with a precise error (which key, what was expected): a
// BodyError, or a ShapeError from the parsing the API shares with the store (src/lab/module-spec.ts).
import type { Context } from "hono";
import { BOARD_TEMPERATURE_RANGE_C, type FaultSettings } from "../lab/lab.ts";
import { jsonObject, onlyKeys, parseModuleSpec } from "../lab/module-spec.ts";
import { checkFault, checkFaultKind, type Fault, FaultError, type FaultKind } from "../sfp/faults.ts";
import type { ModuleSpec } from "../topology/model.ts";

// Where the CLI and the scenario schema have always found them.
export { DIAGNOSTIC_KEYS, OVERRIDE_KEYS } from "../lab/module-spec.ts";

export class BodyError extends Error {
  override name = "BodyError";
  constructor(
    readonly status: 400 | 422,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

/** Bodies larger than this are refused before parsing (the largest legal one is a few hundred bytes). */
const MAX_BODY_BYTES = 64 * 1024;

export async function readJson(c: Context): Promise<unknown> {
  return parseBody(await c.req.text(), c.req.path);
}

/** A body that may be left out: an empty one reads as {}. */
export async function readOptionalJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  return text.trim() ? parseBody(text, c.req.path) : {};
}

function parseBody(text: string, path: string): unknown {
  if (text.length > MAX_BODY_BYTES) {
    throw new BodyError(400, "bad_request", `body is larger than ${MAX_BODY_BYTES} bytes`, path);
  }
  if (!text.trim()) throw new BodyError(400, "bad_request", "a JSON body is required", path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BodyError(400, "bad_request", `body is not JSON: ${(error as Error).message}`, path);
  }
}

/** A PUT .../module body: the module, and the faults it has from the moment it is plugged. */
export function parsePlugRequest(value: unknown): { spec: ModuleSpec; faults: FaultSettings } {
  const spec = parseModuleSpec(value, "body", ["faults"]);
  const faults = (value as Record<string, unknown>).faults;
  return { spec, faults: faults === undefined ? {} : parseFaultSettings(faults, "body.faults") };
}

/** `{ kind: params, ... }`: every kind known and every fault's parameters checked. */
export function parseFaultSettings(value: unknown, where: string): FaultSettings {
  const body = jsonObject(value, where);
  const settings: FaultSettings = {};
  for (const [kind, params] of Object.entries(body)) {
    const fault = faultAt(`${where}.${kind}`, () => checkFault(kind, params));
    settings[fault.kind] = fault.params;
  }
  return settings;
}

/** A PUT .../faults/{kind} body (the kind already known): the fault with its defaults filled in. */
export function parseFault(kind: FaultKind, value: unknown, where = "body"): Fault {
  return faultAt(where, () => checkFault(kind, value));
}

/** Turns a FaultError into a 422 whose path ends at the parameter it names. */
function faultAt<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof FaultError)) throw error;
    const path = error.parameter === undefined ? where : `${where}.${error.parameter}`;
    throw new BodyError(422, "invalid", error.message, path);
  }
}

/** A fault kind named in a URL, or why it is none (the caller answers 404 with it). */
export function knownFaultKind(text: string): { kind: FaultKind } | { problem: string } {
  try {
    return { kind: checkFaultKind(text) };
  } catch (error) {
    if (!(error instanceof FaultError)) throw error;
    return { problem: error.message };
  }
}

export function parseSignalsPatch(value: unknown): Partial<Record<"rxLos" | "txFault", boolean | null>> {
  const body = jsonObject(value, "body");
  onlyKeys(body, ["rxLos", "txFault"], "body");
  for (const [key, v] of Object.entries(body)) {
    if (v !== true && v !== false && v !== null) {
      throw new BodyError(422, "invalid", `${key} must be true, false or null (automatic)`, `body.${key}`);
    }
  }
  return body as Partial<Record<"rxLos" | "txFault", boolean | null>>;
}

export function parseBoardInsert(value: unknown): { kind?: string } {
  const body = jsonObject(value, "body");
  onlyKeys(body, ["kind"], "body");
  if (body.kind !== undefined && typeof body.kind !== "string") {
    throw new BodyError(422, "invalid", "kind must be a string", "body.kind");
  }
  return { kind: body.kind as string | undefined };
}

/** PATCH .../boards/{board}: `{ temperatureC }`, what the board's temperature sensor reads. */
export function parseBoardPatch(value: unknown): { temperatureC: number } {
  const body = jsonObject(value, "body");
  onlyKeys(body, ["temperatureC"], "body");
  const { temperatureC } = body;
  if (temperatureC === undefined) {
    throw new BodyError(422, "invalid", `"temperatureC" (°C) is required`, "body.temperatureC");
  }
  const { min, max } = BOARD_TEMPERATURE_RANGE_C;
  if (typeof temperatureC !== "number" || !(temperatureC >= min && temperatureC <= max)) {
    throw new BodyError(
      422,
      "invalid",
      `temperatureC must be a number from ${min} to ${max} (what an LM75 measures), not ${
        JSON.stringify(temperatureC)
      }`,
      "body.temperatureC",
    );
  }
  return { temperatureC };
}
