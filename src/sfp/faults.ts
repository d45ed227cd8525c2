// The faults a test engineer can put into one module, as data: each kind with its layer, what it
// does, its parameters (type, range, default) and the rules between them. Checking a request
// against this table is the only way a fault gets into a module, so a bad kind or parameter is
// refused here with what was wrong and what is allowed. What each fault does to the module is in
// fault-effects.ts and module.ts.
import { FieldValueError, normaliseFieldValue } from "./codec.ts";
import { DIAGNOSTIC_NAMES, type Diagnostics, OPTICAL_POWER, quantityOf, TEMPERATURE } from "./diagnostics.ts";
import { field } from "./field-map.ts";
import { didYouMean } from "./spelling.ts";

export const FAULT_KINDS = [
  "nack",
  "slow",
  "intermittent-nack",
  "byte-io-bug",
  "bad-checksum",
  "identifier",
  "quirk",
  "power-class",
  "tx-fault",
  "rx-los-flap",
  "slow-ready",
  "temperature-ramp",
  "noise",
  "rx-power-drift",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Which devices an I2C fault hits: A0h (0x50), A2h (0x51) or both. */
export type AddressChoice = "a0" | "a2" | "both";
export type ChecksumChoice = "cc-base" | "cc-ext" | "cc-dmi";
/** ± range of uniform noise per diagnostic, in its units (dB for optical power). */
export type NoiseBand = Partial<Diagnostics>;

/** Each kind's parameters once checked, with defaults filled in (what faults() reports). */
export interface FaultParams {
  "nack": { address: AddressChoice };
  "slow": { delayMs: number; address: AddressChoice };
  "intermittent-nack": { probability: number; address: AddressChoice };
  "byte-io-bug": Record<never, never>;
  "bad-checksum": { field: ChecksumChoice };
  "identifier": { value: number };
  "quirk": { vendorName: string; vendorPn: string; known?: string };
  "power-class": { level: 2 | 3 };
  "tx-fault":
    | { mode: "stuck" }
    | { mode: "pulse"; periodMs: number; widthMs: number }
    | { mode: "latched"; resets: number };
  "rx-los-flap": { periodMs: number };
  "slow-ready": { delayMs: number };
  "temperature-ramp": { targetC: number; ratePerS: number };
  "noise": { band: NoiseBand };
  "rx-power-drift": { ratePerS: number; minDbm: number; maxDbm: number };
}

/** One checked fault: a kind and its parameters. */
export type Fault = {
  [K in FaultKind]: { readonly kind: K; readonly params: Readonly<FaultParams[K]> };
}[FaultKind];
export type FaultOf<K extends FaultKind> = Extract<Fault, { kind: K }>;

export type FaultLayer = "i2c" | "content" | "signal" | "environment";

/** How one parameter is checked; also what users are told is allowed. */
export type ParamSpec =
  | { readonly type: "choice"; readonly values: readonly (string | number)[] }
  | {
    readonly type: "number";
    readonly units: string;
    readonly min: number;
    readonly max: number;
    /** min itself is not allowed (a period of 0 ms means nothing). */
    readonly aboveMin?: boolean;
    readonly integer?: boolean;
  }
  /** An A0h ASCII field's rules (length, printable ASCII), from the field map. */
  | { readonly type: "text"; readonly field: "vendorName" | "vendorPn" }
  | { readonly type: "band" };

export interface ParamDeclaration {
  readonly spec: ParamSpec;
  readonly summary: string;
  readonly required?: boolean;
  readonly default?: unknown;
}

type Params = Record<string, unknown>;

export interface FaultKindSpec {
  readonly layer: FaultLayer;
  readonly summary: string;
  readonly params: Readonly<Record<string, ParamDeclaration>>;
  /** Rules between parameters, once each is valid alone; returns the final parameters or fails. */
  readonly refine?: (params: Params, fail: (problem: string) => never) => Params;
  /** Whether the fault changes what the module reports as time passes (the lab calls advance()). */
  readonly timed: (params: Params) => boolean;
  /** Whether the fault needs the module's A2h (diagnostics). */
  readonly needsA2h: (params: Params) => boolean;
}

/** A fault request that cannot be honoured: which kind, which parameter, what is allowed. */
export class FaultError extends Error {
  override name = "FaultError";
  constructor(readonly kind: string, readonly parameter: string | undefined, readonly problem: string) {
    super(`fault ${JSON.stringify(kind)}: ${parameter === undefined ? "" : `${parameter} `}${problem}`);
  }
}

/** A vendor name and part number that Linux's sfp.c quirk table matches exactly (sfp-facts §3.4). */
export interface KnownQuirk {
  readonly vendorName: string;
  readonly vendorPn: string;
  /** What the kernel does for this module, in short. */
  readonly kernel: string;
}

const GPON_STICK = "2500base-X, TX_FAULT ignored";
const POTRON = "60 s start-up, TX_FAULT and LOS pins ignored";
const ROLLBALL = "RollBall PHY access over I2C";

// The kernel 7.2 table as sfp-facts §3.4 lists it; older kernels know fewer of these. Linux compares
// vendor name and PN exactly, after stripping trailing spaces and NULs.
export const KNOWN_QUIRKS: readonly KnownQuirk[] = [
  { vendorName: "ALCATELLUCENT", vendorPn: "G010SP", kernel: GPON_STICK },
  { vendorName: "ALCATELLUCENT", vendorPn: "3FE46541AA", kernel: "2500base-X, 60 s start-up, LOS ignored" },
  { vendorName: "BIDB", vendorPn: "X-ONU-SFPP", kernel: POTRON },
  { vendorName: "H-COM", vendorPn: "SPP425H-GAB4", kernel: POTRON },
  { vendorName: "YV", vendorPn: "SFP+ONU-XGSPON", kernel: POTRON },
  { vendorName: "FLYPRO", vendorPn: "SFP-10GT-CS-30M", kernel: ROLLBALL },
  { vendorName: "Turris", vendorPn: "RTSFP-2.5G", kernel: ROLLBALL },
  { vendorName: "Turris", vendorPn: "RTSFP-10", kernel: ROLLBALL },
  { vendorName: "Turris", vendorPn: "RTSFP-10G", kernel: ROLLBALL },
  { vendorName: "FS", vendorPn: "SFP-10G-T", kernel: `${ROLLBALL}, 10GBASE-T, 4 s PHY wait` },
  { vendorName: "Walsun", vendorPn: "HXSX-ATRC-1", kernel: `${ROLLBALL}, 10GBASE-T, 4 s PHY wait` },
  { vendorName: "Walsun", vendorPn: "HXSX-ATRI-1", kernel: `${ROLLBALL}, 10GBASE-T, 4 s PHY wait` },
  { vendorName: "FS", vendorPn: "SFP-2.5G-T", kernel: `${ROLLBALL}, 4 s PHY wait` },
  { vendorName: "FS", vendorPn: "SFP-10GM-T", kernel: `${ROLLBALL}, 4 s PHY wait` },
  { vendorName: "FS", vendorPn: "GPON-ONU-34-20BI", kernel: GPON_STICK },
  { vendorName: "HUAWEI", vendorPn: "MA5671A", kernel: `${GPON_STICK} (and LOS in newer kernels)` },
  { vendorName: "Hisense-Leox", vendorPn: "LXT-010S-H", kernel: GPON_STICK },
  { vendorName: "Hisense", vendorPn: "ZNID-GPON-2311NA", kernel: GPON_STICK },
  { vendorName: "HSGQ", vendorPn: "HSGQ-XPON-Stick", kernel: GPON_STICK },
  { vendorName: "HALNy", vendorPn: "HL-GSFP", kernel: "TX_FAULT and LOS pins ignored" },
  { vendorName: "HG GENUINE", vendorPn: "MXPD-483II", kernel: "2500base-X" },
  { vendorName: "Lantech", vendorPn: "8330-262D-E", kernel: "2500base-X" },
  { vendorName: "Lantech", vendorPn: "8330-265D", kernel: "2500base-X, LOS ignored" },
  { vendorName: "UBNT", vendorPn: "UF-INSTANT", kernel: "1000base-X only" },
  { vendorName: "OEM", vendorPn: "SFP-GE-T", kernel: "TX_FAULT ignored" },
  { vendorName: "OEM", vendorPn: "SFP-10G-T", kernel: `${ROLLBALL}, extended compliance 0x16` },
  { vendorName: "OEM", vendorPn: "RTSFP-10", kernel: `${ROLLBALL}, extended compliance 0x16` },
  { vendorName: "OEM", vendorPn: "RTSFP-10G", kernel: `${ROLLBALL}, extended compliance 0x16` },
  { vendorName: "OEM", vendorPn: "SFP-2.5G-T", kernel: `${ROLLBALL}, extended compliance 0x1E` },
  { vendorName: "OEM", vendorPn: "SFP-2.5G-T-R-RM", kernel: `${ROLLBALL}, extended compliance 0x1E` },
  { vendorName: "OEM", vendorPn: "SFP-2.5G-BX10-D", kernel: "2500base-X" },
  { vendorName: "OEM", vendorPn: "SFP-2.5G-BX10-U", kernel: "2500base-X" },
  { vendorName: "OEM", vendorPn: "SFP-2.5G-LH03-B", kernel: "2500base-X" },
  { vendorName: "OEM", vendorPn: "SFP-2.5G-LH20-A", kernel: "2500base-X" },
  { vendorName: "ZOERAX", vendorPn: "SFP-2.5G-T", kernel: "2.5G copper without autonegotiation" },
];

/** "HUAWEI MA5671A": how a known quirk is named in requests. */
export function quirkName(quirk: KnownQuirk): string {
  return `${quirk.vendorName} ${quirk.vendorPn}`;
}

const QUIRK_NAMES = KNOWN_QUIRKS.map(quirkName);

const ADDRESS: ParamDeclaration = {
  spec: { type: "choice", values: ["a0", "a2", "both"] },
  summary: "which device: a0 (0x50), a2 (0x51) or both",
  default: "both",
};
/** The tx-fault modes, each with the parameters besides mode that it takes. */
const TX_FAULT_MODE_PARAMS: Readonly<Record<"stuck" | "pulse" | "latched", readonly string[]>> = {
  stuck: [],
  pulse: ["periodMs", "widthMs"],
  latched: ["resets"],
};
const DEFAULT_LATCHED_RESETS = 1;
const MAX_LATCHED_RESETS = 100;
/** Linux sfp.c's N_FAULT_INIT / N_FAULT: it resets a module after each TX_FAULT but the last of these. */
const LINUX_FAULT_RETRIES = 5;

/** Longest time a period or delay may be; longer ones are more simply a stuck state. */
const MAX_PERIOD_MS = 3_600_000;
const periodMs = (summary: string, required = true): ParamDeclaration => ({
  spec: { type: "number", units: "ms", min: 0, max: MAX_PERIOD_MS, aboveMin: true },
  summary,
  required,
});
const never = () => false;
const always = () => true;

export const FAULT_KIND_SPECS: Readonly<Record<FaultKind, FaultKindSpec>> = {
  "nack": {
    layer: "i2c",
    summary: "the module does not answer at all at the chosen address (NACK on the address byte)",
    params: { address: ADDRESS },
    timed: never,
    needsA2h: never,
  },
  "slow": {
    layer: "i2c",
    summary: "every transfer is answered after a delay (responseDelayMs, honoured by the I2C device)",
    params: {
      delayMs: {
        spec: { type: "number", units: "ms", min: 0, max: 60_000 },
        summary: "delay per transfer",
        required: true,
      },
      address: ADDRESS,
    },
    timed: never,
    needsA2h: never,
  },
  "intermittent-nack": {
    layer: "i2c",
    summary: "each transfer is NACKed with a probability, drawn from the module's seeded generator",
    params: {
      probability: {
        spec: { type: "number", units: "", min: 0, max: 1 },
        summary: "chance that one transfer is NACKed",
        required: true,
      },
      address: ADDRESS,
    },
    timed: never,
    needsA2h: never,
  },
  "byte-io-bug": {
    layer: "i2c",
    summary: "RTL8672/RTL9601C emulated EEPROM: a multi-byte read returns its first byte, then zeros " +
      "(Linux detects it and reads one byte at a time)",
    params: {},
    timed: never,
    needsA2h: never,
  },
  "bad-checksum": {
    layer: "content",
    summary: "a stored check code is wrong (the right one XOR 0xFF); Linux refuses a bad CC_BASE",
    params: {
      field: {
        spec: { type: "choice", values: ["cc-base", "cc-ext", "cc-dmi"] },
        summary: "CC_BASE (A0h 63), CC_EXT (A0h 95) or CC_DMI (A2h 95)",
        required: true,
      },
    },
    timed: never,
    needsA2h: (params) => params.field === "cc-dmi",
  },
  "identifier": {
    layer: "content",
    summary: "A0h byte 0 (SFF-8024 identifier) holds another value; CC_BASE is recomputed",
    params: {
      value: {
        spec: { type: "number", units: "", min: 0, max: 255, integer: true },
        summary: "identifier code (0x03 is SFP)",
        required: true,
      },
    },
    timed: never,
    needsA2h: never,
  },
  "quirk": {
    layer: "content",
    summary: "vendor name and part number of a module the kernel has a quirk for; checksums recomputed",
    params: {
      known: {
        spec: { type: "choice", values: QUIRK_NAMES },
        summary: "a quirk Linux knows, by vendor name and part number",
      },
      vendorName: { spec: { type: "text", field: "vendorName" }, summary: "A0h vendor name" },
      vendorPn: { spec: { type: "text", field: "vendorPn" }, summary: "A0h vendor part number" },
    },
    refine: refineQuirk,
    timed: never,
    needsA2h: never,
  },
  "power-class": {
    layer: "content",
    summary: "declares power level 2 (1.5 W) or 3 (2.0 W) in A0h byte 64 and 94; hosts allow 1 W by default",
    params: {
      level: {
        spec: { type: "choice", values: [2, 3] },
        summary: "2 (1.5 W) or 3 (2.0 W)",
        required: true,
      },
    },
    timed: never,
    // Linux reads the declaration only with byte 94 ≥ 0x03, which also announces an A2h.
    needsA2h: always,
  },
  "tx-fault": {
    layer: "signal",
    summary: "TX_FAULT high for good (stuck: Linux's TX_DISABLE resets never help, and at its " +
      `${LINUX_FAULT_RETRIES}th fault it says "module persistently indicates fault, disabling"), ` +
      "for widthMs at the start of every periodMs (pulse), or until the host has reset it with resets " +
      'TX_DISABLE pulses as SFF-8419 has it (latched: Linux\'s "module transmit fault indicated" is ' +
      "followed by its reset pulse and recovery; the module then clears the fault itself)",
    params: {
      mode: {
        spec: { type: "choice", values: Object.keys(TX_FAULT_MODE_PARAMS) },
        summary: "stuck, pulse or latched",
        required: true,
      },
      periodMs: periodMs("pulse period (pulse only)", false),
      widthMs: periodMs("time TX_FAULT is high in each period (pulse only)", false),
      resets: {
        spec: { type: "number", units: "", min: 1, max: MAX_LATCHED_RESETS, integer: true },
        summary: "TX_DISABLE pulses (transmitter disabled, then enabled again, by the pin or the soft bit " +
          `A2h 110 bit 6) that clear the fault (latched only; default ${DEFAULT_LATCHED_RESETS})`,
      },
    },
    refine: refineTxFault,
    // A latched fault changes on the host's pulses, not with time.
    timed: (params) => params.mode === "pulse",
    needsA2h: never,
  },
  "rx-los-flap": {
    layer: "signal",
    summary: "RX_LOS asserted for the first half of every periodMs, automatic for the second half",
    params: { periodMs: periodMs("one full asserted + released cycle") },
    timed: always,
    needsA2h: never,
  },
  "slow-ready": {
    layer: "signal",
    summary: "for delayMs after insertion the EEPROM NACKs; Data_Ready_Bar clears t_data after that",
    params: {
      delayMs: {
        spec: { type: "number", units: "ms", min: 0, max: 300_000 },
        summary: "time after insertion before the module answers",
        required: true,
      },
    },
    timed: never,
    needsA2h: never,
  },
  "temperature-ramp": {
    layer: "environment",
    summary: "temperature moves from its value now to targetC at ratePerS, then stays there",
    params: {
      targetC: {
        spec: { type: "number", units: "°C", min: TEMPERATURE.min, max: TEMPERATURE.max },
        summary: "where the ramp ends",
        required: true,
      },
      ratePerS: {
        spec: { type: "number", units: "°C/s", min: 0, max: 1_000, aboveMin: true },
        summary: "speed of the ramp",
        required: true,
      },
    },
    timed: always,
    needsA2h: always,
  },
  "noise": {
    layer: "environment",
    summary: "uniform noise within ± band around each diagnostic's value, a new sample every 100 ms",
    params: {
      band: {
        spec: { type: "band" },
        summary: "± range per diagnostic in its units (dB for optical power)",
        required: true,
      },
    },
    timed: always,
    needsA2h: always,
  },
  "rx-power-drift": {
    layer: "environment",
    summary: "Rx power drifts at ratePerS dB/s and turns back at minDbm and maxDbm",
    params: {
      ratePerS: {
        spec: { type: "number", units: "dB/s", min: -100, max: 100 },
        summary: "drift speed; the sign is the first direction",
        required: true,
      },
      minDbm: {
        spec: { type: "number", units: "dBm", min: -40, max: OPTICAL_POWER.max },
        summary: "lower turning point (−40 dBm is 1 count of 0.1 µW)",
        default: -40,
      },
      maxDbm: {
        spec: { type: "number", units: "dBm", min: -40, max: OPTICAL_POWER.max },
        summary: "upper turning point",
        default: OPTICAL_POWER.max,
      },
    },
    refine: (params, fail) => {
      if (params.ratePerS === 0) fail("ratePerS must not be 0: a drift that does not move is no fault");
      if (!((params.minDbm as number) < (params.maxDbm as number))) {
        fail(`minDbm (${params.minDbm}) must be below maxDbm (${params.maxDbm})`);
      }
      return params;
    },
    timed: always,
    needsA2h: always,
  },
};

function refineQuirk(params: Params, fail: (problem: string) => never): Params {
  const { known, vendorName, vendorPn } = params as {
    known?: string;
    vendorName?: string;
    vendorPn?: string;
  };
  if (known === undefined) {
    if (vendorName === undefined || vendorPn === undefined) {
      fail(
        `needs known (e.g. "HUAWEI MA5671A") or both vendorName and vendorPn; known quirks: ${
          QUIRK_NAMES.join(", ")
        }`,
      );
    }
    return { vendorName, vendorPn };
  }
  const quirk = KNOWN_QUIRKS[QUIRK_NAMES.indexOf(known)];
  // faults() reports the names with the quirk, so sending that back must be accepted.
  if (
    (vendorName !== undefined && vendorName !== quirk.vendorName) ||
    (vendorPn !== undefined && vendorPn !== quirk.vendorPn)
  ) {
    fail(`known ${JSON.stringify(known)} is vendorName ${quirk.vendorName} and vendorPn ${quirk.vendorPn}`);
  }
  return { known, vendorName: quirk.vendorName, vendorPn: quirk.vendorPn };
}

function refineTxFault(params: Params, fail: (problem: string) => never): Params {
  const { mode, periodMs, widthMs, resets } = params as {
    mode: keyof typeof TX_FAULT_MODE_PARAMS;
    periodMs?: number;
    widthMs?: number;
    resets?: number;
  };
  const stray = Object.entries(TX_FAULT_MODE_PARAMS).flatMap(([owner, names]) =>
    owner === mode ? [] : names.filter((name) => params[name] !== undefined).map((name) => ({ name, owner }))
  );
  if (stray.length > 0) {
    const owners = [...new Set(stray.map(({ owner }) => owner))].join(" or ");
    fail(`mode ${mode} takes no ${stray.map(({ name }) => name).join(" or ")} (mode ${owners} only)`);
  }
  if (mode === "stuck") return { mode };
  if (mode === "latched") return { mode, resets: resets ?? DEFAULT_LATCHED_RESETS };
  if (periodMs === undefined || widthMs === undefined) fail("mode pulse needs periodMs and widthMs");
  if (!(widthMs! < periodMs!)) {
    fail(`widthMs (${widthMs}) must be shorter than periodMs (${periodMs}), or TX_FAULT never drops`);
  }
  return { mode, periodMs, widthMs };
}

/** "a number of ms in 0..60000": what a parameter allows, for messages and API help. */
export function describeParamSpec(spec: ParamSpec): string {
  switch (spec.type) {
    case "choice":
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "number": {
      const what = spec.integer ? "a whole number" : "a number";
      const units = spec.units ? ` of ${spec.units}` : "";
      const range = spec.aboveMin ? `above ${spec.min}, up to ${spec.max}` : `in ${spec.min}..${spec.max}`;
      return `${what}${units} ${range}`;
    }
    case "text":
      return `up to ${field(spec.field).size} printable ASCII characters`;
    case "band":
      return `an object of ${DIAGNOSTIC_NAMES.join(", ")} (any of them) to a number ≥ 0 in its units`;
  }
}

/** Every fault kind with its layer, summary and parameters, as the API and the CLI list them. */
export function describeFaultKinds() {
  return FAULT_KINDS.map((kind) => {
    const spec = FAULT_KIND_SPECS[kind];
    return {
      kind,
      layer: spec.layer,
      summary: spec.summary,
      params: Object.fromEntries(
        Object.entries(spec.params).map(([name, param]) => [name, {
          summary: param.summary,
          allowed: describeParamSpec(param.spec),
          required: param.required ?? false,
          ...(param.default !== undefined && { default: param.default }),
        }]),
      ),
    };
  });
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Whether kind names a fault kind; throws FaultError naming the kinds there are. */
export function checkFaultKind(kind: unknown): FaultKind {
  if (typeof kind === "string" && (FAULT_KINDS as readonly string[]).includes(kind)) return kind as FaultKind;
  const typed = typeof kind === "string" ? kind : describe(kind);
  throw new FaultError(
    typed,
    undefined,
    `unknown fault kind${didYouMean(typed, FAULT_KINDS)}; known kinds: ${FAULT_KINDS.join(", ")}`,
  );
}

/**
 * Checks a fault request and returns the fault with defaults filled in; throws FaultError naming
 * the kind, the parameter and what it allows. Parameters may be omitted for kinds that need none.
 */
export function checkFault(kind: unknown, params: unknown = {}): Fault {
  const checkedKind = checkFaultKind(kind);
  const spec = FAULT_KIND_SPECS[checkedKind];
  const names = Object.keys(spec.params);
  const fail = (parameter: string | undefined, problem: string): never => {
    throw new FaultError(checkedKind, parameter, problem);
  };
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    fail(undefined, `parameters must be an object${names.length ? ` of ${names.join(", ")}` : " ({})"}`);
  }
  const given = params as Params;
  for (const name of Object.keys(given)) {
    if (!names.includes(name) && given[name] !== undefined) {
      const allowed = names.length ? `allowed: ${names.join(", ")}` : "this kind takes no parameters";
      fail(undefined, `unknown parameter ${JSON.stringify(name)}${didYouMean(name, names)}; ${allowed}`);
    }
  }
  const checked: Params = {};
  for (const [name, declaration] of Object.entries(spec.params)) {
    const value = given[name] === undefined ? declaration.default : given[name];
    if (value === undefined) {
      if (declaration.required) {
        fail(
          undefined,
          `missing parameter ${name}: ${describeParamSpec(declaration.spec)} (${declaration.summary})`,
        );
      }
      continue;
    }
    checked[name] = checkParam(declaration.spec, value, (problem) => fail(name, problem));
  }
  const refined = spec.refine ? spec.refine(checked, (problem) => fail(undefined, problem)) : checked;
  // faults() hands these out: frozen, nobody can change a fault without setFault.
  for (const value of Object.values(refined)) if (typeof value === "object") Object.freeze(value);
  return Object.freeze({ kind: checkedKind, params: Object.freeze(refined) }) as Fault;
}

function checkParam(spec: ParamSpec, value: unknown, fail: (problem: string) => never): unknown {
  const wanted = () => `must be ${describeParamSpec(spec)}, got ${describe(value)}`;
  switch (spec.type) {
    case "choice":
      if (!spec.values.includes(value as string | number)) {
        const typo = typeof value === "string" ? didYouMean(value, spec.values.map(String)) : "";
        fail(`${wanted()}${typo}`);
      }
      return value;
    case "number": {
      const inRange = typeof value === "number" && Number.isFinite(value) &&
        (spec.aboveMin ? value > spec.min : value >= spec.min) && value <= spec.max &&
        (!spec.integer || Number.isInteger(value));
      if (!inRange) fail(wanted());
      return value;
    }
    case "text":
      try {
        return normaliseFieldValue(field(spec.field), value);
      } catch (error) {
        if (error instanceof FieldValueError) fail(error.problem);
        throw error;
      }
    case "band":
      return checkBand(value, fail);
  }
}

function checkBand(value: unknown, fail: (problem: string) => never): NoiseBand {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(`must be ${describeParamSpec({ type: "band" })}, got ${describe(value)}`);
  }
  const band: NoiseBand = {};
  for (const [name, width] of Object.entries(value)) {
    if (!(DIAGNOSTIC_NAMES as readonly string[]).includes(name)) {
      fail(
        `has unknown diagnostic ${JSON.stringify(name)}${didYouMean(name, DIAGNOSTIC_NAMES)}; allowed: ${
          DIAGNOSTIC_NAMES.join(", ")
        }`,
      );
    }
    const diagnostic = name as keyof Diagnostics;
    const quantity = quantityOf(diagnostic);
    // Beyond the span the A2h word holds, noise only saturates; −40 dBm is the optical floor.
    const span = Number.isFinite(quantity.min) ? quantity.max - quantity.min : quantity.max + 40;
    if (typeof width !== "number" || !(width >= 0 && width <= span)) {
      fail(
        `${name} must be a number of ${quantity.units} in 0..${Number(span.toFixed(5))}, got ${
          describe(width)
        }`,
      );
    }
    band[diagnostic] = width as number;
  }
  if (Object.keys(band).length === 0) fail(`must name at least one of ${DIAGNOSTIC_NAMES.join(", ")}`);
  return band;
}

/** Whether an I2C fault's address choice covers one device. */
export function coversDevice(choice: AddressChoice, device: "A0" | "A2"): boolean {
  return choice === "both" || choice === device.toLowerCase();
}
