/**
 * The one description of a scenario file, in the topology's shape vocabulary: the loader checks
 * against it, `schema/scenario.schema.json` is generated from it
 * (`deno run src/scenario/schema.ts > schema/scenario.schema.json`), and the checked value's type
 * is inferred from it. What a shape cannot say (one action per step, `at` in order, a fault's
 * parameters) is checked in load.ts.
 */
import { DIAGNOSTIC_KEYS, OVERRIDE_KEYS } from "../lab/module-spec.ts";
import { FAULT_KINDS } from "../sfp/faults.ts";
import {
  decimal,
  flag,
  type Infer,
  jsonSchemaOf,
  keyedList,
  mapOf,
  oneOf,
  record,
  type Shape,
  text,
} from "../topology/shape.ts";

/** `500ms`, `2s`, `1.5m`, or 0; the pattern the loader and the JSON schema share. */
export const DURATION_PATTERN = "^(0|[0-9]+(\\.[0-9]+)?(ms|s|m))$";

const duration = (description: string) =>
  text({
    description,
    pattern: DURATION_PATTERN,
    patternHint: "a duration is a number with ms, s or m, like 500ms, 2s or 1.5m",
  });

const cage = text({
  description: "The cage, as OLT/BOARD/CAGE (e.g. olt1/lt1/3)",
  pattern: "^[^/\\s]+/[^/\\s]+/[1-9][0-9]*$",
  patternHint: "a cage is OLT/BOARD/CAGE, like olt1/lt1/3",
});

const faultKind = text({
  description: "A fault kind (sfpemu fault --list)",
  enum: FAULT_KINDS,
  what: "fault kind",
});

const name = (what: string) => ({
  type: "name" as const,
  what,
  pattern: "^[A-Za-z][A-Za-z0-9_-]*$",
  maxLength: 64,
  patternHint: "use letters, digits, '_' and '-', starting with a letter",
});

/** A fault parameter: a number, true/false, text, or an object of numbers (noise's band). */
const paramValue = oneOf([
  decimal(-1e9, 1e9),
  flag(),
  text(),
  mapOf(name("diagnostic"), decimal(-1e9, 1e9)),
]);

const faultParams = mapOf(name("parameter"), paramValue, {
  description: "The fault's parameters (sfpemu fault --list); checked against the kind's",
});

const diagnostics = record(
  Object.fromEntries(DIAGNOSTIC_KEYS.map((key) => [key, decimal(-1e9, 1e9)])) as Record<
    (typeof DIAGNOSTIC_KEYS)[number],
    Shape
  >,
  { description: "Live readings in the units their names say" },
);

const pin = oneOf([flag(), text({ enum: ["auto"], what: "pin setting" })], {
  description: "true (forced high), false (forced low) or auto (the module decides)",
});

const eventMatch = (description: string) =>
  record({
    event: text({
      description: "The event type, e.g. module-removed, signal-changed, module-flag, fault-set",
    }),
    path: text({ description: "Where it happens: olt, olt/board or olt/board/cage; any path when left out" }),
    within: duration("How long to wait for it, from when the step starts"),
    fields: mapOf(name("event field"), oneOf([decimal(-1e9, 1e9), flag(), text()]), {
      description: "Fields the event must have, e.g. { signal: rx-los, level: 1 }",
    }),
  }, { required: ["event", "within"], description });

export const ACTIONS = ["plug", "unplug", "set", "fault", "clear", "wait-for", "expect"] as const;
export type Action = (typeof ACTIONS)[number];

const stepShape = record({
  at: duration(
    "When the step starts, from the start of the scenario; without it, right after the step before",
  ),
  plug: record({
    cage,
    profile: text({ description: "A catalog profile (sfpemu catalog)", minLength: 1 }),
    ...Object.fromEntries(
      OVERRIDE_KEYS.map((key) => [key, text({ description: `Identity override: ${key}` })]),
    ),
    diagnostics,
    faults: mapOf(name("fault kind"), faultParams, {
      description: "Faults in force from the moment of insertion",
    }),
  }, { required: ["cage", "profile"], description: "Plug a module into an empty cage" }),
  unplug: record({ cage }, { required: ["cage"], description: "Pull the module out of a cage" }),
  set: record({
    cage,
    ...diagnostics.fields,
    rxLos: pin,
    txFault: pin,
  }, { required: ["cage"], description: "Change a module's readings or force its RX_LOS / TX_FAULT pins" }),
  fault: record({ cage, kind: faultKind, params: faultParams }, {
    required: ["cage", "kind"],
    description: "Put a fault into a module (replacing one of its kind)",
  }),
  clear: record({ cage, kind: faultKind }, { required: ["cage", "kind"], description: "Take a fault out" }),
  "wait-for": eventMatch("Wait until an event happens (or the time is up, and go on)"),
  expect: eventMatch("Wait until an event happens; the scenario fails if it does not come in time"),
}, { description: "One step: `at` (optional) and exactly one action" });

// A keyed list whose items carry no id reads only as a list: `steps` is one (load.ts refuses the
// mapping form, and the JSON schema below keeps only the list form).
export const scenarioShape = record({
  name: text({ description: "What the scenario shows", minLength: 1, maxLength: 200 }),
  description: text({ description: "Longer notes" }),
  steps: keyedList("step", text(), stepShape, { description: "The steps, run in order" }),
}, {
  required: ["name", "steps"],
  description: "An sfpemu scenario: timed steps against a running emulator",
});

export type ScenarioDocument = Infer<typeof scenarioShape>;
export type StepDocument = ScenarioDocument["steps"][number];

/** The published JSON schema, exactly as `schema/scenario.schema.json` holds it. */
export function scenarioJsonSchema(): string {
  const schema = jsonSchemaOf(scenarioShape, {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "sfpemu scenario",
  }) as { properties: Record<string, Record<string, unknown>> };
  const steps = schema.properties.steps as { oneOf: Record<string, unknown>[]; description: string };
  schema.properties.steps = { description: steps.description, ...steps.oneOf[0], minItems: 1 };
  return JSON.stringify(schema, null, 2) + "\n";
}

if (import.meta.main) {
  console.log(scenarioJsonSchema().trimEnd());
}
