// The real backend, in this process, for integration tests: one EventLoop (as in the program),
// any number of listeners with echo devices on sockets in a temporary directory, and what each
// listener reported (events and log lines), so tests can wait on observed facts, never on time.
import { EventLoop } from "../../src/native/event-loop.ts";
import { createLogger } from "../../src/log/logger.ts";
import { type ListenerEvent, VhostUserListener } from "../../src/vhost/listener.ts";
import { DeadlineError } from "./frontend.ts";
import { EchoDevice, type EchoDeviceOptions } from "./echo-device.ts";

export interface LogRecord {
  level: string;
  message: string;
  [field: string]: unknown;
}

/** One listening device and everything it reported. */
export class EchoBackend {
  readonly events: ListenerEvent[] = [];
  readonly logs: LogRecord[] = [];
  readonly device: EchoDevice;
  readonly listener: VhostUserListener;
  readonly #waiters = new Set<() => void>();

  constructor(readonly path: string, loop: EventLoop, options: EchoDeviceOptions) {
    this.device = new EchoDevice(options);
    const log = createLogger({
      format: "json",
      level: "debug",
      write: (line) => this.#record(() => this.logs.push(JSON.parse(line))),
    });
    this.listener = new VhostUserListener({
      path,
      device: this.device,
      loop,
      log,
      onEvent: (event) => this.#record(() => this.events.push(event)),
    });
    this.listener.start();
  }

  count(type: ListenerEvent["type"]): number {
    return this.events.filter((e) => e.type === type).length;
  }

  /** Resolves once `count` events of this type were reported in total. */
  async waitForEvents(type: ListenerEvent["type"], count: number, timeoutMs = 5000): Promise<void> {
    await this.#waitUntil(() => this.count(type) >= count, () => {
      const seen = this.events.map((e) => e.type).join(", ") || "none";
      return `${count} "${type}" events from ${this.path} (events so far: ${seen})`;
    }, timeoutMs);
  }

  /** Resolves once a log line matching the predicate was written. */
  waitForLog(predicate: (record: LogRecord) => boolean, what: string, timeoutMs = 5000): Promise<LogRecord> {
    return this.#waitUntil(() => this.logs.find(predicate), () => `a log line: ${what}`, timeoutMs);
  }

  /** The last warning or error the backend logged (for messages in assertions). */
  lastProblem(): LogRecord | undefined {
    return this.logs.findLast((r) => r.level === "warn" || r.level === "error");
  }

  #record(add: () => void): void {
    add();
    for (const wake of this.#waiters) wake();
  }

  #waitUntil<T>(check: () => T | undefined | false, what: () => string, timeoutMs: number): Promise<T> {
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const wake = () => {
        const value = check();
        if (!value) return;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new DeadlineError(`waited ${timeoutMs} ms for ${what()}`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

/** A backend process in miniature: one loop, listeners in one temporary directory. */
export class BackendFixture {
  readonly loop: EventLoop;
  readonly directory: string;
  readonly backends: EchoBackend[] = [];
  readonly loopErrors: unknown[] = [];

  constructor() {
    this.loop = new EventLoop((error) => this.loopErrors.push(error));
    this.directory = Deno.makeTempDirSync({ prefix: "sfpemu-vhost-test-" });
    this.loop.start();
  }

  addEchoDevice(name = "echo", options: EchoDeviceOptions = {}): EchoBackend {
    const backend = new EchoBackend(`${this.directory}/${name}.sock`, this.loop, options);
    this.backends.push(backend);
    return backend;
  }

  async close(): Promise<void> {
    for (const backend of this.backends) await backend.listener.close();
    await this.loop.stop();
    Deno.removeSync(this.directory, { recursive: true });
  }
}

/** Runs body with a fixture and always tears it down, even when the body throws. */
export async function withBackend(body: (fixture: BackendFixture) => Promise<void>): Promise<void> {
  const fixture = new BackendFixture();
  try {
    await body(fixture);
  } finally {
    await fixture.close();
  }
}
