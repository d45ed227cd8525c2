// The board's I2C plane through the whole stack: a board's vhost-user socket, real memfd memory
// and eventfds, the backend's virtqueue, VirtioI2cDevice, the PCA9548 muxes and the SFP models,
// driven by a guest-side client that builds requests the way Linux's i2c-virtio does. Every test
// runs once per transport flavour (modern and legacy virtio).
import assert from "node:assert/strict";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import { bitField, numberField, readBit, readInteger } from "../../src/sfp/codec.ts";
import { bitPosition, field, I2C_ADDRESS } from "../../src/sfp/field-map.ts";
import { GUEST_MODES, withBoard } from "../board/board-fixture.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import type { ChainSpec } from "../support/driver-ring.ts";
import { sliceBuffer } from "../support/guest-memory.ts";
import {
  I2C_FLAG_M_RD,
  I2C_OUT_HEADER_SIZE,
  I2C_STATUS_ERR,
  I2C_STATUS_OK,
  I2cClient,
  type I2cMessage,
  readMessage,
  UNTOUCHED_DATA_BYTE,
  UNTOUCHED_STATUS,
  writeMessage,
} from "../support/i2c-client.ts";

const A0 = I2C_ADDRESS.A0;
const A2 = I2C_ADDRESS.A2;
const STATUS_CONTROL = bitField("statusControl");
const SOFT_TX_DISABLE = bitPosition(STATUS_CONTROL, "softTxDisable")!.mask;
const TX_DISABLE_PIN = bitPosition(STATUS_CONTROL, "txDisablePin")!.mask;
const TEMPERATURE = numberField("temperature");
const USER_EEPROM_OFFSET = field("userEeprom").offset;
/** A 7-bit address nothing on the board uses. */
const NOBODY = 0x42;

/** Opens exactly the channel of one cage (and closes every other channel of its mux). */
async function selectCage(client: I2cClient, cageId: number): Promise<void> {
  const { muxAddress, channel } = cageI2cLocation(cageId);
  await client.selectChannels(muxAddress, 1 << channel);
}

/** Bytes as hex for readable assertion messages. */
function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

for (const mode of GUEST_MODES) {
  Deno.test(`i2c (${mode}): with every channel closed only the muxes answer a scan`, async () => {
    await withBoard(async (fixture) => {
      fixture.plug(1, "sfp-10gbase-sr");
      fixture.plug(9, "sfp-1000base-lx");
      const client = await fixture.connectI2c(mode);
      // Ten cages: two PCA9548s, at 0x70 (cages 1-8) and 0x71 (cages 9-10).
      assert.deepEqual(await client.scan("quick"), [0x70, 0x71]);
      assert.deepEqual(await client.scan("read"), [0x70, 0x71]);
      assert.equal(await client.receiveByte(0x70), 0, "a PCA9548 powers up with every channel closed");
      assert.equal(await client.receiveByte(0x71), 0);
    });
  });

  Deno.test(`i2c (${mode}): A0h and A2h read in the sfp driver's 16-byte chunks equal the model`, async () => {
    await withBoard(async (fixture) => {
      const near = fixture.plug(3, "sfp-10gbase-sr");
      const far = fixture.plug(10, "sfp-gpon-olt-cplus");
      const client = await fixture.connectI2c(mode);
      await selectCage(client, 3);
      assert.equal(await client.receiveByte(0x70), 1 << 2, "the control register reads back");
      assert.deepEqual(await client.scan("quick"), [A0, A2, 0x70, 0x71]);
      assert.deepEqual(await client.readDevice(A0), near.a0());
      assert.deepEqual(await client.readDevice(A2), near.a2());
      // Close the first mux, open cage 10's channel on the second.
      await client.selectChannels(0x70, 0);
      await selectCage(client, 10);
      assert.deepEqual(await client.readDevice(A0), far.a0());
      assert.deepEqual(await client.readDevice(A2), far.a2());
      // at24 reads in larger blocks: the same bytes.
      assert.deepEqual(await client.readDevice(A0, 256, 128), far.a0());
    });
  });

  Deno.test(`i2c (${mode}): live DDM in A2h follows setDiagnostics`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(2, "sfp-10gbase-sr");
      const client = await fixture.connectI2c(mode);
      await selectCage(client, 2);
      for (const temperatureC of [41.5, -5.25, 70]) {
        module.setDiagnostics({ temperatureC });
        const word = await client.readAt(A2, TEMPERATURE.offset, 2);
        assert.ok(word, "the temperature word was read");
        assert.equal(new DataView(word.buffer).getInt16(0, false) / 256, temperatureC);
        // The whole real-time block in one chunk, as the sfp hwmon reads it.
        const live = await client.readAt(A2, TEMPERATURE.offset, 10);
        assert.deepEqual(live, module.a2().subarray(TEMPERATURE.offset, TEMPERATURE.offset + 10));
      }
      const image = await client.readDevice(A2);
      assert.equal(readInteger(image, TEMPERATURE), 70 * 256);
    });
  });

  Deno.test(`i2c (${mode}): writing soft TX_DISABLE (A2h 110 bit 6) turns the model's laser off and on`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(4, "sfp-10gbase-sr");
      const client = await fixture.connectI2c(mode);
      const gpio = await fixture.connectGpio(mode);
      // The TX_DISABLE pin is pulled high until the host drives it: drive it low, as sfp.c does.
      assert.ok(await gpio.directionOutput(fixture.planes.gpio.lineIndex("cage4-tx-disable"), 0));
      assert.equal(module.txDisabled, false);
      await selectCage(client, 4);
      const offset = STATUS_CONTROL.offset;
      // sfp_soft_set_state(): read-modify-write of the status/control byte.
      const before = (await client.readAt(A2, offset, 1))![0];
      assert.equal(before & SOFT_TX_DISABLE, 0);
      assert.ok(await client.write(A2, offset, before | SOFT_TX_DISABLE));
      assert.equal(module.txDisabled, true);
      const set = (await client.readAt(A2, offset, 1))![0];
      assert.equal(set & SOFT_TX_DISABLE, SOFT_TX_DISABLE, `status/control reads ${set.toString(16)}`);
      assert.equal(set & TX_DISABLE_PIN, 0, "the TX_DISABLE pin bit still says low");
      assert.ok(await client.write(A2, offset, set & ~SOFT_TX_DISABLE));
      assert.equal(module.txDisabled, false);
      const types = fixture.events.since(0).map((e) => e.type).filter((t) => t === "module-txDisable");
      assert.ok(types.length >= 2, "the lab published the soft TX_DISABLE changes");
    });
  });

  Deno.test(`i2c (${mode}): an empty cage NACKs, and FAIL_NEXT fails the rest of the group`, async () => {
    await withBoard(async (fixture) => {
      const client = await fixture.connectI2c(mode);
      await selectCage(client, 6);
      const chunk = await client.transfer([writeMessage(A0, 0), readMessage(A0, 16)]);
      assert.equal(chunk.count, 0);
      assert.deepEqual(chunk.messages.map((m) => m.status), [I2C_STATUS_ERR, I2C_STATUS_ERR]);
      assert.deepEqual(
        chunk.messages[1].data,
        new Uint8Array(16).fill(0xff),
        "the failed read holds idle-bus bytes",
      );
      // A failure in the middle: what came before it happened, what follows it is not attempted.
      const { muxAddress } = cageI2cLocation(6);
      const group = await client.transfer([
        writeMessage(muxAddress, 1 << 0),
        writeMessage(A0, 0),
        readMessage(muxAddress, 1),
      ]);
      assert.deepEqual(group.messages.map((m) => m.status), [I2C_STATUS_OK, I2C_STATUS_ERR, I2C_STATUS_ERR]);
      assert.deepEqual(
        group.messages[2].data,
        Uint8Array.of(0xff),
        "the mux read after the failure was not done",
      );
      // The group ended with its last message: the next transfer is served afresh.
      assert.equal(await client.receiveByte(muxAddress), 1 << 0);
      // A failing last message (no FAIL_NEXT) does not spill into the next transfer either.
      assert.equal((await client.transfer([readMessage(NOBODY, 1)])).ok, false);
      assert.equal(await client.receiveByte(muxAddress), 1 << 0);
    });
  });

  Deno.test(`i2c (${mode}): a module pulled between two chunk reads fails the second read cleanly`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(7, "sfp-10gbase-sr");
      const client = await fixture.connectI2c(mode);
      await selectCage(client, 7);
      assert.deepEqual(await client.readAt(A0, 0, 16), module.a0().subarray(0, 16));
      fixture.planes.cage(7)!.unplug();
      const second = await client.transfer([writeMessage(A0, 16), readMessage(A0, 16)]);
      assert.equal(second.count, 0);
      assert.deepEqual(second.messages.map((m) => m.status), [I2C_STATUS_ERR, I2C_STATUS_ERR]);
      assert.deepEqual(second.messages[1].data, new Uint8Array(16).fill(0xff));
      assert.deepEqual(await client.scan("quick"), [0x70, 0x71], "the bus still works; the cage is silent");
      const next = fixture.plug(7, "sfp-1000base-lx");
      assert.deepEqual(await client.readDevice(A0), next.a0(), "a new module answers at once");
    });
  });

  Deno.test(`i2c (${mode}): two open channels with a module each: both ACK 0x50, data is wired-AND`, async () => {
    await withBoard(async (fixture) => {
      const optical = fixture.plug(1, "sfp-10gbase-sr");
      const copper = fixture.plug(2, "sfp-10g-dac-passive-3m"); // no A2h: NACKs 0x51
      const client = await fixture.connectI2c(mode);
      await client.selectChannels(0x70, 0b11);
      const expected = optical.a0().map((byte, i) => byte & copper.a0()[i]);
      const both = await client.readDevice(A0);
      assert.deepEqual(both, expected, `A0h reads ${hex(both.subarray(0, 16))}...`);
      assert.deepEqual(await client.readDevice(A2), optical.a2(), "0x51: only the optical module answers");
      // Without idle-disconnect, two muxes can leave two cages on the bus as well.
      const third = fixture.plug(9, "sfp-gpon-olt-cplus");
      await client.selectChannels(0x70, 0b01);
      await selectCage(client, 9);
      const twoMuxes = await client.readDevice(A0);
      assert.deepEqual(twoMuxes, optical.a0().map((byte, i) => byte & third.a0()[i]));
      // A write reaches every device at the address: both lasers go off.
      assert.ok(await client.write(A2, STATUS_CONTROL.offset, SOFT_TX_DISABLE));
      for (const module of [optical, third]) {
        assert.equal(readBit(module.a2(), STATUS_CONTROL, "softTxDisable"), true);
      }
    });
  });

  Deno.test(`i2c (${mode}): a failed read returns its data buffer filled with idle-bus bytes, then the status`, async () => {
    await withBoard(async (fixture) => {
      const client = await fixture.connectI2c(mode);
      for (const length of [1, 16, 255]) {
        const result = await client.transfer([readMessage(NOBODY, length)]);
        const [read] = result.messages;
        assert.equal(read.status, I2C_STATUS_ERR);
        assert.deepEqual(read.data, new Uint8Array(length).fill(0xff), "no stale guest bytes survive");
        assert.equal(read.usedLength, length + 1, "the device wrote the data and the status");
      }
      // Zero-length read (SMBus quick read) to nobody: only the status.
      const quickRead = await client.transfer([readMessage(NOBODY, 0)]);
      assert.equal(quickRead.messages[0].status, I2C_STATUS_ERR);
      assert.equal(quickRead.messages[0].usedLength, 1);
    });
  });

  Deno.test(`i2c (${mode}): malformed requests get an error status and the device keeps serving`, async () => {
    await withBoard(async (fixture) => {
      fixture.plug(1, "sfp-10gbase-sr");
      const client = await fixture.connectI2c(mode);
      const memory = client.frontend.memory;
      const indirect = client.indirect;
      const header = (address: number, flags: number, size = I2C_OUT_HEADER_SIZE) => {
        const buffer = memory.allocate(size, 64);
        const view = new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, size);
        if (size >= 2) view.setUint16(0, address << 1, true);
        if (size >= 8) view.setUint32(4, flags, true);
        return buffer;
      };
      const status = () => {
        const buffer = memory.allocate(1, 64);
        buffer.bytes[0] = UNTOUCHED_STATUS;
        return buffer;
      };
      const shortHeader = { out: header(0x70, I2C_FLAG_M_RD, 4), status: status() };
      const noStatus = { out: header(0x70, 0) };
      const bigRead = {
        out: header(0x70, I2C_FLAG_M_RD),
        data: memory.allocate(64 * 1024, 64),
        status: status(),
      };
      bigRead.data.bytes.fill(0xa5);
      const bigWrite = { out: header(0x70, 0), data: memory.allocate(64 * 1024, 64), status: status() };
      const tenBit = { out: header(0, 0), status: status() };
      new DataView(tenBit.out.bytes.buffer, tenBit.out.bytes.byteOffset).setUint16(0, 0x50f0, true);
      const onlyWritable = { status: status() };
      // The buffer must go the way M_RD says: device-writable for a read, device-readable for a write.
      const readFromReadable = {
        out: header(0x70, I2C_FLAG_M_RD),
        data: memory.allocate(4, 64),
        status: status(),
      };
      const writeIntoWritable = { out: header(0x70, 0), data: memory.allocate(4, 64), status: status() };
      writeIntoWritable.data.bytes.fill(0x07);
      const chains: ChainSpec[] = [
        { readable: [shortHeader.out], writable: [shortHeader.status], indirect },
        { readable: [noStatus.out], indirect },
        { readable: [bigRead.out], writable: [bigRead.data, bigRead.status], indirect },
        { readable: [bigWrite.out, bigWrite.data], writable: [bigWrite.status], indirect },
        { readable: [tenBit.out], writable: [tenBit.status], indirect },
        { writable: [onlyWritable.status], indirect },
        {
          readable: [readFromReadable.out, readFromReadable.data],
          writable: [readFromReadable.status],
          indirect,
        },
        {
          readable: [writeIntoWritable.out],
          writable: [writeIntoWritable.data, writeIntoWritable.status],
          indirect,
        },
      ];
      // One request per kick: a modern guest's queue holds only four.
      const used = [];
      for (const chain of chains) used.push(...await client.submitRaw([chain]));
      assert.equal(shortHeader.status.bytes[0], I2C_STATUS_ERR, "a 4-byte header is refused");
      assert.equal(used[1].len, 0, "no status byte: nothing can be written");
      assert.equal(bigRead.status.bytes[0], I2C_STATUS_ERR, "a 64 KiB read is refused");
      assert.equal(bigWrite.status.bytes[0], I2C_STATUS_ERR, "a 64 KiB write is refused");
      assert.equal(fixture.planes.muxes[0].control, 0, "the refused write never reached the mux");
      assert.equal(tenBit.status.bytes[0], I2C_STATUS_ERR, "10-bit addresses are not on this bus");
      assert.equal(onlyWritable.status.bytes[0], I2C_STATUS_ERR, "a request without any header is refused");
      assert.equal(
        readFromReadable.status.bytes[0],
        I2C_STATUS_ERR,
        "a read with device-readable data is refused",
      );
      assert.equal(
        writeIntoWritable.status.bytes[0],
        I2C_STATUS_ERR,
        "a write with device-writable data is refused",
      );
      assert.equal(fixture.planes.muxes[0].control, 0, "neither reached the mux");
      // Not malformed: a header cut across two descriptors is read whole (a write of 0x05 to the mux).
      const cut = { out: header(0x70, 0), data: memory.allocate(1, 64), status: status() };
      cut.data.bytes[0] = 0x05;
      const [cutUsed] = await client.submitRaw([{
        readable: [sliceBuffer(cut.out, 0, 3), sliceBuffer(cut.out, 3, 5), cut.data],
        writable: [cut.status],
        indirect,
      }]);
      assert.deepEqual([cut.status.bytes[0], cutUsed.len], [I2C_STATUS_OK, 1]);
      assert.equal(fixture.planes.muxes[0].control, 0x05);
      // The ring is intact and the next transfer works.
      await selectCage(client, 1);
      assert.deepEqual(await client.scan("quick"), [A0, A2, 0x70, 0x71]);
    });
  });

  Deno.test(`i2c (${mode}): the muxes reset (every channel closed) when a new frontend connects`, async () => {
    await withBoard(async (fixture) => {
      fixture.plug(1, "sfp-10gbase-sr");
      fixture.plug(9, "sfp-10gbase-sr");
      const first = await fixture.connectI2c(mode);
      await first.selectChannels(0x70, 0xff);
      await first.selectChannels(0x71, 0xff);
      assert.deepEqual(await first.scan("quick"), [A0, A2, 0x70, 0x71]);
      // A second VM trying the same socket is refused and changes nothing.
      const refusedBefore = fixture.count("frontend-refused", "i2c");
      const intruder = new VhostUserFrontend(fixture.board.spec.sockets.i2c);
      await fixture.waitForEvent("frontend-refused", "i2c", refusedBefore + 1);
      intruder.disconnect();
      assert.equal(await first.receiveByte(0x70), 0xff);
      // The VM reboots: a new frontend finds the bus as a powered-up board has it.
      await fixture.disconnect(first.frontend, "i2c");
      const second = await fixture.connectI2c(mode);
      assert.equal(await second.receiveByte(0x70), 0);
      assert.equal(await second.receiveByte(0x71), 0);
      assert.deepEqual(await second.scan("quick"), [0x70, 0x71]);
      assert.deepEqual(fixture.planes.muxes.map((m) => m.control), [0, 0]);
    });
  });
}

Deno.test("i2c: a guest reboot under the same QEMU (every ring stopped, restarted from 0) resets the muxes", async () => {
  await withBoard(async (fixture) => {
    fixture.plug(1, "sfp-10gbase-sr");
    const client = await fixture.connectI2c("modern");
    await client.selectChannels(0x70, 0x01);
    assert.deepEqual(await client.scan("quick"), [A0, A2, 0x70, 0x71]);
    const frontend = client.frontend;
    // A pause/resume: the ring stops and restarts where it was; the guest's mux setting stays.
    const base = await frontend.getVringBase(0);
    assert.ok(base > 0);
    await frontend.restartQueue(0, base);
    assert.equal(await client.receiveByte(0x70), 0x01);
    // A reboot: QEMU keeps the socket, stops the ring, the guest's driver starts over at index 0
    // on freshly zeroed rings.
    await frontend.getVringBase(0);
    frontend.queue(0).ring.resetIndices(0, 0);
    frontend.queue(0).ring.setUsedIdx(0);
    await frontend.restartQueue(0, 0);
    assert.equal(fixture.planes.muxes[0].control, 0);
    assert.equal(await client.receiveByte(0x70), 0);
    assert.deepEqual(await client.scan("quick"), [0x70, 0x71]);
  });
});

/**
 * The chains of transfers, queued in one go behind a single kick (slots never shared between
 * them); with the head of each, in order.
 */
function queueTransfers(
  client: I2cClient,
  transfers: readonly (readonly I2cMessage[])[],
): { chains: ChainSpec[]; heads: number[] } {
  const total = transfers.reduce((sum, messages) => sum + messages.length, 0);
  const ring = client.frontend.queue(0).ring;
  const chains: ChainSpec[] = [];
  const heads: number[] = [];
  let slot = 0;
  for (const messages of transfers) {
    const first = slot;
    for (const message of messages) {
      // FAIL_NEXT inside a transfer only: its last message is built as the last of a group.
      const last = first + messages.length - 1;
      const chain = client.chainFor(message, slot, slot === last ? slot + 1 : total);
      heads.push(ring.add(chain));
      chains.push(chain);
      slot++;
    }
  }
  client.frontend.publish(0);
  return { chains, heads };
}

for (const mode of GUEST_MODES) {
  Deno.test(`i2c (${mode}): requests cut into descriptors other than Linux's way carry the same bytes`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(1, "sfp-10gbase-sr");
      const client = await fixture.connectI2c(mode);
      await selectCage(client, 1);
      const memory = client.frontend.memory;
      const indirect = client.indirect;
      const request = (address: number, flags: number, data: number[] = [], room = 0) => {
        const buffer = memory.allocate(I2C_OUT_HEADER_SIZE + data.length + room + 1, 64);
        const view = new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, I2C_OUT_HEADER_SIZE);
        view.setUint16(0, address << 1, true);
        view.setUint32(4, flags, true);
        buffer.bytes.set(data, I2C_OUT_HEADER_SIZE);
        buffer.bytes.fill(UNTOUCHED_DATA_BYTE, I2C_OUT_HEADER_SIZE + data.length);
        return buffer;
      };
      const userByte = USER_EEPROM_OFFSET + 3;
      // A write with header and data in one descriptor, then one with its data cut in two.
      const whole = request(A2, 0, [userByte, 0x11, 0x22]);
      const cut = request(A2, 0, [userByte + 2, 0x33, 0x44, 0x55]);
      const used = await client.submitRaw([
        {
          readable: [sliceBuffer(whole, 0, I2C_OUT_HEADER_SIZE + 3)],
          writable: [sliceBuffer(whole, I2C_OUT_HEADER_SIZE + 3, 1)],
          indirect,
        },
        {
          readable: [
            sliceBuffer(cut, 0, I2C_OUT_HEADER_SIZE + 2),
            sliceBuffer(cut, I2C_OUT_HEADER_SIZE + 2, 2),
          ],
          writable: [sliceBuffer(cut, I2C_OUT_HEADER_SIZE + 4, 1)],
          indirect,
        },
      ]);
      assert.deepEqual(used.map((element) => element.len), [1, 1]);
      assert.deepEqual([whole.bytes[I2C_OUT_HEADER_SIZE + 3], cut.bytes[I2C_OUT_HEADER_SIZE + 4]], [0, 0]);
      assert.deepEqual([...module.a2().subarray(userByte, userByte + 5)], [0x11, 0x22, 0x33, 0x44, 0x55]);

      // Reads: data and status in one descriptor, and data cut across two.
      const setPointer = request(A0, 0, [20]);
      const oneBuffer = request(A0, I2C_FLAG_M_RD, [], 16);
      const split = request(A0, I2C_FLAG_M_RD, [], 16);
      const statusOf = (buffer: typeof split) => buffer.bytes[buffer.bytes.length - 1];
      const reads = await client.submitRaw([
        {
          readable: [sliceBuffer(setPointer, 0, I2C_OUT_HEADER_SIZE + 1)],
          writable: [sliceBuffer(setPointer, I2C_OUT_HEADER_SIZE + 1, 1)],
          indirect,
        },
        {
          readable: [sliceBuffer(oneBuffer, 0, I2C_OUT_HEADER_SIZE)],
          writable: [sliceBuffer(oneBuffer, I2C_OUT_HEADER_SIZE, 17)],
          indirect,
        },
        {
          readable: [sliceBuffer(split, 0, I2C_OUT_HEADER_SIZE)],
          writable: [
            sliceBuffer(split, I2C_OUT_HEADER_SIZE, 5),
            sliceBuffer(split, I2C_OUT_HEADER_SIZE + 5, 11),
            sliceBuffer(split, I2C_OUT_HEADER_SIZE + 16, 1),
          ],
          indirect,
        },
      ]);
      assert.deepEqual(reads.map((element) => element.len), [1, 17, 17]);
      assert.deepEqual([statusOf(oneBuffer), statusOf(split)], [I2C_STATUS_OK, I2C_STATUS_OK]);
      const data = (buffer: typeof split) =>
        buffer.bytes.subarray(I2C_OUT_HEADER_SIZE, I2C_OUT_HEADER_SIZE + 16);
      assert.deepEqual(data(oneBuffer), module.a0().subarray(20, 36));
      assert.deepEqual(data(split), module.a0().subarray(36, 52), "the module's pointer moved on");
    });
  });

  Deno.test(`i2c (${mode}): a slow module holds its own board's transfers, not another board's or its GPIO; a disconnect drops the held one`, async () => {
    await withBoard(async (slowBoard) => {
      await withBoard(async (otherBoard) => {
        const slow = slowBoard.plug(1, "sfp-10gbase-sr");
        const other = otherBoard.plug(1, "sfp-10gbase-sr");
        // Far longer than the test: the held transfer can only end by the disconnect.
        slow.setFault("slow", { delayMs: 60_000, address: "a0" });
        const client = await slowBoard.connectI2c(mode);
        const gpio = await slowBoard.connectGpio(mode);
        const otherClient = await otherBoard.connectI2c(mode);
        await selectCage(client, 1);
        await selectCage(otherClient, 1);
        const device = slowBoard.board.i2cDevice;
        const served = device.counters.requests;

        queueTransfers(client, [[writeMessage(A0, 0), readMessage(A0, 16)]]);
        await client.frontend.sync(); // the kick was handled: the write to 0x50 is being held
        assert.equal(device.holding, true);
        assert.equal(device.counters.requests, served, "the held request is not answered yet");

        // Meanwhile: the other board's bus, and this board's GPIO controller, answer as usual.
        assert.deepEqual(await otherClient.readDevice(A0), other.a0());
        assert.equal(await gpio.getValue(cageLineIndex(1, "mod-abs")), 0, "MOD_ABS low: present");
        assert.equal(device.holding, true, "still held after everything else was served");
        assert.equal(device.counters.requests, served);

        // The VM goes away while its request is held: dropped, never pushed to the dead ring.
        await slowBoard.disconnect(client.frontend, "i2c");
        assert.equal(device.holding, false);
        assert.equal(device.counters.requests, served, "the dropped request was never served");

        // The next VM finds the bus working; without the fault, at once.
        slow.clearFault("slow");
        const next = await slowBoard.connectI2c(mode);
        await selectCage(next, 1);
        assert.deepEqual(await next.readDevice(A0), slow.a0());
      });
    });
  });

  Deno.test(`i2c (${mode}): a slow module's transfer is answered after its delay, then the ones queued behind it, in order`, async () => {
    await withBoard(async (fixture) => {
      const module = fixture.plug(2, "sfp-gpon-olt-cplus");
      module.setFault("slow", { delayMs: 50, address: "a2" });
      const client = await fixture.connectI2c(mode);
      await selectCage(client, 2);
      const { chains, heads } = queueTransfers(client, [
        [writeMessage(A2, TEMPERATURE.offset), readMessage(A2, 2)], // held twice: both go to 0x51
        [writeMessage(A0, 0), readMessage(A0, 4)], // waits behind them, then answered at once
      ]);
      const used = await client.frontend.waitForUsed(0, 4);
      assert.deepEqual(used.map((element) => element.id), heads, "answered in the order they were queued");
      const statuses = chains.map((chain) => chain.writable!.at(-1)!);
      assert.deepEqual(
        used.map((element) => element.len),
        [1, 3, 1, 5],
        "each: data + status",
      );
      for (const status of statuses) assert.equal(status.bytes[0], I2C_STATUS_OK);
      const temperature = chains[1].writable![0].bytes;
      assert.deepEqual(temperature, module.a2().subarray(TEMPERATURE.offset, TEMPERATURE.offset + 2));
      assert.deepEqual(chains[3].writable![0].bytes, module.a0().subarray(0, 4));
      assert.equal(fixture.board.i2cDevice.holding, false);
    });
  });
}
