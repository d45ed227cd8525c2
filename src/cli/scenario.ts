// sfpemu scenario: checks a scenario file (`check`), or runs it against a running emulator through
// its API and event stream (`run`), printing each step with its time and outcome.
import { type Command, UsageError } from "./command.ts";
import { CLIENT_USAGE, clientVerb } from "./api-client.ts";
import { loadScenarioOrReport } from "./scenario-file.ts";
import { loadCatalog } from "../sfp/catalog.ts";
import { runScenario } from "../scenario/runner.ts";
import { apiTarget } from "../scenario/target.ts";

const usage = `usage: sfpemu scenario check FILE
       sfpemu scenario run FILE [options]

A scenario is a YAML file of timed steps (schema/scenario.schema.json, examples/scenarios/):

  name: module flapping
  steps:
    - at: 0s
      plug: { cage: olt1/lt1/6, profile: sfp-gpon-olt-cplus }
    - at: 2s
      fault: { cage: olt1/lt1/6, kind: rx-los-flap, params: { periodMs: 500 } }
    - wait-for: { event: signal-changed, path: olt1/lt1/6, within: 5s }
    - clear: { cage: olt1/lt1/6, kind: rx-los-flap }
    - unplug: { cage: olt1/lt1/6 }
    - expect: { event: module-removed, path: olt1/lt1/6, within: 1s }

Steps: plug, unplug, set (readings, rxLos/txFault: true|false|auto), fault, clear, wait-for and
expect (an event by type, path and fields, within a time). \`at\` is from the start of the
scenario; a step without it starts right after the one before. A wait-for or expect matches
events after the last action step started and after the event the wait before it matched; a
wait-for that sees nothing in time goes on, an expect fails the scenario.

  check   checks the file (syntax, keys, durations, fault parameters, catalog profiles); exit 1
          with every problem as file:line:column: path: message
  run     runs it against the emulator at --api; exit 0 when every step passed, 1 when an
          expect failed or the API refused a step (saying which, and what was seen instead)
${CLIENT_USAGE}

Inside the emulator instead: sfpemu run [TOPOLOGY] --scenario FILE [--keep-running]`;

export const scenarioCommand: Command = clientVerb({
  name: "scenario",
  summary: "check a scenario file, or run it against a running emulator",
  usage,
  positionals: true,
  async run({ positionals, client }) {
    const [subcommand, file, ...rest] = positionals;
    if (subcommand !== "check" && subcommand !== "run") {
      throw new UsageError(
        subcommand === undefined ? "check or run?" : `unknown "${subcommand}"; check or run`,
      );
    }
    if (file === undefined || rest.length > 0) throw new UsageError(`scenario ${subcommand} takes one FILE`);

    if (subcommand === "check") {
      const scenario = await loadScenarioOrReport(file, new Set((await loadCatalog()).keys()));
      if (!scenario) return 1;
      const timed = scenario.steps.filter((step) => step.atMs !== undefined).length;
      console.log(
        `${file}: scenario "${scenario.name}", ${scenario.steps.length} steps (${timed} with at): ok`,
      );
      return 0;
    }
    // The emulator's own catalog decides which profiles exist, not this machine's.
    const { profiles } = await client.request("GET", "/catalog") as { profiles: { id: string }[] };
    const scenario = await loadScenarioOrReport(file, new Set(profiles.map((profile) => profile.id)));
    if (!scenario) return 1;
    return (await runScenario(scenario, { target: apiTarget(client) })).ok ? 0 : 1;
  },
});
