import { parseArgs, type ParseArgsConfig } from "node:util";

/** One verb of the command line. A new verb is one file in src/cli/ plus one line in commands.ts. */
export interface Command {
  /** The verb as typed: `sfpemu <name> ...`. */
  name: string;
  /** One line for `sfpemu help`. */
  summary: string;
  /** Usage text printed by `sfpemu help <name>` and on a usage error. */
  usage: string;
  /** Runs the verb; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** A mistake in how a verb was called: printed with the verb's usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** node:util parseArgs, with its complaints turned into UsageErrors (printed with the verb's usage). */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
