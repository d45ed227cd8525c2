import type { Command } from "./command.ts";
import { runCommand } from "./run.ts";
import { validateCommand } from "./validate.ts";
import { catalogCommand } from "./catalog.ts";
import { eepromCommand } from "./eeprom.ts";

/** Every verb of the command line, in the order `sfpemu help` lists them. */
export const commands: Command[] = [
  runCommand,
  validateCommand,
  catalogCommand,
  eepromCommand,
];
