// The I2C plane's bus on its own: what a transfer reaches as muxes open and close, devices are
// attached and the bus is reset (the bus keeps a list of reachable devices and must rebuild it
// at each of those), and how a device that holds a transfer stops it before anything is moved.
import assert from "node:assert/strict";
import { I2cBus, type I2cHold, type I2cTarget, Pca9548 } from "../../src/board/i2c-bus.ts";

/** A one-register device at `address` that counts what it was asked. */
class Register implements I2cTarget {
  value: number;
  reads = 0;
  writes = 0;
  delayMs = 0;

  constructor(readonly address: number, value = 0x5a) {
    this.value = value;
  }

  read(address: number, buffer: Uint8Array): boolean {
    if (address !== this.address) return false;
    this.reads++;
    buffer.fill(this.value);
    return true;
  }

  write(address: number, data: Uint8Array): boolean {
    if (address !== this.address) return false;
    this.writes++;
    if (data.length > 0) this.value = data[0];
    return true;
  }

  responseDelayMs(address: number): number {
    return address === this.address ? this.delayMs : 0;
  }
}

function readByte(bus: I2cBus, address: number, hold?: I2cHold): number | undefined {
  const buffer = new Uint8Array(1);
  return bus.read(address, buffer, hold) ? buffer[0] : undefined;
}

Deno.test("i2c bus: a device behind a mux is reached while its channel is open, and not after", () => {
  const bus = new I2cBus();
  const mux = new Pca9548(0x70, "mux0");
  bus.root.attach(mux);
  const behind = new Register(0x50, 0x11);
  mux.channels[3].attach(behind);
  assert.equal(readByte(bus, 0x50), undefined, "every channel closed at power-on");
  assert.ok(bus.write(0x70, Uint8Array.of(1 << 3)));
  assert.equal(readByte(bus, 0x50), 0x11);
  assert.ok(bus.write(0x70, Uint8Array.of(1 << 2)));
  assert.equal(readByte(bus, 0x50), undefined, "another channel: out of reach");
  assert.ok(bus.write(0x70, Uint8Array.of(1 << 3)));
  bus.reset();
  assert.equal(mux.control, 0);
  assert.equal(readByte(bus, 0x50), undefined, "a reset closes every channel");
});

Deno.test("i2c bus: a device attached after the first transfer is on the wire at once", () => {
  const bus = new I2cBus();
  const mux = new Pca9548(0x70, "mux0");
  bus.root.attach(mux);
  assert.ok(bus.write(0x70, Uint8Array.of(0x01)));
  assert.equal(readByte(bus, 0x48), undefined);
  bus.root.attach(new Register(0x48, 0x22));
  assert.equal(readByte(bus, 0x48), 0x22, "attached on the root");
  mux.channels[0].attach(new Register(0x51, 0x33));
  assert.equal(readByte(bus, 0x51), 0x33, "attached behind a channel already open");
});

Deno.test("i2c bus: a write reaches every device at its address, once, as the list was when it began", () => {
  const bus = new I2cBus();
  const mux = new Pca9548(0x70, "mux0");
  bus.root.attach(mux);
  const one = new Register(0x50);
  const two = new Register(0x50);
  mux.channels[0].attach(one);
  mux.channels[1].attach(two);
  assert.ok(bus.write(0x70, Uint8Array.of(0x03)));
  assert.ok(bus.write(0x50, Uint8Array.of(0x0f)));
  assert.deepEqual([one.writes, two.writes, one.value, two.value], [1, 1, 0x0f, 0x0f]);
  two.value = 0xf0;
  assert.equal(readByte(bus, 0x50), 0x00, "both answer: their data meet as a wired-AND");
});

Deno.test("i2c bus: a device that holds the transfer stops it before anything moves; the slowest one counts", () => {
  const bus = new I2cBus();
  const mux = new Pca9548(0x70, "mux0");
  bus.root.attach(mux);
  const slow = new Register(0x50, 0x44);
  const slower = new Register(0x50, 0xff);
  mux.channels[0].attach(slow);
  mux.channels[1].attach(slower);
  bus.write(0x70, Uint8Array.of(0x03));
  slow.delayMs = 5;
  slower.delayMs = 9;
  const hold: I2cHold = { delayMs: 0 };
  assert.equal(readByte(bus, 0x50, hold), undefined);
  assert.equal(hold.delayMs, 9);
  assert.deepEqual([slow.reads, slower.reads], [0, 0], "nothing was read");
  hold.delayMs = 0;
  assert.equal(bus.write(0x50, Uint8Array.of(0x01), hold), false);
  assert.deepEqual([hold.delayMs, slow.writes, slower.writes], [9, 0, 0], "nothing was written");

  // Made again without a hold once the time has passed: the transfer happens.
  assert.equal(readByte(bus, 0x50), 0x44);
  assert.deepEqual([slow.reads, slower.reads], [1, 1]);
  // Another address is not held by them.
  hold.delayMs = 0;
  assert.equal(bus.write(0x70, Uint8Array.of(0x01), hold), true);
  assert.equal(hold.delayMs, 0);
});
