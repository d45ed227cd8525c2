import type { Command } from "./command.ts";
import { runCommand } from "./run.ts";
import { validateCommand } from "./validate.ts";
import { catalogCommand } from "./catalog.ts";
import { eepromCommand } from "./eeprom.ts";
import { statusCommand } from "./status.ts";
import { plugCommand } from "./plug.ts";
import { unplugCommand } from "./unplug.ts";
import { setCommand } from "./set.ts";
import { eventsCommand } from "./events.ts";
import { faultCommand } from "./fault.ts";
import { scenarioCommand } from "./scenario.ts";
import { vmConfigCommand } from "./vm-config.ts";

/** Every verb of the command line, in the order `sfpemu help` lists them. */
export const commands: Command[] = [
  runCommand,
  validateCommand,
  catalogCommand,
  eepromCommand,
  statusCommand,
  plugCommand,
  unplugCommand,
  setCommand,
  eventsCommand,
  faultCommand,
  scenarioCommand,
  vmConfigCommand,
];
