// The board's I2C plane as a tree of bus segments: devices sit on segments, PCA9548-style muxes
// connect downstream segments while their channels are open. A transfer reaches every device on
// the root and on every open channel, as the wires do: several devices answering one address
// all ACK, and their read data meet as a wired-AND (open drain: a 0 from anyone wins).

/** A device on a segment. It answers only its own addresses: false = no ACK from it. */
export interface I2cTarget {
  read(address: number, buffer: Uint8Array): boolean;
  write(address: number, data: Uint8Array): boolean;
  /** Power-on state (a new VM took the bus). */
  reset?(): void;
  /** How long this device holds a transfer to this address before answering (0: at once). */
  responseDelayMs?(address: number): number;
}

/** A target that switches downstream segments onto its own (a mux). */
export interface I2cSwitch extends I2cTarget {
  openChannels(): Iterable<I2cSegment>;
}

/**
 * Filled by a transfer that a device holds (clock stretching): how long. Such a transfer is not
 * made; the caller makes it again, without a hold, once the time has passed.
 */
export interface I2cHold {
  delayMs: number;
}

function isSwitch(target: I2cTarget): target is I2cSwitch {
  return typeof (target as I2cSwitch).openChannels === "function";
}

/**
 * Bumped by every attach and detach anywhere: a bus's list of reachable targets built before it
 * is stale. Devices are attached while a board is built, never on the transfer path.
 */
let wiringGeneration = 0;

export class I2cSegment {
  readonly targets: I2cTarget[] = [];

  constructor(readonly name: string) {}

  attach(target: I2cTarget): void {
    this.targets.push(target);
    wiringGeneration++;
  }

  /** Takes a device off the segment (a board's own devices change with its kind). */
  detach(target: I2cTarget): void {
    const index = this.targets.indexOf(target);
    if (index < 0) return;
    this.targets.splice(index, 1);
    wiringGeneration++;
  }

  /** Every target electrically on this segment now: its own and those behind open channels. */
  *reachable(depth = 0): Generator<I2cTarget> {
    // Mux trees on boards are one or two levels deep; a cycle in a broken wiring ends here.
    if (depth > 8) return;
    for (const target of this.targets) {
      yield target;
      if (isSwitch(target)) {
        for (const segment of target.openChannels()) yield* segment.reachable(depth + 1);
      }
    }
  }
}

/**
 * The adapter's view of the whole plane (what virtio/i2c.ts calls I2cAdapter). What is on the wire
 * is kept as a flat list, rebuilt only when it can change: a switch acknowledged a write (its
 * channels may have moved), the bus was reset, or a device was attached or detached somewhere. Each transfer
 * is one pass over that list.
 */
export class I2cBus {
  readonly root = new I2cSegment("root");
  #scratch = new Uint8Array(256);
  #reachable: I2cTarget[] | undefined;
  #builtAt = -1;

  /**
   * A read from every device at the address, their data wired-AND. With `hold`, a device that
   * holds the transfer stops it before anything is read: false, and `hold.delayMs` says how long.
   */
  read(address: number, buffer: Uint8Array, hold?: I2cHold): boolean {
    const targets = this.#targets();
    let acked = false;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      if (!acked) {
        if (hold && target.responseDelayMs && this.#holds(targets, i, address, hold)) return false;
        acked = target.read(address, buffer);
        continue;
      }
      // A second device answering the same address: AND its bytes into what the first drove.
      const other = buffer.length <= this.#scratch.length
        ? this.#scratch.subarray(0, buffer.length)
        : new Uint8Array(buffer.length);
      other.fill(0xff);
      if (target.read(address, other)) { for (let j = 0; j < buffer.length; j++) buffer[j] &= other[j]; }
    }
    return acked;
  }

  /** A write every device at the address receives; `hold` as for read. */
  write(address: number, data: Uint8Array, hold?: I2cHold): boolean {
    // The pass runs over the list as it was when the transfer began, although writing a mux's
    // control register changes which segments are reachable: the list is rebuilt after it.
    const targets = this.#targets();
    let acked = false;
    let switched = false;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      if (!acked && hold && target.responseDelayMs && this.#holds(targets, i, address, hold)) return false;
      if (!target.write(address, data)) continue;
      acked = true;
      if (isSwitch(target)) switched = true;
    }
    if (switched) this.#reachable = undefined;
    return acked;
  }

  /**
   * Whether targets[from] holds the transfer; if so, `hold` gets the slowest delay of it and of
   * the devices after it, since the transfer ends only when every device on the wire lets go of
   * the clock. Asked only until a device has answered: once one has, the transfer was made
   * (a slow second device at the same address is a conflict the bus shows only as wired-AND data).
   */
  #holds(targets: readonly I2cTarget[], from: number, address: number, hold: I2cHold): boolean {
    let delayMs = targets[from].responseDelayMs!(address);
    if (!(delayMs > 0)) return false;
    for (let i = from + 1; i < targets.length; i++) {
      const later = targets[i].responseDelayMs?.(address) ?? 0;
      if (later > delayMs) delayMs = later;
    }
    hold.delayMs = delayMs;
    return true;
  }

  reset(): void {
    for (const target of this.allTargets(this.root)) target.reset?.();
    this.#reachable = undefined;
  }

  /** What is on the wire now. */
  #targets(): I2cTarget[] {
    if (this.#reachable === undefined || this.#builtAt !== wiringGeneration) {
      this.#reachable = [...this.root.reachable()];
      this.#builtAt = wiringGeneration;
    }
    return this.#reachable;
  }

  /** Every target on every segment, open or not. */
  *allTargets(segment: I2cSegment): Generator<I2cTarget> {
    for (const target of segment.targets) {
      yield target;
      if (target instanceof Pca9548) {
        for (const channel of target.channels) yield* this.allTargets(channel);
      }
    }
  }
}

/**
 * NXP PCA9548A 8-channel switch: one control register, bit n opens channel n; any number may be
 * open at once. A read returns the register, a write sets it (the last byte of a longer write
 * wins); at power-on every channel is closed.
 */
export class Pca9548 implements I2cSwitch {
  readonly channels: I2cSegment[];
  control = 0;

  constructor(readonly address: number, name: string) {
    this.channels = Array.from({ length: 8 }, (_, i) => new I2cSegment(`${name}.${i}`));
  }

  *openChannels(): Iterable<I2cSegment> {
    for (let i = 0; i < 8; i++) if (this.control & (1 << i)) yield this.channels[i];
  }

  read(address: number, buffer: Uint8Array): boolean {
    if (address !== this.address) return false;
    buffer.fill(this.control);
    return true;
  }

  write(address: number, data: Uint8Array): boolean {
    if (address !== this.address) return false;
    if (data.length > 0) this.control = data[data.length - 1];
    return true;
  }

  reset(): void {
    this.control = 0;
  }
}
