// sfpemu set: changes a plugged module's live readings (PATCH .../diagnostics) and forces or
// releases its RX_LOS / TX_FAULT pins (PATCH .../signals), as key=value pairs.
import { type Command, UsageError } from "./command.ts";
import { CLIENT_USAGE, clientVerb, modulePath, parseCagePath } from "./api-client.ts";
import { DIAGNOSTIC_KEYS } from "../lab/module-spec.ts";
import { FORCIBLE_SIGNALS } from "../lab/lab.ts";
import { didYouMean } from "../sfp/spelling.ts";

const usage = `usage: sfpemu set OLT/BOARD/CAGE KEY=VALUE... [options]

Changes the module in the cage. Readings (numbers, in the units their names say):
  temperatureC, vccV, txBiasMa, txPowerDbm, rxPowerDbm
Pins: rxLos, txFault = true (forced high), false (forced low) or auto (the module decides).

  e.g. sfpemu set olt1/lt1/3 rxPowerDbm=-28.5 temperatureC=75 rxLos=auto

${CLIENT_USAGE}`;

const KEYS: readonly string[] = [...DIAGNOSTIC_KEYS, ...FORCIBLE_SIGNALS];

/** KEY=VALUE pairs split into the two PATCH bodies; mistakes are usage errors naming the pair. */
export function parseSettings(pairs: readonly string[]): {
  diagnostics: Record<string, number>;
  signals: Record<string, boolean | null>;
} {
  const diagnostics: Record<string, number> = {};
  const signals: Record<string, boolean | null> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    if (equals <= 0) throw new UsageError(`"${pair}" is not KEY=VALUE`);
    const key = pair.slice(0, equals);
    const value = pair.slice(equals + 1);
    if ((DIAGNOSTIC_KEYS as readonly string[]).includes(key)) {
      const number = Number(value);
      if (value.trim() === "" || !Number.isFinite(number)) {
        throw new UsageError(`${key} wants a number, not "${value}"`);
      }
      diagnostics[key] = number;
    } else if ((FORCIBLE_SIGNALS as readonly string[]).includes(key)) {
      if (value !== "true" && value !== "false" && value !== "auto") {
        throw new UsageError(`${key} is true, false or auto, not "${value}"`);
      }
      signals[key] = value === "auto" ? null : value === "true";
    } else {
      throw new UsageError(`unknown key "${key}"${didYouMean(key, KEYS)}; known keys: ${KEYS.join(", ")}`);
    }
  }
  return { diagnostics, signals };
}

export const setCommand: Command = clientVerb({
  name: "set",
  summary: "change a module's readings or force its RX_LOS / TX_FAULT pins",
  usage,
  positionals: true,
  async run({ positionals, client }) {
    if (positionals.length < 2) {
      throw new UsageError("give the cage (OLT/BOARD/CAGE) and at least one KEY=VALUE");
    }
    const cage = parseCagePath(positionals[0]);
    const { diagnostics, signals } = parseSettings(positionals.slice(1));
    if (Object.keys(diagnostics).length > 0) {
      const answer = await client.request("PATCH", `${modulePath(cage)}/diagnostics`, diagnostics) as {
        diagnostics: Record<string, number | null>;
      };
      console.log(`${positionals[0]} diagnostics: ${pairs(answer.diagnostics)}`);
    }
    if (Object.keys(signals).length > 0) {
      const answer = await client.request("PATCH", `${modulePath(cage)}/signals`, signals) as {
        signals: Record<string, unknown> & { forced?: Record<string, boolean | null> };
      };
      const { forced, ...levels } = answer.signals;
      const forcedText = Object.entries(forced ?? {}).map(([k, v]) => `${k}=${v === null ? "auto" : v}`);
      console.log(`${positionals[0]} pins: ${pairs(levels)}  forced: ${forcedText.join(" ")}`);
    }
    return 0;
  },
});

/** A JSON null reading is −∞ dBm (no light), which JSON cannot carry. */
function pairs(record: Record<string, unknown>): string {
  return Object.entries(record).map(([k, v]) => `${k}=${v === null ? "-inf" : v}`).join(" ");
}
