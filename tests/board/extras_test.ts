// The board's own devices on the root I2C segment: the ONIE TlvInfo ID EEPROM at 0x57 and the
// LM75 temperature sensor at 0x48, read through the bus as a guest's at24 / lm75 drivers would,
// and through the whole stack (LabBoard, vhost-user, virtio-i2c) by a board VM.
import assert from "node:assert/strict";
import { BoardPlanes } from "../../src/board/board.ts";
import { encodeTlvInfo, fitBoardIdentity, ID_EEPROM_ADDRESS, TlvType } from "../../src/board/id-eeprom.ts";
import { decodeLm75Celsius, encodeLm75Celsius, LM75_ADDRESS } from "../../src/board/lm75.ts";
import { boardLayout } from "../../src/lab/lab-board.ts";
import { crc32, decodeTlvInfo, GUEST_MODES, withBoard } from "./board-fixture.ts";

const identity = {
  productName: "GPON-16 line card",
  partNumber: "LC-GPON16-A",
  serialNumber: "SN0001",
  macBase: "02:5f:00:00:01:01",
  manufactureDate: "01/15/2024 10:00:00",
  platformName: "sfpemu-olt",
  manufacturer: "sfpemu",
};

function planes() {
  return new BoardPlanes({
    cageCount: 2,
    formFactor: "sfp",
    extras: { idEeprom: identity, temperatureSensor: { temperatureC: 41.5 } },
  });
}

function readEeprom(p: BoardPlanes): Uint8Array {
  assert.ok(p.i2c.write(0x57, new Uint8Array([0])));
  const image = new Uint8Array(256);
  // at24 reads in chunks; two halves exercise the auto-increment.
  assert.ok(p.i2c.read(0x57, image.subarray(0, 128)));
  assert.ok(p.i2c.read(0x57, image.subarray(128)));
  return image;
}

Deno.test("the ID EEPROM holds an ONIE TlvInfo record with a valid CRC-32", () => {
  const image = readEeprom(planes());
  assert.equal(new TextDecoder().decode(image.subarray(0, 8)), "TlvInfo\0");
  assert.equal(image[8], 1);
  const length = (image[9] << 8) | image[10];
  const fields = new Map<number, Uint8Array>();
  let at = 11;
  while (at < 11 + length) {
    fields.set(image[at], image.subarray(at + 2, at + 2 + image[at + 1]));
    at += 2 + image[at + 1];
  }
  const text = (type: number) => new TextDecoder().decode(fields.get(type));
  assert.equal(text(0x21), identity.productName);
  assert.equal(text(0x22), identity.partNumber);
  assert.equal(text(0x23), identity.serialNumber);
  assert.deepEqual([...fields.get(0x24)!], [0x02, 0x5f, 0x00, 0x00, 0x01, 0x01]);
  assert.equal(text(0x25), identity.manufactureDate);
  // The CRC TLV is last and covers everything before its value.
  const crcAt = 11 + length - 6;
  assert.equal(image[crcAt], 0xfe);
  const stored = new DataView(image.buffer).getUint32(crcAt + 2, false);
  assert.equal(stored, crc32(image.subarray(0, crcAt + 2)));
  assert.ok(image.subarray(11 + length).every((b) => b === 0xff), "unused bytes read as erased");
});

Deno.test("the ID EEPROM is write-protected: data bytes are acknowledged and dropped", () => {
  const p = planes();
  const before = readEeprom(p);
  assert.ok(p.i2c.write(0x57, new Uint8Array([0x10, 0xaa, 0xbb])));
  assert.deepEqual(readEeprom(p), before);
});

Deno.test("the LM75 reports the board temperature in 0.5 °C steps, negative too", () => {
  const p = planes();
  const readTemperature = () => {
    assert.ok(p.i2c.write(0x48, new Uint8Array([0])));
    const word = new Uint8Array(2);
    assert.ok(p.i2c.read(0x48, word));
    return decodeLm75Celsius((word[0] << 8) | word[1]);
  };
  assert.equal(readTemperature(), 41.5);
  p.temperatureSensor!.setTemperature(-12.3);
  assert.equal(readTemperature(), -12.5);
  p.temperatureSensor!.setTemperature(90.26);
  assert.equal(readTemperature(), 90.5);
  assert.equal(encodeLm75Celsius(-0.5), 0xff80);
  assert.equal(encodeLm75Celsius(125), 0x7d00);
});

Deno.test("the LM75 limits are writable and return to power-on values on reset", () => {
  const p = planes();
  const register = (pointer: number) => {
    p.i2c.write(0x48, new Uint8Array([pointer]));
    const word = new Uint8Array(2);
    p.i2c.read(0x48, word);
    return decodeLm75Celsius((word[0] << 8) | word[1]);
  };
  assert.equal(register(3), 80); // T_OS
  assert.equal(register(2), 75); // T_HYST
  p.i2c.write(0x48, new Uint8Array([3, 0x46, 0x00])); // T_OS = 70 °C
  assert.equal(register(3), 70);
  assert.ok(p.i2c.write(0x48, new Uint8Array([0, 0x12, 0x34])), "the temperature register is read-only");
  p.i2c.reset();
  assert.equal(register(3), 80);
  assert.equal(register(0), 41.5);
});

Deno.test("a scan of a board with extras finds the muxes, the sensor and the ID EEPROM", () => {
  const p = planes();
  const found = [];
  for (let address = 0x03; address <= 0x77; address++) {
    if (p.i2c.read(address, new Uint8Array(1))) found.push(address);
  }
  assert.deepEqual(found, [0x48, 0x57, 0x70]);
  const bare = new BoardPlanes({ cageCount: 2, formFactor: "sfp" });
  assert.equal(bare.idEeprom, undefined);
  assert.equal(bare.i2c.read(0x57, new Uint8Array(1)), false);
});

Deno.test("a record too long for the EEPROM is shortened, longest field first, and made ASCII", () => {
  const fitted = fitBoardIdentity({
    ...identity,
    productName: "Ä".repeat(120),
    platformName: "p".repeat(100),
  });
  const [product, platform] = [fitted.productName.length, fitted.platformName.length];
  assert.ok(Math.abs(product - platform) <= 1, `both shortened evenly: ${product}, ${platform}`);
  assert.match(fitted.productName, /^\?+$/);
  assert.deepEqual({ ...fitted, productName: "", platformName: "" }, {
    ...identity,
    productName: "",
    platformName: "",
  });
  const image = encodeTlvInfo(fitted);
  assert.throws(
    () => encodeTlvInfo({ ...fitted, productName: `${fitted.productName}x` }),
    RangeError,
    "fitted to the last byte",
  );
  assert.equal(decodeTlvInfo(image).get(0x2b)?.length, identity.manufacturer.length);
});

for (const mode of GUEST_MODES) {
  Deno.test(`extras (${mode}): a board VM reads the ID EEPROM at 0x57 and the LM75 at 0x48 over virtio-i2c`, async () => {
    await withBoard(async (fixture) => {
      const i2c = await fixture.connectI2c(mode);
      const image = new Uint8Array(256);
      for (let offset = 0; offset < 256; offset += 32) {
        const chunk = await i2c.readAt(ID_EEPROM_ADDRESS, offset, 32);
        assert.ok(chunk, `0x57 answers at ${offset}`);
        image.set(chunk, offset);
      }
      const fields = decodeTlvInfo(image);
      const text = (type: number) => new TextDecoder().decode(fields.get(type));
      // What the topology gave, then what is made up for the rest.
      assert.equal(text(TlvType.PRODUCT_NAME), "GPON-16 line card");
      assert.equal(text(TlvType.PART_NUMBER), "gpon-16");
      assert.equal(text(TlvType.SERIAL_NUMBER), "OLT1-LT1");
      const mac = [...fields.get(TlvType.MAC_BASE)!];
      assert.equal(mac.length, 6);
      assert.equal(mac[0], 0x02, "locally administered, unicast");
      assert.equal(text(TlvType.MANUFACTURER), "sfpemu");
      assert.equal(text(TlvType.PLATFORM_NAME), "sfpemu");
      assert.match(text(TlvType.MANUFACTURE_DATE), /^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);

      const temperature = async () => {
        const word = await i2c.readAt(LM75_ADDRESS, 0, 2);
        assert.ok(word, "0x48 answers");
        return decodeLm75Celsius((word[0] << 8) | word[1]);
      };
      assert.equal(await temperature(), 47.5);
      fixture.planes.temperatureSensor!.setTemperature(-3);
      assert.equal(await temperature(), -3);
      assert.deepEqual((await i2c.scan("read")).filter((a) => a < 0x70), [LM75_ADDRESS, ID_EEPROM_ADDRESS]);
    }, {
      kind: "gpon-16",
      description: "GPON-16 line card",
      extras: { idEeprom: true, temperatureSensor: true, boardTemperatureC: 47.5 },
    });
  });
}

Deno.test("a board's made-up identity is the same on every run and differs between boards", () => {
  const spec = (id: string) => ({
    id,
    slot: 1,
    kind: "gpon-16",
    cageCount: 1,
    formFactor: "sfp" as const,
    extras: { idEeprom: true, temperatureSensor: false, idEepromContent: { serialNumber: "GIVEN-1" } },
    sockets: { i2c: "", gpio: "" },
    cages: [{ id: 1, formFactor: "sfp" as const, module: null }],
    dataReadyDelayMs: 0,
  });
  const one = boardLayout("olt1", spec("lt1"), "lab-a").extras!;
  assert.deepEqual(boardLayout("olt1", spec("lt1"), "lab-a").extras, one);
  const two = boardLayout("olt1", spec("lt2"), "lab-a").extras!;
  assert.equal(one.idEeprom!.serialNumber, "GIVEN-1", "the topology's serial number wins");
  assert.equal(one.idEeprom!.productName, "gpon-16", "no description: the kind");
  assert.equal(one.idEeprom!.platformName, "lab-a");
  assert.notEqual(one.idEeprom!.macBase, two.idEeprom!.macBase);
  assert.equal(one.temperatureSensor, undefined);
});
