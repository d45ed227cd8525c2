// The test frontend's own building blocks, checked against a second, independent mapping of the
// same memfd (the way a backend sees guest memory), so ring encoding is proven before any
// backend test relies on it.
import assert from "node:assert/strict";
import { mapShared, type SharedMapping, unmap } from "../../src/native/syscalls.ts";
import {
  AVAIL_F_NO_INTERRUPT,
  DescriptorFlag,
  DriverRing,
  USED_F_NO_NOTIFY,
  vringNeedEvent,
  writtenBytes,
} from "../support/driver-ring.ts";
import {
  DEFAULT_GUEST_PHYS_BASE,
  DEFAULT_USERSPACE_BASE,
  GuestMemory,
  splitGuestMemory,
} from "../support/guest-memory.ts";
import { encodeMemReg, encodeMemTable, encodeVringAddr } from "../support/frontend.ts";

/** The device's view: its own mapping, translating addresses only through the region table. */
class DeviceView {
  readonly #mapping: SharedMapping;
  readonly #memory: GuestMemory;
  readonly view: DataView;

  constructor(memory: GuestMemory) {
    this.#memory = memory;
    this.#mapping = mapShared(memory.fd, memory.sizeBytes);
    this.view = new DataView(this.#mapping.buffer);
  }

  fromGuestPhys(address: bigint): number {
    const r = this.#memory.regions.find((r) =>
      address >= r.guestPhysAddr && address < r.guestPhysAddr + BigInt(r.sizeBytes)
    );
    assert.ok(r, `guest-physical 0x${address.toString(16)} in no region`);
    return r.mmapOffset + Number(address - r.guestPhysAddr);
  }

  fromUserspace(address: bigint): number {
    const r = this.#memory.regions.find((r) =>
      address >= r.userspaceAddr && address < r.userspaceAddr + BigInt(r.sizeBytes)
    );
    assert.ok(r, `userspace 0x${address.toString(16)} in no region`);
    return r.mmapOffset + Number(address - r.userspaceAddr);
  }

  descriptor(tableOffset: number, index: number) {
    const at = tableOffset + 16 * index;
    return {
      addr: this.view.getBigUint64(at, true),
      len: this.view.getUint32(at + 8, true),
      flags: this.view.getUint16(at + 12, true),
      next: this.view.getUint16(at + 14, true),
    };
  }

  /** Walks the chain at an avail slot the way a device must (following one indirect table). */
  chainAt(ring: DriverRing, slot: number): { addr: bigint; len: number; write: boolean }[] {
    const { descriptorTable, availRing } = ring.addresses;
    const avail = this.fromUserspace(availRing);
    let table = this.fromUserspace(descriptorTable);
    let index = this.view.getUint16(avail + 4 + 2 * slot, true);
    const out = [];
    let d = this.descriptor(table, index);
    if (d.flags & DescriptorFlag.INDIRECT) {
      table = this.fromGuestPhys(d.addr);
      index = 0;
      d = this.descriptor(table, 0);
    }
    for (;;) {
      out.push({ addr: d.addr, len: d.len, write: (d.flags & DescriptorFlag.WRITE) !== 0 });
      if (!(d.flags & DescriptorFlag.NEXT)) return out;
      d = this.descriptor(table, d.next);
    }
  }

  pushUsed(ring: DriverRing, id: number, len: number): void {
    const used = this.fromUserspace(ring.addresses.usedRing);
    const idx = this.view.getUint16(used + 2, true);
    const slot = idx % ring.size;
    this.view.setUint32(used + 4 + 8 * slot, id, true);
    this.view.setUint32(used + 4 + 8 * slot + 4, len, true);
    this.view.setUint16(used + 2, (idx + 1) & 0xffff, true);
  }

  close(): void {
    unmap(this.#mapping);
  }
}

function withMemory(memory: GuestMemory, body: (memory: GuestMemory, device: DeviceView) => void): void {
  const device = new DeviceView(memory);
  try {
    body(memory, device);
  } finally {
    device.close();
    memory.close();
  }
}

Deno.test("guest memory translates guest-physical and frontend-virtual addresses apart", () => {
  withMemory(splitGuestMemory(), (memory) => {
    const [low, high] = memory.regions;
    assert.notEqual(low.guestPhysAddr, low.userspaceAddr);
    const inHigh = memory.allocate(64, 16, 1);
    assert.equal(inHigh.guestPhysAddr, high.guestPhysAddr);
    assert.equal(memory.offsetOfGuestPhys(inHigh.guestPhysAddr), high.mmapOffset);
    inHigh.bytes.set([1, 2, 3]);
    assert.deepEqual([...memory.read(inHigh.guestPhysAddr, 3)], [1, 2, 3]);
    assert.throws(() => memory.offsetOfGuestPhys(high.guestPhysAddr + BigInt(high.sizeBytes)), RangeError);
    // A range straddling the end of a region belongs to none.
    assert.throws(
      () => memory.offsetOfGuestPhys(low.guestPhysAddr + BigInt(low.sizeBytes) - 2n, 4),
      RangeError,
    );
    assert.throws(() => memory.allocate(high.sizeBytes, 16, 1), /full/);
  });
});

Deno.test("default guest memory sits at distinct guest-physical and userspace bases", () => {
  withMemory(new GuestMemory(), (memory) => {
    const buffer = memory.allocate(100, 64);
    assert.equal(buffer.guestPhysAddr, DEFAULT_GUEST_PHYS_BASE);
    assert.equal(buffer.userspaceAddr, DEFAULT_USERSPACE_BASE);
    const next = memory.allocate(1, 64);
    assert.equal(next.guestPhysAddr, DEFAULT_GUEST_PHYS_BASE + 128n);
  });
});

Deno.test("a direct chain is encoded as linked descriptors with readable before writable", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 8);
    const out1 = memory.allocate(10), out2 = memory.allocate(3), in1 = memory.allocate(7);
    const head = ring.add({ readable: [out1, out2], writable: [in1] });
    assert.equal(ring.availIdx, 0, "not visible before publish");
    assert.equal(ring.publish(), true);
    assert.equal(ring.availIdx, 1);
    assert.deepEqual(device.chainAt(ring, 0), [
      { addr: out1.guestPhysAddr, len: 10, write: false },
      { addr: out2.guestPhysAddr, len: 3, write: false },
      { addr: in1.guestPhysAddr, len: 7, write: true },
    ]);
    assert.equal(ring.freeDescriptorCount, 5);
    assert.equal(head, 0);
  });
});

Deno.test("an indirect chain uses one ring descriptor pointing at a table", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 4);
    const bufs = [
      memory.allocate(4),
      memory.allocate(5),
      memory.allocate(6),
      memory.allocate(7),
      memory.allocate(8),
    ];
    const head = ring.add({ readable: bufs.slice(0, 2), writable: bufs.slice(2), indirect: true });
    ring.publish();
    assert.equal(ring.freeDescriptorCount, 3, "five buffers in one ring slot");
    const d = ring.readDescriptor(head);
    assert.equal(d.flags, DescriptorFlag.INDIRECT);
    assert.equal(d.len, 16 * 5);
    assert.deepEqual(
      device.chainAt(ring, 0).map((b) => [b.len, b.write]),
      [[4, false], [5, false], [6, true], [7, true], [8, true]],
    );
  });
});

Deno.test("used elements come back with their chain, free descriptors, and move used_event", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 4, { eventIdx: true });
    const request = memory.allocate(4), reply = memory.allocate(4), status = memory.allocate(1);
    request.bytes.set([9, 8, 7, 6]);
    const head = ring.add({ readable: [request], writable: [reply, status] });
    ring.publish();
    const [chain] = [device.chainAt(ring, 0)];
    const replyOffset = device.fromGuestPhys(chain[1].addr);
    device.view.setUint32(replyOffset, 0x01020304, true);
    device.view.setUint8(device.fromGuestPhys(chain[2].addr), 0xee);
    device.pushUsed(ring, head, 5);
    const [element] = ring.takeUsed();
    assert.equal(element.id, head);
    assert.deepEqual([...writtenBytes(element)], [4, 3, 2, 1, 0xee]);
    assert.equal(ring.freeDescriptorCount, 4);
    assert.equal(ring.inFlightCount, 0);
    assert.equal(ring.usedEvent, 1, "asks for a call at the next used element");
    assert.deepEqual(ring.takeUsed(), []);
  });
});

Deno.test("a used id the driver never gave is reported, not trusted", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 4);
    device.pushUsed(ring, 3, 0);
    const [element] = ring.takeUsed();
    assert.equal(element.chain, undefined);
    assert.throws(() => writtenBytes(element), /not a chain this driver added/);
  });
});

Deno.test("kick decision follows NO_NOTIFY without EVENT_IDX", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 4);
    const buffer = memory.allocate(1);
    ring.add({ readable: [buffer] });
    assert.equal(ring.publish(), true);
    device.view.setUint16(device.fromUserspace(ring.addresses.usedRing), USED_F_NO_NOTIFY, true);
    ring.add({ readable: [buffer] });
    assert.equal(ring.publish(), false);
    ring.setAvailFlags(AVAIL_F_NO_INTERRUPT);
    assert.equal(ring.availFlags, AVAIL_F_NO_INTERRUPT);
  });
});

Deno.test("kick decision follows avail_event with EVENT_IDX, across the 16-bit wrap", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 4, { eventIdx: true });
    const buffer = memory.allocate(1);
    const availEventAt = device.fromUserspace(ring.addresses.usedRing) + 4 + 8 * 4;
    // The device wants a kick when idx passes 0 (its initial avail_event).
    ring.add({ readable: [buffer] });
    assert.equal(ring.publish(), true);
    // The device has not caught up (avail_event still 0): adding more needs no kick.
    ring.takeUsed();
    ring.add({ readable: [buffer] });
    assert.equal(ring.publish(), false);
    device.view.setUint16(availEventAt, 2, true);
    ring.add({ readable: [buffer] });
    assert.equal(ring.publish(), true, "idx 2 -> 3 crosses avail_event 2");
    // Near the wrap.
    ring.resetIndices(0xfffe, 0xfffe);
    device.view.setUint16(availEventAt, 0xffff, true);
    ring.pushAvail(0);
    assert.equal(ring.publish(), false, "0xfffe -> 0xffff does not cross 0xffff");
    ring.pushAvail(0);
    assert.equal(ring.publish(), true, "0xffff -> 0 crosses 0xffff");
    assert.equal(ring.availIdx, 0);
  });
});

Deno.test("vring_need_event matches the virtio spec's examples", () => {
  assert.equal(vringNeedEvent(0, 1, 0), true);
  assert.equal(vringNeedEvent(5, 5, 4), false);
  assert.equal(vringNeedEvent(5, 6, 4), true);
  assert.equal(vringNeedEvent(5, 6, 6), false);
  assert.equal(vringNeedEvent(0xffff, 1, 0xfffe), true);
  assert.equal(vringNeedEvent(3, 10, 0), true);
});

Deno.test("legacy layout puts the used ring on a page boundary", () => {
  withMemory(new GuestMemory(), (memory) => {
    memory.allocate(1);
    const ring = new DriverRing(memory, 8, { legacyLayout: true });
    assert.equal(ring.usedRing.guestPhysAddr % 4096n, 0n);
    assert.throws(() => new DriverRing(memory, 6), /power of 2/);
  });
});

Deno.test("raw setters write exactly the bytes the device reads", () => {
  withMemory(new GuestMemory(), (memory, device) => {
    const ring = new DriverRing(memory, 4);
    ring.writeDescriptor(2, {
      addr: 0xdead_beef_0000n,
      len: 0xffff_ffff,
      flags: DescriptorFlag.NEXT,
      next: 2,
    });
    ring.setAvailEntry(1, 2);
    ring.setAvailIdx(0x1234);
    ring.setUsedEvent(0x4321);
    assert.deepEqual(device.descriptor(device.fromUserspace(ring.addresses.descriptorTable), 2), {
      addr: 0xdead_beef_0000n,
      len: 0xffff_ffff,
      flags: DescriptorFlag.NEXT,
      next: 2,
    });
    const avail = device.fromUserspace(ring.addresses.availRing);
    assert.equal(device.view.getUint16(avail + 2, true), 0x1234);
    assert.equal(device.view.getUint16(avail + 4 + 2, true), 2);
    assert.equal(device.view.getUint16(avail + 4 + 2 * 4, true), 0x4321);
    assert.deepEqual(ring.reserveDescriptors(2), [0, 1]);
  });
});

Deno.test("message payloads have the layout of vhost-user.rst", () => {
  const region = {
    guestPhysAddr: 0x1000n,
    sizeBytes: 0x2000,
    userspaceAddr: 0x7f00_0000_0000n,
    mmapOffset: 0x3000,
  };
  const table = new DataView(encodeMemTable([region, region]).buffer);
  assert.equal(table.byteLength, 8 + 2 * 32);
  assert.equal(table.getUint32(0, true), 2);
  assert.equal(table.getBigUint64(8 + 32 + 16, true), 0x7f00_0000_0000n);
  const reg = new DataView(encodeMemReg(region).buffer);
  assert.equal(reg.byteLength, 40);
  assert.equal(reg.getBigUint64(8, true), 0x1000n);
  assert.equal(reg.getBigUint64(32, true), 0x3000n);
  const addr = new DataView(encodeVringAddr(1, { descriptorTable: 1n, availRing: 2n, usedRing: 3n }).buffer);
  assert.deepEqual(
    [
      addr.getUint32(0, true),
      addr.getBigUint64(8, true),
      addr.getBigUint64(16, true),
      addr.getBigUint64(24, true),
    ],
    [1, 1n, 3n, 2n],
  );
});
