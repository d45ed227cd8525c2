// The split virtqueue as the backend serves it: direct and indirect chains, EVENT_IDX in both
// directions, interrupt suppression, stopping and restarting a ring, index wrap-around.
import assert from "node:assert/strict";
import { withBackend } from "../support/backend-fixture.ts";
import { EchoClient, findUsed, pattern } from "../support/echo-client.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import { AVAIL_F_NO_INTERRUPT, writtenBytes } from "../support/driver-ring.ts";
import { sliceBuffer } from "../support/guest-memory.ts";

Deno.test("indirect chains are followed, alone or mixed with direct ones", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }], indirect: true });
    const client = new EchoClient(frontend);
    const payloads = [pattern(64, 1), pattern(7, 2), pattern(200, 3)];
    // Four readable and four writable buffers behind each ring slot: a chain as long as the
    // queue, the most virtio 1.2 §2.7.5.3.1 allows a driver.
    assert.deepEqual(await client.echo(payloads, { indirect: true, parts: 4 }), payloads);
    const ring = frontend.queue(0).ring;
    // Mixed: an indirect chain of 8 buffers needs one ring slot, a direct one of 4 needs four.
    const heads = [
      ring.add(client.chainFor(0, pattern(160, 4), { indirect: true, parts: 4 })),
      ring.add(client.chainFor(1, pattern(40, 5), { parts: 2 })),
    ];
    assert.equal(ring.freeDescriptorCount, 8 - 1 - 4);
    frontend.publish(0);
    const used = await frontend.waitForUsed(0, 2);
    assert.deepEqual(writtenBytes(findUsed(used, heads[0])), pattern(160, 4));
    assert.deepEqual(writtenBytes(findUsed(used, heads[1])), pattern(40, 5));
  });
});

Deno.test("used len is what the device wrote: less room than data, or no data", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }] });
    const memory = frontend.memory;
    const out = memory.allocate(10), small = memory.allocate(4);
    out.bytes.set(pattern(10));
    const ring = frontend.queue(0).ring;
    const short = ring.add({ readable: [out], writable: [small] });
    const writeOnly = ring.add({ writable: [memory.allocate(8)] });
    const readOnly = ring.add({ readable: [sliceBuffer(out, 0, 3)] });
    frontend.publish(0);
    const used = await frontend.waitForUsed(0, 3);
    assert.equal(findUsed(used, short).len, 4);
    assert.deepEqual(small.bytes, pattern(10).subarray(0, 4));
    assert.equal(findUsed(used, writeOnly).len, 0);
    assert.equal(findUsed(used, readOnly).len, 0);
  });
});

Deno.test("EVENT_IDX: the backend keeps avail_event at the next index it will read", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 4 }], eventIdx: true });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    for (let i = 0; i < 50; i++) {
      ring.add(client.chainFor(0, pattern(9, i)));
      assert.equal(
        frontend.publish(0),
        true,
        `kick ${i} wanted: avail_event ${ring.availEvent}, idx ${ring.availIdx}`,
      );
      const [used] = await frontend.waitForUsed(0);
      assert.deepEqual(writtenBytes(used), pattern(9, i));
      assert.equal(ring.availEvent, ring.availIdx, "avail_event follows the device's progress");
    }
  });
});

Deno.test("EVENT_IDX: the backend signals a call only when used_event is crossed", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 16 }], eventIdx: true });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    await client.echoOne(pattern(4)); // the first call after set-up is always sent
    const start = ring.usedIdx;
    ring.setUsedEvent(start + 2); // "call me when the element at index start + 2 is used"
    const calls: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      await client.submit([pattern(5, i)]);
      assert.equal(ring.usedIdx, start + i + 1, `chain ${i} served`);
      calls.push(frontend.takeCalls(0));
    }
    assert.deepEqual(calls, [0n, 0n, 1n, 0n]);
    // Wrapping used_event: one behind the used idx means "no call until 2^16 more".
    ring.setUsedEvent(ring.usedIdx - 1);
    await client.submit([pattern(6)]);
    assert.equal(frontend.takeCalls(0), 0n);
    assert.equal(ring.takeUsed().length, 5);
  });
});

Deno.test("without EVENT_IDX, VRING_AVAIL_F_NO_INTERRUPT suppresses calls", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }] });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    ring.setAvailFlags(AVAIL_F_NO_INTERRUPT);
    ring.add(client.chainFor(0, pattern(3)));
    assert.equal(frontend.publish(0), true, "the backend does not set NO_NOTIFY");
    await frontend.sync();
    assert.equal(ring.usedIdx, 1);
    assert.equal(frontend.takeCalls(0), 0n);
    ring.setAvailFlags(0);
    await client.submit([pattern(3)]);
    assert.equal(frontend.takeCalls(0), 1n);
    assert.equal(ring.takeUsed().length, 2);
  });
});

Deno.test("GET_VRING_BASE stops the ring and returns its index; SET_VRING_BASE restarts it", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }], eventIdx: true });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    for (let i = 0; i < 5; i++) await client.echoOne(pattern(8, i));
    assert.equal(await frontend.getVringBase(0), 5);

    // Stopped: a new chain is not served, whatever the driver does.
    const head = ring.add(client.chainFor(0, pattern(11)));
    frontend.publish(0);
    frontend.kick(0);
    await frontend.sync();
    assert.equal(ring.usedIdx, 5);

    await frontend.restartQueue(0, 5);
    const [used] = await frontend.waitForUsed(0);
    assert.equal(used.id, head);
    assert.deepEqual(writtenBytes(used), pattern(11));
    for (let i = 0; i < 20; i++) assert.deepEqual(await client.echoOne(pattern(9, i)), pattern(9, i));
    assert.equal(await frontend.getVringBase(0), 26);
  });
});

Deno.test("GET_VRING_BASE counts chains the device still holds; a rewound base replays them", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }] });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    await client.echoOne(pattern(2));
    backend.device.holdChains = true;
    const heads = [
      ring.add(client.chainFor(0, pattern(12, 1))),
      ring.add(client.chainFor(1, pattern(13, 2))),
    ];
    frontend.publish(0);
    await frontend.sync();
    assert.equal(backend.device.heldCount, 2);
    assert.equal(await frontend.getVringBase(0), 3);
    assert.equal(backend.device.heldCount, 0, "the device was told the ring stopped");
    // Like QEMU resubmitting in-flight requests: restart from before them.
    backend.device.holdChains = false;
    await frontend.restartQueue(0, 1);
    const used = await frontend.waitForUsed(0, 2);
    assert.deepEqual(used.map((u) => u.id), heads);
    assert.deepEqual(writtenBytes(used[1]), pattern(13, 2));
  });
});

Deno.test("16-bit ring indices wrap around (avail, used and event indices)", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }], eventIdx: true });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    assert.equal(await frontend.getVringBase(0), 0);
    // A ring that has been running a long time: both indices just below 2^16.
    const base = 0xfff3;
    ring.resetIndices(base, base);
    ring.setUsedIdx(base);
    ring.setUsedEvent(base);
    await frontend.restartQueue(0, base);
    for (let i = 0; i < 10; i++) {
      const payloads = [pattern(3, i), pattern(4, i), pattern(5, i)];
      assert.deepEqual(await client.echo(payloads), payloads);
    }
    assert.equal(ring.usedIdx, (base + 30) & 0xffff);
    assert.equal(await frontend.getVringBase(0), (base + 30) & 0xffff);
  });
});

Deno.test("a thousand requests through a ring of four", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 4 }],
      eventIdx: true,
      indirect: true,
    });
    const client = new EchoClient(frontend);
    for (let i = 0; i < 250; i++) {
      // Four indirect chains fill the ring's four slots; two direct ones fill its four descriptors.
      const payloads = i % 2 === 0
        ? [pattern(1, i), pattern(32, i), pattern(2, i), pattern(100, i)]
        : [pattern(3, i), pattern(99, i), pattern(5, i), pattern(7, i)];
      const indirect = i % 2 === 0;
      const sent = indirect ? [payloads] : [payloads.slice(0, 2), payloads.slice(2)];
      for (const batch of sent) {
        assert.deepEqual(await client.echo(batch, { indirect, parts: indirect ? 1 + (i % 2) : 1 }), batch);
      }
    }
    assert.equal(backend.device.echoed, 1000);
  });
});
