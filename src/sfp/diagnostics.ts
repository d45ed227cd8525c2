// Digital diagnostics (SFF-8472 A2h, internally calibrated): the five monitored quantities, their
// conversions between human units and the raw A2h words, and the alarm/warning flag rules.
// Everything here works on plain numbers; where the words sit in A2h is the field map's business.

/** A monitored quantity's raw encoding and conversions. */
export interface Quantity {
  /** Human units of the values this quantity converts. */
  readonly units: string;
  /** What one raw count is worth, for messages and docs. */
  readonly resolution: string;
  readonly rawMin: number;
  readonly rawMax: number;
  /** Smallest and largest human value the raw word can hold. */
  readonly min: number;
  readonly max: number;
  /** Nearest raw count, saturating at the ends of the word like a real ADC. */
  toRaw(value: number): number;
  fromRaw(raw: number): number;
}

function clampRaw(raw: number, rawMin: number, rawMax: number): number {
  return Math.min(rawMax, Math.max(rawMin, raw));
}

function checkNumber(value: number, units: string): void {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new RangeError(`expected a number of ${units}, got ${String(value)}`);
  }
}

/** A quantity that is raw / countsPerUnit (division keeps decimal values like 3.31 V exact). */
function linearQuantity(
  units: string,
  resolution: string,
  countsPerUnit: number,
  rawMin: number,
  rawMax: number,
): Quantity {
  return {
    units,
    resolution,
    rawMin,
    rawMax,
    min: rawMin / countsPerUnit,
    max: rawMax / countsPerUnit,
    toRaw(value) {
      checkNumber(value, units);
      return clampRaw(Math.round(value * countsPerUnit), rawMin, rawMax);
    },
    fromRaw: (raw) => raw / countsPerUnit,
  };
}

/** SFF-8472 A2h: temperature is a signed 16-bit word in 1/256 °C. */
export const TEMPERATURE = linearQuantity("°C", "1/256 °C", 256, -32768, 32767);
/** SFF-8472 A2h: supply voltage is an unsigned word in 100 µV. */
export const VOLTAGE = linearQuantity("V", "100 µV", 10_000, 0, 65535);
/** SFF-8472 A2h: laser bias current is an unsigned word in 2 µA. */
export const CURRENT = linearQuantity("mA", "2 µA", 500, 0, 65535);

/** Raw counts of 0.1 µW in one milliwatt. */
const POWER_COUNTS_PER_MW = 10_000;
/** dBm values are rounded to this many decimals: enough that every raw count reads back to itself. */
const DBM_DECIMALS = 5;

export function milliwattsToDbm(milliwatts: number): number {
  return 10 * Math.log10(milliwatts);
}

export function dbmToMilliwatts(dbm: number): number {
  return 10 ** (dbm / 10);
}

/**
 * SFF-8472 A2h: optical power is an unsigned word in 0.1 µW, handled here in dBm. 0 mW is −∞ dBm
 * and raw 0; the resolution floor is −40 dBm = 1 count, so low PON levels are coarse
 * (−33.5 dBm is stored as 4 and reads back as −33.98 dBm).
 */
export const OPTICAL_POWER: Quantity = {
  units: "dBm",
  resolution: "0.1 µW",
  rawMin: 0,
  rawMax: 65535,
  min: -Infinity,
  max: Number(milliwattsToDbm(65535 / POWER_COUNTS_PER_MW).toFixed(DBM_DECIMALS)),
  toRaw(dbm) {
    checkNumber(dbm, "dBm");
    return clampRaw(Math.round(dbmToMilliwatts(dbm) * POWER_COUNTS_PER_MW), 0, 65535);
  },
  fromRaw(raw) {
    if (raw <= 0) return -Infinity;
    return Number(milliwattsToDbm(raw / POWER_COUNTS_PER_MW).toFixed(DBM_DECIMALS));
  },
};

/** The five monitored values of SFF-8472, in human units. */
export interface Diagnostics {
  temperatureC: number;
  vccV: number;
  txBiasMa: number;
  txPowerDbm: number;
  rxPowerDbm: number;
}

export type DiagnosticName = keyof Diagnostics;

/** Each diagnostic with the words used for it in flag names and messages, in A2h order. */
export const DIAGNOSTICS: readonly { name: DiagnosticName; label: string; quantity: Quantity }[] = [
  { name: "temperatureC", label: "temperature", quantity: TEMPERATURE },
  { name: "vccV", label: "vcc", quantity: VOLTAGE },
  { name: "txBiasMa", label: "tx bias", quantity: CURRENT },
  { name: "txPowerDbm", label: "tx power", quantity: OPTICAL_POWER },
  { name: "rxPowerDbm", label: "rx power", quantity: OPTICAL_POWER },
];

export const DIAGNOSTIC_NAMES: readonly DiagnosticName[] = DIAGNOSTICS.map((d) => d.name);

export function quantityOf(name: DiagnosticName): Quantity {
  return DIAGNOSTICS.find((d) => d.name === name)!.quantity;
}

/** The four thresholds of each diagnostic, in the order they must rise. */
export const THRESHOLD_LEVELS = ["lowAlarm", "lowWarning", "highWarning", "highAlarm"] as const;
export type ThresholdLevel = (typeof THRESHOLD_LEVELS)[number];
export type ThresholdSet = Record<ThresholdLevel, number>;
export type Thresholds = Record<DiagnosticName, ThresholdSet>;
export type RawDiagnostics = Record<DiagnosticName, number>;

/** A raised alarm or warning: which value crossed which threshold. */
export interface Flag {
  readonly diagnostic: DiagnosticName;
  readonly level: ThresholdLevel;
}

/** "temperature high alarm", "rx power low warning": the name events and messages use. */
export function flagName(flag: Flag): string {
  const label = DIAGNOSTICS.find((d) => d.name === flag.diagnostic)!.label;
  const words = flag.level.replace(/([A-Z])/g, " $1").toLowerCase();
  return `${label} ${words}`;
}

/**
 * SFF-8472 A2h 112-117: a high flag is set while the value exceeds its threshold and a low flag
 * while it is below it (flags are live, not latched). Compared in raw counts, as the module does,
 * so quantisation cannot make a flag disagree with the words a host reads.
 */
export function activeFlags(
  values: RawDiagnostics,
  thresholds: Record<DiagnosticName, ThresholdSet>,
): Flag[] {
  const flags: Flag[] = [];
  for (const diagnostic of DIAGNOSTIC_NAMES) {
    const value = values[diagnostic];
    const limits = thresholds[diagnostic];
    for (const level of THRESHOLD_LEVELS) {
      const crossed = level.startsWith("high") ? value > limits[level] : value < limits[level];
      if (crossed) flags.push({ diagnostic, level });
    }
  }
  return flags;
}

/** Why a threshold set is out of order, or undefined when lowAlarm < lowWarning < highWarning < highAlarm. */
export function thresholdOrderProblem(raw: ThresholdSet): string | undefined {
  for (let i = 1; i < THRESHOLD_LEVELS.length; i++) {
    const lower = THRESHOLD_LEVELS[i - 1];
    const upper = THRESHOLD_LEVELS[i];
    if (!(raw[lower] < raw[upper])) {
      return `${lower} must be below ${upper} (required order: ${THRESHOLD_LEVELS.join(" < ")})`;
    }
  }
  return undefined;
}
