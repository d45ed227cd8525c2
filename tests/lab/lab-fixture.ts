// A running lab in this process, started as `sfpemu run` starts it (state file, reconcile, board
// sockets, API): for API, store and CLI tests. Sockets and the state file live in a temporary
// directory; log lines are kept so tests can look for the reconcile notes.
import { createApi } from "../../src/api/app.ts";
import type { Lab } from "../../src/lab/lab.ts";
import type { LabEvent } from "../../src/lab/events.ts";
import { catalogEntries, sfpModuleFactory } from "../../src/lab/sfp-modules.ts";
import { createLogger } from "../../src/log/logger.ts";
import { EventLoop } from "../../src/native/event-loop.ts";
import { Catalog, loadCatalog } from "../../src/sfp/catalog.ts";
import type { ModuleProfile, SfpModule } from "../../src/sfp/module.ts";
import type { LabStore } from "../../src/store/lab-store.ts";
import { startStoredLab } from "../../src/store/stored-lab.ts";
import { loadTopology } from "../../src/topology/load.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import { GpioClient } from "../support/gpio-client.ts";
import { I2cClient } from "../support/i2c-client.ts";

/** Generous: a deadline only ends a test that already failed, on a shared and noisy machine. */
export const GUEST_DEADLINE_MS = 20_000;

/** Two boards of two kinds, one more kind to re-insert a board as, modules in some cages. */
export const TEST_TOPOLOGY = `
name: test-lab
kinds:
  two-port: { cages: 2, formFactor: sfp+ }
  four-port: { cages: 4, formFactor: sfp }
  one-port: { cages: 1, formFactor: sfp+ }
olts:
  - id: olt1
    boards:
      - id: lt1
        slot: 1
        kind: two-port
        cages:
          1: sfp-10gbase-sr
      - id: lt2
        slot: 2
        kind: four-port
        cages:
          2: { profile: sfp-gpon-olt-bplus, vendorSn: GP0001 }
`;

export const API_TOKEN = "s3cret-token";

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface LabFixtureOptions {
  /** Topology YAML; default TEST_TOPOLOGY. */
  topology?: string;
  /** Where sockets and the state file go; default a new temporary directory (removed on close). */
  dir?: string;
  token?: string;
  /** The run's seed (`sfpemu run --seed`); default the state file's, else a random one. */
  seed?: number;
  /** Profiles besides the catalog's (made in code: a module no devices/ file describes). */
  profiles?: ModuleProfile[];
}

let catalogLoaded: Promise<Catalog> | undefined;

export class LabFixture {
  readonly events: LabEvent[] = [];
  #server: Deno.HttpServer | undefined;
  #closed = false;
  readonly #frontends: VhostUserFrontend[] = [];

  private constructor(
    readonly dir: string,
    readonly ownsDir: boolean,
    readonly lab: Lab<SfpModule>,
    readonly store: LabStore<SfpModule>,
    readonly loop: EventLoop,
    readonly app: ReturnType<typeof createApi>,
    readonly logs: LogLine[],
    readonly closing: AbortController,
  ) {
    lab.events.subscribe((event) => this.events.push(event));
  }

  static async start(options: LabFixtureOptions = {}): Promise<LabFixture> {
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "sfpemu-lab-" });
    const loaded = await (catalogLoaded ??= loadCatalog());
    const catalog = options.profiles ? new Catalog([...loaded.values(), ...options.profiles]) : loaded;
    const topology = loadTopology(options.topology ?? TEST_TOPOLOGY, {
      knownProfiles: new Set(catalog.keys()),
      env: {},
      socketDir: dir,
    });
    const logs: LogLine[] = [];
    const log = createLogger({
      format: "json",
      level: "debug",
      write: (line) => logs.push(JSON.parse(line)),
    });
    const loop = new EventLoop((error) => logs.push({ level: "error", message: String(error) }));
    const { lab, store } = await startStoredLab({
      topology,
      modules: sfpModuleFactory(catalog),
      knownProfiles: new Set(catalog.keys()),
      loop,
      log,
      stateDir: dir,
      seed: options.seed,
    }).catch(async (error) => {
      await loop.stop();
      if (ownsDir) await Deno.remove(dir, { recursive: true });
      throw error;
    });
    loop.start();
    const closing = new AbortController();
    const app = createApi({
      lab,
      version: "test",
      closing: closing.signal,
      token: options.token,
      catalog: () => catalogEntries(catalog),
    });
    return new LabFixture(dir, ownsDir, lab, store, loop, app, logs, closing);
  }

  /** Serves the API on a free loopback port; returns its base URL (http://127.0.0.1:PORT). */
  async serve(): Promise<string> {
    const listening = Promise.withResolvers<Deno.NetAddr>();
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    }, this.app.fetch);
    const addr = await listening.promise;
    return `http://127.0.0.1:${addr.port}`;
  }

  /** app.request with a JSON body (a string is sent as it is). */
  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    return this.app.request(`/api/v1${path}`, init);
  }

  /**
   * A board VM on a board's two sockets, as QEMU 7.2 sets them up for a modern guest: the
   * virtio-i2c adapter (queue of 4) and the virtio-gpio controller (two queues of 256).
   */
  async attachGuest(oltId: string, boardId: string): Promise<{ i2c: I2cClient; gpio: GpioClient }> {
    const sockets = this.lab.board(oltId, boardId).spec.sockets;
    const connect = async (path: string, queues: { size: number }[]) => {
      const frontend = new VhostUserFrontend(path, { timeoutMs: GUEST_DEADLINE_MS });
      this.#frontends.push(frontend);
      await frontend.connect({ queues, eventIdx: true, indirect: true });
      return frontend;
    };
    return {
      i2c: new I2cClient(await connect(sockets.i2c, [{ size: 4 }])),
      gpio: new GpioClient(await connect(sockets.gpio, [{ size: 256 }, { size: 256 }])),
    };
  }

  /** Stops everything; the directory stays when the caller gave it (for a restart). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const frontend of this.#frontends) frontend.disconnect();
    this.closing.abort();
    await this.#server?.shutdown();
    this.store.close();
    await this.lab.stop();
    await this.loop.stop();
    if (this.ownsDir) await Deno.remove(this.dir, { recursive: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Runs work in a fresh temporary directory (a state directory to restart labs on), removed after. */
export async function withDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sfpemu-lab-dir-" });
  try {
    await work(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Resolves with the value once check() gives one; polls on a short timer up to a generous deadline. */
export async function eventually<T>(
  check: () => T | undefined | false,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
