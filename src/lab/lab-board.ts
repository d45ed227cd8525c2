// One board of the running lab: its management planes (cages, muxes, GPIO lines), the virtio
// I2C and GPIO devices in front of them, and the two vhost-user sockets a board VM attaches to.
import type { EventLoop } from "../native/event-loop.ts";
import type { Logger } from "../log/logger.ts";
import { type BoardLayout, BoardPlanes, CAGE_LINE_SUFFIXES, type CageLine } from "../board/board.ts";
import type { CageModule } from "../board/cage.ts";
import { fitBoardIdentity } from "../board/id-eeprom.ts";
import { hashParts } from "../sfp/random.ts";
import type { Board as BoardSpec } from "../topology/model.ts";
import { VirtioGpioDevice } from "../virtio/gpio.ts";
import { VirtioI2cDevice } from "../virtio/i2c.ts";
import { type ListenerEvent, VhostUserListener } from "../vhost/listener.ts";
import type { EventBus } from "./events.ts";

/** Module events whose lab event name is not just `module-<type>`. */
const MODULE_EVENT_TYPES = new Map([
  ["userEeprom", "user-eeprom-written"],
  ["a2Control", "a2-control-written"],
]);

/** ONIE's "MM/DD/YYYY HH:NN:SS"; fixed, so the board's EEPROM is the same on every run. */
const MANUFACTURE_DATE = "01/01/2025 00:00:00";
const MANUFACTURER = "sfpemu";
/** What a board's sensor reads when the topology gives no temperature: a comfortable line card. */
export const DEFAULT_BOARD_TEMPERATURE_C = 35;

export interface LabBoardOptions<M extends CageModule> {
  /** Planes made already (a board given another layout keeps its modules); default: from the spec. */
  planes?: BoardPlanes<M>;
  /** The platform name in the board's ID EEPROM; default "sfpemu". */
  topologyName?: string;
}

/**
 * The planes a board spec asks for: its cages and, when it has them, its ID EEPROM and
 * temperature sensor. What the topology leaves out of the ID EEPROM is made up, the same on
 * every run: product name from the kind's description (or the kind), part number the kind,
 * serial number and a locally administered base MAC address from the board's path.
 */
export function boardLayout(oltId: string, spec: BoardSpec, topologyName = MANUFACTURER): BoardLayout {
  const { extras } = spec;
  const content = extras.idEeprom ? extras.idEepromContent ?? {} : undefined;
  return {
    cageCount: spec.cageCount,
    formFactor: spec.formFactor,
    extras: {
      ...(content
        ? {
          idEeprom: fitBoardIdentity({
            productName: content.productName ?? spec.description ?? spec.kind,
            partNumber: content.partNumber ?? spec.kind,
            serialNumber: content.serialNumber ?? `${oltId}-${spec.id}`.toUpperCase(),
            macBase: macBase(`${oltId}/${spec.id}`),
            manufactureDate: MANUFACTURE_DATE,
            platformName: topologyName,
            manufacturer: MANUFACTURER,
          }),
        }
        : {}),
      ...(extras.temperatureSensor
        ? { temperatureSensor: { temperatureC: extras.boardTemperatureC ?? DEFAULT_BOARD_TEMPERATURE_C } }
        : {}),
    },
  };
}

/**
 * A base MAC address for the board at `path`: 02 (IEEE 802 locally administered, unicast), then
 * five bytes of a hash of the path, so two boards of one lab do not share one in practice.
 */
function macBase(path: string): string {
  const bytes = new TextEncoder().encode(path);
  const high = hashParts(1, ...bytes);
  const low = hashParts(2, ...bytes) & 0xff;
  const octets = [0x02, high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff, low];
  return octets.map((octet) => octet.toString(16).padStart(2, "0")).join(":");
}

export class LabBoard<M extends CageModule = CageModule> {
  readonly planes: BoardPlanes<M>;
  readonly i2cDevice: VirtioI2cDevice;
  readonly gpioDevice: VirtioGpioDevice;
  #listeners: VhostUserListener[] = [];
  #inserted = false;

  constructor(
    readonly oltId: string,
    public spec: BoardSpec,
    readonly events: EventBus,
    readonly log: Logger,
    /** Describes a module for events (profile and identity). */
    readonly describe: (module: M) => Record<string, unknown>,
    options: LabBoardOptions<M> = {},
  ) {
    this.planes = options.planes ?? new BoardPlanes<M>(boardLayout(oltId, spec, options.topologyName));
    this.i2cDevice = new VirtioI2cDevice(this.planes.i2c, {
      onError: (error) => log.warn("i2c request after a slow answer failed", { board: this.path, error }),
    });
    this.gpioDevice = new VirtioGpioDevice(this.planes.gpio);
    this.#publishCageEvents();
  }

  get path(): string {
    return `${this.oltId}/${this.spec.id}`;
  }

  get inserted(): boolean {
    return this.#inserted;
  }

  get listeners(): readonly VhostUserListener[] {
    return this.#listeners;
  }

  /** Opens the board's sockets (the board is in its slot). */
  insert(loop: EventLoop): void {
    if (this.#inserted) return;
    const onEvent = (device: string) => (event: ListenerEvent) => {
      const type = event.type === "connected"
        ? "frontend-connected"
        : event.type === "disconnected"
        ? "frontend-disconnected"
        : "frontend-refused";
      this.events.publish(type, this.path, {
        device,
        socket: event.path,
        ...("reason" in event ? { reason: event.reason } : {}),
      });
    };
    const make = (device: VirtioI2cDevice | VirtioGpioDevice, path: string) =>
      new VhostUserListener({
        path,
        device,
        loop,
        log: this.log.child({ board: this.path, device: device.name }),
        onEvent: onEvent(device.name),
      });
    const listeners = [
      make(this.i2cDevice, this.spec.sockets.i2c),
      make(this.gpioDevice, this.spec.sockets.gpio),
    ];
    try {
      for (const listener of listeners) listener.start();
    } catch (error) {
      for (const listener of listeners) listener.close();
      throw error;
    }
    this.#listeners = listeners;
    this.#inserted = true;
  }

  /** Closes the sockets: a connected VM sees both devices go away. */
  async remove(): Promise<void> {
    const listeners = this.#listeners;
    this.#listeners = [];
    this.#inserted = false;
    for (const listener of listeners) await listener.close();
  }

  #publishCageEvents(): void {
    for (const cage of this.planes.cages) {
      const path = `${this.path}/${cage.id}`;
      cage.onChange((event) => {
        if (event.type === "inserted") {
          this.events.publish("module-inserted", path, this.describe(event.module));
        } else if (event.type === "removed") {
          this.events.publish("module-removed", path, this.describe(event.module));
        } else if (isFaultEvent(event.event)) {
          const { active, kind, params, reason } = event.event;
          // reason: the module took the fault out itself (a latched TX_FAULT the host reset).
          this.events.publish(active ? "fault-set" : "fault-cleared", path, {
            kind,
            params,
            ...(typeof reason === "string" ? { reason } : {}),
          });
        } else if (event.event && typeof event.event === "object") {
          const { type, ...rest } = event.event as { type?: string };
          this.events.publish(
            MODULE_EVENT_TYPES.get(type ?? "") ?? `module-${type ?? "changed"}`,
            path,
            rest,
          );
        }
      });
    }
    this.planes.gpio.onLevelChange((line, high) => {
      const cageId = Math.floor(line / CAGE_LINE_SUFFIXES.length) + 1;
      const signal: CageLine = CAGE_LINE_SUFFIXES[line % CAGE_LINE_SUFFIXES.length];
      const path = `${this.path}/${cageId}`;
      if (signal === "mod-abs") return; // already told as module-inserted / module-removed
      const drivenByHost = signal === "tx-disable" || signal === "rs0" || signal === "rs1";
      this.events.publish(drivenByHost ? "host-signal-changed" : "signal-changed", path, {
        signal,
        level: high ? 1 : 0,
      });
    });
  }
}

/** A module's fault set or cleared (src/sfp/module.ts ModuleEvent "fault"). */
function isFaultEvent(
  event: unknown,
): event is { type: "fault"; active: boolean; kind: string; params: unknown; reason?: unknown } {
  return typeof event === "object" && event !== null && (event as { type?: unknown }).type === "fault";
}
