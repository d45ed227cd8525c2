/**
 * Scenario text → a checked `Scenario`, or a `ScenarioError` listing every problem with its file,
 * line, column and key path, in the topology's issue format (the same shape checks, the same
 * `file:line:column: path: message`). Beyond the shape: one action per step, `at` never going
 * back, a `set` that sets something, fault parameters as the fault kinds allow them, and plugged
 * profiles from the catalog when it is given.
 */
import { isMap, LineCounter, parseDocument } from "yaml";
import { checkFault, FaultError } from "../sfp/faults.ts";
import { expandEnvironment, readPlainScalar } from "../topology/expand.ts";
import { formatIssue, type PathSegment, suggestion, type TopologyIssue } from "../topology/issue.ts";
import { ShapeCheck } from "../topology/validate.ts";
import { type CageRef, durationMs, type Scenario, type Step, type StepAction } from "./scenario.ts";
import { type Action, ACTIONS, type ScenarioDocument, scenarioShape, type StepDocument } from "./schema.ts";

/** A problem in a scenario file: where, the key path, and what would be right. */
export type ScenarioIssue = TopologyIssue;

export class ScenarioError extends Error {
  override name = "ScenarioError";
  constructor(readonly issues: ScenarioIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

export interface ScenarioLoadOptions {
  /** Named in every issue. */
  file?: string;
  /** The catalog's profile ids; when given, a plug naming any other is an error. */
  knownProfiles?: ReadonlySet<string>;
  /** Variables for `${NAME}` references; the process environment when absent. */
  env?: Record<string, string | undefined>;
}

/** A scenario is a few hundred lines; anything this long is a mistake. */
const MAX_SCENARIO_LENGTH = 1024 * 1024;

export function loadScenario(text: string, options: ScenarioLoadOptions = {}): Scenario {
  const file = options.file ?? "<text>";
  const fail = (message: string, line?: number, column?: number): never => {
    throw wholeFileError(file, message, line, column);
  };
  if (text.length > MAX_SCENARIO_LENGTH) {
    fail(`the scenario is longer than ${MAX_SCENARIO_LENGTH} characters`);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    // The first only: after one syntax error the parser's later complaints are mostly its echoes.
    const error = document.errors[0];
    const { line, col } = lineCounter.linePos(error.pos[0]);
    fail(
      error.code === "DUPLICATE_KEY" ? "duplicate key: a key may appear once in a mapping" : error.message,
      line,
      col,
    );
  }
  if (document.contents === null) fail("the scenario is empty; it needs a name and steps");
  const env = options.env ?? Deno.env.toObject();
  const expandString = (value: string) => expandEnvironment(value, (name) => env[name]);
  const check = new ShapeCheck({ file, document, lineCounter, expandString, readPlainScalar });
  const checked = check.checkRoot(scenarioShape) as ScenarioDocument | undefined;
  if (checked === undefined) throw new ScenarioError(check.issues);
  if (isMap(document.get("steps", true))) {
    check.report(["steps"], "steps is a list (- at: 2s ...), not a mapping");
    throw new ScenarioError(check.issues);
  }
  if (checked.steps.length === 0) check.report(["steps"], "a scenario needs at least one step");
  const steps = checked.steps.map((step, index) => checkStep(step, ["steps", index], check, options));
  let previousAt: { ms: number; text: string } | undefined;
  checked.steps.forEach((step, index) => {
    if (step.at === undefined) return;
    const ms = durationMs(step.at);
    if (previousAt && ms < previousAt.ms) {
      check.report(
        ["steps", index, "at"],
        `at ${step.at} is before the at ${previousAt.text} of a step before it; steps run in the order written`,
      );
    }
    previousAt = { ms, text: step.at };
  });
  if (check.issues.length > 0) throw new ScenarioError([...check.issues].sort((a, b) => a.line - b.line));
  return {
    name: checked.name,
    ...(checked.description === undefined ? {} : { description: checked.description }),
    file,
    steps: steps as Step[],
  };
}

/** Reads and loads a scenario file; one that cannot be read is reported like any other issue. */
export async function loadScenarioFile(file: string, options: Omit<ScenarioLoadOptions, "file"> = {}) {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw wholeFileError(
      file,
      `cannot read the scenario: ${error instanceof Deno.errors.NotFound ? "no such file" : String(error)}`,
    );
  }
  return loadScenario(text, { ...options, file });
}

/** A problem with the file as a whole (or its syntax), with no key path. */
function wholeFileError(file: string, message: string, line = 1, column = 1): ScenarioError {
  return new ScenarioError([{ file, line, column, path: "", message }]);
}

function checkStep(
  step: StepDocument,
  path: PathSegment[],
  check: ShapeCheck,
  options: ScenarioLoadOptions,
): Step | undefined {
  // In the order written, so a message names them as the user sees them.
  const actions = Object.keys(step).filter((key): key is Action =>
    (ACTIONS as readonly string[]).includes(key)
  );
  if (actions.length !== 1) {
    check.report(
      actions.length === 0 ? path : [...path, actions[1]],
      actions.length === 0
        ? `a step needs an action: one of ${ACTIONS.join(", ")}`
        : `a step does one thing; this one has ${actions.join(" and ")}: make them separate steps`,
      "key",
    );
    return undefined;
  }
  const action = checkAction(actions[0], step, [...path, actions[0]], check, options);
  if (action === undefined) return undefined;
  return {
    number: (path[1] as number) + 1,
    line: check.locate(path).line,
    ...(step.at === undefined ? {} : { atMs: durationMs(step.at) }),
    action,
  };
}

function checkAction(
  type: Action,
  step: StepDocument,
  path: PathSegment[],
  check: ShapeCheck,
  options: ScenarioLoadOptions,
): StepAction | undefined {
  switch (type) {
    case "plug": {
      const { cage, faults, ...module } = step.plug!;
      const known = options.knownProfiles;
      if (known && !known.has(module.profile)) {
        check.report(
          [...path, "profile"],
          `unknown module profile "${module.profile}"${suggestion(module.profile, [...known].sort())}`,
        );
      }
      const faultSettings: Record<string, unknown> = {};
      for (const [kind, params] of faults ?? []) {
        faultSettings[kind] = checkedParams(kind, params, [...path, "faults", kind], check);
      }
      return {
        type,
        cage: cageRef(cage),
        module: { ...module, ...(faults ? { faults: faultSettings } : {}) },
      };
    }
    case "unplug":
      return { type, cage: cageRef(step.unplug!.cage) };
    case "set": {
      const { cage, rxLos, txFault, ...diagnostics } = step.set!;
      const signals: Record<string, boolean | null> = {};
      for (const [signal, value] of [["rxLos", rxLos], ["txFault", txFault]] as const) {
        if (value !== undefined) signals[signal] = value === "auto" ? null : value as boolean;
      }
      if (Object.keys(diagnostics).length + Object.keys(signals).length === 0) {
        check.report(path, "set needs at least one reading or pin besides the cage", "key");
      }
      return { type, cage: cageRef(cage), diagnostics: diagnostics as Record<string, number>, signals };
    }
    case "fault": {
      const { cage, kind, params } = step.fault!;
      return {
        type,
        cage: cageRef(cage),
        kind,
        params: checkedParams(kind, params, [...path, "params"], check),
      };
    }
    case "clear":
      return { type, cage: cageRef(step.clear!.cage), kind: step.clear!.kind };
    case "wait-for":
    case "expect": {
      const match = step[type]!;
      return {
        type,
        event: match.event,
        ...(match.path === undefined ? {} : { path: match.path }),
        withinMs: durationMs(match.within),
        fields: Object.fromEntries(match.fields ?? []) as Record<string, string | number | boolean>,
      };
    }
  }
}

/** A fault's parameters as the kind allows them (defaults filled in); a bad one is reported at its key. */
function checkedParams(
  kind: string,
  params: Map<string, unknown> | undefined,
  path: PathSegment[],
  check: ShapeCheck,
): Record<string, unknown> {
  const given = Object.fromEntries([...(params ?? [])].map(([key, value]) => [key, plain(value)]));
  try {
    return checkFault(kind, given).params as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof FaultError)) throw error;
    const at = error.parameter === undefined || params === undefined ? path : [...path, error.parameter];
    check.report(at, error.message, error.problem.startsWith("unknown fault kind") ? "key" : "value");
    return given;
  }
}

/** Maps (how the shape check reads nested mappings) as plain objects, for the fault checks and the API. */
function plain(value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries([...value].map(([k, v]) => [k, plain(v)])) : value;
}

function cageRef(path: string): CageRef {
  const [olt, board, cage] = path.split("/");
  return { path, olt, board, cage: Number(cage) };
}
