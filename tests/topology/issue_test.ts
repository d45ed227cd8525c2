// Key paths and did-you-mean, the parts of every message.
import assert from "node:assert/strict";
import { formatPath } from "../../src/topology/issue.ts";
import { closestName } from "../../src/spelling/closest-name.ts";
import { expandEnvironment } from "../../src/topology/expand.ts";

Deno.test("key paths: indices in brackets, plain keys after dots, odd keys quoted", () => {
  assert.equal(formatPath([]), "");
  assert.equal(
    formatPath(["olts", 0, "boards", 2, "cages", "5", "profile"]),
    "olts[0].boards[2].cages.5.profile",
  );
  assert.equal(formatPath(["kinds", "pon.16"]), 'kinds["pon.16"]');
  assert.equal(formatPath(["olts", "olt-1", "boards"]), "olts.olt-1.boards");
});

Deno.test("did-you-mean: typos and dropped words, not unrelated or whole-word guesses", () => {
  const profiles = ["sfp-10gbase-lr", "sfp-10gbase-sr", "sfp-gpon-olt-bplus", "sfp-gpon-olt-cplus"];
  assert.equal(closestName("sfp-10g-srr", profiles), "sfp-10gbase-sr");
  assert.equal(closestName("sfp-gpon-olt-c+", profiles), "sfp-gpon-olt-cplus");
  assert.equal(closestName("sfp-gpon-olt-cpls", profiles), "sfp-gpon-olt-cplus");
  assert.equal(closestName("profle", ["profile", "vendorName"]), "profile");
  assert.equal(closestName("vendorname", ["vendorName", "vendorPn"]), "vendorName");
  assert.equal(closestName("a", ["id", "k"]), undefined);
  assert.equal(closestName("qsfp28-100g", profiles), undefined);
  assert.equal(closestName("x", []), undefined);
});

Deno.test("environment references expand once: a value is never expanded again", () => {
  const env: Record<string, string> = { A: "${B}", B: "b" };
  assert.deepEqual(expandEnvironment("${A}-${B}", (name) => env[name]), { value: "${B}-b" });
  assert.deepEqual(expandEnvironment("${MISSING:=a:=b}", () => undefined), { value: "a:=b" });
  assert.deepEqual(expandEnvironment("cost $5 $${X}", () => undefined), { value: "cost $5 ${X}" });
});
