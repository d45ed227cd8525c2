// The fd event loop of DESIGN.md "The event loop": one epoll set holding every kick eventfd,
// every socket and a stop eventfd; exactly one pending awaited wait; after each handled batch a
// synchronous re-poll with timeout 0, giving the JS event loop a real turn at least every 1 ms.
import {
  closeQuietly,
  createEventFd,
  Poller,
  signalEventFd,
  WATCH_EVENTFD,
  WATCH_READABLE,
  type WatchKind,
} from "./syscalls.ts";

/**
 * Called with the drained eventfd counter, or the epoll event mask of a readable fd. An eventfd
 * watch gets 0n once if its fd turned out not to be a working eventfd; it is then no longer
 * watched (the handler still owns and must close the fd).
 */
export type ReadyHandler = (value: bigint) => void;

/** What watch() returns; pass it to unwatch(). */
export interface Watch {
  readonly fd: number;
  readonly token: number;
}

/** Longest stretch of synchronous re-polling before the loop yields to timers and HTTP. */
const TURN_BUDGET_MS = 1;

export class EventLoop {
  readonly #poller = new Poller();
  readonly #handlers = new Map<number, ReadyHandler>();
  readonly #stopFd = createEventFd();
  #nextToken = 1;
  #running: Promise<void> | undefined;
  #stopping = false;
  #onError: (error: unknown) => void;

  /** onError receives what a handler threw; the loop itself keeps going. */
  constructor(onError: (error: unknown) => void = (e) => console.error("event loop handler:", e)) {
    this.#onError = onError;
    this.#poller.add(this.#stopFd, 0, WATCH_EVENTFD);
  }

  /** Calls handler whenever an eventfd is signalled (drained for you). */
  watchEventFd(fd: number, handler: ReadyHandler): Watch {
    return this.#watch(fd, WATCH_EVENTFD, handler);
  }

  /** Calls handler whenever fd is readable (level-triggered: read until EAGAIN or unwatch). */
  watchReadable(fd: number, handler: ReadyHandler): Watch {
    return this.#watch(fd, WATCH_READABLE, handler);
  }

  #watch(fd: number, kind: WatchKind, handler: ReadyHandler): Watch {
    const token = this.#nextToken;
    // Tokens are never reused within 2^32 watches, so a stale result from a batch that was
    // already collected cannot reach a newer watch of a reused fd number.
    this.#nextToken = this.#nextToken >= 0xffff_fffe ? 1 : this.#nextToken + 1;
    this.#poller.add(fd, token, kind);
    this.#handlers.set(token, handler);
    return { fd, token };
  }

  /** Stops watching; call before closing the fd. */
  unwatch(watch: Watch): void {
    if (this.#handlers.delete(watch.token)) this.#poller.remove(watch.fd);
  }

  get watchCount(): number {
    return this.#handlers.size;
  }

  start(): void {
    if (!this.#running) this.#running = this.#run();
  }

  /** Orderly stop: wake the pending wait, let it return, then release the epoll set. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#running) {
      signalEventFd(this.#stopFd);
      await this.#running;
    }
    this.#poller.close();
    closeQuietly(this.#stopFd);
    this.#handlers.clear();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let ready = await this.#poller.wait(-1);
      const turnStart = performance.now();
      while (ready > 0 && !this.#stopping) {
        this.#dispatch(ready);
        if (performance.now() - turnStart >= TURN_BUDGET_MS) break;
        ready = this.#poller.waitNow(0);
      }
    }
  }

  #dispatch(count: number): void {
    const results = this.#poller.results;
    for (let i = 0; i < count; i++) {
      const token = Number(results[2 * i]);
      if (token === 0) {
        this.#stopping = true;
        continue;
      }
      const handler = this.#handlers.get(token);
      if (!handler) continue; // unwatched while its result was in flight
      const value = results[2 * i + 1];
      if (value === 0n) this.#handlers.delete(token); // the C side dropped a dead eventfd
      try {
        handler(value);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
