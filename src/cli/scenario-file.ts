// Loading a scenario file for a verb (`scenario check|run`, `run --scenario`): its problems go to
// stderr as file:line:column: path: message, and the verb gets nothing to run.
import { formatIssue } from "../topology/issue.ts";
import { loadScenarioFile, ScenarioError } from "../scenario/load.ts";
import type { Scenario } from "../scenario/scenario.ts";

/** The scenario in `file`, its profiles checked against `knownProfiles`; undefined when it has problems. */
export async function loadScenarioOrReport(
  file: string,
  knownProfiles: ReadonlySet<string>,
): Promise<Scenario | undefined> {
  try {
    return await loadScenarioFile(file, { knownProfiles, env: Deno.env.toObject() });
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    for (const issue of error.issues) console.error(formatIssue(issue));
    console.error(`sfpemu: scenario ${file} has ${error.issues.length} problem(s)`);
    return undefined;
  }
}
