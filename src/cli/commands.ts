import type { Command } from "./command.ts";
import { validateCommand } from "./validate.ts";

/** Every verb of the command line, in the order `sfpemu help` lists them. */
export const commands: Command[] = [
  validateCommand,
];
