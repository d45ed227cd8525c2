// Encoding and decoding SFF-8472 images through the field map: values by field name in, 256-byte
// A0h and A2h images out, and back. Every value is checked here, so a bad value from a profile or
// an API caller becomes a FieldValueError naming the field, never a corrupt image.
import { quantityOf } from "./diagnostics.ts";
import {
  A2_PAGE_START,
  type AsciiField,
  type BitField,
  bitPosition,
  type Condition,
  DEVICE_SIZE,
  type EnumField,
  field,
  type FieldName,
  fieldPlace,
  type FieldSpec,
  type HexField,
  type NumberField,
  SFF8472_FIELDS,
} from "./field-map.ts";
import { writeChecksums } from "./checksum.ts";
import { didYouMean } from "./spelling.ts";

/** A decoded field: a number (in the field's units), a string (ascii, hex, enum name) or bit names. */
export type FieldValue = number | string | readonly string[];
export type FieldValues = { readonly [name: string]: FieldValue };
/** Every field of an image by name; A2h fields only when the image has an A2h. */
export type DecodedFields = { readonly [name: string]: FieldValue };

export interface EepromImage {
  readonly a0: Uint8Array;
  readonly a2: Uint8Array;
}

/** A value that does not fit its field: what was wrong and where the field lives. */
export class FieldValueError extends Error {
  override name = "FieldValueError";
  constructor(readonly field: FieldSpec, readonly problem: string) {
    super(`${field.name} (${fieldPlace(field)}): ${problem}`);
  }
}

const INTEGER_RANGES = { u8: [0, 0xff], u16: [0, 0xffff], s16: [-0x8000, 0x7fff] } as const;

function describe(input: unknown): string {
  if (typeof input === "string") return `string ${JSON.stringify(input)}`;
  if (Array.isArray(input)) return "a list";
  if (input === null || input === undefined) return String(input);
  return `${typeof input} ${typeof input === "object" ? "" : String(input)}`.trim();
}

// ---------------------------------------------------------------- bitfield names

/** Bits the field map leaves unnamed decode as `reserved<byte>.<bit>` (byte within the field). */
function unnamedBit(row: number, bitIndex: number): string {
  return `reserved${row}.${7 - bitIndex}`;
}

function bitNames(spec: BitField): string[] {
  return spec.bits.flatMap((row, r) => row.map((name, i) => name ?? unnamedBit(r, i)));
}

function knownBitNames(spec: BitField): string[] {
  return spec.bits.flat().filter((n): n is string => n !== null);
}

// ---------------------------------------------------------------- normalising values

/**
 * Checks what a profile or caller gives for a field and returns it in canonical form (enum codes as
 * names when known, bitfields as bit names in bit order, hex as "aa:bb:cc"); throws FieldValueError.
 */
export function normaliseFieldValue(spec: FieldSpec, input: unknown): FieldValue {
  const fail = (problem: string): never => {
    throw new FieldValueError(spec, problem);
  };
  switch (spec.encoding) {
    case "u8":
    case "u16":
    case "s16":
      return normaliseNumber(spec, input, fail);
    case "f32":
      if (typeof input !== "number" || !Number.isFinite(input)) {
        fail(`expected a number, got ${describe(input)}`);
      }
      return input as number;
    case "ascii":
      return normaliseAscii(spec, input, fail);
    case "hex":
      return normaliseHex(spec, input, fail);
    case "bitfield":
      return normaliseBits(spec, input, fail);
    case "enum":
      return normaliseEnum(spec, input, fail);
    case "checksum":
      return fail("is computed by the encoder and cannot be set");
  }
}

function normaliseNumber(spec: NumberField, input: unknown, fail: (p: string) => never): number {
  if (typeof input !== "number" || Number.isNaN(input)) {
    return fail(`expected a number, got ${describe(input)}`);
  }
  const [rawMin, rawMax] = INTEGER_RANGES[spec.encoding];
  if (spec.quantity) {
    const quantity = quantityOf(spec.quantity);
    if (!(input >= quantity.min && input <= quantity.max)) {
      fail(
        `${input} ${quantity.units} is out of range: the field holds ${quantity.min}..${quantity.max} ${quantity.units}`,
      );
    }
    return input;
  }
  const units = spec.units ? ` ${spec.units}` : "";
  if (spec.countsPerUnit === undefined && !Number.isInteger(input)) {
    fail(`expected a whole number${units ? ` of${units}` : ""}, got ${input}`);
  }
  const raw = Math.round(input * (spec.countsPerUnit ?? 1));
  if (raw < rawMin || raw > rawMax) {
    const cpu = spec.countsPerUnit ?? 1;
    fail(`${input}${units} is out of range: the field holds ${rawMin / cpu}..${rawMax / cpu}${units}`);
  }
  return input;
}

function normaliseAscii(spec: AsciiField, input: unknown, fail: (p: string) => never): string {
  if (typeof input !== "string") {
    const hint = typeof input === "number" ? ` (quote it in YAML: "${input}")` : "";
    return fail(`expected a string, got ${describe(input)}${hint}`);
  }
  if (input.length > spec.size) {
    fail(`${JSON.stringify(input)} is ${input.length} characters; the field holds at most ${spec.size}`);
  }
  if (!/^[ -~]*$/.test(input)) fail(`${JSON.stringify(input)} has characters outside printable ASCII`);
  // Trailing spaces are the padding, so they are not part of the value.
  const value = input.trimEnd();
  if (spec.pattern && !spec.pattern.test(value)) {
    fail(`${JSON.stringify(input)} is not ${spec.patternHint ?? `of the form ${spec.pattern}`}`);
  }
  return value;
}

function normaliseHex(spec: HexField, input: unknown, fail: (p: string) => never): string {
  if (typeof input !== "string") {
    return fail(`expected a string of hex bytes like "00:90:65", got ${describe(input)}`);
  }
  const digits = input.replace(/[\s:-]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) fail(`${JSON.stringify(input)} is not hex bytes like "00:90:65"`);
  const bytes = digits.length / 2;
  if (bytes > spec.size) fail(`${bytes} bytes given; the field holds at most ${spec.size}`);
  const padded = digits.toLowerCase().padEnd(spec.size * 2, "0");
  return padded.match(/../g)!.join(":");
}

function normaliseBits(spec: BitField, input: unknown, fail: (p: string) => never): string[] {
  const all = bitNames(spec);
  if (typeof input === "number") {
    if (spec.size > 4 || !Number.isInteger(input) || input < 0 || input >= 2 ** (8 * spec.size)) {
      fail(`${input} is not a ${spec.size}-byte bit mask; list the bits by name instead`);
    }
    // Bit n of the number is bit n of the big-endian field, the way Linux numbers options.
    return all.filter((_, i) => (input & (2 ** (all.length - 1 - i))) !== 0);
  }
  if (!Array.isArray(input)) return fail(`expected a list of bit names, got ${describe(input)}`);
  const chosen = new Set<string>();
  for (const name of input) {
    if (typeof name !== "string") fail(`expected bit names, got ${describe(name)} in the list`);
    if (!all.includes(name)) {
      fail(
        `unknown bit ${JSON.stringify(name)}${didYouMean(name, knownBitNames(spec))}; known bits: ${
          knownBitNames(spec).join(", ")
        }`,
      );
    }
    if (chosen.has(name)) fail(`bit ${JSON.stringify(name)} is listed twice`);
    chosen.add(name);
  }
  return all.filter((n) => chosen.has(n));
}

function normaliseEnum(spec: EnumField, input: unknown, fail: (p: string) => never): string | number {
  const names = Object.values(spec.values);
  if (typeof input === "number") {
    if (!Number.isInteger(input) || input < 0 || input > 0xff) {
      fail(`${input} is out of range: codes are 0..255`);
    }
    return spec.values[input] ?? input;
  }
  if (typeof input !== "string") return fail(`expected a name or a code 0..255, got ${describe(input)}`);
  if (!names.includes(input)) {
    fail(
      `unknown value ${JSON.stringify(input)}${didYouMean(input, names)}; known values: ${
        names.join(", ")
      } (or a code 0..255)`,
    );
  }
  return input;
}

// ---------------------------------------------------------------- raw access

export function readInteger(image: Uint8Array, spec: NumberField): number {
  const o = spec.offset;
  if (spec.encoding === "u8") return image[o];
  const word = (image[o] << 8) | image[o + 1];
  return spec.encoding === "s16" && word >= 0x8000 ? word - 0x10000 : word;
}

/** Stores a raw integer (already in range) big-endian, as SFF-8472 stores every word. */
export function writeInteger(image: Uint8Array, spec: NumberField, raw: number): void {
  const o = spec.offset;
  if (spec.encoding === "u8") {
    image[o] = raw;
    return;
  }
  image[o] = (raw >> 8) & 0xff;
  image[o + 1] = raw & 0xff;
}

export function readBit(image: Uint8Array, spec: BitField, bitName: string): boolean {
  const place = bitPosition(spec, bitName)!;
  return (image[place.offset] & place.mask) !== 0;
}

export function writeBit(image: Uint8Array, spec: BitField, bitName: string, on: boolean): void {
  const place = bitPosition(spec, bitName);
  if (!place) throw new Error(`${spec.name} has no bit named "${bitName}"`);
  image[place.offset] = on ? image[place.offset] | place.mask : image[place.offset] & ~place.mask;
}

/** A typed field by name, checked to have the encoding the caller relies on. */
export function numberField(name: FieldName): NumberField {
  const spec = field(name);
  if (spec.encoding !== "u8" && spec.encoding !== "u16" && spec.encoding !== "s16") {
    throw new Error(`${name} is not a number field`);
  }
  return spec;
}

export function bitField(name: FieldName): BitField {
  const spec = field(name);
  if (spec.encoding !== "bitfield") throw new Error(`${name} is not a bitfield`);
  return spec;
}

// ---------------------------------------------------------------- one field

/** Raw count for a number field's value (quantities through diagnostics.ts, dBm included). */
function rawOf(spec: NumberField, value: number): number {
  if (spec.quantity) return quantityOf(spec.quantity).toRaw(value);
  return Math.round(value * (spec.countsPerUnit ?? 1));
}

/** Encodes a value into its field of a 256-byte device image (checked first). */
export function writeField(image: Uint8Array, spec: FieldSpec, input: unknown): void {
  const value = normaliseFieldValue(spec, input);
  const o = spec.offset;
  switch (spec.encoding) {
    case "u8":
    case "u16":
    case "s16":
      writeInteger(image, spec, rawOf(spec, value as number));
      return;
    case "f32":
      new DataView(image.buffer, image.byteOffset).setFloat32(o, value as number);
      return;
    case "ascii":
      // SFF-8472: ASCII fields are padded with spaces.
      image.set(new TextEncoder().encode((value as string).padEnd(spec.size, " ")), o);
      return;
    case "hex":
      (value as string).split(":").forEach((byte, i) => (image[o + i] = parseInt(byte, 16)));
      return;
    case "bitfield":
      image.fill(0, o, o + spec.size);
      for (const name of value as string[]) {
        const [row, bit] = name.startsWith("reserved") ? name.slice(8).split(".").map(Number) : [-1, -1];
        if (row >= 0) image[o + row] |= 1 << bit;
        else writeBit(image, spec, name, true);
      }
      return;
    case "enum": {
      const code = typeof value === "number"
        ? value
        : Number(Object.entries(spec.values).find(([, name]) => name === value)![0]);
      image[o] = code;
      return;
    }
  }
}

/** Decodes one field of a 256-byte device image into its value. */
export function readField(image: Uint8Array, spec: FieldSpec): FieldValue {
  const o = spec.offset;
  const bytes = image.subarray(o, o + spec.size);
  switch (spec.encoding) {
    case "u8":
    case "u16":
    case "s16": {
      const raw = readInteger(image, spec);
      if (spec.quantity) return quantityOf(spec.quantity).fromRaw(raw);
      return spec.countsPerUnit ? raw / spec.countsPerUnit : raw;
    }
    case "f32":
      return new DataView(image.buffer, image.byteOffset).getFloat32(o);
    case "ascii":
      // Linux tolerates NUL padding as well as spaces; neither is part of the value.
      return String.fromCharCode(...bytes).replace(/[ \0]+$/, "");
    case "hex":
      return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
    case "bitfield":
      return spec.bits.flatMap((row, r) =>
        row.flatMap((name, i) => (bytes[r] & (0x80 >> i)) ? [name ?? unnamedBit(r, i)] : [])
      );
    case "enum":
      return spec.values[image[o]] ?? image[o];
    case "checksum":
      return image[o];
  }
}

// ---------------------------------------------------------------- conditions

export function conditionHolds(condition: Condition, values: FieldValues): boolean {
  const value = values[condition.field];
  if ("anyBit" in condition) return Array.isArray(value) && condition.anyBit.some((b) => value.includes(b));
  if ("noBit" in condition) return !(Array.isArray(value) && condition.noBit.some((b) => value.includes(b)));
  if ("equals" in condition) return value === condition.equals;
  return value !== condition.notEquals;
}

/** "transceiverCodes has active cable or passive cable", for messages. */
export function describeCondition(condition: Condition): string {
  if ("anyBit" in condition) return `${condition.field} includes ${condition.anyBit.join(" or ")}`;
  if ("noBit" in condition) return `${condition.field} includes neither ${condition.noBit.join(" nor ")}`;
  if ("equals" in condition) return `${condition.field} is ${condition.equals}`;
  return `${condition.field} is not ${condition.notEquals}`;
}

// ---------------------------------------------------------------- whole images

function defaultValue(spec: FieldSpec): FieldValue {
  switch (spec.encoding) {
    case "u8":
    case "u16":
    case "s16":
    case "f32":
      return spec.default ?? 0;
    case "ascii":
      return "";
    case "hex":
      return "";
    case "bitfield":
      return [];
    case "enum":
      return spec.default ?? 0;
    case "checksum":
      return 0;
  }
}

/**
 * Builds A0h and A2h from values by field name; fields not given take their defaults (zero, spaces,
 * neutral calibration), and the check codes are computed last. Throws FieldValueError for a bad
 * value, an unknown field name or a field that does not apply (e.g. wavelength on a cable).
 */
export function encodeImage(values: FieldValues): EepromImage {
  const images = { A0: new Uint8Array(DEVICE_SIZE), A2: new Uint8Array(DEVICE_SIZE) };
  const resolved: Record<string, FieldValue> = {};
  for (const name of Object.keys(values)) {
    if (!SFF8472_FIELDS.some((f) => f.name === name)) {
      throw new Error(
        `no SFF-8472 field named "${name}"${didYouMean(name, SFF8472_FIELDS.map((f) => f.name))}`,
      );
    }
  }
  for (const spec of SFF8472_FIELDS) {
    if (spec.encoding === "checksum") continue;
    const given = values[spec.name];
    if (spec.when && !conditionHolds(spec.when, resolved)) {
      if (given !== undefined) {
        throw new FieldValueError(spec, `applies only when ${describeCondition(spec.when)}`);
      }
      continue;
    }
    const value = normaliseFieldValue(spec, given ?? defaultValue(spec));
    writeField(images[spec.device], spec, value);
    resolved[spec.name] = value;
  }
  writeChecksums(images.A0, "A0");
  writeChecksums(images.A2, "A2");
  return { a0: images.A0, a2: images.A2 };
}

/** Decodes every field that applies; A2h fields only when an A2h image is given. */
export function decodeImage(image: { a0: Uint8Array; a2?: Uint8Array }): DecodedFields {
  if (image.a0.length !== DEVICE_SIZE || (image.a2 && image.a2.length < A2_PAGE_START)) {
    throw new RangeError(`an image is ${DEVICE_SIZE} bytes of A0h and up to ${DEVICE_SIZE} of A2h`);
  }
  const decoded: Record<string, FieldValue> = {};
  for (const spec of SFF8472_FIELDS) {
    const bytes = spec.device === "A0" ? image.a0 : image.a2;
    if (!bytes || spec.offset + spec.size > bytes.length) continue;
    if (spec.when && !conditionHolds(spec.when, decoded)) continue;
    decoded[spec.name] = readField(bytes, spec);
  }
  return decoded;
}
