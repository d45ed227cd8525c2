// A server-sent-events reader for the lab's /api/v1/events stream that notes when each event
// arrived (nowNs) and lets a benchmark wait for the next event of a type at a path.
import { nowNs } from "../../src/native/syscalls.ts";
import { REQUEST_TIMEOUT_MS, withTimeout } from "./deadline.ts";

interface Waiter {
  key: string;
  resolve: (arrivedNs: bigint) => void;
}

export class EventStream {
  readonly #abort = new AbortController();
  readonly #waiters: Waiter[] = [];
  readonly #reading: Promise<void>;
  readonly #opened = Promise.withResolvers<void>();
  #reader: ReadableStreamDefaultReader<string> | undefined;

  constructor(url: string) {
    this.#reading = this.#read(url).catch((error) => {
      if (!this.#abort.signal.aborted) this.#opened.reject(error);
    });
  }

  /** Resolves once the server sent its "hello" (the subscription is in place). */
  opened(): Promise<void> {
    return this.#opened.promise;
  }

  /** When the next `type` event for `path` arrives (register before causing it). */
  next(type: string, path: string): Promise<bigint> {
    return new Promise((resolve) => this.#waiters.push({ key: `${type} ${path}`, resolve }));
  }

  async close(): Promise<void> {
    this.#abort.abort();
    // The abort alone does not always end a read already waiting on the body: cancel it too.
    await this.#reader?.cancel().catch(() => {});
    await withTimeout(this.#reading, REQUEST_TIMEOUT_MS, "end of the SSE stream after abort");
  }

  async #read(url: string): Promise<void> {
    const response = await fetch(url, { signal: this.#abort.signal });
    if (!response.ok || !response.body) throw new Error(`GET ${url}: ${response.status}`);
    let buffered = "";
    const reader = this.#reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value: text } = await reader.read();
        if (done) break;
        buffered += text;
        let end;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          this.#dispatch(block, nowNs());
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) throw error;
    }
  }

  #dispatch(block: string, arrivedNs: bigint): void {
    const type = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (type === "hello") this.#opened.resolve();
    if (!type || !data) return;
    const path = (JSON.parse(data) as { path?: string }).path;
    const key = `${type} ${path}`;
    const index = this.#waiters.findIndex((w) => w.key === key);
    if (index >= 0) this.#waiters.splice(index, 1)[0].resolve(arrivedNs);
  }
}
