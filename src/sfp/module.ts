// One live SFP module: its EEPROM images built from a profile through the field map, its pins, and
// its diagnostics in human units kept consistent with the raw A2h words, the status/control byte
// and the alarm/warning flags. It answers an I2C bus at 0x50/0x51 the way an AT24C02-like part
// does, so Linux's sfp driver, at24 and i2c-dev all work against it.
//
// Derived bytes (live values, flags, pin states) are recomputed when an input changes, never on a
// read: guests poll A2h constantly. Reads copy from that state synchronously, so every read is one
// consistent snapshot and a 2-byte diagnostic can never be torn within a read.
//
// Faults (faults.ts) are set and cleared here; what they do is computed by fault-effects.ts from
// the faults and the time. The module has no timers: time-driven faults (pulses, flaps, ramps,
// noise, drift) are applied up to the clock whenever the module is observed (an I2C transfer, a
// pin, a2(), diagnostics()) and by advance(), which the lab calls while hasTimedBehaviour is true
// so that changes nobody reads still raise their events. A latched TX_FAULT is the one fault the
// module takes out itself: once the host's TX_DISABLE reset pulses have cleared it (SFF-8419), it
// goes as if cleared, with the reason. All randomness comes from the seed. faultProgress() tells how
// far each fault has got, and setFault takes it back, so a restart continues a fault where it was.
//
// What the host writes is kept across a restart too: userEeprom() (page 00h's user EEPROM) and
// a2Control() (the control bits, the page select and the other pages), each announced by an event
// before write() returns, and put back into a new module by restoreUserEeprom / restoreA2Control.
import {
  bitField,
  type DecodedFields,
  decodeImage,
  encodeImage,
  numberField,
  readBit,
  readInteger,
  writeBit,
  writeInteger,
} from "./codec.ts";
import {
  activeFlags,
  DIAGNOSTIC_NAMES,
  type DiagnosticName,
  type Diagnostics,
  type Flag,
  flagName,
  OPTICAL_POWER,
  quantityOf,
  type RawDiagnostics,
  THRESHOLD_LEVELS,
  type ThresholdLevel,
  type ThresholdSet,
} from "./diagnostics.ts";
import {
  type ActiveFault,
  activeFault,
  environmentAt,
  faultyA0,
  faultyCcDmi,
  POWER_LEVEL_BITS,
  rxLosFlapAsserted,
  startUpDelayMs,
  txFaultLevel,
} from "./fault-effects.ts";
import {
  checkFault,
  checkFaultKind,
  coversDevice,
  type Fault,
  FAULT_KIND_SPECS,
  FAULT_KINDS,
  FaultError,
  type FaultKind,
} from "./faults.ts";
import {
  A2_PAGE_SIZE,
  A2_PAGE_START,
  type Device,
  DEVICE_SIZE,
  field,
  I2C_ADDRESS,
  type NumberField,
  thresholdField,
  writableMasks,
} from "./field-map.ts";
import {
  checkedOverrides,
  checkedProfile,
  type ModuleOverrides,
  type ModuleProfile,
  profileFieldValues,
  profileHasA2h,
} from "./profile.ts";
import { hashParts, SeededRandom, seedParts } from "./random.ts";
import { didYouMean } from "./spelling.ts";

export type { Diagnostics } from "./diagnostics.ts";
export type { ModuleOverrides, ModuleProfile } from "./profile.ts";
export type { DecodedFields } from "./codec.ts";
export type { Fault, FaultKind } from "./faults.ts";

/** An output the test engineer can force: RX_LOS or TX_FAULT. */
export type ForcibleSignal = "rxLos" | "txFault";

/** What changed on a module, for the board layer and event streams. */
export type ModuleEvent =
  /** An output pin changed level (true = high). */
  | { readonly type: "rxLos" | "txFault"; readonly level: boolean }
  /** The host changed TX_DISABLE: the pin or the soft bit (A2h 110 bit 6). */
  | {
    readonly type: "txDisable";
    readonly source: "pin" | "soft";
    readonly asserted: boolean;
    /** Whether the transmitter is now off (pin or soft). */
    readonly txDisabled: boolean;
  }
  /** An alarm or warning flag rose or cleared, e.g. flag "temperature high alarm". */
  | {
    readonly type: "flag";
    readonly flag: string;
    readonly diagnostic: DiagnosticName;
    readonly level: ThresholdLevel;
    readonly raised: boolean;
  }
  /** The host changed the user EEPROM (A2h bytes 128-247 of page 00h): the store saves it. */
  | { readonly type: "userEeprom" }
  /**
   * The host changed another byte it may write (a2Control(): a control bit of A2h 110 or 118, the
   * page select, a byte of a page other than 00h); raised after what the change caused (a soft
   * TX_DISABLE's events): the store saves it.
   */
  | { readonly type: "a2Control" }
  /**
   * A fault was set (active, with its parameters) or cleared (not active, with the ones it had);
   * `reason` when the module took it out itself (a latched TX_FAULT reset by the host).
   */
  | ({ readonly type: "fault"; readonly active: boolean; readonly reason?: string } & Fault);

type TxDisableEvent = Extract<ModuleEvent, { type: "txDisable" }>;

/** A latched TX_FAULT's reset pulses: how many it takes, how many are still needed, one under way. */
interface LatchCount {
  readonly resets: number;
  resetsLeft: number;
  inPulse: boolean;
}

/**
 * How far a fault in force has got: what a module made again after a restart needs to go on with
 * it rather than start it over (a ramp from where it would be by now, a flap in its phase, the
 * same noise). Times are on the module's clock (the wall clock, unless `now` says otherwise).
 */
export interface FaultProgress {
  /** When the fault was set: pulses, flaps and noise count from here. */
  readonly sinceMs: number;
  /** Which setting of its kind in this module it is (1 = the first): its random stream's seed. */
  readonly generation: number;
  /** Ramps and drifts: the value they move from, and since when. */
  readonly origin?: { readonly value: number; readonly atMs: number };
  /** A latched tx-fault: the host's reset pulses it still takes. */
  readonly resetsLeft?: number;
  /**
   * A latched tx-fault: a reset pulse is under way (the host disabled the transmitter while the
   * fault was in force and has not enabled it again). Kept only while the transmitter is still off.
   */
  readonly inPulse?: boolean;
}

/** How a module is told the host's TX_DISABLE level. */
export interface TxDisableOptions {
  /**
   * The level the host held before the module made contact, not a change the module saw: it
   * starts no reset pulse of a latched TX_FAULT.
   */
  atInsertion?: boolean;
}

export interface ModuleOptions {
  overrides?: ModuleOverrides;
  /** Clock in ms (injectable so tests need no sleeps); default Date.now. */
  now?: () => number;
  /** When the module was inserted, on the `now` clock; default now(). */
  insertedAtMs?: number;
  /**
   * Seed of every random choice the module makes (intermittent NACKs, noise): the same seed and
   * the same calls at the same clock values give the same results. Default: a random one (see seed).
   */
  seed?: number;
}

const STATUS = bitField("statusControl");
const OPTIONS = bitField("options");
const EXTENDED_CONTROL = bitField("extendedControl");
const ALARM_FLAGS = bitField("alarmFlags");
const WARNING_FLAGS = bitField("warningFlags");
const PAGE_SELECT = numberField("pageSelect");
const USER_EEPROM = field("userEeprom");

/** The A2h word each diagnostic is reported in. */
const LIVE_FIELDS: Record<DiagnosticName, NumberField> = {
  temperatureC: numberField("temperature"),
  vccV: numberField("vcc"),
  txBiasMa: numberField("txBias"),
  txPowerDbm: numberField("txPower"),
  rxPowerDbm: numberField("rxPower"),
};

/** Bit of A2h 112-113 / 116-117 for a flag: the live field's name + High/Low. */
function flagBit(flag: Flag): string {
  return LIVE_FIELDS[flag.diagnostic].name + (flag.level.startsWith("high") ? "High" : "Low");
}

/** Values a module without diagnostics reports through diagnostics(): nothing is measured. */
const UNMEASURED: Diagnostics = {
  temperatureC: 0,
  vccV: 0,
  txBiasMa: 0,
  txPowerDbm: -Infinity,
  rxPowerDbm: -Infinity,
};

/** The diagnostic a ramp or drift moves. */
const ORIGIN_DIAGNOSTIC = { "temperature-ramp": "temperatureC", "rx-power-drift": "rxPowerDbm" } as const;

/** What an unimplemented A2h page reads: an undriven open-drain bus. */
const ABSENT_BYTE = 0xff;

/** Encoded images by profile and overrides: encoding costs ~300 µs, a copy ~1 µs (BENCHMARKS.md). */
const imageCache = new WeakMap<ModuleProfile, Map<string, ReturnType<typeof encodeImage>>>();
/** Distinct override sets kept per profile (unique serial numbers would otherwise grow it forever). */
const IMAGES_PER_PROFILE = 256;

/** The profile's images with these overrides, encoded once and copied for each module. */
function encodedImage(profile: ModuleProfile, overrides: ModuleOverrides): ReturnType<typeof encodeImage> {
  let byOverrides = imageCache.get(profile);
  if (!byOverrides) imageCache.set(profile, byOverrides = new Map());
  const key = JSON.stringify(overrides);
  let image = byOverrides.get(key);
  if (!image) {
    image = encodeImage(profileFieldValues(profile, overrides));
    if (byOverrides.size >= IMAGES_PER_PROFILE) byOverrides.clear();
    byOverrides.set(key, image);
  }
  return { ...image, a0: image.a0.slice(), a2: image.a2.slice() };
}

export class SfpModule {
  readonly profile: ModuleProfile;
  /** The seed every random choice of this module derives from (given, or drawn at construction). */
  readonly seed: number;
  readonly #now: () => number;
  /** The latest time the module has seen: a clock going back does not undo time-driven changes. */
  #latestMs: number;
  /** When derived state was last computed, to skip recomputing it on reads at the same time. */
  #refreshedAtMs = -Infinity;
  readonly #insertedAtMs: number;
  readonly #readyAtMs: number;
  #dataReadyPending = false;

  readonly #hasA2h: boolean;
  readonly #flagsImplemented: boolean;
  readonly #losInverted: boolean;
  /** A0h as the profile and overrides make it; #a0 is what is served, faults included. */
  readonly #pristineA0: Uint8Array;
  #a0: Uint8Array;
  /** A2h bytes 0-127; the upper half lives in #pages. */
  readonly #a2: Uint8Array;
  /** A2h upper halves by page number (one page, 00h, without paging). */
  readonly #pages: Uint8Array[];
  readonly #paging: boolean;
  readonly #a2WriteMasks: Uint8Array;
  readonly #pointers: Record<Device, number> = { A0: 0, A2: 0 };

  readonly #rawThresholds: Record<DiagnosticName, ThresholdSet>;
  readonly #losRaw: { assert: number; deassert: number } | undefined;

  /** Values set through setDiagnostics; #measured adds what environment faults do to them. */
  #set: Diagnostics;
  #measured: Diagnostics;
  #txDisablePin = false;
  #rs0Pin = false;
  #rs1Pin = false;
  #forced: Record<ForcibleSignal, boolean | null> = { rxLos: null, txFault: null };
  /** Automatic LOS state; starts asserted since no light reached the module before insertion. */
  #losAsserted = true;
  #pinLevels: Record<ForcibleSignal, boolean> = { rxLos: false, txFault: false };
  #raisedFlags = new Set<string>();
  readonly #listeners = new Set<(event: ModuleEvent) => void>();
  /** Events waiting for delivery, so events raised inside a listener arrive after the current one. */
  readonly #pending: ModuleEvent[] = [];
  #delivering = false;

  readonly #faults = new Map<FaultKind, ActiveFault>();
  /** How often each kind was set, so setting it again starts a fresh random stream. */
  readonly #faultGenerations = new Map<FaultKind, number>();
  #intermittentNacks: SeededRandom | undefined;
  /** A latched tx-fault's count; a pulse is under way once the transmitter was disabled while in force. */
  #latch: LatchCount | undefined;
  #timed = false;

  constructor(profile: ModuleProfile, options: ModuleOptions = {}) {
    this.profile = checkedProfile(profile);
    const overrides = checkedOverrides(options.overrides);
    const now = options.now ?? Date.now;
    if (typeof now !== "function") throw new TypeError("options.now must be a function returning ms");
    this.#now = now;
    this.#latestMs = now();
    const insertedAtMs = options.insertedAtMs ?? this.#latestMs;
    if (typeof insertedAtMs !== "number" || !Number.isFinite(insertedAtMs)) {
      throw new RangeError(`options.insertedAtMs must be a finite number of ms, got ${String(insertedAtMs)}`);
    }
    this.#insertedAtMs = insertedAtMs;
    this.#readyAtMs = insertedAtMs + (overrides.dataReadyDelayMs ?? this.profile.dataReadyDelayMs);
    const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`options.seed must be a whole number (a safe integer), got ${String(seed)}`);
    }
    this.seed = seed;

    const image = encodedImage(this.profile, overrides);
    const options_ = this.profile.codes.options;
    const has = (list: unknown, bit: string) => Array.isArray(list) && list.includes(bit);
    this.#hasA2h = profileHasA2h(this.profile);
    this.#flagsImplemented = has(this.profile.codes.enhancedOptions, "alarmWarningFlags");
    this.#losInverted = has(options_, "losInverted") && !has(options_, "losNormal");
    this.#pristineA0 = image.a0;
    this.#a0 = image.a0.slice();
    this.#a2 = image.a2.slice(0, A2_PAGE_START);
    this.#paging = this.profile.a2hPages > 1;
    this.#pages = Array.from(
      { length: this.profile.a2hPages },
      (_, page) => page === 0 ? image.a2.slice(A2_PAGE_START) : new Uint8Array(A2_PAGE_SIZE),
    );
    this.#a2WriteMasks = writableMasks("A2");
    // Without paging, byte 127 is not a page select and stays 0.
    if (!this.#paging) this.#a2WriteMasks[PAGE_SELECT.offset] = 0;

    this.#rawThresholds = Object.fromEntries(DIAGNOSTIC_NAMES.map((name) => [
      name,
      Object.fromEntries(
        THRESHOLD_LEVELS.map((level) => [level, readInteger(this.#a2, thresholdField(name, level))]),
      ),
    ])) as Record<DiagnosticName, ThresholdSet>;
    const los = this.profile.los;
    this.#losRaw = los &&
      { assert: OPTICAL_POWER.toRaw(los.assertDbm), deassert: OPTICAL_POWER.toRaw(los.deassertDbm) };
    this.#set = { ...(this.profile.diagnostics ?? UNMEASURED) };
    this.#measured = this.#set;

    this.#updateDataReady();
    this.#refresh();
  }

  // ---------------------------------------------------------------- I2C

  /**
   * Sequential read from the device's current pointer; false = NACK (no device at that address,
   * or an I2C fault refused the transfer).
   */
  read(address: number, buffer: Uint8Array): boolean {
    if (!(buffer instanceof Uint8Array)) throw new TypeError("read needs a Uint8Array buffer");
    const device = this.#deviceAt(address);
    if (!device) return false;
    this.#catchUp();
    if (this.#faults.size > 0 && this.#refuses(device)) return false;
    let pointer = this.#pointers[device];
    for (let i = 0; i < buffer.length; i++) {
      buffer[i] = this.#byteAt(device, pointer);
      // AT24C02-like: the pointer wraps from 255 to 0 (Linux never reads across the end).
      pointer = (pointer + 1) % DEVICE_SIZE;
    }
    this.#pointers[device] = pointer;
    // RTL8672/RTL9601C "emulated EEPROM" (sfp-facts §3.3): only the first byte of a multi-byte read
    // is real; the bus still clocks out the others, so the pointer moved past them all.
    if (buffer.length > 1 && this.#faults.has("byte-io-bug")) buffer.fill(0, 1);
    return true;
  }

  /**
   * data[0] sets the pointer (the Linux "write offset, then read" pattern); further bytes are stored
   * where the host may write and silently dropped elsewhere, like a write-protected EEPROM.
   */
  write(address: number, data: Uint8Array): boolean {
    if (!(data instanceof Uint8Array)) throw new TypeError("write needs a Uint8Array of data");
    const device = this.#deviceAt(address);
    if (!device) return false;
    this.#catchUp();
    if (this.#faults.size > 0 && this.#refuses(device)) return false;
    if (data.length === 0) return true;
    let pointer = data[0];
    if (device === "A0") {
      this.#pointers.A0 = (pointer + data.length - 1) % DEVICE_SIZE;
      return true;
    }
    const softTxDisableBefore = readBit(this.#a2, STATUS, "softTxDisable");
    let userEepromChanged = false;
    let controlChanged = false;
    for (let i = 1; i < data.length; i++) {
      if (this.#storeA2(pointer, data[i])) {
        if (this.#isUserEepromByte(pointer)) userEepromChanged = true;
        else controlChanged = true;
      }
      pointer = (pointer + 1) % DEVICE_SIZE;
    }
    this.#pointers.A2 = pointer;
    this.#afterA2Write(softTxDisableBefore);
    // After what the write caused, so that whoever saves the bytes on hearing of them saves that too.
    // (Most A2h writes only set the pointer before a read: they change nothing and raise nothing.)
    if (controlChanged || userEepromChanged) {
      const written: ModuleEvent[] = [];
      if (controlChanged) written.push({ type: "a2Control" });
      if (userEepromChanged) written.push({ type: "userEeprom" });
      this.#emit(written);
    }
    return true;
  }

  /** Whether offset is in the user EEPROM of page 00h (a byte of another page is in a2Control()). */
  #isUserEepromByte(offset: number): boolean {
    return offset >= USER_EEPROM.offset && offset < USER_EEPROM.offset + USER_EEPROM.size &&
      this.#currentPage() === this.#pages[0];
  }

  /**
   * Whether an I2C fault NACKs this transfer: still starting up (slow-ready), a NACK fault, or an
   * intermittent one's draw. A draw is made only for transfers nothing else refused, so the
   * sequence of draws is the sequence of transfers that reached it.
   */
  #refuses(device: Device): boolean {
    if (this.#latestMs < this.#insertedAtMs + startUpDelayMs(this.#faults)) return true;
    const nack = activeFault(this.#faults, "nack");
    if (nack && coversDevice(nack.fault.params.address, device)) return true;
    const intermittent = activeFault(this.#faults, "intermittent-nack");
    if (!intermittent || !coversDevice(intermittent.fault.params.address, device)) return false;
    return this.#intermittentNacks!.next() < intermittent.fault.params.probability;
  }

  #deviceAt(address: number): Device | undefined {
    if (address === I2C_ADDRESS.A0) return "A0";
    if (address === I2C_ADDRESS.A2 && this.#hasA2h) return "A2";
    return undefined;
  }

  #currentPage(): Uint8Array | undefined {
    return this.#pages[this.#paging ? this.#a2[PAGE_SELECT.offset] : 0];
  }

  #byteAt(device: Device, offset: number): number {
    if (device === "A0") return this.#a0[offset];
    if (offset < A2_PAGE_START) return this.#a2[offset];
    return this.#currentPage()?.[offset - A2_PAGE_START] ?? ABSENT_BYTE;
  }

  /** Stores one host-written byte through its write mask; whether the byte changed. */
  #storeA2(offset: number, value: number): boolean {
    const mask = this.#a2WriteMasks[offset];
    if (mask === 0) return false;
    // Pages that do not exist take no writes.
    const bytes = offset < A2_PAGE_START ? this.#a2 : this.#currentPage();
    if (!bytes) return false;
    const at = offset < A2_PAGE_START ? offset : offset - A2_PAGE_START;
    const before = bytes[at];
    bytes[at] = (before & ~mask) | (value & mask);
    return bytes[at] !== before;
  }

  #afterA2Write(softTxDisableBefore: boolean): void {
    this.#updatePowerLevelState();
    const softTxDisable = readBit(this.#a2, STATUS, "softTxDisable");
    if (softTxDisable === softTxDisableBefore) return;
    this.#txDisableChanged(
      { type: "txDisable", source: "soft", asserted: softTxDisable, txDisabled: this.txDisabled },
      this.#txDisablePin || softTxDisableBefore,
    );
  }

  // ---------------------------------------------------------------- pins

  /** MOD_ABS is tied to ground inside a module: low, i.e. present. */
  get modAbs(): boolean {
    return false;
  }

  /** RX_LOS pin level (true = high); inverted when the profile declares an inverted LOS. */
  get rxLos(): boolean {
    this.#catchUp();
    return this.#pinLevels.rxLos;
  }

  /** TX_FAULT pin level (true = high = fault). */
  get txFault(): boolean {
    this.#catchUp();
    return this.#pinLevels.txFault;
  }

  /** Whether the transmitter is off: TX_DISABLE pin high or soft TX_DISABLE set. */
  get txDisabled(): boolean {
    return this.#txDisablePin || (this.#hasA2h && readBit(this.#a2, STATUS, "softTxDisable"));
  }

  setTxDisable(high: boolean, options: TxDisableOptions = {}): void {
    checkBoolean(high, "setTxDisable");
    if (high === this.#txDisablePin) return;
    const wasDisabled = this.txDisabled;
    this.#txDisablePin = high;
    this.#txDisableChanged(
      { type: "txDisable", source: "pin", asserted: high, txDisabled: this.txDisabled },
      wasDisabled,
      options.atInsertion,
    );
  }

  /**
   * Raises a TX_DISABLE change and what it causes. The end of a reset pulse (the transmitter on
   * again) that spends a latched TX_FAULT takes the fault out after that: the pin's own effects,
   * then the fault cleared, then TX_FAULT falling.
   */
  #txDisableChanged(event: TxDisableEvent, wasDisabled: boolean, atInsertion = false): void {
    const events: ModuleEvent[] = [event];
    this.#refresh(events);
    const latch = this.#latch;
    if (latch && this.#countResetPulse(latch, wasDisabled, event.txDisabled, atInsertion)) {
      const reason = latch.resets === 1
        ? "reset by host TX_DISABLE pulse"
        : `reset by ${latch.resets} host TX_DISABLE pulses`;
      this.#removeFault(this.#faults.get("tx-fault")!, events, reason);
    } else {
      this.#emit(events);
    }
  }

  /**
   * Counts SFF-8419 reset pulses of a latched TX_FAULT: the transmitter disabled while the fault
   * is in force, then enabled again. Whether this change ended the last pulse it needed.
   */
  #countResetPulse(
    latch: LatchCount,
    wasDisabled: boolean,
    disabled: boolean,
    atInsertion: boolean,
  ): boolean {
    if (wasDisabled === disabled) return false;
    if (atInsertion) {
      latch.inPulse = false; // the host's level before contact: no pulse the module saw begin
      return false;
    }
    if (disabled) {
      latch.inPulse = true;
      return false;
    }
    if (!latch.inPulse) return false; // began before the fault was set
    latch.inPulse = false;
    return --latch.resetsLeft === 0;
  }

  setRs0(high: boolean): void {
    checkBoolean(high, "setRs0");
    this.#rs0Pin = high;
    this.#refresh();
  }

  setRs1(high: boolean): void {
    checkBoolean(high, "setRs1");
    this.#rs1Pin = high;
    this.#refresh();
  }

  /** Forces RX_LOS or TX_FAULT asserted (true) or clear (false); null returns it to automatic. */
  forceSignal(signal: ForcibleSignal, value: boolean | null): void {
    if (signal !== "rxLos" && signal !== "txFault") {
      throw new TypeError(
        `forceSignal: unknown signal ${JSON.stringify(signal)}; expected "rxLos" or "txFault"`,
      );
    }
    if (value !== null) checkBoolean(value, "forceSignal");
    this.#forced[signal] = value;
    const events: ModuleEvent[] = [];
    this.#refresh(events);
    this.#emit(events);
  }

  // ---------------------------------------------------------------- diagnostics

  /**
   * Changes live values (human units). Values beyond what the A2h word holds saturate there like
   * a real ADC; -Infinity dBm is no light at all.
   */
  setDiagnostics(patch: Partial<Diagnostics>): void {
    if (!this.#hasA2h) {
      throw new Error(
        `module ${this.profile.id} has no diagnostics: it has no A2h (SFF-8472 compliance none)`,
      );
    }
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
      throw new TypeError("setDiagnostics needs an object like { rxPowerDbm: -20 }");
    }
    for (const [name, value] of Object.entries(patch)) {
      if (!DIAGNOSTIC_NAMES.includes(name as DiagnosticName)) {
        throw new TypeError(
          `unknown diagnostic "${name}"${didYouMean(name, DIAGNOSTIC_NAMES)}; expected ${
            DIAGNOSTIC_NAMES.join(", ")
          }`,
        );
      }
      if (value === undefined) continue;
      if (typeof value !== "number" || Number.isNaN(value)) {
        throw new TypeError(
          `${name} must be a number of ${quantityOf(name as DiagnosticName).units}, got ${String(value)}`,
        );
      }
    }
    const next = { ...this.#set };
    for (const name of DIAGNOSTIC_NAMES) if (patch[name] !== undefined) next[name] = patch[name]!;
    this.#set = next;
    // A value set by hand is where the module is now: a ramp or drift goes on from there.
    const timeMs = this.#clockMs();
    for (const kind of ["temperature-ramp", "rx-power-drift"] as const) {
      const moving = this.#faults.get(kind);
      if (moving && patch[ORIGIN_DIAGNOSTIC[kind]] !== undefined) {
        this.#faults.set(kind, { ...moving, origin: { value: next[ORIGIN_DIAGNOSTIC[kind]], atMs: timeMs } });
      }
    }
    const events: ModuleEvent[] = [];
    this.#refresh(events);
    this.#emit(events);
  }

  /**
   * What the module reports now (before quantisation), environment faults included: a disabled
   * transmitter shows 0 mA and −∞ dBm.
   */
  diagnostics(): Diagnostics {
    this.#catchUp();
    if (!this.txDisabled) return { ...this.#measured };
    return { ...this.#measured, txBiasMa: 0, txPowerDbm: -Infinity };
  }

  // ---------------------------------------------------------------- faults

  /**
   * Puts a fault into the module, replacing one of the same kind; returns it with defaults filled
   * in. Throws FaultError for an unknown kind or a bad parameter (naming what is allowed), or for
   * a fault the module cannot have (diagnostics faults on a module without A2h). With `progress`
   * (from faultProgress() of the module this one replaces after a restart) the fault goes on from
   * there instead of starting now; a RangeError when it does not fit the fault.
   */
  setFault(kind: string, params?: unknown, progress?: FaultProgress): Fault {
    const fault = checkFault(kind, params);
    if (FAULT_KIND_SPECS[fault.kind].needsA2h(fault.params) && !this.#hasA2h) {
      throw new FaultError(
        fault.kind,
        undefined,
        `needs diagnostics (A2h), but module ${this.profile.id} has none (SFF-8472 compliance none)`,
      );
    }
    if (progress !== undefined) checkProgress(fault, progress);
    const timeMs = this.#clockMs();
    const generation = progress?.generation ?? (this.#faultGenerations.get(fault.kind) ?? 0) + 1;
    this.#faultGenerations.set(fault.kind, generation);
    const seed32 = hashParts(...seedParts(this.seed), FAULT_KINDS.indexOf(fault.kind), generation);
    let origin: ActiveFault["origin"] = progress?.origin;
    if (!origin && (fault.kind === "temperature-ramp" || fault.kind === "rx-power-drift")) {
      // A ramp or drift replacing one goes on from where that one had got to, without a jump.
      const replaced = this.#faults.get(fault.kind);
      const from = replaced ? environmentAt(this.#set, new Map([[fault.kind, replaced]]), timeMs) : this.#set;
      origin = { value: from[ORIGIN_DIAGNOSTIC[fault.kind]], atMs: timeMs };
    }
    this.#faults.set(fault.kind, { fault, sinceMs: progress?.sinceMs ?? timeMs, seed32, origin });
    if (fault.kind === "intermittent-nack") this.#intermittentNacks = new SeededRandom(seed32);
    if (fault.kind === "tx-fault") {
      // Set again, the count starts over; a pulse already under way does not count. Going on from
      // progress, a pulse under way goes on if the transmitter is still off (restoreA2Control first).
      const { params } = fault;
      this.#latch = params.mode === "latched"
        ? {
          resets: params.resets,
          resetsLeft: progress?.resetsLeft ?? params.resets,
          inPulse: (progress?.inPulse ?? false) && this.txDisabled,
        }
        : undefined;
    }
    this.#faultsChanged({ type: "fault", active: true, ...fault });
    return fault;
  }

  /** How far each fault in force has got, by kind: what setFault takes to go on with it. */
  faultProgress(): Partial<Record<FaultKind, FaultProgress>> {
    const progress: Partial<Record<FaultKind, FaultProgress>> = {};
    for (const kind of FAULT_KINDS) {
      const active = this.#faults.get(kind);
      if (!active) continue;
      progress[kind] = {
        sinceMs: active.sinceMs,
        generation: this.#faultGenerations.get(kind)!,
        ...(active.origin ? { origin: { ...active.origin } } : {}),
        ...(kind === "tx-fault" && this.#latch
          ? { resetsLeft: this.#latch.resetsLeft, ...(this.#latch.inPulse ? { inPulse: true } : {}) }
          : {}),
      };
    }
    return progress;
  }

  /** Takes a fault out; false when none of that kind was set. Throws FaultError for an unknown kind. */
  clearFault(kind: string): boolean {
    const active = this.#faults.get(checkFaultKind(kind));
    if (!active) return false;
    this.#removeFault(active);
    return true;
  }

  /** Takes a fault out and raises its event (after `events`, what came before it) and its effects. */
  #removeFault(active: ActiveFault, events: ModuleEvent[] = [], reason?: string): void {
    this.#faults.delete(active.fault.kind);
    if (active.fault.kind === "intermittent-nack") this.#intermittentNacks = undefined;
    if (active.fault.kind === "tx-fault") this.#latch = undefined;
    this.#faultsChanged(
      { type: "fault", active: false, ...active.fault, ...(reason === undefined ? {} : { reason }) },
      events,
    );
  }

  /** The faults in force, with their parameters, in the order of FAULT_KINDS. */
  faults(): Fault[] {
    return FAULT_KINDS.flatMap((kind) => this.#faults.get(kind)?.fault ?? []);
  }

  /**
   * Whether a fault changes the module as time passes (pulses, flaps, ramps, noise, drift): the
   * lab then calls advance() every ~100 ms so that the events of those changes are raised.
   */
  get hasTimedBehaviour(): boolean {
    return this.#timed;
  }

  /**
   * Applies time-driven behaviour up to nowMs (default: the clock) and raises the events of what
   * changed. Reads apply it too, so a module nobody advances still answers correctly.
   */
  advance(nowMs: number = this.#now()): void {
    if (typeof nowMs !== "number" || !Number.isFinite(nowMs)) {
      throw new RangeError(`advance needs a finite time in ms, got ${String(nowMs)}`);
    }
    if (nowMs > this.#latestMs) this.#latestMs = nowMs;
    this.#catchUp();
  }

  /**
   * How long the I2C device should wait before answering a transfer to this address (a slow
   * fault); 0 for none. The module never sleeps itself: that would stall every other cage.
   */
  responseDelayMs(address: number): number {
    const device = this.#deviceAt(address);
    const slow = activeFault(this.#faults, "slow");
    if (!device || !slow || !coversDevice(slow.fault.params.address, device)) return 0;
    return slow.fault.params.delayMs;
  }

  #faultsChanged(event: ModuleEvent, events: ModuleEvent[] = []): void {
    this.#a0 = faultyA0(this.#pristineA0, this.#faults);
    if (this.#hasA2h) faultyCcDmi(this.#a2, this.#faults);
    this.#timed = [...this.#faults.values()].some(({ fault }) =>
      FAULT_KIND_SPECS[fault.kind].timed(fault.params)
    );
    this.#updateDataReady();
    this.#updatePowerLevelState();
    // The fault first, then what it caused.
    events.push(event);
    this.#refresh(events);
    this.#emit(events);
  }

  // ---------------------------------------------------------------- images

  /** A0h as a guest reads it now. */
  a0(): Uint8Array {
    return this.#a0.slice();
  }

  /** A2h as a guest reads it now (upper half = the selected page); all 0xFF when there is no A2h. */
  a2(): Uint8Array {
    const image = new Uint8Array(DEVICE_SIZE).fill(ABSENT_BYTE);
    if (!this.#hasA2h) return image;
    this.#catchUp();
    image.set(this.#a2);
    const page = this.#currentPage();
    if (page) image.set(page, A2_PAGE_START);
    return image;
  }

  /**
   * The user EEPROM (A2h bytes 128-247 of page 00h) as stored now, whatever page the host has
   * selected; empty for a module without A2h.
   */
  userEeprom(): Uint8Array {
    if (!this.#hasA2h) return new Uint8Array(0);
    const start = USER_EEPROM.offset - A2_PAGE_START;
    return this.#pages[0].slice(start, start + USER_EEPROM.size);
  }

  /** Puts back user EEPROM bytes saved from userEeprom() (after a restart); emits no event. */
  restoreUserEeprom(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("restoreUserEeprom needs a Uint8Array");
    const size = this.#hasA2h ? USER_EEPROM.size : 0;
    if (bytes.length !== size) {
      throw new RangeError(`module ${this.profile.id} has ${size} user EEPROM bytes, got ${bytes.length}`);
    }
    this.#pages[0]?.set(bytes, USER_EEPROM.offset - A2_PAGE_START);
  }

  /**
   * Everything else the host may write into A2h, as stored now: the lower half's writable bits
   * (A2h 110 soft TX_DISABLE and soft RS0, 118 soft RS1 and power level select, 127 the page
   * select with paging), then the upper half of each page from 01h on; every bit the host cannot
   * write reads 0. A2h offsets are kept: 128 bytes, plus 128 per page beyond 00h; empty without A2h.
   */
  a2Control(): Uint8Array {
    const control = new Uint8Array(this.#a2ControlSize());
    if (!this.#hasA2h) return control;
    const masks = this.#a2WriteMasks;
    for (let offset = 0; offset < A2_PAGE_START; offset++) control[offset] = this.#a2[offset] & masks[offset];
    for (let page = 1; page < this.#pages.length; page++) {
      const bytes = this.#pages[page];
      const at = A2_PAGE_START + (page - 1) * A2_PAGE_SIZE;
      for (let i = 0; i < A2_PAGE_SIZE; i++) control[at + i] = bytes[i] & masks[A2_PAGE_START + i];
    }
    return control;
  }

  /**
   * Puts back what a2Control() saved (after a restart) into a module not yet plugged, through the
   * write masks, with what it implies and without an event (the host caused none now): a soft
   * TX_DISABLE leaves the transmitter off (Tx bias and power read 0, flags as they follow), the
   * power level state follows its select, reads see the selected page. A latched TX_FAULT's reset
   * pulse stays under way only while the transmitter is still off.
   */
  restoreA2Control(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("restoreA2Control needs a Uint8Array");
    const size = this.#a2ControlSize();
    if (bytes.length !== size) {
      throw new RangeError(
        `module ${this.profile.id} has ${size} bytes of A2h control and pages (${this.#pages.length} ` +
          `page(s)), got ${bytes.length}`,
      );
    }
    if (!this.#hasA2h) return;
    const masks = this.#a2WriteMasks;
    const put = (target: Uint8Array, at: number, value: number, mask: number) => {
      target[at] = (target[at] & ~mask) | (value & mask);
    };
    for (let offset = 0; offset < A2_PAGE_START; offset++) {
      put(this.#a2, offset, bytes[offset], masks[offset]);
    }
    for (let page = 1; page < this.#pages.length; page++) {
      const from = A2_PAGE_START + (page - 1) * A2_PAGE_SIZE;
      for (let i = 0; i < A2_PAGE_SIZE; i++) {
        put(this.#pages[page], i, bytes[from + i], masks[A2_PAGE_START + i]);
      }
    }
    this.#updatePowerLevelState();
    if (this.#latch && !this.txDisabled) this.#latch.inPulse = false;
    this.#refresh(); // no events: the bytes and pins are as they were before the restart
  }

  #a2ControlSize(): number {
    return this.#hasA2h ? A2_PAGE_START + (this.#pages.length - 1) * A2_PAGE_SIZE : 0;
  }

  /** Every field of the images as a guest reads them now, decoded through the field map. */
  decode(): DecodedFields {
    return decodeImage({ a0: this.a0(), a2: this.#hasA2h ? this.a2() : undefined });
  }

  // ---------------------------------------------------------------- events

  /** Calls listener with every change; returns the function that stops it. */
  onChange(listener: (event: ModuleEvent) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("onChange needs a function");
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(events: readonly ModuleEvent[]): void {
    this.#pending.push(...events);
    // A listener that changes the module (or reads it, which may apply time) raises events of its
    // own: they wait for the ones before them, so every listener hears every change in order.
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (let event = this.#pending.shift(); event; event = this.#pending.shift()) {
        for (const listener of [...this.#listeners]) {
          // A failing listener must not stop the others or leave the module half-updated.
          try {
            listener(event);
          } catch (error) {
            console.error(`sfp module ${this.profile.id}: change listener failed:`, error);
          }
        }
      }
    } finally {
      this.#delivering = false;
    }
  }

  // ---------------------------------------------------------------- derived state

  /** The module's time: the clock, or the latest time seen if the clock went back. */
  #clockMs(): number {
    const nowMs = this.#now();
    if (nowMs > this.#latestMs) this.#latestMs = nowMs;
    return this.#latestMs;
  }

  /** Applies time up to the clock: Data_Ready_Bar always, the rest when a fault depends on time. */
  #catchUp(): void {
    const timeMs = this.#clockMs();
    this.#updateDataReady();
    if (!this.#timed || timeMs === this.#refreshedAtMs) return;
    const events: ModuleEvent[] = [];
    this.#refresh(events);
    this.#emit(events);
  }

  /**
   * Data_Ready_Bar is set until t_data after insertion, later by a slow-ready fault's delay;
   * computed from the time when observed, so no timer is needed.
   */
  #updateDataReady(): void {
    const pending = this.#latestMs < this.#readyAtMs + startUpDelayMs(this.#faults);
    if (pending === this.#dataReadyPending) return;
    this.#dataReadyPending = pending;
    writeBit(this.#a2, STATUS, "dataReadyBar", pending);
  }

  /** SFF-8472 A2h 118: the power level state follows the select when A0h byte 64 declares a level. */
  #updatePowerLevelState(): void {
    // The 300 ms a real module takes to change level (Linux T_HPOWER_LEVEL) is not modelled.
    const declared = POWER_LEVEL_BITS.some((bit) => readBit(this.#a0, OPTIONS, bit));
    const select = readBit(this.#a2, EXTENDED_CONTROL, "powerLevelSelect");
    writeBit(this.#a2, EXTENDED_CONTROL, "powerLevelState", declared && select);
  }

  /** Recomputes every derived byte and pin from the inputs and the time; appends changes to `events`. */
  #refresh(events?: ModuleEvent[]): void {
    const timeMs = this.#clockMs();
    this.#refreshedAtMs = timeMs;
    this.#measured = this.#faults.size > 0 ? environmentAt(this.#set, this.#faults, timeMs) : this.#set;
    const raw = this.#rawDiagnostics(this.#measured);
    if (this.#losRaw) {
      if (this.#losAsserted && raw.rxPowerDbm >= this.#losRaw.deassert) this.#losAsserted = false;
      else if (!this.#losAsserted && raw.rxPowerDbm < this.#losRaw.assert) this.#losAsserted = true;
    } else {
      this.#losAsserted = false;
    }
    // Forcing a signal is the test engineer's last word, over faults too.
    const rxLos = this.#forced.rxLos ?? (this.#losAsserted || rxLosFlapAsserted(this.#faults, timeMs));
    const txFault = this.#forced.txFault ?? txFaultLevel(this.#faults, timeMs);

    if (this.#hasA2h) {
      for (const name of DIAGNOSTIC_NAMES) writeInteger(this.#a2, LIVE_FIELDS[name], raw[name]);
      writeBit(this.#a2, STATUS, "txDisablePin", this.#txDisablePin);
      writeBit(this.#a2, STATUS, "rs1Pin", this.#rs1Pin);
      writeBit(this.#a2, STATUS, "rs0Pin", this.#rs0Pin);
      writeBit(this.#a2, STATUS, "txFault", txFault);
      writeBit(this.#a2, STATUS, "rxLos", rxLos);
      if (this.#flagsImplemented) this.#updateFlags(activeFlags(raw, this.#rawThresholds), events);
    }

    const levels: Record<ForcibleSignal, boolean> = { rxLos: rxLos !== this.#losInverted, txFault };
    for (const signal of ["rxLos", "txFault"] as const) {
      if (levels[signal] !== this.#pinLevels[signal]) events?.push({ type: signal, level: levels[signal] });
    }
    this.#pinLevels = levels;
  }

  #rawDiagnostics(values: Diagnostics): RawDiagnostics {
    const raw = {} as RawDiagnostics;
    for (const name of DIAGNOSTIC_NAMES) raw[name] = quantityOf(name).toRaw(values[name]);
    // A disabled laser emits nothing and draws no bias current.
    if (this.txDisabled) raw.txBiasMa = raw.txPowerDbm = 0;
    return raw;
  }

  #updateFlags(active: Flag[], events?: ModuleEvent[]): void {
    const raised = new Map(active.map((flag) => [flagName(flag), flag]));
    for (const flags of [ALARM_FLAGS, WARNING_FLAGS]) {
      this.#a2.fill(0, flags.offset, flags.offset + flags.size);
    }
    for (const flag of active) {
      writeBit(this.#a2, flag.level.endsWith("Alarm") ? ALARM_FLAGS : WARNING_FLAGS, flagBit(flag), true);
    }
    // A value crossing both thresholds in one step passes the warning first on the way out and
    // the alarm first on the way back: raises list warnings first, clears list alarms first.
    const isAlarm = (flag: Flag) => flag.level.endsWith("Alarm");
    const risen = [...raised].filter(([name]) => !this.#raisedFlags.has(name));
    for (
      const [name, flag] of [
        ...risen.filter(([, f]) => !isAlarm(f)),
        ...risen.filter(([, f]) => isAlarm(f)),
      ]
    ) {
      events?.push(flagEvent(name, flag, true));
    }
    const cleared = [...this.#raisedFlags].filter((name) => !raised.has(name)).map((name) =>
      [name, parseFlagName(name)] as const
    );
    for (
      const [name, flag] of [
        ...cleared.filter(([, f]) => isAlarm(f)),
        ...cleared.filter(([, f]) => !isAlarm(f)),
      ]
    ) {
      events?.push(flagEvent(name, flag, false));
    }
    this.#raisedFlags = new Set(raised.keys());
  }
}

function flagEvent(name: string, flag: Flag, raised: boolean): ModuleEvent {
  return { type: "flag", flag: name, diagnostic: flag.diagnostic, level: flag.level, raised };
}

const ALL_FLAGS: Flag[] = DIAGNOSTIC_NAMES.flatMap((diagnostic) =>
  THRESHOLD_LEVELS.map((level) => ({ diagnostic, level }))
);

function parseFlagName(name: string): Flag {
  return ALL_FLAGS.find((flag) => flagName(flag) === name)!;
}

/** Whether progress (from a state file: untrusted) fits the fault; a RangeError saying why not. */
function checkProgress(fault: Fault, progress: FaultProgress): void {
  const problem = (what: string) => new RangeError(`fault ${fault.kind}: progress ${what}`);
  const isTime = (value: unknown) => typeof value === "number" && Number.isFinite(value);
  if (typeof progress !== "object" || progress === null) throw problem("must be an object");
  if (!isTime(progress.sinceMs)) throw problem("sinceMs must be a finite number of ms");
  if (!Number.isSafeInteger(progress.generation) || progress.generation < 1) {
    throw problem("generation must be a whole number ≥ 1");
  }
  const moves = fault.kind === "temperature-ramp" || fault.kind === "rx-power-drift";
  const { origin, resetsLeft, inPulse } = progress;
  if (origin !== undefined && (!moves || !isTime(origin?.value) || !isTime(origin?.atMs))) {
    throw problem(moves ? "origin must be { value, atMs }, finite numbers" : "has an origin it cannot use");
  }
  if (resetsLeft === undefined && inPulse === undefined) return;
  if (fault.kind !== "tx-fault" || fault.params.mode !== "latched") {
    throw problem(`has ${resetsLeft === undefined ? "inPulse" : "resetsLeft"} it cannot use`);
  }
  if (
    resetsLeft !== undefined &&
    (!Number.isInteger(resetsLeft) || resetsLeft < 1 || resetsLeft > fault.params.resets)
  ) {
    throw problem(`resetsLeft must be a whole number 1..${fault.params.resets}`);
  }
  if (inPulse !== undefined && typeof inPulse !== "boolean") throw problem("inPulse must be true or false");
}

function checkBoolean(value: unknown, what: string): void {
  if (typeof value !== "boolean") throw new TypeError(`${what} needs true or false, got ${String(value)}`);
}
