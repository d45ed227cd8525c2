// Kick-to-call round trip of an empty request through the full backend stack (issue 2's
// benchmark), beside a plain-C eventfd ping-pong measured in the same run.
//
// The backend (EventLoop, VhostUserListener, session, split ring, an EmptyDevice that returns
// each chain with 0 bytes) runs in a child process, so its event loop is not ours. This process
// is the frontend: it makes one chain available, kicks, and blocks in epoll_wait on the call
// eventfd, one request in flight, as a guest vCPU waiting for its interrupt would.
//
// Every path is measured in rounds (bench/support/rounds.ts), so machine noise falls on all alike.
//
//   deno run -A bench/kick_call.ts [--iterations 20000] [--warmup 2000] [--rounds 5] [--max-seconds 60]
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
import { ChildScript } from "./support/child.ts";
import type { WaitMode } from "./support/eventfd-echo.ts";
import { PinnedChains } from "./support/pinned-chains.ts";
import {
  combineRounds,
  compareWithFloor,
  describeRatio,
  type FloorComparison,
  type FloorRuns,
  measureFloorRound,
  ROUNDS_COLUMNS,
  roundsRow,
  type RoundsSummary,
  timeRoundTrips,
} from "./support/rounds.ts";
import { type LatencySummary, printTable, saveResult } from "./support/stats.ts";

const { iterations, warmup, maxSeconds, rounds, perRound, warmupPerRound } = latencyOptions();

/** What bench/report.ts reads back. */
export interface KickCallResult extends FloorComparison {
  backend: RoundsSummary;
  waits: Record<WaitMode, RoundsSummary>;
}

interface Backend {
  roundTrips(count: number, warmup: number): LatencySummary;
  close(): Promise<void>;
}

/** The sfpemu backend in a child process, with this process as its frontend. */
async function startBackend(): Promise<Backend> {
  const directory = Deno.makeTempDirSync({ prefix: "sfpb-kick-" });
  const socket = `${directory}/empty.sock`;
  const backend = new ChildScript(new URL("./support/empty-backend.ts", import.meta.url), [socket]);
  let frontend: VhostUserFrontend | undefined;
  const close = async () => {
    frontend?.disconnect();
    await backend.stop();
    Deno.removeSync(directory, { recursive: true });
  };
  try {
    await backend.waitFor("ready");
    frontend = await VhostUserFrontend.start(socket, {
      queues: [{ size: 256 }],
      eventIdx: true,
      indirect: true,
    });
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const queue = frontend.queue(0);
  const chains = new PinnedChains(queue.ring, frontend.memory, 1, { indirect: false, maxParts: 1 });
  chains.set(0, [{ buffer: frontend.memory.allocate(8), length: 8, write: false }]);
  const waiter = new CallWaiter(queue.callFd);
  return {
    roundTrips: (count, warmup) =>
      timeRoundTrips(
        { count, warmup, maxSeconds, nowNs },
        () => {
          signalEventFd(queue.kickFd);
          waitForCall(waiter, "the backend");
          if (queue.ring.takeUsed().length !== 1) throw new Error("a call came without the used element");
        },
        () => {
          chains.offer(0);
          queue.ring.publish();
        },
      ),
    close: async () => {
      waiter.close();
      await close();
    },
  };
}

function waitForCall(waiter: CallWaiter, who: string): void {
  if (!waiter.wait(5000)) throw new Error(`${who} stopped answering`);
}

/** Kick -> call through a Deno child that only waits and signals (no vhost-user): the wait's own cost. */
async function waitRoundTrips(mode: WaitMode, count: number, warmup: number): Promise<LatencySummary> {
  const directory = Deno.makeTempDirSync({ prefix: "sfpb-wait-" });
  const socket = `${directory}/echo.sock`;
  const echo = new ChildScript(new URL("./support/eventfd-echo.ts", import.meta.url), [mode, socket]);
  const kick = createEventFd();
  const call = createEventFd();
  let connection = -1;
  try {
    await echo.waitFor("ready");
    connection = connectUnix(socket);
    const total = new Uint8Array(4);
    new DataView(total.buffer).setUint32(0, warmup + count, true);
    sendWithFds(connection, total, [kick, call]);
    const waiter = new CallWaiter(call);
    const summary = timeRoundTrips({ count, warmup, maxSeconds, nowNs }, () => {
      signalEventFd(kick);
      waitForCall(waiter, `the ${mode} echo`);
    });
    // A run cut short by the time limit: let the child finish its count.
    for (let i = warmup + summary.samples; i < warmup + count; i++) {
      signalEventFd(kick);
      waiter.wait(2000);
    }
    waiter.close();
    await echo.exited();
    return summary;
  } finally {
    for (const fd of [kick, call, connection]) closeQuietly(fd);
    await echo.stop().catch(() => {});
    Deno.removeSync(directory, { recursive: true });
  }
}

if (import.meta.main) {
  const modes: WaitMode[] = ["await", "block", "spin"];
  const runs = { backend: [] as LatencySummary[] };
  const floorRuns: FloorRuns = { read: [], epoll: [], sameCore: [] };
  const waitRuns: Record<WaitMode, LatencySummary[]> = { await: [], block: [], spin: [] };
  const backend = await startBackend();
  try {
    for (let round = 0; round < rounds; round++) {
      await measureFloorRound(floorRuns, perRound, warmupPerRound);
      runs.backend.push(backend.roundTrips(perRound, warmupPerRound));
      for (const mode of modes) waitRuns[mode].push(await waitRoundTrips(mode, perRound, warmupPerRound));
    }
  } finally {
    await backend.close();
  }
  const { path, ...floor } = compareWithFloor(runs.backend, floorRuns, { iterations, warmup });
  const result: KickCallResult = {
    ...floor,
    backend: path,
    waits: {
      await: combineRounds(waitRuns.await),
      block: combineRounds(waitRuns.block),
      spin: combineRounds(waitRuns.spin),
    },
  };
  const row = roundsRow;
  printTable(
    `kick -> call round trip of an empty request, one in flight (${iterations} in ${rounds} rounds, ` +
      `medians of the rounds)`,
    ["path", ...ROUNDS_COLUMNS],
    [
      row("sfpemu backend (Deno, child process)", result.backend),
      row("C eventfd ping-pong, read(2)", result.cRead),
      row("C eventfd ping-pong, read(2), both on CPU 0", result.cSameCore),
      row("C eventfd ping-pong, epoll_wait(2)", result.cEpoll),
    ],
  );
  printTable(
    "where the time goes: a Deno child that only waits on the kick and signals the call (no vhost-user)",
    ["wait in the child", ...ROUNDS_COLUMNS],
    [
      row("awaited nonblocking FFI wait (event-loop.ts idle)", result.waits.await),
      row("synchronous epoll_wait(-1) (blocks the loop)", result.waits.block),
      row("synchronous epoll_wait(0) spin (burns a core)", result.waits.spin),
    ],
  );
  console.log(`sfpemu p50 = ${describeRatio(result)}`);
  await saveResult("kick_call", result);
}
