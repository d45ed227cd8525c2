/**
 * A small vocabulary for describing the fields of a YAML document once, so that the loader's
 * checks (validate.ts), the published JSON schema (`jsonSchemaOf`) and the TypeScript type of the
 * checked value (`Infer`) all come from the same description.
 */

interface Described {
  /** Shown in editors through the JSON schema. */
  description?: string;
}

export interface StringShape<E extends string = string> extends Described {
  type: "string";
  minLength?: number;
  maxLength?: number;
  /** An ECMAScript regular expression (JSON schema `pattern`), matched against the whole value. */
  pattern?: string;
  /** Says in words what `pattern` accepts; it ends every pattern error message. */
  patternHint?: string;
  /** The closed set of values, with `what` naming it in messages ("form factor"). */
  enum?: readonly E[];
  what?: string;
  /** Where a length limit comes from, e.g. `SFF-8472 A0h bytes 20-35`. */
  standard?: string;
  default?: string;
}

export interface IntegerShape extends Described {
  type: "integer";
  minimum: number;
  maximum: number;
  default?: number;
}

export interface NumberShape extends Described {
  type: "number";
  minimum: number;
  maximum: number;
  default?: number;
}

export interface BooleanShape extends Described {
  type: "boolean";
  default?: boolean;
}

export interface NullShape extends Described {
  type: "null";
}

export type Fields = Record<string, Shape>;

export interface ObjectShape<F extends Fields = Fields, R extends keyof F = keyof F> extends Described {
  type: "object";
  fields: F;
  required: readonly R[];
  /** Its name under the JSON schema's `$defs`, for records that appear in more than one place. */
  definition?: string;
}

/** The keys of a `MapShape`: names matching a pattern, or integers in a range (cage numbers). */
export type MapKeys =
  | { type: "name"; what: string; pattern: string; maxLength: number; patternHint: string }
  | { type: "integer"; what: string; minimum: number; maximum: number };

export interface MapShape<K extends MapKeys = MapKeys, V extends Shape = Shape> extends Described {
  type: "map";
  keys: K;
  values: V;
}

/**
 * Items that carry an `id`, written either as a sequence (`- id: olt1`) or as a mapping from id to
 * item (`olt1: {...}`); both read as a list of items with their id filled in.
 */
export interface KeyedListShape<I extends ObjectShape = ObjectShape> extends Described {
  type: "keyedList";
  item: I;
  /** The shape of the id, also used for the keys of the mapping form. */
  id: StringShape;
  what: string;
}

/** One of several shapes, told apart by the YAML node type (null, scalar, mapping, ...). */
export interface OneOfShape<V extends readonly Shape[] = readonly Shape[]> extends Described {
  type: "oneOf";
  variants: V;
}

export type Shape =
  | StringShape
  | IntegerShape
  | NumberShape
  | BooleanShape
  | NullShape
  | ObjectShape
  | MapShape
  | KeyedListShape
  | OneOfShape;

/** The TypeScript type of a value that passed the checks of shape `S`. */
export type Infer<S> = S extends StringShape<infer E> ? E
  : S extends IntegerShape | NumberShape ? number
  : S extends BooleanShape ? boolean
  : S extends NullShape ? null
  // R comes from the `required` array itself: inferring it from an empty one would give all keys.
  : S extends ObjectShape<infer F> ? InferObject<F, S["required"][number]>
  : S extends MapShape<infer K, infer V> ? Map<K extends { type: "integer" } ? number : string, Infer<V>>
  : S extends KeyedListShape<infer I> ? Infer<I>[]
  : S extends OneOfShape<infer V> ? Infer<V[number]>
  : never;

type InferObject<F extends Fields, R extends keyof F> = Simplify<
  & { [K in R]: Infer<F[K]> }
  & { [K in Exclude<keyof F, R>]?: Infer<F[K]> }
>;

type Simplify<T> = { [K in keyof T]: T[K] };

export function text<const E extends string = string>(
  options: Omit<StringShape<E>, "type"> = {},
): StringShape<NoInfer<E>> {
  return { type: "string", ...options };
}

export function integer(
  minimum: number,
  maximum: number,
  options: Described & { default?: number } = {},
): IntegerShape {
  return { type: "integer", minimum, maximum, ...options };
}

export function decimal(minimum: number, maximum: number, options: Described = {}): NumberShape {
  return { type: "number", minimum, maximum, ...options };
}

export function flag(options: Described & { default?: boolean } = {}): BooleanShape {
  return { type: "boolean", ...options };
}

export function nothing(options: Described = {}): NullShape {
  return { type: "null", ...options };
}

export function record<const F extends Fields, const R extends keyof F = never>(
  fields: F,
  options: Described & { required?: readonly R[]; definition?: string } = {},
): ObjectShape<F, NoInfer<R>> {
  const { required = [], ...rest } = options;
  return { type: "object", fields, required, ...rest };
}

export function mapOf<const K extends MapKeys, const V extends Shape>(
  keys: K,
  values: V,
  options: Described = {},
): MapShape<K, V> {
  return { type: "map", keys, values, ...options };
}

export function keyedList<const I extends ObjectShape>(
  what: string,
  id: StringShape,
  item: I,
  options: Described = {},
): KeyedListShape<I> {
  return { type: "keyedList", what, id, item, ...options };
}

export function oneOf<const V extends readonly Shape[]>(variants: V, options: Described = {}): OneOfShape<V> {
  return { type: "oneOf", variants, ...options };
}

type JsonSchema = Record<string, unknown>;

/**
 * The JSON schema (draft 2020-12) of a shape, for editors. Records with a `definition` name are
 * written once under `$defs` and referred to, so a board is not spelt out in every place it fits.
 */
export function jsonSchemaOf(shape: Shape, header: JsonSchema = {}): JsonSchema {
  const definitions: JsonSchema = {};
  const schema = { ...header, ...toJsonSchema(shape, definitions) };
  return Object.keys(definitions).length === 0 ? schema : { ...schema, $defs: definitions };
}

function toJsonSchema(shape: Shape, definitions: JsonSchema): JsonSchema {
  const described = (schema: JsonSchema): JsonSchema =>
    shape.description === undefined ? schema : { description: shape.description, ...schema };
  switch (shape.type) {
    case "string":
      return described(withoutUndefined({
        type: "string",
        enum: shape.enum,
        minLength: shape.minLength,
        maxLength: shape.maxLength,
        pattern: shape.pattern,
        default: shape.default,
      }));
    case "integer":
    case "number":
      return described(withoutUndefined({
        type: shape.type,
        minimum: shape.minimum,
        maximum: shape.maximum,
        default: shape.default,
      }));
    case "boolean":
      return described(withoutUndefined({ type: "boolean", default: shape.default }));
    case "null":
      return described({ type: "null" });
    case "object":
      return objectSchema(shape, definitions);
    case "map":
      return described({
        type: "object",
        propertyNames: shape.keys.type === "name"
          ? { pattern: shape.keys.pattern, maxLength: shape.keys.maxLength }
          : { pattern: "^[1-9][0-9]*$" },
        additionalProperties: toJsonSchema(shape.values, definitions),
      });
    case "keyedList": {
      // The item's schema leaves `id` optional, as in the mapping form; the list form requires it.
      const item = objectSchema(shape.item, definitions, "id");
      return described({
        oneOf: [
          { type: "array", items: { ...item, type: "object", required: shape.item.required } },
          {
            type: "object",
            propertyNames: withoutUndefined({ pattern: shape.id.pattern, maxLength: shape.id.maxLength }),
            additionalProperties: item,
          },
        ],
      });
    }
    case "oneOf":
      return described({ oneOf: shape.variants.map((variant) => toJsonSchema(variant, definitions)) });
  }
}

function objectSchema(shape: ObjectShape, definitions: JsonSchema, optionalKey?: string): JsonSchema {
  const required = shape.required.filter((key) => key !== optionalKey);
  const properties = Object.entries(shape.fields).map((
    [key, field],
  ) => [key, toJsonSchema(field, definitions)]);
  const schema = withoutUndefined({
    description: shape.description,
    type: "object",
    properties: Object.fromEntries(properties),
    required: required.length > 0 ? required : undefined,
    additionalProperties: false,
  });
  if (shape.definition === undefined) return schema;
  definitions[shape.definition] = schema;
  return { $ref: `#/$defs/${shape.definition}` };
}

function withoutUndefined(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(Object.entries(schema).filter(([, value]) => value !== undefined));
}
