// The published JSON schema is generated from the same description the loader checks against.
import assert from "node:assert/strict";
import { builtinDefaults, topologyJsonSchema } from "../../src/topology/schema.ts";

const schemaFile = new URL("../../schema/topology.schema.json", import.meta.url);

Deno.test("schema/topology.schema.json is the generated schema", async () => {
  const onDisk = await Deno.readTextFile(schemaFile);
  assert.equal(
    onDisk,
    topologyJsonSchema(),
    "out of date: run ./node_modules/.bin/deno run src/topology/schema.ts > schema/topology.schema.json",
  );
});

Deno.test("the schema publishes the built-in defaults and closes every record", () => {
  const schema = JSON.parse(topologyJsonSchema());
  const board = schema.$defs.board;
  assert.equal(board.additionalProperties, false);
  assert.equal(board.properties.formFactor.default, builtinDefaults.formFactor);
  assert.equal(board.properties.dataReadyDelayMs.default, builtinDefaults.dataReadyDelayMs);
  assert.deepEqual(board.properties.formFactor.enum, ["sfp", "sfp+", "sfp28"]);
  assert.deepEqual(schema.required, ["name", "olts"]);
  assert.equal(schema.$defs.module.properties.vendorName.maxLength, 16);
  // Boards in list form need their id; in map form the key is the id.
  const boards = schema.$defs.olt.properties.boards.oneOf;
  assert.deepEqual(boards[0].items, { $ref: "#/$defs/board", type: "object", required: ["id", "slot"] });
  assert.deepEqual(boards[1].additionalProperties, { $ref: "#/$defs/board" });
});
