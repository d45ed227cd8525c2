// Kick-to-call round trip of an empty request through the full backend stack (issue 2's
// benchmark), beside a plain-C eventfd ping-pong measured in the same run.
//
// The backend (EventLoop, VhostUserListener, session, split ring, an EmptyDevice that returns
// each chain with 0 bytes) runs in a child process, so its event loop is not ours. This process
// is the frontend: it makes one chain available, kicks, and blocks in epoll_wait on the call
// eventfd, one request in flight, as a guest vCPU waiting for its interrupt would.
//
//   deno run -A bench/kick_call.ts [--iterations 20000] [--warmup 2000] [--max-seconds 60]
import {
  closeQuietly,
  connectUnix,
  createEventFd,
  nowNs,
  sendWithFds,
  signalEventFd,
} from "../src/native/syscalls.ts";
import { VhostUserFrontend } from "../tests/support/frontend.ts";
import { CallWaiter } from "./support/call-waiter.ts";
import { latencyOptions } from "./support/args.ts";
import { cPingPong } from "./support/c-floor.ts";
import { ChildScript } from "./support/child.ts";
import type { WaitMode } from "./support/eventfd-echo.ts";
import { PinnedChains } from "./support/pinned-chains.ts";
import { type LatencySummary, printTable, saveResult, summarizeNs } from "./support/stats.ts";

const { iterations, warmup, maxSeconds } = latencyOptions();

/** What bench/report.ts reads back. */
export interface KickCallResult {
  iterations: number;
  warmup: number;
  backend: LatencySummary;
  cRead: LatencySummary;
  cEpoll: LatencySummary;
  waits: Record<WaitMode, LatencySummary>;
}

/** Round trips through the sfpemu backend in a child process; stops early at the time limit. */
async function backendRoundTrips(): Promise<LatencySummary> {
  const directory = Deno.makeTempDirSync({ prefix: "sfpb-kick-" });
  const socket = `${directory}/empty.sock`;
  const backend = new ChildScript(new URL("./support/empty-backend.ts", import.meta.url), [socket]);
  try {
    await backend.waitFor("ready");
    const frontend = await VhostUserFrontend.start(socket, {
      queues: [{ size: 256 }],
      eventIdx: true,
      indirect: true,
    });
    try {
      const queue = frontend.queue(0);
      const chains = new PinnedChains(queue.ring, frontend.memory, 1, { indirect: false, maxParts: 1 });
      chains.set(0, [{ buffer: frontend.memory.allocate(8), length: 8, write: false }]);
      const waiter = new CallWaiter(queue.callFd);
      const samples = new Float64Array(iterations);
      let measured = 0;
      const deadline = performance.now() + maxSeconds * 1000;
      for (let i = 0; i < warmup + iterations && performance.now() < deadline; i++) {
        chains.offer(0);
        queue.ring.publish();
        const start = nowNs();
        signalEventFd(queue.kickFd);
        while (!waiter.wait(2000)) {
          if (performance.now() > deadline) throw new Error("the backend stopped answering");
        }
        const elapsed = Number(nowNs() - start);
        if (queue.ring.takeUsed().length !== 1) throw new Error("a call came without the used element");
        if (i >= warmup) samples[measured++] = elapsed;
      }
      waiter.close();
      return summarizeNs(samples.subarray(0, measured));
    } finally {
      frontend.disconnect();
    }
  } finally {
    await backend.stop();
    Deno.removeSync(directory, { recursive: true });
  }
}

/** Kick -> call through a Deno child that only waits and signals (no vhost-user): the wait's own cost. */
async function waitRoundTrips(mode: WaitMode): Promise<LatencySummary> {
  const directory = Deno.makeTempDirSync({ prefix: "sfpb-wait-" });
  const socket = `${directory}/echo.sock`;
  const echo = new ChildScript(new URL("./support/eventfd-echo.ts", import.meta.url), [mode, socket]);
  const kick = createEventFd();
  const call = createEventFd();
  let connection = -1;
  try {
    await echo.waitFor("ready");
    connection = connectUnix(socket);
    const count = new Uint8Array(4);
    new DataView(count.buffer).setUint32(0, warmup + iterations, true);
    sendWithFds(connection, count, [kick, call]);
    const waiter = new CallWaiter(call);
    const samples = new Float64Array(iterations);
    let measured = 0;
    let i = 0;
    const deadline = performance.now() + maxSeconds * 1000;
    for (; i < warmup + iterations && performance.now() < deadline; i++) {
      const start = nowNs();
      signalEventFd(kick);
      while (!waiter.wait(2000)) {
        if (performance.now() > deadline) throw new Error(`the ${mode} echo stopped answering`);
      }
      const elapsed = Number(nowNs() - start);
      if (i >= warmup) samples[measured++] = elapsed;
    }
    // A run cut short by the time limit: let the child finish its count.
    for (; i < warmup + iterations; i++) {
      signalEventFd(kick);
      waiter.wait(2000);
    }
    waiter.close();
    await echo.exited();
    return summarizeNs(samples.subarray(0, measured));
  } finally {
    for (const fd of [kick, call, connection]) closeQuietly(fd);
    await echo.stop().catch(() => {});
    Deno.removeSync(directory, { recursive: true });
  }
}

if (import.meta.main) {
  const cRead = await cPingPong("read", iterations, warmup);
  const cEpoll = await cPingPong("epoll", iterations, warmup);
  const backend = await backendRoundTrips();
  const waits: Record<WaitMode, LatencySummary> = {
    await: await waitRoundTrips("await"),
    block: await waitRoundTrips("block"),
    spin: await waitRoundTrips("spin"),
  };
  const row = (name: string, s: LatencySummary) => [name, s.samples, s.p50Us, s.p99Us, s.maxUs, s.meanUs];
  printTable(
    `kick -> call round trip of an empty request, one in flight (${iterations} after ${warmup} warm-up)`,
    ["path", "samples", "p50 us", "p99 us", "max us", "mean us"],
    [
      row("sfpemu backend (Deno, child process)", backend),
      row("C eventfd ping-pong, read(2)", cRead),
      row("C eventfd ping-pong, epoll_wait(2)", cEpoll),
    ],
  );
  printTable(
    "where the time goes: a Deno child that only waits on the kick and signals the call (no vhost-user)",
    ["wait in the child", "samples", "p50 us", "p99 us", "max us", "mean us"],
    [
      row("awaited nonblocking FFI wait (event-loop.ts idle)", waits.await),
      row("synchronous epoll_wait(-1) (blocks the loop)", waits.block),
      row("synchronous epoll_wait(0) spin (burns a core)", waits.spin),
    ],
  );
  console.log(
    `sfpemu p50 = ${(backend.p50Us / cRead.p50Us).toFixed(1)}x the C read floor, ` +
      `${(backend.p50Us / cEpoll.p50Us).toFixed(1)}x the C epoll floor`,
  );
  const result: KickCallResult = { iterations, warmup, backend, cRead, cEpoll, waits };
  await saveResult("kick_call", result);
}
