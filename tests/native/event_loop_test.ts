import assert from "node:assert/strict";
import { EventLoop } from "../../src/native/event-loop.ts";
import {
  acceptConnection,
  closeFd,
  connectUnix,
  createEventFd,
  createMemFd,
  drainEventFd,
  listenUnix,
  mapShared,
  NativeError,
  receiveWithFds,
  sendWithFds,
  signalEventFd,
  unmap,
} from "../../src/native/syscalls.ts";

Deno.test("eventfd signals are drained and delivered with their count", async () => {
  const loop = new EventLoop();
  const fd = createEventFd();
  const seen: bigint[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  loop.watchEventFd(fd, (count) => {
    seen.push(count);
    if (seen.reduce((a, b) => a + b, 0n) >= 5n) done();
  });
  loop.start();
  signalEventFd(fd, 2n);
  signalEventFd(fd, 3n);
  await finished;
  await loop.stop();
  closeFd(fd);
  assert.equal(seen.reduce((a, b) => a + b, 0n), 5n);
});

Deno.test("timers still run while eventfds fire continuously", async () => {
  const loop = new EventLoop();
  const fd = createEventFd();
  let kicks = 0;
  // A handler that re-signals itself keeps the fd ready forever: only the 1 ms turn budget
  // lets the timer below run.
  loop.watchEventFd(fd, () => {
    kicks++;
    signalEventFd(fd);
  });
  loop.start();
  signalEventFd(fd);
  await new Promise((r) => setTimeout(r, 20));
  await loop.stop();
  closeFd(fd);
  assert.ok(kicks > 10, `handler ran ${kicks} times`);
});

Deno.test("unix socket carries bytes and descriptors", () => {
  const path = Deno.makeTempDirSync() + "/s.sock";
  const listener = listenUnix(path);
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  assert.equal(acceptConnection(listener), null);
  const client = connectUnix(path);
  const server = acceptConnection(listener)!;
  const efd = createEventFd();
  sendWithFds(client, new Uint8Array([1, 2, 3]), [efd]);
  const buf = new Uint8Array(16);
  const got = receiveWithFds(server, buf)!;
  assert.equal(got.bytes, 3);
  assert.equal(got.fds.length, 1);
  signalEventFd(got.fds[0], 7n);
  assert.equal(drainEventFd(efd), 7n);
  assert.equal(receiveWithFds(server, buf), null);
  closeFd(client);
  assert.equal(receiveWithFds(server, buf)!.bytes, 0);
  for (const fd of [server, listener, efd, got.fds[0]]) closeFd(fd);
  assert.throws(() => sendWithFds(client, new Uint8Array(1)), NativeError);
});

Deno.test("shared memory maps see each other's writes and detach on unmap", () => {
  const fd = createMemFd("test", 1 << 16);
  const a = mapShared(fd, 1 << 16);
  const b = mapShared(fd, 4096, 4096n);
  new Uint8Array(a.buffer)[4096 + 5] = 42;
  assert.equal(new Uint8Array(b.buffer)[5], 42);
  unmap(b);
  assert.equal(b.buffer.byteLength, 0);
  unmap(a);
  closeFd(fd);
});
