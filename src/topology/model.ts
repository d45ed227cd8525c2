import type { formFactors } from "./schema.ts";

/**
 * The resolved topology the runtime consumes: defaults and kinds applied, environment variables
 * expanded, ids checked, socket paths absolute. Nothing here refers back to the YAML text.
 */
export interface Topology {
  name: string;
  /** The topology file as given to the loader; absent for text without a file. */
  file?: string;
  /** Absolute; set only when the topology names one (`defaults.stateDir`). */
  stateDir?: string;
  /** Absolute directory of the default socket paths. */
  socketDir?: string;
  /**
   * Every board kind by name, resolved (kind → defaults): a board can be re-inserted as any of
   * them. Look names up with Object.hasOwn: a name from a user may be "constructor".
   */
  kinds: Readonly<Record<string, BoardKind>>;
  olts: Olt[];
}

/** A board kind's layout, as a board of that kind gets it when nothing on the board overrides it. */
export interface BoardKind {
  description?: string;
  cageCount: number;
  formFactor: FormFactor;
  /** Exactly `cageCount` entries: the form factor of cage 1, 2, ... */
  cageFormFactors: FormFactor[];
  extras: BoardExtras;
  dataReadyDelayMs: number;
}

export interface Olt {
  id: string;
  boards: Board[];
}

/** One board VM: a set of cages behind one virtio-i2c and one virtio-gpio device. */
export interface Board {
  id: string;
  slot: number;
  kind: string;
  description?: string;
  cageCount: number;
  /** The board's usual cage form factor; a cage may differ (`Cage.formFactor`). */
  formFactor: FormFactor;
  extras: BoardExtras;
  /** Absolute paths of the vhost-user sockets QEMU connects to. */
  sockets: { i2c: string; gpio: string };
  /** Exactly `cageCount` entries, ids 1..cageCount in order. */
  cages: Cage[];
  /** Delay between insertion and Data_Ready (SFF-8472 A2h byte 110 bit 0) for modules plugged here. */
  dataReadyDelayMs: number;
}

/** The board's own management devices, besides its cages. */
export interface BoardExtras {
  idEeprom: boolean;
  temperatureSensor: boolean;
  /** Fields for the board ID EEPROM, when the topology gave any. */
  idEepromContent?: BoardIdentity;
  /** Initial reading of the board temperature sensor, when the topology gave one. */
  boardTemperatureC?: number;
}

export interface BoardIdentity {
  productName?: string;
  partNumber?: string;
  serialNumber?: string;
}

export type FormFactor = typeof formFactors[number];

export interface Cage {
  /** 1-based, as the front panel and the GPIO line names (`cage5-mod-abs`) number them. */
  id: number;
  formFactor: FormFactor;
  /** The module plugged at start, or null for an empty cage. */
  module: ModuleSpec | null;
}

/** A module as the topology describes it: a catalog profile plus per-unit identity and readings. */
export interface ModuleSpec {
  /** A catalog profile id, e.g. `sfp-gpon-olt-cplus`. */
  profile: string;
  /** Replace the profile's identity fields (SFF-8472 A0h, ASCII, lengths already checked). */
  overrides: ModuleOverrides;
  /** Initial diagnostics readings instead of the profile's typical values. */
  diagnostics?: ModuleDiagnostics;
}

export interface ModuleOverrides {
  vendorName?: string;
  vendorPn?: string;
  vendorRev?: string;
  vendorSn?: string;
  /** `YYMMDD` plus up to two lot-code characters. */
  dateCode?: string;
  /** Normalized to `XX:XX:XX`, upper-case hex. */
  vendorOui?: string;
}

export interface ModuleDiagnostics {
  temperatureC?: number;
  vccV?: number;
  txBiasMa?: number;
  txPowerDbm?: number;
  rxPowerDbm?: number;
}
