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

function isSwitch(target: I2cTarget): target is I2cSwitch {
  return typeof (target as I2cSwitch).openChannels === "function";
}

export class I2cSegment {
  readonly targets: I2cTarget[] = [];

  constructor(readonly name: string) {}

  attach(target: I2cTarget): void {
    this.targets.push(target);
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

/** The adapter's view of the whole plane (what virtio/i2c.ts calls I2cAdapter). */
export class I2cBus {
  readonly root = new I2cSegment("root");
  #scratch = new Uint8Array(256);

  read(address: number, buffer: Uint8Array): boolean {
    let acked = false;
    for (const target of this.root.reachable()) {
      if (!acked) {
        acked = target.read(address, buffer);
        continue;
      }
      // A second device answering the same address: AND its bytes into what the first drove.
      const other = buffer.length <= this.#scratch.length
        ? this.#scratch.subarray(0, buffer.length)
        : new Uint8Array(buffer.length);
      other.fill(0xff);
      if (target.read(address, other)) { for (let i = 0; i < buffer.length; i++) buffer[i] &= other[i]; }
    }
    return acked;
  }

  write(address: number, data: Uint8Array): boolean {
    // Every device at the address receives the bytes; collect first, because writing a mux's
    // control register changes which segments are reachable.
    let acked = false;
    for (const target of [...this.root.reachable()]) acked = target.write(address, data) || acked;
    return acked;
  }

  /**
   * How long a transfer to this address takes to be answered: the slowest device that would see
   * it, since the transfer ends only when every device on the wire lets go of the clock.
   */
  responseDelayMs(address: number): number {
    let delayMs = 0;
    for (const target of this.root.reachable()) {
      if (target.responseDelayMs) delayMs = Math.max(delayMs, target.responseDelayMs(address));
    }
    return delayMs;
  }

  reset(): void {
    for (const target of this.allTargets(this.root)) target.reset?.();
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
