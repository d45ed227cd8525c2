// A synchronous wait for a queue's call eventfd, on the benchmark's own epoll set: the calling
// thread blocks in epoll_wait, as a guest vCPU would, instead of taking a turn of the event loop.
// Only for a frontend whose backend runs in another process (this one stops while it waits).
import { Poller, WATCH_EVENTFD } from "../../src/native/syscalls.ts";

export class CallWaiter {
  readonly #poller = new Poller(4);

  constructor(readonly callFd: number) {
    this.#poller.add(callFd, 1, WATCH_EVENTFD);
  }

  /** Blocks until the call fd is signalled (and drains it); false when timeoutMs passed first. */
  wait(timeoutMs: number): boolean {
    return this.#poller.waitNow(timeoutMs) > 0;
  }

  close(): void {
    this.#poller.remove(this.callFd);
    this.#poller.close();
  }
}
