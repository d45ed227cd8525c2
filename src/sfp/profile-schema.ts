// JSON schema of devices/*.yaml, generated from the field map and the profile rules so editors
// can complete and check profiles. devices/profile.schema.json is this output; a test keeps it
// current. Regenerate with:
//   ./node_modules/.bin/deno run src/sfp/profile-schema.ts > devices/profile.schema.json
import { DIAGNOSTICS, THRESHOLD_LEVELS } from "./diagnostics.ts";
import type { FieldSpec } from "./field-map.ts";
import {
  FORM_FACTORS,
  ID_PATTERN,
  MAX_A2H_PAGES,
  MAX_DATA_READY_DELAY_MS,
  MAX_DESCRIPTION_LENGTH,
  MAX_ID_LENGTH,
  profileFields,
  REQUIRED_CODES,
  REQUIRED_IDENTITY,
  REQUIRED_TOP_LEVEL,
} from "./profile.ts";

type Schema = Record<string, unknown>;

const INTEGER_RANGES = { u8: [0, 0xff], u16: [0, 0xffff], s16: [-0x8000, 0x7fff] } as const;

function fieldSchema(spec: FieldSpec): Schema {
  const description = spec.label;
  switch (spec.encoding) {
    case "u8":
    case "u16":
    case "s16": {
      if (spec.quantity) {
        const quantity = DIAGNOSTICS.find((d) => d.name === spec.quantity)!.quantity;
        return { type: "number", description: `${description} (${quantity.units})`, ...range(quantity) };
      }
      const [min, max] = INTEGER_RANGES[spec.encoding].map((raw) => raw / (spec.countsPerUnit ?? 1));
      const units = spec.units ? ` (${spec.units})` : "";
      const type = spec.countsPerUnit ? "number" : "integer";
      return { type, description: description + units, minimum: min, maximum: max };
    }
    case "f32":
      return { type: "number", description };
    case "ascii":
      return {
        type: "string",
        description: `${description}, at most ${spec.size} printable ASCII characters`,
        maxLength: spec.size,
        pattern: spec.pattern?.source ?? "^[ -~]*$",
      };
    case "hex":
      return {
        type: "string",
        description: `${description}: up to ${spec.size} hex bytes, e.g. "00:90:65"`,
        pattern: `^([0-9a-fA-F]{2}[\\s:-]?){0,${spec.size}}$`,
      };
    case "bitfield": {
      const names = spec.bits.flat().filter((n) => n !== null);
      const list = { type: "array", items: { enum: names }, uniqueItems: true };
      return {
        description: `${description}: the bits that are set`,
        ...(spec.size <= 4 ? { oneOf: [list, mask(spec.size)] } : list),
      };
    }
    case "enum":
      return { description, oneOf: [{ enum: Object.values(spec.values) }, mask(1)] };
    case "checksum":
      return { description, not: {} };
  }
}

function mask(bytes: number): Schema {
  return { type: "integer", minimum: 0, maximum: 2 ** (8 * bytes) - 1 };
}

function range(quantity: { min: number; max: number }): Schema {
  return Number.isFinite(quantity.min)
    ? { minimum: quantity.min, maximum: quantity.max }
    : { maximum: quantity.max };
}

function section(name: string | undefined, required: readonly string[]): Schema {
  const properties = Object.fromEntries(
    profileFields(name).map((spec) => [spec.profileKey![spec.profileKey!.length - 1], fieldSchema(spec)]),
  );
  return { type: "object", additionalProperties: false, required, properties };
}

function perDiagnostic(valueSchema: (quantity: (typeof DIAGNOSTICS)[number]) => Schema): Schema {
  const names = DIAGNOSTICS.map((d) => d.name);
  return {
    type: "object",
    additionalProperties: false,
    required: names,
    properties: Object.fromEntries(DIAGNOSTICS.map((d) => [d.name, valueSchema(d)])),
  };
}

export function profileJsonSchema(): Schema {
  const levelSchema = (d: (typeof DIAGNOSTICS)[number]): Schema => ({
    type: "object",
    description:
      `${d.label} thresholds in ${d.quantity.units}; lowAlarm < lowWarning < highWarning < highAlarm`,
    additionalProperties: false,
    required: [...THRESHOLD_LEVELS],
    properties: Object.fromEntries(
      THRESHOLD_LEVELS.map((l) => [l, { type: "number", ...range(d.quantity) }]),
    ),
  });
  const power = DIAGNOSTICS.find((d) => d.name === "rxPowerDbm")!.quantity;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "sfpemu module profile (devices/<id>.yaml)",
    type: "object",
    additionalProperties: false,
    required: REQUIRED_TOP_LEVEL,
    properties: {
      id: {
        type: "string",
        description: "equals the file name without .yaml",
        pattern: ID_PATTERN.source,
        maxLength: MAX_ID_LENGTH,
      },
      formFactor: { enum: [...FORM_FACTORS] },
      description: { type: "string", maxLength: MAX_DESCRIPTION_LENGTH },
      identity: section("identity", REQUIRED_IDENTITY),
      codes: section("codes", REQUIRED_CODES),
      ...(section(undefined, []).properties as Schema),
      thresholds: perDiagnostic(levelSchema),
      diagnostics: perDiagnostic((d) => ({
        type: "number",
        description: `typical ${d.label} (${d.quantity.units})`,
        ...range(d.quantity),
      })),
      los: {
        type: "object",
        description: "RX_LOS asserts below assertDbm and clears at deassertDbm or above",
        additionalProperties: false,
        required: ["assertDbm", "deassertDbm"],
        properties: {
          assertDbm: { type: "number", ...range(power) },
          deassertDbm: { type: "number", ...range(power) },
        },
      },
      dataReadyDelayMs: { type: "integer", minimum: 0, maximum: MAX_DATA_READY_DELAY_MS },
      a2hPages: { type: "integer", minimum: 1, maximum: MAX_A2H_PAGES },
      source: { type: "string" },
    },
  };
}

if (import.meta.main) console.log(JSON.stringify(profileJsonSchema(), null, 2));
