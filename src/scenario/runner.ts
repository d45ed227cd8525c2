// Runs a scenario's steps in order against a target, printing each with its time from the start
// and its outcome. A step with `at` starts at that offset from the start (at once when the steps
// before it took longer); one without starts right after the step before.
//
// What a wait-for or expect may match: events after the start of the last action step (plug,
// unplug, set, fault, clear; so an event the action caused at once is not missed) and after the
// event the wait before it matched (so two waits in a row see two events in a row). A wait-for
// that sees nothing in time goes on; an expect that sees nothing fails the scenario, saying what
// was seen instead. An action the API refuses fails it too.
import { ApiClientError, modulePath } from "../cli/api-client.ts";
import type { LabEvent } from "../lab/events.ts";
import {
  describeAction,
  describeMatch,
  type EventMatch,
  formatDuration,
  isWait,
  type ModuleAction,
  type Scenario,
  type Step,
} from "./scenario.ts";
import type { ScenarioTarget } from "./target.ts";

/** Time as the runner sees it (injectable, so tests need no sleeps). */
export interface ScenarioClock {
  now(): number;
  /** Resolves after ms, or as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const REAL_CLOCK: ScenarioClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
    }),
};

export interface ScenarioRunOptions {
  target: ScenarioTarget;
  /** Where each step's line goes; default console.log. */
  print?: (line: string) => void;
  clock?: ScenarioClock;
}

export interface ScenarioResult {
  ok: boolean;
  /** The step that failed and why, when one did. */
  failure?: { step: Step; message: string };
}

/** How many events a failure lists as "seen instead". */
const SEEN_INSTEAD_LIMIT = 8;

export async function runScenario(scenario: Scenario, options: ScenarioRunOptions): Promise<ScenarioResult> {
  const { target } = options;
  const print = options.print ?? ((line: string) => console.log(line));
  const clock = options.clock ?? REAL_CLOCK;
  // Events not yet ruled out for the next wait (after `mark`), in order.
  let events: LabEvent[] = [];
  let lost: Error | undefined;
  let wake: (() => void) | undefined;
  const following = await target.follow((event) => {
    events.push(event);
    wake?.();
  }, (error) => {
    lost = error;
    wake?.();
  });
  let mark = following.lastSeq;
  const moveMark = (seq: number) => {
    mark = seq;
    events = events.filter((event) => event.seq > mark);
  };

  /** The first event after `mark` that matches, waiting up to withinMs for it. */
  const awaitEvent = async (match: EventMatch): Promise<LabEvent | undefined> => {
    const deadline = clock.now() + match.withinMs;
    for (;;) {
      const found = events.find((event) => event.seq > mark && matches(event, match));
      if (found) return found;
      if (lost) throw lost;
      const remainingMs = deadline - clock.now();
      if (remainingMs <= 0) return undefined;
      const woken = new AbortController();
      wake = () => woken.abort();
      await clock.sleep(remainingMs, woken.signal);
      wake = undefined;
    }
  };

  try {
    const health = await target.request("GET", "/health") as { seed?: number };
    const seed = health.seed === undefined ? "" : `, emulator seed ${health.seed}`;
    print(
      `scenario "${scenario.name}" (${scenario.file}): ${scenario.steps.length} steps against ${target.name}${seed}`,
    );
    const startMs = clock.now();
    for (const step of scenario.steps) {
      if (step.atMs !== undefined) {
        const waitMs = startMs + step.atMs - clock.now();
        if (waitMs > 0) await clock.sleep(waitMs);
      }
      const stepStartMs = clock.now();
      const action = step.action;
      let outcome: string;
      let failure: string | undefined;
      if (isWait(action)) {
        const found = await awaitEvent(action);
        if (found) {
          moveMark(found.seq);
          outcome = `seen #${found.seq} after ${formatDuration(clock.now() - stepStartMs)}`;
        } else if (action.type === "wait-for") {
          outcome = `not seen within ${formatDuration(action.withinMs)}; going on`;
        } else {
          outcome = "FAILED";
          failure = `no ${describeMatch(action)} within ${formatDuration(action.withinMs)}; ${
            seenInstead(events.filter((event) => event.seq > mark), action)
          }`;
        }
      } else {
        const { lastEvent } = await target.request("GET", "/health") as { lastEvent: number };
        moveMark(Math.max(mark, lastEvent));
        try {
          await perform(target, action);
          outcome = "ok";
        } catch (error) {
          if (!(error instanceof ApiClientError)) throw error;
          outcome = "FAILED";
          failure = `refused: ${error.message}`;
        }
      }
      // Seconds to the millisecond, aligned: a column to read the timing off.
      const time = `${((stepStartMs - startMs) / 1000).toFixed(3)}s`.padStart(8);
      print(`${time}  step ${step.number} (line ${step.line})  ${describeAction(action)}  ${outcome}`);
      if (failure) {
        const message = `step ${step.number} (${scenario.file}:${step.line}) ${action.type}: ${failure}`;
        print(`scenario "${scenario.name}" FAILED at ${message}`);
        return { ok: false, failure: { step, message } };
      }
    }
    print(
      `scenario "${scenario.name}" passed: ${scenario.steps.length} steps in ${
        formatDuration(clock.now() - startMs)
      }`,
    );
    return { ok: true };
  } finally {
    await following.stop();
  }
}

/** Whether an event is the one a wait looks for: its type, its path, and every field given. */
export function matches(event: LabEvent, match: EventMatch): boolean {
  if (event.type !== match.event) return false;
  if (match.path !== undefined && event.path !== match.path) return false;
  // Compared as text: `level: 1` in YAML and level 1 in the event, or "1", are the same to a user.
  return Object.entries(match.fields).every(([key, value]) => String(event[key]) === String(value));
}

/**
 * "seen instead: ..." for a failed expect: events of the type it wanted first (at another path or
 * with other fields: the likeliest near misses), then the rest, newest last.
 */
function seenInstead(window: readonly LabEvent[], match: EventMatch): string {
  if (window.length === 0) return "no events at all were seen since the step it counts from";
  const sameType = window.filter((event) => event.type === match.event);
  const others = window.filter((event) => event.type !== match.event);
  const listed = [...sameType, ...others].slice(0, SEEN_INSTEAD_LIMIT).map(describeEvent);
  const more = window.length > SEEN_INSTEAD_LIMIT ? `, and ${window.length - SEEN_INSTEAD_LIMIT} more` : "";
  return `seen instead: ${listed.join("; ")}${more}`;
}

/** `#12 module-flag olt1/lt1/3 flag=temperature high alarm raised=true`. */
function describeEvent(event: LabEvent): string {
  const { seq, time: _time, type, path, ...fields } = event;
  const pairs = Object.entries(fields).map(([key, value]) =>
    `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`
  );
  return [`#${seq}`, type, path, ...pairs].join(" ");
}

async function perform(target: ScenarioTarget, action: ModuleAction) {
  const module = modulePath(action.cage);
  switch (action.type) {
    case "plug":
      return await target.request("PUT", module, action.module);
    case "unplug":
      return await target.request("DELETE", module);
    case "set":
      if (Object.keys(action.diagnostics).length > 0) {
        await target.request("PATCH", `${module}/diagnostics`, action.diagnostics);
      }
      if (Object.keys(action.signals).length > 0) {
        await target.request("PATCH", `${module}/signals`, action.signals);
      }
      return;
    case "fault":
      return await target.request("PUT", `${module}/faults/${action.kind}`, action.params);
    case "clear":
      return await target.request("DELETE", `${module}/faults/${action.kind}`);
  }
}
