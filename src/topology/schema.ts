/**
 * The one description of the topology file: every key, its type, its limits and its built-in
 * default. The loader checks against it, `schema/topology.schema.json` is generated from it
 * (`deno run src/topology/schema.ts > schema/topology.schema.json`), and the checked value's
 * TypeScript type is inferred from it.
 */
import {
  decimal,
  flag,
  type Infer,
  integer,
  jsonSchemaOf,
  keyedList,
  mapOf,
  nothing,
  oneOf,
  record,
  text,
} from "./shape.ts";

/** What a topology falls back to when neither the board, its kind nor `defaults` says otherwise. */
export const builtinDefaults = {
  formFactor: "sfp",
  idEeprom: false,
  temperatureSensor: false,
  // SFP MSA (INF-8074i) timing: t_init, from power-up or insertion to a ready module, is at most 300 ms.
  dataReadyDelayMs: 300,
} as const;

/** The most cages one board may have: 8 PCA9548 muxes of 8 channels, already a large line card. */
export const maxCagesPerBoard = 64;

export const formFactors = ["sfp", "sfp+", "sfp28"] as const;

const idPattern = "^[a-z0-9][a-z0-9._-]*$";
const idHint = "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit " +
  "(ids become part of socket file names and API paths)";

function id(description: string) {
  return text({
    description,
    minLength: 1,
    maxLength: 32,
    pattern: idPattern,
    patternHint: idHint,
  });
}

const path = (description: string) =>
  text({
    description,
    minLength: 1,
    maxLength: 4096,
    pattern: "^[^\\u0000]*$",
    patternHint: "a file path cannot contain a NUL character",
  });

const formFactor = (description: string) =>
  text({ description, enum: formFactors, what: "form factor", default: builtinDefaults.formFactor });

/** A fixed-width ASCII field of the module's A0h page; longer text would not fit its bytes. */
const asciiField = (maxLength: number, standard: string, description: string) =>
  text({
    description: `${description} (${standard}, ASCII, at most ${maxLength} characters)`,
    maxLength,
    standard,
    pattern: "^[ -~]*$",
    patternHint: "only printable ASCII characters fit in SFF-8472 identity fields",
  });

const cageNumber = { type: "integer", what: "cage", minimum: 1, maximum: maxCagesPerBoard } as const;

const boardIdentity = record({
  productName: text({ description: "Product name stored in the board ID EEPROM", maxLength: 64 }),
  partNumber: text({ description: "Part number stored in the board ID EEPROM", maxLength: 64 }),
  serialNumber: text({ description: "Serial number stored in the board ID EEPROM", maxLength: 64 }),
}, { description: "The board ID EEPROM, with the identity it holds" });

const boardTemperature = record({
  temperatureC: decimal(-40, 125, { description: "Initial reading of the board temperature sensor, °C" }),
}, { description: "The board temperature sensor, with its initial reading" });

/** Fields a board takes from its kind, and a kind from `defaults`. */
const inheritedBoardFields = {
  formFactor: formFactor("Form factor of the board's cages"),
  idEeprom: oneOf([flag(), boardIdentity], {
    description: `Whether the board has its own ID EEPROM (default ${builtinDefaults.idEeprom})`,
  }),
  temperatureSensor: oneOf([flag(), boardTemperature], {
    description: `Whether the board has a temperature sensor (default ${builtinDefaults.temperatureSensor})`,
  }),
  dataReadyDelayMs: integer(0, 60_000, {
    description: "Milliseconds from module insertion to Data_Ready (SFF-8472 A2h byte 110 bit 0)",
    default: builtinDefaults.dataReadyDelayMs,
  }),
};

const cageCount = integer(1, maxCagesPerBoard, { description: "Number of cages on the board" });

const kindShape = record({
  description: text({ description: "What this kind of board is", maxLength: 200 }),
  cages: cageCount,
  ...inheritedBoardFields,
  cageFormFactors: mapOf(cageNumber, formFactor("Form factor of this cage"), {
    description: "Cages whose form factor differs from the board's, e.g. SFP+ uplinks on a PON board",
  }),
}, { description: "A reusable kind of board", definition: "kind" });

const diagnosticsShape = record({
  temperatureC: decimal(-128, 127.996, { description: "Module temperature, °C (SFF-8472 A2h bytes 96-97)" }),
  vccV: decimal(0, 6.5535, { description: "Supply voltage, V (A2h bytes 98-99)" }),
  txBiasMa: decimal(0, 131.07, { description: "Laser bias current, mA (A2h bytes 100-101)" }),
  txPowerDbm: decimal(-40, 8.16, { description: "Transmit power, dBm (A2h bytes 102-103)" }),
  rxPowerDbm: decimal(-40, 8.16, { description: "Receive power, dBm (A2h bytes 104-105)" }),
}, { description: "Initial diagnostics readings instead of the profile's typical values" });

const profileId = text({
  description: "A module profile of the catalog (devices/<profile>.yaml)",
  minLength: 1,
  maxLength: 64,
});

const moduleShape = record({
  profile: profileId,
  vendorName: asciiField(16, "SFF-8472 A0h bytes 20-35", "Vendor name"),
  vendorPn: asciiField(16, "SFF-8472 A0h bytes 40-55", "Vendor part number"),
  vendorRev: asciiField(4, "SFF-8472 A0h bytes 56-59", "Vendor revision"),
  vendorSn: asciiField(16, "SFF-8472 A0h bytes 68-83", "Vendor serial number"),
  dateCode: text({
    description: "Manufacturing date YYMMDD plus an optional 2-character lot code (SFF-8472 A0h bytes 84-91)",
    pattern: "^[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[ -~]{0,2}$",
    patternHint: "write 6 digits YYMMDD with a valid month and day, optionally followed by 2 lot-code " +
      "characters, e.g. 240115 or 240115AB",
  }),
  vendorOui: text({
    description: "IEEE company id of the vendor (SFF-8472 A0h bytes 37-39), e.g. 00:90:65",
    pattern: "^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){2}$",
    patternHint: "write 3 hex bytes, e.g. 00:90:65",
  }),
  diagnostics: diagnosticsShape,
}, {
  required: ["profile"],
  description: "A module with per-unit identity or readings",
  definition: "module",
});

const boardShape = record({
  id: id("Board id, unique within its OLT"),
  slot: integer(0, 255, { description: "Chassis slot, unique within its OLT" }),
  kind: id("The board's kind (a key of kinds); defaults.kind when absent"),
  description: text({ description: "What this board is", maxLength: 200 }),
  ...inheritedBoardFields,
  sockets: record({
    i2c: path("vhost-user socket of the board's virtio-i2c device"),
    gpio: path("vhost-user socket of the board's virtio-gpio device"),
  }, { description: "Socket paths instead of <socketDir>/<olt>-<board>-i2c.sock and -gpio.sock" }),
  cages: mapOf(cageNumber, oneOf([nothing({ description: "An empty cage" }), profileId, moduleShape]), {
    description: "The module in each cage at start, by cage number; cages not listed are empty",
  }),
}, { required: ["id", "slot"], description: "A board: one VM with its cages", definition: "board" });

const oltShape = record({
  id: id("OLT id, unique in the topology"),
  description: text({ description: "What this OLT is", maxLength: 200 }),
  boards: keyedList("board", id("Board id"), boardShape, {
    description: "The OLT's boards, a list or a map by id",
  }),
}, { required: ["id", "boards"], description: "An OLT chassis", definition: "olt" });

export const topologyShape = record({
  name: id("Name of the topology"),
  description: text({ description: "What this topology is for", maxLength: 500 }),
  defaults: record({
    stateDir: path("Where the emulator keeps its state; relative to this file"),
    socketDir: path("Directory of the default socket paths; relative to this file"),
    kind: id("Kind of the boards that name none"),
    cages: cageCount,
    ...inheritedBoardFields,
  }, { description: "Values for every kind and board that does not set its own" }),
  kinds: mapOf(
    { type: "name", what: "kind", pattern: idPattern, maxLength: 32, patternHint: idHint },
    kindShape,
    { description: "Reusable kinds of board, by name" },
  ),
  olts: keyedList("OLT", id("OLT id"), oltShape, { description: "The OLTs, a list or a map by id" }),
}, {
  required: ["name", "olts"],
  description: "An sfpemu topology: OLTs, their boards, and the modules in their cages",
});

/** A topology file after the shape checks, before defaults and kinds are applied. */
export type TopologyDocument = Infer<typeof topologyShape>;
export type BoardDocument = Infer<typeof boardShape>;
export type KindDocument = Infer<typeof kindShape>;
export type ModuleDocument = Infer<typeof moduleShape>;

/** The published JSON schema, exactly as `schema/topology.schema.json` holds it. */
export function topologyJsonSchema(): string {
  const schema = jsonSchemaOf(topologyShape, {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "sfpemu topology",
  });
  return JSON.stringify(schema, null, 2) + "\n";
}

if (import.meta.main) {
  console.log(topologyJsonSchema().trimEnd());
}
