// What active faults do, as pure functions of the faults and the time: the A0h a faulty module
// serves, its pins' fault levels, and its diagnostics under ramps, drifts and noise. No state and
// no clock of their own, so any moment can be computed without having seen the ones before it,
// and the same faults, seeds and times always give the same answers.
import { writeChecksums } from "./checksum.ts";
import { bitField, readField, writeField } from "./codec.ts";
import { DIAGNOSTIC_NAMES, type Diagnostics } from "./diagnostics.ts";
import type { ChecksumChoice, FaultKind, FaultOf } from "./faults.ts";
import { field, type FieldName } from "./field-map.ts";
import { hashParts, unitInterval } from "./random.ts";

/** A fault in force in one module. */
export interface ActiveFault<K extends FaultKind = FaultKind> {
  readonly fault: FaultOf<K>;
  /** When it was set, on the module's clock: pulses, flaps and noise count from here. */
  readonly sinceMs: number;
  /** Seed of this fault's own random stream, derived from the module's seed. */
  readonly seed32: number;
  /** Ramps and drifts: the value they move from, and since when (setDiagnostics restarts them). */
  readonly origin?: { readonly value: number; readonly atMs: number };
}

export type ActiveFaults = ReadonlyMap<FaultKind, ActiveFault>;

export function activeFault<K extends FaultKind>(faults: ActiveFaults, kind: K): ActiveFault<K> | undefined {
  return faults.get(kind) as ActiveFault<K> | undefined;
}

// ---------------------------------------------------------------- content

const CHECK_CODES: Readonly<Record<ChecksumChoice, FieldName>> = {
  "cc-base": "ccBase",
  "cc-ext": "ccExt",
  "cc-dmi": "ccDmi",
};
/** A wrong check code differs from the right one in every bit, so it is wrong for any content. */
const BAD_CHECK_CODE_XOR = 0xff;

// SFF-8472 byte 64 bits and the byte 94 revision Linux needs before it believes them (sfp-facts
// §3.4): level 2 (1.5 W) from rev 10.2 (0x03), level 3 (2.0 W) from rev 11.4 (0x07).
const POWER_LEVELS = {
  2: { bit: "powerLevel2", minimumCompliance: 0x03 },
  3: { bit: "highPowerLevel", minimumCompliance: 0x07 },
} as const;

/** Bits of A0h byte 64 that declare a power level above 1 (1 W). */
export const POWER_LEVEL_BITS: readonly string[] = Object.values(POWER_LEVELS).map((level) => level.bit);

/**
 * The A0h a module with these faults serves: its own image with the identifier, vendor strings and
 * power declaration the content faults ask for, check codes recomputed, then the one a
 * bad-checksum fault spoils.
 */
export function faultyA0(pristine: Uint8Array, faults: ActiveFaults): Uint8Array {
  const a0 = pristine.slice();
  const identifier = activeFault(faults, "identifier");
  if (identifier) writeField(a0, field("identifier"), identifier.fault.params.value);
  const quirk = activeFault(faults, "quirk");
  if (quirk) {
    writeField(a0, field("vendorName"), quirk.fault.params.vendorName);
    writeField(a0, field("vendorPn"), quirk.fault.params.vendorPn);
  }
  const powerClass = activeFault(faults, "power-class");
  if (powerClass) declarePowerLevel(a0, powerClass.fault.params.level);
  writeChecksums(a0, "A0");
  spoilCheckCode(a0, faults, "A0");
  return a0;
}

/** Stores A2h's CC_DMI over bytes 0-94 as it is, or spoilt when a bad-checksum fault asks. */
export function faultyCcDmi(a2: Uint8Array, faults: ActiveFaults): void {
  writeChecksums(a2, "A2");
  spoilCheckCode(a2, faults, "A2");
}

function spoilCheckCode(image: Uint8Array, faults: ActiveFaults, device: "A0" | "A2"): void {
  const bad = activeFault(faults, "bad-checksum");
  if (!bad) return;
  const spec = field(CHECK_CODES[bad.fault.params.field]);
  if (spec.device === device) image[spec.offset] ^= BAD_CHECK_CODE_XOR;
}

function declarePowerLevel(a0: Uint8Array, level: 2 | 3): void {
  const options = bitField("options");
  const declared = POWER_LEVELS[level];
  const bits = (readField(a0, options) as string[]).filter((bit) => !POWER_LEVEL_BITS.includes(bit));
  writeField(a0, options, [...bits, declared.bit]);
  const compliance = field("sff8472Compliance");
  if (a0[compliance.offset] < declared.minimumCompliance) {
    writeField(a0, compliance, declared.minimumCompliance);
  }
}

// ---------------------------------------------------------------- signals

/**
 * TX_FAULT as a tx-fault fault drives it at timeMs: high while stuck or latched (the module takes a
 * latched one out itself once the host has reset it), or high at the start of each period.
 */
export function txFaultLevel(faults: ActiveFaults, timeMs: number): boolean {
  const txFault = activeFault(faults, "tx-fault");
  if (!txFault) return false;
  const params = txFault.fault.params;
  if (params.mode !== "pulse") return true;
  return phaseMs(timeMs - txFault.sinceMs, params.periodMs) < params.widthMs;
}

/** Whether an rx-los-flap fault holds RX_LOS asserted at timeMs: the first half of each period. */
export function rxLosFlapAsserted(faults: ActiveFaults, timeMs: number): boolean {
  const flap = activeFault(faults, "rx-los-flap");
  if (!flap) return false;
  const periodMs = flap.fault.params.periodMs;
  return phaseMs(timeMs - flap.sinceMs, periodMs) < periodMs / 2;
}

function phaseMs(elapsedMs: number, periodMs: number): number {
  return Math.max(0, elapsedMs) % periodMs;
}

/**
 * How much later than normal a slow-ready fault lets the module start: it NACKs for this long
 * after insertion, and its A/D values become valid (Data_Ready_Bar clears) this much later too.
 */
export function startUpDelayMs(faults: ActiveFaults): number {
  return activeFault(faults, "slow-ready")?.fault.params.delayMs ?? 0;
}

// ---------------------------------------------------------------- environment

/** A new noise sample this often: an A/D conversion rate, and the lab's and Linux's poll period. */
export const NOISE_SAMPLE_MS = 100;

/** The diagnostics a module with these faults measures at timeMs, from the values set on it. */
export function environmentAt(set: Diagnostics, faults: ActiveFaults, timeMs: number): Diagnostics {
  const values = { ...set };
  const ramp = activeFault(faults, "temperature-ramp");
  if (ramp?.origin) {
    const { targetC, ratePerS } = ramp.fault.params;
    values.temperatureC = rampedValue(ramp.origin.value, targetC, ratePerS, timeMs - ramp.origin.atMs);
  }
  const drift = activeFault(faults, "rx-power-drift");
  if (drift?.origin) {
    const { ratePerS, minDbm, maxDbm } = drift.fault.params;
    values.rxPowerDbm = driftedValue(
      drift.origin.value,
      ratePerS,
      minDbm,
      maxDbm,
      timeMs - drift.origin.atMs,
    );
  }
  const noise = activeFault(faults, "noise");
  if (noise) {
    const sample = Math.floor(Math.max(0, timeMs - noise.sinceMs) / NOISE_SAMPLE_MS);
    DIAGNOSTIC_NAMES.forEach((name, index) => {
      const band = noise.fault.params.band[name];
      if (!band) return;
      // Each sample is a hash of (seed, sample, diagnostic): it depends on the time alone, not on
      // how often the module was read or ticked before.
      const unit = unitInterval(hashParts(noise.seed32, sample, index));
      values[name] += (2 * unit - 1) * band;
    });
  }
  return values;
}

/** A ramp from startValue towards target at ratePerS (always > 0), holding at the target. */
export function rampedValue(startValue: number, target: number, ratePerS: number, elapsedMs: number): number {
  const moved = ratePerS * Math.max(0, elapsedMs) / 1000;
  return startValue < target ? Math.min(target, startValue + moved) : Math.max(target, startValue - moved);
}

/**
 * A drift at ratePerS (signed) that turns back at min and max, so it sweeps between them for as
 * long as it runs. A start outside the bounds (no light is −∞ dBm) starts at the nearer one.
 */
export function driftedValue(
  startValue: number,
  ratePerS: number,
  min: number,
  max: number,
  elapsedMs: number,
): number {
  const span = max - min;
  const start = Math.min(max, Math.max(min, startValue));
  const travelled = start - min + ratePerS * Math.max(0, elapsedMs) / 1000;
  const phase = ((travelled % (2 * span)) + 2 * span) % (2 * span);
  return phase <= span ? min + phase : max - (phase - span);
}
