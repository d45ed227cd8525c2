// SFF-8472 rev 12.4 memory map of an SFP/SFP+/SFP28 module: every field of A0h (serial ID, I2C 0x50)
// and A2h (diagnostics, I2C 0x51) with its place, size and encoding. This is the only file that
// knows byte offsets: the encoder, the decoder, the module model and the profile loader all go
// through field names. Offsets are within the 256-byte device image; for A2h, bytes 128-255 are
// the selected page (page 00h unless the module pages).
import type { DiagnosticName, ThresholdLevel } from "./diagnostics.ts";

export type Device = "A0" | "A2";

/** SFF-8472: 7-bit I2C addresses of the two devices (A0h/A2h are their 8-bit write addresses). */
export const I2C_ADDRESS: Readonly<Record<Device, number>> = { A0: 0x50, A2: 0x51 };

/** One byte of a bitfield: the names of bits 7..0, null for reserved bits. */
export type BitRow = readonly (string | null)[];

/** A field that applies only when an earlier field says so (e.g. wavelength vs cable compliance). */
export type Condition =
  | { readonly field: string; readonly anyBit: readonly string[] }
  | { readonly field: string; readonly noBit: readonly string[] }
  | { readonly field: string; readonly equals: number }
  | { readonly field: string; readonly notEquals: number };

interface FieldBase {
  readonly name: string;
  readonly device: Device;
  readonly offset: number;
  readonly size: number;
  /** What the field is, as the spec calls it. */
  readonly label: string;
  /** Where a profile file sets this field (absent: not set by profiles). */
  readonly profileKey?: readonly string[];
  readonly when?: Condition;
  /** Host-writable: the whole field (true) or the named bits of a bitfield. */
  readonly writable?: true | readonly string[];
}

export type NumberField = FieldBase & {
  readonly encoding: "u8" | "u16" | "s16";
  /** A monitored quantity: converted by diagnostics.ts (dBm for power). */
  readonly quantity?: DiagnosticName;
  /** Linear fields: value = raw / countsPerUnit (absent: the raw integer itself). */
  readonly countsPerUnit?: number;
  readonly units?: string;
  readonly default?: number;
};
export type FloatField = FieldBase & { readonly encoding: "f32"; readonly default?: number };
export type AsciiField = FieldBase & {
  readonly encoding: "ascii";
  readonly pattern?: RegExp;
  /** Says in words what pattern wants, for error messages. */
  readonly patternHint?: string;
};
export type HexField = FieldBase & { readonly encoding: "hex" };
export type BitField = FieldBase & { readonly encoding: "bitfield"; readonly bits: readonly BitRow[] };
export type EnumField = FieldBase & {
  readonly encoding: "enum";
  readonly values: Readonly<Record<number, string>>;
  readonly default?: string;
};
/** Computed, never stored by hand: the low 8 bits of the sum of bytes first..last. */
export type ChecksumField = FieldBase & {
  readonly encoding: "checksum";
  readonly covers: readonly [number, number];
};

export type FieldSpec =
  | NumberField
  | FloatField
  | AsciiField
  | HexField
  | BitField
  | EnumField
  | ChecksumField;

// SFF-8024 Table 4-1: identifier values (byte 0).
// deno-fmt-ignore
const IDENTIFIERS = {
  0x00: "unknown", 0x01: "GBIC", 0x02: "SFF", 0x03: "SFP", 0x04: "300-pin XBI", 0x05: "XENPAK",
  0x06: "XFP", 0x07: "XFF", 0x08: "XFP-E", 0x09: "XPAK", 0x0a: "X2", 0x0b: "DWDM-SFP", 0x0c: "QSFP",
  0x0d: "QSFP+", 0x0e: "CXP", 0x11: "QSFP28", 0x18: "QSFP-DD", 0x19: "OSFP", 0x1a: "SFP-DD",
} as const;

// SFF-8024 Table 4-3: connector types (byte 2).
// deno-fmt-ignore
const CONNECTORS = {
  0x00: "unknown", 0x01: "SC", 0x02: "FC style 1", 0x03: "FC style 2", 0x04: "BNC/TNC", 0x05: "FC coax",
  0x06: "FiberJack", 0x07: "LC", 0x08: "MT-RJ", 0x09: "MU", 0x0a: "SG", 0x0b: "optical pigtail",
  0x0c: "MPO 1x12", 0x0d: "MPO 2x16", 0x20: "HSSDC II", 0x21: "copper pigtail", 0x22: "RJ45",
  0x23: "no separable connector", 0x24: "MXC 2x16", 0x25: "CS", 0x26: "SN", 0x27: "MPO 2x12",
  0x28: "MPO 1x16",
} as const;

// SFF-8024 Table 4-2, SFF-8472 column: encoding (byte 11).
// deno-fmt-ignore
const ENCODINGS = {
  0x00: "unspecified", 0x01: "8B/10B", 0x02: "4B/5B", 0x03: "NRZ", 0x04: "Manchester",
  0x05: "SONET scrambled", 0x06: "64B/66B", 0x07: "256B/257B", 0x08: "PAM4",
} as const;

// SFF-8472 byte 13: rate identifier (the common values; others decode as numbers).
// deno-fmt-ignore
const RATE_IDENTIFIERS = {
  0x00: "unspecified", 0x01: "SFF-8079", 0x02: "SFF-8431 Rx", 0x04: "SFF-8431 Tx",
  0x06: "SFF-8431 Rx and Tx", 0x0e: "FC-PI-5 10G/8G",
} as const;

// SFF-8024 Table 4-4: extended compliance codes (byte 36), the ones SFP modules use.
// deno-fmt-ignore
const EXTENDED_COMPLIANCE = {
  0x00: "unspecified", 0x02: "25GBASE-SR", 0x03: "25GBASE-LR", 0x04: "25GBASE-ER",
  0x0b: "25GBASE-CR CA-L", 0x0c: "25GBASE-CR CA-S", 0x0d: "25GBASE-CR CA-N", 0x16: "10GBASE-T SFI",
  0x1c: "10GBASE-T short reach",
} as const;

// SFF-8472 byte 94: the revision the module complies with; none means no A2h at all.
// deno-fmt-ignore
const SFF8472_REVISIONS = {
  0x00: "none", 0x01: "rev9.3", 0x02: "rev9.5", 0x03: "rev10.2", 0x04: "rev10.4", 0x05: "rev11.0",
  0x06: "rev11.3", 0x07: "rev11.4", 0x08: "rev12.3",
} as const;

// SFF-8472 bytes 3-10: transceiver compliance codes, as ethtool names them, bit 7 first.
// deno-fmt-ignore
const TRANSCEIVER_CODES: readonly BitRow[] = [
  ["10GBASE-ER", "10GBASE-LRM", "10GBASE-LR", "10GBASE-SR", "IB 1X SX", "IB 1X LX", "IB 1X copper active",
    "IB 1X copper passive"],
  ["ESCON MMF", "ESCON SMF", "OC-192 short reach", "SONET reach b1", "SONET reach b2", "OC-48 long reach",
    "OC-48 intermediate reach", "OC-48 short reach"],
  [null, "OC-12 long reach", "OC-12 intermediate reach", "OC-12 short reach", null, "OC-3 long reach",
    "OC-3 intermediate reach", "OC-3 short reach"],
  ["BASE-PX", "BASE-BX10", "100BASE-FX", "100BASE-LX/LX10", "1000BASE-T", "1000BASE-CX", "1000BASE-LX",
    "1000BASE-SX"],
  ["FC very long distance", "FC short distance", "FC intermediate distance", "FC long distance",
    "FC medium distance", "FC shortwave linear Rx", "FC longwave laser LC", "FC electrical inter-enclosure"],
  ["FC electrical intra-enclosure", "FC shortwave without OFC", "FC shortwave with OFC",
    "FC longwave laser LL", "active cable", "passive cable", null, null],
  ["FC twin axial pair", "FC twisted pair", "FC miniature coax", "FC video coax", "FC multimode 62.5um",
    "FC multimode 50um", null, "FC single mode"],
  ["FC 1200 MBps", "FC 800 MBps", "FC 1600 MBps", "FC 400 MBps", "FC 3200 MBps", "FC 200 MBps",
    "FC speed see byte 62", "FC 100 MBps"],
];

const CABLE_CODES = ["active cable", "passive cable"];
const IS_CABLE: Condition = { field: "transceiverCodes", anyBit: CABLE_CODES };
const IS_OPTICAL: Condition = { field: "transceiverCodes", noBit: CABLE_CODES };
// SFF-8472 byte 12: 0xFF means "above 25.4 GBd, see byte 66".
const BR_EXTENDED: Condition = { field: "brNominal100Mbd", equals: 0xff };
const BR_NORMAL: Condition = { field: "brNominal100Mbd", notEquals: 0xff };

// SFF-8472 A2h 112-113 and 116-117 share one layout.
// deno-fmt-ignore
const FLAG_BITS: readonly BitRow[] = [
  ["temperatureHigh", "temperatureLow", "vccHigh", "vccLow", "txBiasHigh", "txBiasLow", "txPowerHigh",
    "txPowerLow"],
  ["rxPowerHigh", "rxPowerLow", "laserTemperatureHigh", "laserTemperatureLow", "tecCurrentHigh",
    "tecCurrentLow", null, null],
];

type ThresholdSuffix = "HighAlarm" | "LowAlarm" | "HighWarning" | "LowWarning";
const THRESHOLD_SUFFIXES = ["HighAlarm", "LowAlarm", "HighWarning", "LowWarning"] as const;

/**
 * The four A2h threshold words of one value: high alarm, low alarm, high warning, low warning. The
 * five monitored diagnostics are set by profiles; the optional laser temperature and TEC current
 * ones are plain linear words.
 */
function thresholdFields<S extends string>(
  stem: S,
  offset: number,
  label: string,
  scale: { quantity: DiagnosticName } | { countsPerUnit: number; units: string },
): (FieldSpec & { name: `${S}${ThresholdSuffix}` })[] {
  return THRESHOLD_SUFFIXES.map((suffix, i) => {
    const level = suffix[0].toLowerCase() + suffix.slice(1);
    const signed = "countsPerUnit" in scale || scale.quantity === "temperatureC";
    return {
      name: `${stem}${suffix}` as const,
      device: "A2",
      offset: offset + 2 * i,
      size: 2,
      encoding: signed ? "s16" : "u16",
      ...scale,
      label: `${label} ${level} threshold`,
      ...("quantity" in scale && { profileKey: ["thresholds", scale.quantity, level] }),
    };
  });
}

/** SFF-8472 A2h 76-91: slope (unsigned 8.8 fixed point) and offset (signed raw counts) pairs. */
function calibrationPair<S extends string>(
  stem: S,
  offset: number,
  label: string,
): (FieldSpec & { name: `${S}${"Slope" | "Offset"}` })[] {
  return [
    {
      name: `${stem}Slope` as const,
      device: "A2",
      offset,
      size: 2,
      encoding: "u16",
      countsPerUnit: 256,
      default: 1,
      label: `external calibration ${label} slope`,
    },
    {
      name: `${stem}Offset` as const,
      device: "A2",
      offset: offset + 2,
      size: 2,
      encoding: "s16",
      label: `external calibration ${label} offset (raw counts)`,
    },
  ];
}

function rxPowerCoefficient<N extends number>(
  order: N,
  offset: number,
): FieldSpec & { name: `rxPowerCalibration${N}` } {
  // Rx_PWR(1) = 1.0 and the others 0 make every decoder agree, even those that apply external
  // calibration to internally calibrated modules (sfp-facts §1.5).
  return {
    name: `rxPowerCalibration${order}` as const,
    device: "A2",
    offset,
    size: 4,
    encoding: "f32",
    default: order === 1 ? 1 : 0,
    label: `external calibration Rx_PWR(${order})`,
  };
}

// deno-fmt-ignore
const FIELDS = [
  // ---- A0h: serial ID, base fields (CC_BASE covers 0-62) ----
  { name: "identifier", device: "A0", offset: 0, size: 1, encoding: "enum", values: IDENTIFIERS, default: "SFP",
    label: "identifier (SFF-8024 Table 4-1)", profileKey: ["codes", "identifier"] },
  { name: "extIdentifier", device: "A0", offset: 1, size: 1, encoding: "u8", default: 0x04,
    label: "extended identifier (0x04: function defined by two-wire ID only)",
    profileKey: ["codes", "extIdentifier"] },
  { name: "connector", device: "A0", offset: 2, size: 1, encoding: "enum", values: CONNECTORS,
    label: "connector (SFF-8024 Table 4-3)", profileKey: ["codes", "connector"] },
  { name: "transceiverCodes", device: "A0", offset: 3, size: 8, encoding: "bitfield", bits: TRANSCEIVER_CODES,
    label: "transceiver compliance codes", profileKey: ["codes", "transceiverCodes"] },
  { name: "encoding", device: "A0", offset: 11, size: 1, encoding: "enum", values: ENCODINGS,
    label: "encoding (SFF-8024 Table 4-2)", profileKey: ["codes", "encoding"] },
  { name: "brNominal100Mbd", device: "A0", offset: 12, size: 1, encoding: "u8", units: "100 MBd",
    label: "nominal signalling rate (0xFF: see byte 66)", profileKey: ["codes", "brNominal100Mbd"] },
  { name: "rateIdentifier", device: "A0", offset: 13, size: 1, encoding: "enum", values: RATE_IDENTIFIERS,
    label: "rate identifier", profileKey: ["codes", "rateIdentifier"] },
  { name: "lengthSmfKm", device: "A0", offset: 14, size: 1, encoding: "u8", units: "km",
    label: "link length, single mode fibre", profileKey: ["codes", "lengthSmfKm"] },
  { name: "lengthSmf100m", device: "A0", offset: 15, size: 1, encoding: "u8", units: "100 m",
    label: "link length, single mode fibre", profileKey: ["codes", "lengthSmf100m"] },
  { name: "lengthOm2_10m", device: "A0", offset: 16, size: 1, encoding: "u8", units: "10 m",
    label: "link length, 50 µm OM2", profileKey: ["codes", "lengthOm2_10m"] },
  { name: "lengthOm1_10m", device: "A0", offset: 17, size: 1, encoding: "u8", units: "10 m",
    label: "link length, 62.5 µm OM1", profileKey: ["codes", "lengthOm1_10m"] },
  { name: "lengthOm4_10m", device: "A0", offset: 18, size: 1, encoding: "u8", units: "10 m", when: IS_OPTICAL,
    label: "link length, 50 µm OM4", profileKey: ["codes", "lengthOm4_10m"] },
  { name: "lengthCopperM", device: "A0", offset: 18, size: 1, encoding: "u8", units: "m", when: IS_CABLE,
    label: "cable length (copper or active cable)", profileKey: ["codes", "lengthCopperM"] },
  { name: "lengthOm3_10m", device: "A0", offset: 19, size: 1, encoding: "u8", units: "10 m",
    label: "link length, 50 µm OM3", profileKey: ["codes", "lengthOm3_10m"] },
  { name: "vendorName", device: "A0", offset: 20, size: 16, encoding: "ascii",
    label: "vendor name", profileKey: ["identity", "vendorName"] },
  { name: "extendedCompliance", device: "A0", offset: 36, size: 1, encoding: "enum", values: EXTENDED_COMPLIANCE,
    label: "extended compliance code (SFF-8024 Table 4-4)", profileKey: ["codes", "extendedCompliance"] },
  { name: "vendorOui", device: "A0", offset: 37, size: 3, encoding: "hex",
    label: "vendor IEEE OUI", profileKey: ["identity", "vendorOui"] },
  { name: "vendorPn", device: "A0", offset: 40, size: 16, encoding: "ascii",
    label: "vendor part number", profileKey: ["identity", "vendorPn"] },
  { name: "vendorRev", device: "A0", offset: 56, size: 4, encoding: "ascii",
    label: "vendor revision", profileKey: ["identity", "vendorRev"] },
  { name: "wavelengthNm", device: "A0", offset: 60, size: 2, encoding: "u16", units: "nm", when: IS_OPTICAL,
    label: "laser wavelength", profileKey: ["wavelengthNm"] },
  { name: "cableCompliance", device: "A0", offset: 60, size: 2, encoding: "bitfield", when: IS_CABLE,
    bits: [[null, null, null, null, "FC-PI-4 limiting", "SFF-8431 limiting", "FC-PI-4 Appendix H",
      "SFF-8431 Appendix E"], [null, null, null, null, null, null, null, null]],
    label: "cable specification compliance", profileKey: ["codes", "cableCompliance"] },
  { name: "fibreChannelSpeed2", device: "A0", offset: 62, size: 1, encoding: "bitfield",
    bits: [[null, null, null, null, null, null, null, "FC 64GFC"]],
    label: "Fibre Channel speed 2", profileKey: ["codes", "fibreChannelSpeed2"] },
  { name: "ccBase", device: "A0", offset: 63, size: 1, encoding: "checksum", covers: [0, 62],
    label: "CC_BASE: check code of bytes 0-62" },

  // ---- A0h: extended fields (CC_EXT covers 64-94) ----
  { name: "options", device: "A0", offset: 64, size: 2, encoding: "bitfield",
    bits: [[null, null, "highPowerLevel", "pagingImplemented", "retimerOrCdr", "cooledTransceiver",
      "powerLevel2", "linearReceiverOutput"], ["rxDecisionThreshold", "tunableTransmitter", "rateSelect",
      "txDisable", "txFault", "losInverted", "losNormal", null]],
    label: "implemented options", profileKey: ["codes", "options"] },
  { name: "brMaxPercent", device: "A0", offset: 66, size: 1, encoding: "u8", units: "%", when: BR_NORMAL,
    label: "signalling rate, max (% above nominal)", profileKey: ["codes", "brMaxPercent"] },
  { name: "brNominal250Mbd", device: "A0", offset: 66, size: 1, encoding: "u8", units: "250 MBd",
    when: BR_EXTENDED, label: "nominal signalling rate above 25.4 GBd", profileKey: ["codes", "brNominal250Mbd"] },
  { name: "brMinPercent", device: "A0", offset: 67, size: 1, encoding: "u8", units: "%", when: BR_NORMAL,
    label: "signalling rate, min (% below nominal)", profileKey: ["codes", "brMinPercent"] },
  { name: "brRangePercent", device: "A0", offset: 67, size: 1, encoding: "u8", units: "%", when: BR_EXTENDED,
    label: "signalling rate range (± % around byte 66)", profileKey: ["codes", "brRangePercent"] },
  { name: "vendorSn", device: "A0", offset: 68, size: 16, encoding: "ascii",
    label: "vendor serial number", profileKey: ["identity", "vendorSn"] },
  { name: "dateCode", device: "A0", offset: 84, size: 8, encoding: "ascii",
    // A real month and day: firmware that parses the date code (inventory, ageing reports) trusts it.
    pattern: /^(\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])[ -~]{0,2})?$/,
    patternHint: "YYMMDD with a valid month and day, and an optional 2-character lot code",
    label: "date code", profileKey: ["identity", "dateCode"] },
  { name: "diagnosticMonitoringType", device: "A0", offset: 92, size: 1, encoding: "bitfield",
    bits: [["legacyDiagnostics", "ddmImplemented", "internallyCalibrated", "externallyCalibrated",
      "rxPowerAverage", "addressChangeRequired", null, null]],
    label: "diagnostic monitoring type", profileKey: ["codes", "diagnosticMonitoringType"] },
  { name: "enhancedOptions", device: "A0", offset: 93, size: 1, encoding: "bitfield",
    bits: [["alarmWarningFlags", "softTxDisable", "softTxFault", "softRxLos", "softRateSelect",
      "applicationSelect", "softRateSelectSff8431", null]],
    label: "enhanced options", profileKey: ["codes", "enhancedOptions"] },
  { name: "sff8472Compliance", device: "A0", offset: 94, size: 1, encoding: "enum", values: SFF8472_REVISIONS,
    label: "SFF-8472 compliance (none: no A2h)", profileKey: ["codes", "sff8472Compliance"] },
  { name: "ccExt", device: "A0", offset: 95, size: 1, encoding: "checksum", covers: [64, 94],
    label: "CC_EXT: check code of bytes 64-94" },
  { name: "vendorSpecific", device: "A0", offset: 96, size: 32, encoding: "hex",
    label: "vendor specific", profileKey: ["vendorSpecific"] },
  { name: "reservedSff8079", device: "A0", offset: 128, size: 128, encoding: "hex",
    label: "reserved (SFF-8079)" },

  // ---- A2h lower half: thresholds, calibration (CC_DMI covers 0-94) ----
  ...thresholdFields("temperature", 0, "temperature", { quantity: "temperatureC" }),
  ...thresholdFields("vcc", 8, "supply voltage", { quantity: "vccV" }),
  ...thresholdFields("txBias", 16, "Tx bias", { quantity: "txBiasMa" }),
  ...thresholdFields("txPower", 24, "Tx power", { quantity: "txPowerDbm" }),
  ...thresholdFields("rxPower", 32, "Rx power", { quantity: "rxPowerDbm" }),
  ...thresholdFields("laserTemperature", 40, "optional laser temperature", { countsPerUnit: 256, units: "°C" }),
  ...thresholdFields("tecCurrent", 48, "optional TEC current", { countsPerUnit: 10, units: "mA" }),
  rxPowerCoefficient(4, 56),
  rxPowerCoefficient(3, 60),
  rxPowerCoefficient(2, 64),
  rxPowerCoefficient(1, 68),
  rxPowerCoefficient(0, 72),
  ...calibrationPair("txBias", 76, "Tx bias"),
  ...calibrationPair("txPower", 80, "Tx power"),
  ...calibrationPair("temperature", 84, "temperature"),
  ...calibrationPair("vcc", 88, "supply voltage"),
  { name: "reservedA2", device: "A2", offset: 92, size: 3, encoding: "hex", label: "reserved" },
  { name: "ccDmi", device: "A2", offset: 95, size: 1, encoding: "checksum", covers: [0, 94],
    label: "CC_DMI: check code of A2h bytes 0-94" },

  // ---- A2h lower half: live values, status/control, flags (computed by the module) ----
  { name: "temperature", device: "A2", offset: 96, size: 2, encoding: "s16", quantity: "temperatureC",
    label: "internal temperature" },
  { name: "vcc", device: "A2", offset: 98, size: 2, encoding: "u16", quantity: "vccV", label: "supply voltage" },
  { name: "txBias", device: "A2", offset: 100, size: 2, encoding: "u16", quantity: "txBiasMa",
    label: "Tx bias current" },
  { name: "txPower", device: "A2", offset: 102, size: 2, encoding: "u16", quantity: "txPowerDbm",
    label: "Tx output power" },
  { name: "rxPower", device: "A2", offset: 104, size: 2, encoding: "u16", quantity: "rxPowerDbm",
    label: "Rx received power" },
  { name: "laserTemperature", device: "A2", offset: 106, size: 2, encoding: "s16", countsPerUnit: 256,
    units: "°C", label: "optional laser temperature" },
  { name: "tecCurrent", device: "A2", offset: 108, size: 2, encoding: "s16", countsPerUnit: 10, units: "mA",
    label: "optional TEC current" },
  { name: "statusControl", device: "A2", offset: 110, size: 1, encoding: "bitfield",
    bits: [["txDisablePin", "softTxDisable", "rs1Pin", "rs0Pin", "softRs0Select", "txFault", "rxLos",
      "dataReadyBar"]],
    writable: ["softTxDisable", "softRs0Select"], label: "status/control" },
  { name: "reservedA2Status", device: "A2", offset: 111, size: 1, encoding: "u8", label: "reserved" },
  { name: "alarmFlags", device: "A2", offset: 112, size: 2, encoding: "bitfield", bits: FLAG_BITS,
    label: "alarm flags" },
  { name: "equalizationControl", device: "A2", offset: 114, size: 2, encoding: "hex",
    label: "Tx input equalisation / Rx output emphasis control (optional)" },
  { name: "warningFlags", device: "A2", offset: 116, size: 2, encoding: "bitfield", bits: FLAG_BITS,
    label: "warning flags" },
  { name: "extendedControl", device: "A2", offset: 118, size: 1, encoding: "bitfield",
    bits: [[null, null, null, null, "softRs1Select", null, "powerLevelState", "powerLevelSelect"]],
    writable: ["softRs1Select", "powerLevelSelect"], label: "extended module control/status" },
  { name: "reservedA2Control", device: "A2", offset: 119, size: 1, encoding: "u8", label: "reserved" },
  { name: "vendorSpecificA2", device: "A2", offset: 120, size: 7, encoding: "hex", label: "vendor specific" },
  { name: "pageSelect", device: "A2", offset: 127, size: 1, encoding: "u8", writable: true,
    label: "page select (only with paging implemented)" },

  // ---- A2h upper half: the selected page (00h by default) ----
  { name: "userEeprom", device: "A2", offset: 128, size: 120, encoding: "hex", writable: true,
    label: "user writable EEPROM", profileKey: ["userEeprom"] },
  { name: "vendorControl", device: "A2", offset: 248, size: 8, encoding: "hex", label: "vendor control functions" },
] as const satisfies readonly FieldSpec[];

/** Every field of A0h then A2h, in address order (a field's condition refers only to earlier fields). */
export const SFF8472_FIELDS: readonly FieldSpec[] = FIELDS;

/** Field names the code refers to; a typo is a compile error. */
export type FieldName = (typeof FIELDS)[number]["name"];

const byName = new Map<string, FieldSpec>(SFF8472_FIELDS.map((f) => [f.name, f]));

export function field(name: FieldName): FieldSpec {
  const spec = byName.get(name);
  if (!spec) throw new Error(`no SFF-8472 field named "${name}"`);
  return spec;
}

/** Fields by their profile key ("thresholds.rxPowerDbm.lowAlarm"), for constant-time lookups. */
const byProfileKey = new Map<string, FieldSpec>(
  SFF8472_FIELDS.filter((f) => f.profileKey).map((f) => [f.profileKey!.join("."), f]),
);

/** The threshold word of a monitored diagnostic, e.g. (rxPowerDbm, lowAlarm) → rxPowerLowAlarm. */
export function thresholdField(diagnostic: DiagnosticName, level: ThresholdLevel): NumberField {
  return byProfileKey.get(`thresholds.${diagnostic}.${level}`) as NumberField;
}

export function findField(name: string): FieldSpec | undefined {
  return byName.get(name);
}

/** "A0h bytes 20-35" / "A2h byte 110": where a field lives, for messages. */
export function fieldPlace(spec: FieldSpec): string {
  const last = spec.offset + spec.size - 1;
  return `${spec.device}h ${spec.size === 1 ? `byte ${spec.offset}` : `bytes ${spec.offset}-${last}`}`;
}

/** Size of each device's address space: 256 bytes, like an AT24C02. */
export const DEVICE_SIZE = 256;
/** A2h bytes from here up are the selected page. */
export const A2_PAGE_START = field("userEeprom").offset;
export const A2_PAGE_SIZE = DEVICE_SIZE - A2_PAGE_START;

/**
 * Per-byte masks of what a host may write, from the fields' `writable` declarations; bytes outside
 * any writable field are read-only (writes to them are ignored, as real modules do).
 */
export function writableMasks(device: Device): Uint8Array {
  const masks = new Uint8Array(DEVICE_SIZE);
  for (const spec of SFF8472_FIELDS) {
    if (spec.device !== device || !spec.writable) continue;
    for (let i = 0; i < spec.size; i++) {
      masks[spec.offset + i] = spec.writable === true
        ? 0xff
        : bitMaskOfRow(spec as BitField, i, spec.writable);
    }
  }
  return masks;
}

function bitMaskOfRow(spec: BitField, row: number, names: readonly string[]): number {
  let mask = 0;
  spec.bits[row].forEach((name, i) => {
    if (name !== null && names.includes(name)) mask |= 0x80 >> i;
  });
  return mask;
}

/** The byte and bit mask of a named bit of a bitfield. */
export function bitPosition(spec: BitField, bitName: string): { offset: number; mask: number } | undefined {
  for (let row = 0; row < spec.bits.length; row++) {
    const index = spec.bits[row].indexOf(bitName);
    if (index >= 0) return { offset: spec.offset + row, mask: 0x80 >> index };
  }
  return undefined;
}
