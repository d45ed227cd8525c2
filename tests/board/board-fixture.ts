// A board as the lab runs it — LabBoard: the planes, the virtio I2C and GPIO devices and their two
// listening sockets on one EventLoop — with TypeScript frontends playing the board VM over real
// unix sockets, memfd guest memory and eventfds. Waits are on observed facts (a lab event, a used
// element), each bounded by a generous deadline, never on time.
import { EventLoop } from "../../src/native/event-loop.ts";
import { createLogger } from "../../src/log/logger.ts";
import { EventBus, type LabEvent } from "../../src/lab/events.ts";
import { LabBoard } from "../../src/lab/lab-board.ts";
import { type Catalog, loadCatalog } from "../../src/sfp/catalog.ts";
import { SfpModule } from "../../src/sfp/module.ts";
import type { Board as BoardSpec, BoardExtras } from "../../src/topology/model.ts";
import { DeadlineError, VhostUserFrontend } from "../support/frontend.ts";
import { I2cClient } from "../support/i2c-client.ts";
import { GpioClient } from "../support/gpio-client.ts";

/** Generous: the machines are shared and noisy; a deadline only ends a test that already failed. */
export const DEADLINE_MS = 20_000;

/**
 * How the guest's virtio transport negotiates. "modern": VERSION_1 with EVENT_IDX and indirect
 * descriptors, what QEMU 7.2 hands a virtio-pci or modern virtio-mmio guest. "legacy": no
 * VERSION_1 (virtio-mmio without force-legacy=false), legacy ring layout, and neither EVENT_IDX nor
 * indirect chains, so the other notification and chain paths are exercised too.
 */
export type GuestMode = "modern" | "legacy";
export const GUEST_MODES: readonly GuestMode[] = ["modern", "legacy"];

export const catalog: Catalog = await loadCatalog();

/** A module whose Data_Ready_Bar has already cleared, so reads see live values at once. */
export function makeModule(profileId: string): SfpModule {
  return new SfpModule(catalog.require(profileId), { overrides: { dataReadyDelayMs: 0 } });
}

export interface BoardFixtureOptions {
  cageCount?: number;
  /** The board's own devices as a topology gives them; default none. */
  extras?: BoardExtras;
  kind?: string;
  description?: string;
}

export class BoardFixture {
  readonly loop: EventLoop;
  readonly directory: string;
  readonly events = new EventBus();
  readonly board: LabBoard<SfpModule>;
  readonly loopErrors: unknown[] = [];
  readonly logs: Record<string, unknown>[] = [];
  readonly #frontends: VhostUserFrontend[] = [];

  constructor(options: BoardFixtureOptions = {}) {
    this.loop = new EventLoop((error) => this.loopErrors.push(error));
    this.directory = Deno.makeTempDirSync({ prefix: "sfpemu-board-test-" });
    const cageCount = options.cageCount ?? 10;
    const spec: BoardSpec = {
      id: "lt1",
      slot: 1,
      kind: options.kind ?? "test-line-card",
      ...(options.description === undefined ? {} : { description: options.description }),
      cageCount,
      formFactor: "sfp+",
      extras: options.extras ?? { idEeprom: false, temperatureSensor: false },
      sockets: { i2c: `${this.directory}/i2c.sock`, gpio: `${this.directory}/gpio.sock` },
      cages: Array.from({ length: cageCount }, (_, i) => ({ id: i + 1, formFactor: "sfp+", module: null })),
      dataReadyDelayMs: 0,
    };
    const log = createLogger({
      format: "json",
      level: "debug",
      write: (line) => this.logs.push(JSON.parse(line)),
    });
    this.board = new LabBoard<SfpModule>("olt1", spec, this.events, log, (m) => ({ profile: m.profile.id }));
    this.loop.start();
    this.board.insert(this.loop);
  }

  get planes() {
    return this.board.planes;
  }

  /**
   * Connects a frontend to the board's I2C socket, as QEMU does when the VM starts. A modern guest
   * gets QEMU 7.2's queue of 4 (each request is one indirect descriptor); a legacy one, with
   * direct chains of up to three descriptors per request, a queue that holds a few transfers.
   */
  async connectI2c(mode: GuestMode): Promise<I2cClient> {
    const size = mode === "modern" ? 4 : 32;
    const frontend = await this.#connect(this.board.spec.sockets.i2c, mode, [{ size }]);
    return new I2cClient(frontend);
  }

  /** Connects a frontend to the board's GPIO socket: requestq and eventq of 256, as QEMU 7.2 makes them. */
  async connectGpio(mode: GuestMode): Promise<GpioClient> {
    const frontend = await this.#connect(this.board.spec.sockets.gpio, mode, [{ size: 256 }, { size: 256 }]);
    return new GpioClient(frontend);
  }

  /** The VM goes away: the frontend closes its socket and the board reports the disconnection. */
  async disconnect(frontend: VhostUserFrontend, device: "i2c" | "gpio"): Promise<void> {
    const before = this.count("frontend-disconnected", device);
    frontend.disconnect();
    await this.waitForEvent("frontend-disconnected", device, before + 1);
  }

  plug(cageId: number, profileId: string): SfpModule {
    const module = makeModule(profileId);
    this.planes.cage(cageId)!.plug(module);
    return module;
  }

  count(type: string, device?: string): number {
    return this.events.since(0).filter((e) => e.type === type && (!device || e.device === device)).length;
  }

  /** Resolves once `count` lab events of this type (for this device) were published in total. */
  waitForEvent(type: string, device: string | undefined, count: number): Promise<void> {
    const done = () => this.count(type, device) >= count;
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = this.events.subscribe((_event: LabEvent) => {
        if (!done()) return;
        stop();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        stop();
        const seen = this.events.since(0).map((e) => `${e.type}${e.device ? `(${e.device})` : ""}`);
        reject(
          new DeadlineError(
            `waited ${DEADLINE_MS} ms for ${count} "${type}" events; seen: ${seen.join(", ")}`,
          ),
        );
      }, DEADLINE_MS);
    });
  }

  async close(): Promise<void> {
    for (const frontend of this.#frontends) frontend.disconnect();
    await this.board.remove();
    await this.loop.stop();
    Deno.removeSync(this.directory, { recursive: true });
  }

  async #connect(path: string, mode: GuestMode, queues: { size: number }[]): Promise<VhostUserFrontend> {
    const modern = mode === "modern";
    const frontend = new VhostUserFrontend(path, { timeoutMs: DEADLINE_MS });
    this.#frontends.push(frontend);
    await frontend.connect({ queues, legacy: !modern, eventIdx: modern, indirect: modern });
    return frontend;
  }
}

/** Runs body with a fresh board and always tears it down; fails if the event loop saw errors. */
export async function withBoard(
  body: (fixture: BoardFixture) => Promise<void> | void,
  options: BoardFixtureOptions = {},
): Promise<void> {
  const fixture = new BoardFixture(options);
  try {
    await body(fixture);
  } finally {
    await fixture.close();
  }
  if (fixture.loopErrors.length > 0) throw fixture.loopErrors[0];
  const problems = fixture.logs.filter((r) => r.level === "error");
  if (problems.length > 0) throw new Error(`the backend logged errors: ${JSON.stringify(problems)}`);
}

/** An ONIE TlvInfo image's text and byte TLVs by type, once its header and CRC-32 are checked. */
export function decodeTlvInfo(image: Uint8Array): Map<number, Uint8Array> {
  if (new TextDecoder().decode(image.subarray(0, 8)) !== "TlvInfo\0") throw new Error("no TlvInfo header");
  const length = (image[9] << 8) | image[10];
  const fields = new Map<number, Uint8Array>();
  for (let at = 11; at < 11 + length; at += 2 + image[at + 1]) {
    fields.set(image[at], image.subarray(at + 2, at + 2 + image[at + 1]));
  }
  const crcAt = 11 + length - 6;
  const stored = new DataView(image.buffer, image.byteOffset).getUint32(crcAt + 2, false);
  if (image[crcAt] !== 0xfe || stored !== crc32(image.subarray(0, crcAt + 2))) {
    throw new Error("bad CRC-32 TLV");
  }
  return fields;
}

/** CRC-32/IEEE, bit by bit: independent of the encoder's node:zlib. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
