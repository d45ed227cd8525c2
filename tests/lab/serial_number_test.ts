// Serial numbers derived from the cage for modules plugged without one.
import assert from "node:assert/strict";
import { cageSerialNumber } from "../../src/lab/serial-number.ts";

Deno.test("a derived serial number: the profile's prefix, 8 base-36 digits of the cage, at most 16 characters", () => {
  const serial = cageSerialNumber("SEGPB0000001", "olt1/lt1/3");
  assert.match(serial, /^SEGPB[0-9A-Z]{8}$/);
  assert.equal(cageSerialNumber("SEGPB0000001", "olt1/lt1/3"), serial, "the same cage, the same number");
  assert.match(
    cageSerialNumber("AUJ0RCJ", "olt1/lt1/3"),
    /^AUJ0RCJ[0-9A-Z]{8}$/,
    "no running number to drop",
  );
  assert.match(cageSerialNumber("0000000001", "olt1/lt1/3"), /^[0-9A-Z]{8}$/, "only a running number");
  assert.match(cageSerialNumber("VERYLONGPREFIX01", "olt1/lt1/3"), /^VERYLONG[0-9A-Z]{8}$/);
  const all = new Set<string>();
  for (let board = 1; board <= 64; board++) {
    for (let cage = 1; cage <= 32; cage++) {
      all.add(cageSerialNumber("SEGPB0000001", `olt1/lt${board}/${cage}`));
    }
  }
  assert.equal(all.size, 64 * 32, "2,048 cages, 2,048 serial numbers");
});
