// A checked scenario: its steps with what each does, when, and where it was written, ready to run.

/** A cage named in a step: its path as written and as the API's path segments. */
export interface CageRef {
  readonly path: string;
  readonly olt: string;
  readonly board: string;
  readonly cage: number;
}

/** Which events a wait-for or expect step waits for. */
export interface EventMatch {
  readonly event: string;
  /** Exactly this path; any path when absent. */
  readonly path?: string;
  readonly withinMs: number;
  /** Fields the event must have, with these values. */
  readonly fields: Readonly<Record<string, string | number | boolean>>;
}

/** A step that waits for an event. */
export type WaitAction = { readonly type: "wait-for" | "expect" } & EventMatch;

/** A step that does something to a module through the API. */
export type ModuleAction =
  /** `module` is the PUT .../module body: profile, overrides, diagnostics, faults. */
  | { readonly type: "plug"; readonly cage: CageRef; readonly module: Readonly<Record<string, unknown>> }
  | { readonly type: "unplug"; readonly cage: CageRef }
  | {
    readonly type: "set";
    readonly cage: CageRef;
    readonly diagnostics: Readonly<Record<string, number>>;
    /** null: automatic. */
    readonly signals: Readonly<Record<string, boolean | null>>;
  }
  | {
    readonly type: "fault";
    readonly cage: CageRef;
    readonly kind: string;
    readonly params: Readonly<Record<string, unknown>>;
  }
  | { readonly type: "clear"; readonly cage: CageRef; readonly kind: string };

export type StepAction = ModuleAction | WaitAction;

export function isWait(action: StepAction): action is WaitAction {
  return action.type === "wait-for" || action.type === "expect";
}

export interface Step {
  /** 1-based, as printed. */
  readonly number: number;
  /** Where the step starts in its file. */
  readonly line: number;
  /** From the start of the scenario; absent: right after the step before. */
  readonly atMs?: number;
  readonly action: StepAction;
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  /** The file as the caller named it, or `<text>`. */
  readonly file: string;
  readonly steps: readonly Step[];
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** `500ms`, `2s`, `1.5m` or `0` (schema.ts's DURATION_PATTERN) in ms. */
export function durationMs(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text);
  if (!match || (match[2] === undefined && Number(match[1]) !== 0)) {
    throw new RangeError(`"${text}" is not a duration like 500ms, 2s or 1.5m`);
  }
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? "ms"]);
}

/** 2000 → "2s", 1500 → "1.5s", 250 → "250ms": how times are printed. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}

/** What a step does, in one line: `fault olt1/lt1/3 rx-los-flap periodMs=500`. */
export function describeAction(action: StepAction): string {
  const pairs = (record: Readonly<Record<string, unknown>>) =>
    Object.entries(record).map(([key, value]) =>
      `${key}=${typeof value === "string" ? value : value === null ? "auto" : JSON.stringify(value)}`
    );
  switch (action.type) {
    case "plug":
      return ["plug", action.cage.path, ...pairs(action.module)].join(" ");
    case "unplug":
      return `unplug ${action.cage.path}`;
    case "set":
      return ["set", action.cage.path, ...pairs(action.diagnostics), ...pairs(action.signals)].join(" ");
    case "fault":
      return ["fault", action.cage.path, action.kind, ...pairs(action.params)].join(" ");
    case "clear":
      return `clear ${action.cage.path} ${action.kind}`;
    case "wait-for":
    case "expect":
      return `${action.type} ${describeMatch(action)} within ${formatDuration(action.withinMs)}`;
  }
}

/** `module-removed at olt1/lt1/3 {signal: rx-los}`. */
export function describeMatch(match: EventMatch): string {
  const fields = Object.entries(match.fields).map(([key, value]) => `${key}: ${value}`).join(", ");
  return `${match.event}${match.path ? ` at ${match.path}` : ""}${fields ? ` {${fields}}` : ""}`;
}
