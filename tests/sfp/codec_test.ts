import assert from "node:assert/strict";
import { checkChecksums } from "../../src/sfp/checksum.ts";
import {
  decodeImage,
  encodeImage,
  type FieldValue,
  FieldValueError,
  normaliseFieldValue,
} from "../../src/sfp/codec.ts";
import { quantityOf } from "../../src/sfp/diagnostics.ts";
import { DEVICE_SIZE, field, SFF8472_FIELDS } from "../../src/sfp/field-map.ts";
import { profileFieldValues } from "../../src/sfp/profile.ts";
import { catalog, independentSum, profile } from "./support.ts";

// Real Finisar FTLX8571D3BCL (10GBASE-SR), A0h bytes 0-95, as quoted in sfp-facts.md §1.2.
const FINISAR_A0_0_95 = Uint8Array.from([
  0x03,
  0x04,
  0x07,
  0x10,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x06,
  0x67,
  0x00,
  0x00,
  0x00,
  0x08,
  0x03,
  0x00,
  0x1e,
  0x46,
  0x49,
  0x4e,
  0x49,
  0x53,
  0x41,
  0x52,
  0x20,
  0x43,
  0x4f,
  0x52,
  0x50,
  0x2e,
  0x20,
  0x20,
  0x20,
  0x00,
  0x00,
  0x90,
  0x65,
  0x46,
  0x54,
  0x4c,
  0x58,
  0x38,
  0x35,
  0x37,
  0x31,
  0x44,
  0x33,
  0x42,
  0x43,
  0x4c,
  0x20,
  0x20,
  0x20,
  0x41,
  0x20,
  0x20,
  0x20,
  0x03,
  0x52,
  0x00,
  0x48,
  0x00,
  0x1a,
  0x00,
  0x00,
  0x41,
  0x55,
  0x4a,
  0x30,
  0x52,
  0x43,
  0x4a,
  0x20,
  0x20,
  0x20,
  0x20,
  0x20,
  0x20,
  0x20,
  0x20,
  0x20,
  0x31,
  0x35,
  0x31,
  0x30,
  0x32,
  0x39,
  0x20,
  0x20,
  0x68,
  0xf0,
  0x03,
  0xf6,
]);

function finisarA0(): Uint8Array {
  const a0 = new Uint8Array(DEVICE_SIZE);
  a0.set(FINISAR_A0_0_95);
  return a0;
}

Deno.test("golden: the real Finisar FTLX8571D3BCL A0h decodes through the field map", () => {
  const a0 = finisarA0();
  const fields = decodeImage({ a0 });
  // Byte 32 is 0x2e: the vendor name really is "FINISAR CORP." with a full stop.
  assert.equal(fields.vendorName, "FINISAR CORP.");
  assert.equal(fields.vendorPn, "FTLX8571D3BCL");
  assert.equal(fields.vendorRev, "A");
  assert.equal(fields.vendorSn, "AUJ0RCJ");
  assert.equal(fields.dateCode, "151029");
  assert.equal(fields.vendorOui, "00:90:65");
  assert.equal(fields.wavelengthNm, 850);
  assert.equal(fields.identifier, "SFP");
  assert.equal(fields.extIdentifier, 4);
  assert.equal(fields.connector, "LC");
  assert.deepEqual(fields.transceiverCodes, ["10GBASE-SR"]);
  assert.equal(fields.encoding, "64B/66B");
  assert.equal(fields.brNominal100Mbd, 103);
  assert.equal(fields.lengthOm2_10m, 8);
  assert.equal(fields.lengthOm1_10m, 3);
  assert.equal(fields.lengthOm3_10m, 30);
  assert.deepEqual(fields.options, ["txDisable", "txFault", "losNormal"]);
  assert.deepEqual(fields.diagnosticMonitoringType, [
    "ddmImplemented",
    "internallyCalibrated",
    "rxPowerAverage",
  ]);
  assert.deepEqual(fields.enhancedOptions, [
    "alarmWarningFlags",
    "softTxDisable",
    "softTxFault",
    "softRxLos",
  ]);
  assert.equal(fields.sff8472Compliance, "rev10.2");
  assert.equal(fields.ccBase, 0x48);
  assert.equal(fields.ccExt, 0xf6);
  assert.equal(independentSum(a0, 0, 62), 0x48);
  assert.equal(independentSum(a0, 64, 94), 0xf6);
  assert.deepEqual(checkChecksums(a0, "A0").map((c) => [c.name, c.valid]), [["ccBase", true], [
    "ccExt",
    true,
  ]]);
});

Deno.test("golden: the sfp-10gbase-sr profile encodes to the real Finisar bytes 0-95", () => {
  const { a0 } = encodeImage(profileFieldValues(profile("sfp-10gbase-sr")));
  assert.deepEqual(a0.subarray(0, 96), FINISAR_A0_0_95);
});

Deno.test("a corrupted byte shows up as an invalid check code", () => {
  const a0 = finisarA0();
  a0[40] ^= 0x01;
  assert.deepEqual(checkChecksums(a0, "A0").map((c) => c.valid), [false, true]);
});

for (const p of catalog.values()) {
  Deno.test(`round trip ${p.id}: encode → decode gives the profile's fields back`, () => {
    const values = profileFieldValues(p);
    const image = encodeImage(values);
    const decoded = decodeImage(image);
    for (const [name, value] of Object.entries(values)) {
      const spec = field(name as never);
      const expected = normaliseFieldValue(spec, value);
      if (spec.encoding !== "checksum" && "quantity" in spec && spec.quantity) {
        // Stored in raw counts: the decoded value is the nearest representable one.
        const quantity = quantityOf(spec.quantity);
        assert.equal(quantity.toRaw(decoded[name] as number), quantity.toRaw(expected as number), name);
      } else {
        assert.deepEqual(decoded[name], expected, name);
      }
    }
    // Decoded fields encode back to the very same bytes: the map is its own inverse.
    const again = encodeImage(withoutChecksums(decoded));
    assert.deepEqual(again.a0, image.a0);
    assert.deepEqual(again.a2, image.a2);
  });

  Deno.test(`checksums of ${p.id} match an independent summation`, () => {
    const { a0, a2 } = encodeImage(profileFieldValues(p));
    assert.equal(a0[63], independentSum(a0, 0, 62), "CC_BASE");
    assert.equal(a0[95], independentSum(a0, 64, 94), "CC_EXT");
    assert.equal(a2[95], independentSum(a2, 0, 94), "CC_DMI");
  });
}

function withoutChecksums(fields: { readonly [name: string]: FieldValue }): Record<string, FieldValue> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !name.startsWith("cc")));
}

Deno.test("field map: every byte of A0h and A2h belongs to a field; overlaps are conditional variants", () => {
  for (const device of ["A0", "A2"] as const) {
    const fields = SFF8472_FIELDS.filter((f) => f.device === device);
    for (let offset = 0; offset < DEVICE_SIZE; offset++) {
      const covering = fields.filter((f) => offset >= f.offset && offset < f.offset + f.size);
      assert.ok(covering.length > 0, `${device}h byte ${offset} has no field`);
      if (covering.length > 1) {
        const conditions = new Set(covering.map((f) => f.when?.field));
        assert.ok(
          covering.every((f) => f.when) && conditions.size === 1,
          `${device}h byte ${offset}: ${covering.map((f) => f.name)} overlap`,
        );
      }
    }
  }
  const names = SFF8472_FIELDS.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, "field names are unique");
});

Deno.test("field map agrees with the spec offsets quoted in sfp-facts §1.2/§1.5", () => {
  const expected: [string, number, number][] = [
    ["vendorName", 20, 16],
    ["vendorOui", 37, 3],
    ["vendorPn", 40, 16],
    ["vendorRev", 56, 4],
    ["wavelengthNm", 60, 2],
    ["ccBase", 63, 1],
    ["options", 64, 2],
    ["vendorSn", 68, 16],
    ["dateCode", 84, 8],
    ["diagnosticMonitoringType", 92, 1],
    ["enhancedOptions", 93, 1],
    ["sff8472Compliance", 94, 1],
    ["ccExt", 95, 1],
    ["temperatureHighAlarm", 0, 2],
    ["vccLowWarning", 14, 2],
    ["rxPowerLowWarning", 38, 2],
    ["ccDmi", 95, 1],
    ["temperature", 96, 2],
    ["rxPower", 104, 2],
    ["statusControl", 110, 1],
    ["alarmFlags", 112, 2],
    ["warningFlags", 116, 2],
    ["extendedControl", 118, 1],
    ["pageSelect", 127, 1],
    ["userEeprom", 128, 120],
  ];
  for (const [name, offset, size] of expected) {
    const spec = field(name as never);
    assert.deepEqual([spec.offset, spec.size], [offset, size], name);
  }
});

Deno.test("conditional fields: a cable has cable compliance and copper length, not a wavelength", () => {
  const fields = decodeImage(encodeImage(profileFieldValues(profile("sfp-10g-dac-passive-3m"))));
  assert.equal(fields.wavelengthNm, undefined);
  assert.deepEqual(fields.cableCompliance, ["SFF-8431 Appendix E"]);
  assert.equal(fields.lengthCopperM, 3);
  assert.throws(
    () => encodeImage({ transceiverCodes: ["passive cable"], wavelengthNm: 850 }),
    /wavelengthNm .*applies only when transceiverCodes includes neither/,
  );
});

Deno.test("SFP28: nominal rate 0xFF moves the rate to byte 66 in 250 MBd units", () => {
  const { a0 } = encodeImage(profileFieldValues(profile("sfp28-25gbase-sr")));
  assert.equal(a0[12], 0xff);
  assert.equal(a0[66], 0x67);
  assert.equal(a0[36], 0x02);
  const fields = decodeImage({ a0 });
  assert.equal(fields.brNominal250Mbd, 103);
  assert.equal(fields.brMaxPercent, undefined);
});

Deno.test("bad values are refused with the field, its place and what is wrong", () => {
  const cases: [string, unknown, RegExp][] = [
    [
      "vendorName",
      "X".repeat(17),
      /vendorName \(A0h bytes 20-35\): "X{17}" is 17 characters; the field holds at most 16/,
    ],
    ["vendorName", "café", /outside printable ASCII/],
    ["vendorSn", 1234, /expected a string, got number 1234 \(quote it in YAML: "1234"\)/],
    ["dateCode", "2024-01", /is not YYMMDD/],
    ["dateCode", "241301", /is not YYMMDD with a valid month and day/],
    ["vendorOui", "00:90:6", /is not hex bytes/],
    ["vendorOui", "00:90:65:01", /4 bytes given; the field holds at most 3/],
    ["connector", "LCC", /unknown value "LCC" \(did you mean "LC"\?\)/],
    ["connector", 300, /out of range: codes are 0..255/],
    ["options", ["txDisable", "txDisable"], /listed twice/],
    ["options", ["txDisabled"], /unknown bit "txDisabled" \(did you mean "txDisable"\?\)/],
    ["options", 0x10000, /not a 2-byte bit mask/],
    ["wavelengthNm", 70000, /70000 nm is out of range: the field holds 0..65535 nm/],
    ["wavelengthNm", 850.5, /expected a whole number of nm/],
    ["temperatureHighAlarm", 200, /200 °C is out of range/],
    ["rxPowerLowAlarm", NaN, /expected a number/],
    ["ccBase", 0x48, /computed by the encoder/],
  ];
  for (const [name, value, message] of cases) {
    assert.throws(() => normaliseFieldValue(field(name as never), value), (error: unknown) => {
      assert.ok(error instanceof FieldValueError, `${name}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () => encodeImage({ vendorNmae: "X" }),
    /no SFF-8472 field named "vendorNmae" \(did you mean "vendorName"\?\)/,
  );
});

Deno.test("canonical forms: enum codes become names, bit masks become bit names, hex is padded", () => {
  assert.equal(normaliseFieldValue(field("connector"), 7), "LC");
  assert.equal(normaliseFieldValue(field("connector"), 0x99), 0x99);
  assert.deepEqual(normaliseFieldValue(field("options"), 0x001a), ["txDisable", "txFault", "losNormal"]);
  assert.equal(normaliseFieldValue(field("vendorOui"), "009065"), "00:90:65");
  assert.equal(normaliseFieldValue(field("vendorName"), "ACME   "), "ACME");
  // Reserved bits survive a decode/encode round trip under their positional names.
  const { a0 } = encodeImage({ options: ["reserved0.7"] });
  assert.equal(a0[64], 0x80);
  assert.deepEqual(decodeImage({ a0 }).options, ["reserved0.7"]);
});
