// Guest memory as the backend maps it: several regions with guest-physical and frontend-virtual
// addresses apart, and memory-table changes while rings run (SET_MEM_TABLE again, ADD/REM_MEM_REG).
import assert from "node:assert/strict";
import { withBackend } from "../support/backend-fixture.ts";
import { EchoClient, pattern } from "../support/echo-client.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import { GuestMemory, MiB, splitGuestMemory } from "../support/guest-memory.ts";
import { writtenBytes } from "../support/driver-ring.ts";

/** A second memfd, as QEMU adds RAM (hotplug, a DIMM): addresses far from the first one's. */
function extraMemory(): GuestMemory {
  return new GuestMemory({
    sizeBytes: 1 * MiB,
    regions: [{
      guestPhysAddr: 0x2_0000_0000n,
      userspaceAddr: 0x7e10_0000_0000n,
      sizeBytes: 1 * MiB,
      mmapOffset: 0,
    }],
  });
}

Deno.test("rings translate through userspace_addr, descriptors through guest_phys_addr, at mmap_offset", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using memory = splitGuestMemory();
    // Rings in the second region (mapped at a non-zero mmap_offset), buffers in both.
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 16 }],
      memory,
      ringRegionIndex: 1,
      eventIdx: true,
    });
    assert.equal(backend.listener.session!.memory.regions.length, 2);
    const low = new EchoClient(frontend, 0, { regionIndex: 0 });
    const high = new EchoClient(frontend, 0, { regionIndex: 1 });
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await low.echoOne(pattern(40, i)), pattern(40, i));
      assert.deepEqual(await high.echoOne(pattern(41, i)), pattern(41, i));
    }
  });
});

Deno.test("SET_MEM_TABLE again while running: new memory serves, removed memory breaks the ring", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using extra = extraMemory();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 16 }] });
    const base = new EchoClient(frontend);
    const added = new EchoClient(frontend, 0, { memory: extra });
    assert.deepEqual(await base.echoOne(pattern(10)), pattern(10));

    await frontend.setMemTable([...frontend.memory.regions, ...extra.regions]);
    assert.deepEqual(await added.echoOne(pattern(20)), pattern(20));
    assert.deepEqual(await base.echoOne(pattern(30)), pattern(30));

    await frontend.setMemTable(frontend.memory.regions);
    assert.deepEqual(await base.echoOne(pattern(31)), pattern(31));
    // A chain into memory the backend no longer has: the ring is marked broken and says so.
    const ring = frontend.queue(0).ring;
    await added.submit([pattern(5)]);
    assert.equal(frontend.takeErrors(0), 1n);
    assert.equal(ring.usedIdx, 4);
    // The frontend restarts it past the bad chain, and traffic continues.
    const next = await frontend.getVringBase(0);
    assert.equal(next, 5);
    await frontend.restartQueue(0, next);
    assert.deepEqual(await base.echoOne(pattern(32)), pattern(32));
  });
});

Deno.test("a memory table that no longer holds the rings breaks them until they are set up again", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using extra = extraMemory();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }] });
    const client = new EchoClient(frontend);
    await client.echoOne(pattern(1));
    await frontend.setMemTable(extra.regions);
    assert.equal(frontend.takeErrors(0), 1n);
    await frontend.setMemTable(frontend.memory.regions);
    await frontend.restartQueue(0, await frontend.getVringBase(0));
    assert.deepEqual(await client.echoOne(pattern(2)), pattern(2));
  });
});

Deno.test("ADD_MEM_REG and REM_MEM_REG change memory under a running ring", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using extra = extraMemory();
    // QEMU 7.2 acks exactly these with need_reply when REPLY_ACK is negotiated.
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 16 }], acks: "qemu" });
    assert.ok((await frontend.getMaxMemSlots()) >= 2n);
    const added = new EchoClient(frontend, 0, { memory: extra });
    const base = new EchoClient(frontend);
    await frontend.addMemReg(extra.regions[0]);
    assert.equal(backend.listener.session!.memory.regions.length, 2);
    for (let i = 0; i < 5; i++) assert.deepEqual(await added.echoOne(pattern(50, i)), pattern(50, i));
    await frontend.remMemReg(extra.regions[0]);
    assert.equal(backend.listener.session!.memory.regions.length, 1);
    assert.deepEqual(await base.echoOne(pattern(51)), pattern(51));
    await added.submit([pattern(52)]);
    assert.equal(frontend.takeErrors(0), 1n, "a descriptor into the removed region breaks the ring");
  });
});

Deno.test("chains the device holds across a memory-table change are written through the new mapping", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using extra = extraMemory();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 16 }] });
    const client = new EchoClient(frontend);
    backend.device.holdChains = true;
    await client.submit([pattern(60, 1), pattern(61, 2)]);
    assert.equal(backend.device.heldCount, 2);
    // QEMU re-sends the whole table when RAM is added: the old mappings are dropped.
    await frontend.setMemTable([...frontend.memory.regions, ...extra.regions]);
    backend.device.holdChains = false;
    backend.device.releaseHeld();
    const used = await frontend.waitForUsed(0, 2);
    assert.deepEqual(used.map(writtenBytes), [pattern(60, 1), pattern(61, 2)]);
  });
});
