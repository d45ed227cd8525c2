// A board's own devices through the API and a board VM: GET /topology says what each board has
// (ID EEPROM with its identity, temperature sensor with its reading), PATCH .../boards/{board}
// sets the LM75 reading the VM's lm75 driver sees over virtio-i2c, tells of it as an event and
// keeps it across a restart; a board without a sensor refuses with 422.
import assert from "node:assert/strict";
import { LM75_ADDRESS } from "../../src/board/lm75.ts";
import { decodeLm75Celsius } from "../../src/board/lm75.ts";
import { ID_EEPROM_ADDRESS, TlvType } from "../../src/board/id-eeprom.ts";
import { decodeTlvInfo } from "../board/board-fixture.ts";
import { LabFixture, withDir } from "../lab/lab-fixture.ts";
import type { I2cClient } from "../support/i2c-client.ts";

const TOPOLOGY = `
name: extras-lab
kinds:
  gpon-8:
    description: 8-port GPON line board
    cages: 8
    formFactor: sfp
    idEeprom: { serialNumber: LB0001 }
    temperatureSensor: { temperatureC: 41.5 }
  bare-2:
    cages: 2
    formFactor: sfp
  plain-8:
    cages: 8
    formFactor: sfp
olts:
  - id: olt1
    boards:
      - { id: lt1, slot: 1, kind: gpon-8 }
      - { id: lt2, slot: 2, kind: bare-2 }
`;
const LT1 = "/olts/olt1/boards/lt1";

interface BoardView {
  id: string;
  extras: {
    idEeprom: boolean;
    temperatureSensor: boolean;
    identity?: Record<string, string>;
    temperatureC?: number;
  };
}

async function boards(lab: LabFixture): Promise<Map<string, BoardView>> {
  const topology = await (await lab.request("GET", "/topology")).json();
  return new Map(topology.olts[0].boards.map((b: BoardView) => [b.id, b]));
}

async function readTemperature(i2c: I2cClient): Promise<number> {
  const word = await i2c.readAt(LM75_ADDRESS, 0, 2);
  assert.ok(word, "the LM75 answers at 0x48");
  return decodeLm75Celsius((word[0] << 8) | word[1]);
}

Deno.test("board extras: GET /topology shows them, PATCH sets the LM75 a board VM reads, a restart keeps it", () =>
  withDir(async (dir) => {
    {
      await using lab = await LabFixture.start({ dir, topology: TOPOLOGY });
      const before = await boards(lab);
      assert.deepEqual(before.get("lt2")!.extras, { idEeprom: false, temperatureSensor: false });
      const extras = before.get("lt1")!.extras;
      assert.equal(extras.temperatureC, 41.5);
      assert.deepEqual(
        { ...extras.identity, macBase: undefined },
        {
          productName: "8-port GPON line board",
          partNumber: "gpon-8",
          serialNumber: "LB0001",
          macBase: undefined,
          manufactureDate: "01/01/2025 00:00:00",
          platformName: "extras-lab",
          manufacturer: "sfpemu",
        },
      );
      assert.match(extras.identity!.macBase, /^02(:[0-9a-f]{2}){5}$/);

      const { i2c } = await lab.attachGuest("olt1", "lt1");
      // The guest reads the same identity from the EEPROM at 0x57 as the API shows.
      const image = new Uint8Array(256);
      for (let offset = 0; offset < 256; offset += 64) {
        image.set((await i2c.readAt(ID_EEPROM_ADDRESS, offset, 64))!, offset);
      }
      const fields = decodeTlvInfo(image);
      assert.equal(new TextDecoder().decode(fields.get(TlvType.SERIAL_NUMBER)), "LB0001");
      assert.equal(
        [...fields.get(TlvType.MAC_BASE)!].map((b) => b.toString(16).padStart(2, "0")).join(":"),
        extras.identity!.macBase,
      );
      assert.equal(await readTemperature(i2c), 41.5);

      const response = await lab.request("PATCH", LT1, { temperatureC: 71.5 });
      assert.equal(response.status, 200);
      assert.deepEqual((await response.json()).extras.temperatureC, 71.5);
      assert.equal(await readTemperature(i2c), 71.5, "the VM sees it at once");
      const event = lab.events.findLast((e) => e.type === "board-temperature-set");
      assert.deepEqual([event?.path, event?.temperatureC], ["olt1/lt1", 71.5]);
      assert.equal((await boards(lab)).get("lt1")!.extras.temperatureC, 71.5);
    }
    // A restart on the same state directory: the board reads what the user set.
    await using again = await LabFixture.start({ dir, topology: TOPOLOGY });
    assert.equal((await boards(again)).get("lt1")!.extras.temperatureC, 71.5);
    const { i2c } = await again.attachGuest("olt1", "lt1");
    assert.equal(await readTemperature(i2c), 71.5);
  }));

Deno.test("board extras: PATCH refuses a board without a sensor, bad bodies and unknown boards", async () => {
  await using lab = await LabFixture.start({ topology: TOPOLOGY });
  const refused = async (path: string, body: unknown, status: number, where: string, message: RegExp) => {
    const response = await lab.request("PATCH", path, body);
    const error = (await response.json()).error;
    assert.equal(response.status, status, JSON.stringify(error));
    assert.equal(error.path, where);
    assert.match(error.message, message);
  };
  await refused("/olts/olt1/boards/lt2", { temperatureC: 50 }, 422, "olt1/lt2", /has no temperature sensor/);
  await refused(LT1, { temperatureC: 126 }, 422, "body.temperatureC", /from -55 to 125/);
  await refused(LT1, { temperatureC: "hot" }, 422, "body.temperatureC", /must be a number/);
  await refused(LT1, {}, 422, "body.temperatureC", /is required/);
  await refused(LT1, { temperatureC: 50, fan: 3 }, 422, "body.fan", /unknown key "fan"/);
  await refused("/olts/olt1/boards/lt9", { temperatureC: 50 }, 404, "olt1/lt9", /no board lt9/);
  assert.equal(lab.events.some((e) => e.type === "board-temperature-set"), false, "nothing was set");
  assert.equal(lab.lab.board("olt1", "lt1").planes.temperatureSensor!.temperatureC, 41.5);
});

Deno.test("board extras: a board put back as another kind has that kind's devices", async () => {
  await using lab = await LabFixture.start({ topology: TOPOLOGY });
  assert.equal((await lab.request("PATCH", LT1, { temperatureC: 60 })).status, 200);
  await lab.request("DELETE", LT1);
  assert.equal((await lab.request("PUT", LT1, { kind: "bare-2" })).status, 200);
  assert.deepEqual((await boards(lab)).get("lt1")!.extras, { idEeprom: false, temperatureSensor: false });
  assert.equal((await lab.request("PATCH", LT1, { temperatureC: 60 })).status, 422);
  await lab.request("DELETE", LT1);
  await lab.request("PUT", LT1, { kind: "gpon-8" });
  const extras = (await boards(lab)).get("lt1")!.extras;
  assert.equal(extras.temperatureC, 41.5, "the topology's reading: the set one went with the sensor");
  assert.equal(extras.identity?.partNumber, "gpon-8");
});

Deno.test("board extras: a kind with the same cages but other devices swaps only the devices", async () => {
  await using lab = await LabFixture.start({ topology: TOPOLOGY });
  lab.lab.plug("olt1", "lt1", 3, { profile: "sfp-1000base-lx", overrides: {} });
  const module = lab.lab.module("olt1", "lt1", 3);
  await lab.request("DELETE", LT1);
  const seq = lab.lab.events.lastSeq;
  assert.equal((await lab.request("PUT", LT1, { kind: "plain-8" })).status, 200);
  assert.deepEqual((await boards(lab)).get("lt1")!.extras, { idEeprom: false, temperatureSensor: false });
  assert.equal(lab.lab.module("olt1", "lt1", 3), module, "the module stayed in its cage");
  assert.deepEqual(lab.lab.events.since(seq).map((e) => e.type), ["board-inserted"]);
  const { i2c } = await lab.attachGuest("olt1", "lt1");
  assert.deepEqual((await i2c.scan("read")).filter((a) => a < 0x70), [], "nothing at 0x48 or 0x57 any more");
});
