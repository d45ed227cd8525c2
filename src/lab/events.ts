// The lab's event bus: every change (a module plugged, a pin moved, a guest driving TX_DISABLE, an
// alarm raised, a VM connecting) becomes one event with a sequence number, a timestamp and the
// path of what changed ("olt1/lt1/5"). The API streams them as server-sent events.
//
// Sequence numbers go on across restarts: the bus continues after the last number an earlier run
// on the same state may have used, and, given a keeper (the store), has each number made durable
// before an event carries it, a block at a time, so even a run killed with SIGKILL never hands out
// a number twice. The history of events is in memory: a restart starts it afresh.

export interface LabEvent {
  /** Increases by one per event within a run; a restart may skip numbers, never reuse them. */
  seq: number;
  /** ISO-8601 time of the change. */
  time: string;
  type: string;
  /** olt, olt/board or olt/board/cage; "" for the emulator as a whole. */
  path: string;
  [field: string]: unknown;
}

export type LabEventListener = (event: LabEvent) => void;

/**
 * Makes `upTo` durable as the highest sequence number this run may use; false when it could not
 * (then the bus asks again at the next event).
 */
export type SeqKeeper = (upTo: number) => boolean;

export interface EventBusOptions {
  /** The last sequence number an earlier run may have used: the first event gets the next. */
  after?: number;
}

/** Events kept for late subscribers (`events --since`) and for tests. */
const HISTORY_SIZE = 1000;
/** How many sequence numbers one call of the keeper covers. */
export const SEQ_BLOCK = 1000;

export class EventBus {
  #seq: number;
  /** The highest number the keeper made durable; numbers up to it need no call. */
  #kept: number;
  #keeper: SeqKeeper | undefined;
  readonly #listeners = new Set<LabEventListener>();
  readonly #history: LabEvent[] = [];
  /** Published and not yet delivered: an event published by a listener waits for the one before. */
  readonly #undelivered: LabEvent[] = [];
  #delivering = false;

  constructor(options: EventBusOptions = {}) {
    const after = options.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new RangeError(`events continue after a whole number ≥ 0, not ${String(options.after)}`);
    }
    this.#seq = this.#kept = after;
  }

  /**
   * From now on, numbers beyond what `keeper` last made durable are reserved with it (SEQ_BLOCK at
   * a time) before an event carries them; undefined stops that (the store closed).
   */
  keepSeqsWith(keeper: SeqKeeper | undefined): void {
    this.#keeper = keeper;
    this.#kept = this.#seq;
  }

  publish(type: string, path: string, fields: Record<string, unknown> = {}): LabEvent {
    const seq = this.#seq + 1;
    if (this.#keeper && seq > this.#kept && this.#keeper(seq + SEQ_BLOCK - 1)) {
      this.#kept = seq + SEQ_BLOCK - 1;
    }
    this.#seq = seq;
    const event: LabEvent = { ...fields, seq, time: new Date().toISOString(), type, path };
    this.#history.push(event);
    if (this.#history.length > HISTORY_SIZE) this.#history.shift();
    this.#undelivered.push(event);
    if (!this.#delivering) this.#deliver();
    return event;
  }

  /** Every listener hears every event, in the order of their numbers. */
  #deliver(): void {
    this.#delivering = true;
    try {
      for (let event = this.#undelivered.shift(); event; event = this.#undelivered.shift()) {
        for (const listener of this.#listeners) {
          try {
            listener(event);
          } catch {
            // A subscriber's failure (a closed HTTP stream) must not stop the others.
          }
        }
      }
    } finally {
      this.#delivering = false;
    }
  }

  subscribe(listener: LabEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events after seq (still in the history). */
  since(seq: number): LabEvent[] {
    return this.#history.filter((e) => e.seq > seq);
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** The number of the oldest event still in the history; lastSeq + 1 while it is empty. */
  get firstKept(): number {
    return this.#history[0]?.seq ?? this.#seq + 1;
  }
}
