// Child process of bench/kick_call.ts: answers every signal of a "kick" eventfd by signalling a
// "call" eventfd, waiting in one of three ways, with no vhost-user or ring work at all. It shows
// what the wait itself costs a Deno process:
//   await  the awaited nonblocking FFI wait (what src/native/event-loop.ts does when idle)
//   block  a synchronous epoll_wait(-1) on the main thread (blocks timers and HTTP: a floor only)
//   spin   synchronous epoll_wait(0) in a loop (burns a core: a floor only)
//
//   eventfd-echo.ts MODE SOCKET   prints "ready", takes [kick, call] and a u32 count over SOCKET
import {
  acceptConnection,
  closeQuietly,
  listenUnix,
  Poller,
  receiveWithFds,
  signalEventFd,
  WATCH_EVENTFD,
} from "../../src/native/syscalls.ts";

const IDLE_LIMIT_MS = 10_000;

export type WaitMode = "await" | "block" | "spin";

async function main(mode: WaitMode, socket: string): Promise<void> {
  const listenFd = listenUnix(socket);
  console.log("ready");
  const deadline = performance.now() + IDLE_LIMIT_MS;
  const pause = async (what: string) => {
    if (performance.now() > deadline) throw new Error(`no ${what} in ${IDLE_LIMIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 1));
  };
  let connection: number | null = null;
  while ((connection = acceptConnection(listenFd)) === null) await pause("connection");
  const buffer = new Uint8Array(4);
  let received = receiveWithFds(connection, buffer);
  while (received === null) {
    await pause("eventfds");
    received = receiveWithFds(connection, buffer);
  }
  const [kick, call] = received.fds;
  const count = new DataView(buffer.buffer).getUint32(0, true);
  const poller = new Poller(4);
  poller.add(kick, 1, WATCH_EVENTFD);
  // Bounded: a parent that went away leaves no process spinning for ever.
  let idleSince = performance.now();
  for (let answered = 0; answered < count;) {
    const ready = mode === "await"
      ? await poller.wait(1000)
      : mode === "block"
      ? poller.waitNow(1000)
      : poller.waitNow(0);
    if (ready > 0) {
      signalEventFd(call);
      answered++;
      idleSince = performance.now();
    } else if (performance.now() - idleSince > IDLE_LIMIT_MS) {
      throw new Error(`no kick for ${IDLE_LIMIT_MS} ms after ${answered} of ${count}`);
    }
  }
  poller.close();
  for (const fd of [kick, call, connection, listenFd]) closeQuietly(fd);
}

if (import.meta.main) await main(Deno.args[0] as WaitMode, Deno.args[1]);
