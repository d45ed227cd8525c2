// The lab's event bus: every change (a module plugged, a pin moved, a guest driving TX_DISABLE, an
// alarm raised, a VM connecting) becomes one event with a sequence number, a timestamp and the
// path of what changed ("olt1/lt1/5"). The API streams them as server-sent events.

export interface LabEvent {
  /** Increases by one per event: a subscriber sees gaps only if it fell behind. */
  seq: number;
  /** ISO-8601 time of the change. */
  time: string;
  type: string;
  /** olt, olt/board or olt/board/cage. */
  path: string;
  [field: string]: unknown;
}

export type LabEventListener = (event: LabEvent) => void;

/** Events kept for late subscribers (`events --since`) and for tests. */
const HISTORY_SIZE = 1000;

export class EventBus {
  #seq = 0;
  readonly #listeners = new Set<LabEventListener>();
  readonly #history: LabEvent[] = [];

  publish(type: string, path: string, fields: Record<string, unknown> = {}): LabEvent {
    const event: LabEvent = { ...fields, seq: ++this.#seq, time: new Date().toISOString(), type, path };
    this.#history.push(event);
    if (this.#history.length > HISTORY_SIZE) this.#history.shift();
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's failure (a closed HTTP stream) must not stop the others.
      }
    }
    return event;
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
}
