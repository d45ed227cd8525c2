// A ring's err eventfd (SET_VRING_ERR) across the ring's life. QEMU 7.2 sends SET_VRING_ERR once
// per ring, at device init (hw/virtio/vhost.c vhost_virtqueue_init, from vhost_dev_init), and
// never again when it stops and restarts the rings (vhost_virtqueue_stop/start: GET_VRING_BASE,
// then NUM, BASE, ADDR, KICK, CALL), as on every guest reboot. vhost-user.rst says GET_VRING_BASE
// stops the ring, not that it forgets the err fd; libvhost-user's GET_VRING_BASE closes only the
// kick and call fds. So the backend keeps it over a stop, replaces it on a new SET_VRING_ERR and
// drops it only on RESET_DEVICE (or RESET_OWNER, status 0) and on disconnect.
import assert from "node:assert/strict";
import { closeQuietly, createEventFd, drainEventFd } from "../../src/native/syscalls.ts";
import { withBackend } from "../support/backend-fixture.ts";
import { EchoClient, pattern } from "../support/echo-client.ts";
import { VhostUserFrontend } from "../support/frontend.ts";

const SIZE = 16;

/** Breaks the ring the way a buggy guest can: the avail idx jumps by more than the queue size. */
async function breakRing(frontend: VhostUserFrontend): Promise<void> {
  const ring = frontend.queue(0).ring;
  ring.setAvailIdx(ring.availIdx + SIZE + 1);
  frontend.kick(0);
  await frontend.sync(); // the backend is in this process: the kick is handled by now
}

/** A guest reboot under the same QEMU: the ring stops, the driver starts over on zeroed rings. */
async function reboot(frontend: VhostUserFrontend): Promise<void> {
  await frontend.getVringBase(0);
  const ring = frontend.queue(0).ring;
  ring.setUsedIdx(0);
  ring.resetIndices(0, 0);
  await frontend.restartQueue(0, 0); // NUM, BASE, ADDR, KICK, ENABLE, CALL: no SET_VRING_ERR
}

Deno.test("regression: the err eventfd survives a ring stop: after a guest reboot without a new SET_VRING_ERR a broken ring still says so", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: SIZE }],
      eventIdx: true,
    });
    const client = new EchoClient(frontend);
    for (let boot = 1; boot <= 3; boot++) {
      assert.deepEqual(await client.echoOne(pattern(20, boot)), pattern(20, boot), `boot ${boot} serves`);
      await breakRing(frontend);
      assert.equal(frontend.takeErrors(0), 1n, `boot ${boot}: the err eventfd says the ring broke`);
      await reboot(frontend);
    }
    // A pause/resume (stop, restart where it was) keeps it too.
    assert.deepEqual(await client.echoOne(pattern(21)), pattern(21));
    const base = await frontend.getVringBase(0);
    await frontend.restartQueue(0, base);
    await breakRing(frontend);
    assert.equal(frontend.takeErrors(0), 1n, "after a pause/resume");
  });
});

Deno.test("the err eventfd is replaced by a new SET_VRING_ERR and dropped by RESET_DEVICE", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: SIZE }] });
    const client = new EchoClient(frontend);
    const replacement = createEventFd();
    try {
      await frontend.setVringErr(0, replacement);
      await breakRing(frontend);
      assert.deepEqual(
        [drainEventFd(replacement), frontend.takeErrors(0)],
        [1n, 0n],
        "only the new fd fires",
      );
      // RESET_DEVICE: every ring stops and the backend forgets its fds, the err fd too; set up
      // again without SET_VRING_ERR, a broken ring has nobody to tell.
      await frontend.resetDevice();
      await frontend.setFeatures(frontend.negotiated.ackedFeatures);
      const ring = frontend.queue(0).ring;
      ring.setUsedIdx(0);
      ring.resetIndices(0, 0);
      await frontend.restartQueue(0, 0);
      assert.deepEqual(await client.echoOne(pattern(30)), pattern(30));
      await breakRing(frontend);
      assert.deepEqual(
        [drainEventFd(replacement), frontend.takeErrors(0)],
        [0n, 0n],
        "no err fd after a reset",
      );
    } finally {
      closeQuietly(replacement);
    }
  });
});
