// The e2e tier's console reader: guest marker lines interleaved with other output on the one serial
// console are cut apart again, so the tier's waits anchored at ^E2E still see them.
import assert from "node:assert/strict";
import { parseResults, splitAtMarkers } from "./qemu.ts";

Deno.test("console: a line without a marker, or with one at its start, stays whole", () => {
  assert.deepEqual(splitAtMarkers("[    1.2] sfp sfp1: module removed"), [
    "[    1.2] sfp sfp1: module removed",
  ]);
  assert.deepEqual(splitAtMarkers("E2E-KMSG: 17 sfp sfp1: module removed"), [
    "E2E-KMSG: 17 sfp sfp1: module removed",
  ]);
  assert.deepEqual(splitAtMarkers(""), [""]);
});

Deno.test("console: a streamed kernel line inside a shell's error message becomes its own line", () => {
  // As a CI run printed it: ash's "/init: eval: " and "line 7: can't open ..." came in two writes.
  assert.deepEqual(splitAtMarkers("/init: eval: E2E-KMSG: 1753792 sfp sfp1: module removed"), [
    "/init: eval: ",
    "E2E-KMSG: 1753792 sfp sfp1: module removed",
  ]);
});

Deno.test("console: every marker in a line starts a line, and results read the cut lines", () => {
  const lines = splitAtMarkers("noise E2E: a=1E2E: b=2 E2E-END rc=0");
  assert.deepEqual(lines, ["noise ", "E2E: a=1", "E2E: b=2 ", "E2E-END rc=0"]);
  assert.deepEqual(parseResults(lines), { a: "1", b: "2 " });
  assert.deepEqual(splitAtMarkers("E2E-FILE: sfp1.state: x E2E-DMESG: y"), [
    "E2E-FILE: sfp1.state: x ",
    "E2E-DMESG: y",
  ]);
  // "E2E" not followed by a marker's punctuation is text, not a marker.
  assert.deepEqual(splitAtMarkers("x E2Ex E2E-KMSGy"), ["x E2Ex E2E-KMSGy"]);
});
