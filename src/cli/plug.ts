// sfpemu plug: puts a module of a catalog profile into a cage of the running emulator
// (PUT .../module), optionally with its own identity.
import { type Command, UsageError } from "./command.ts";
import { CLIENT_USAGE, clientVerb, modulePath, parseCagePath } from "./api-client.ts";

/** Identity overrides as flags: --vendor-name sets vendorName, and so on. */
const OVERRIDE_FLAGS = {
  "vendor-name": "vendorName",
  "vendor-pn": "vendorPn",
  "vendor-rev": "vendorRev",
  "vendor-sn": "vendorSn",
  "date-code": "dateCode",
  "vendor-oui": "vendorOui",
} as const;

const usage = `usage: sfpemu plug OLT/BOARD/CAGE PROFILE [options]

Plugs a module of PROFILE (see sfpemu catalog) into the cage; the board's VM sees MOD_ABS fall
and can read the module's EEPROM. The cage must be empty.

  --vendor-name TEXT     identity overrides (SFF-8472 A0h): vendor name (16 characters at most),
  --vendor-pn TEXT         part number (16), revision (4), serial number (16),
  --vendor-rev TEXT        date code (YYMMDD plus an optional lot code) and OUI (XX:XX:XX)
  --vendor-sn TEXT
  --date-code TEXT
  --vendor-oui XX:XX:XX
${CLIENT_USAGE}`;

export const plugCommand: Command = clientVerb({
  name: "plug",
  summary: "plug a module into a cage of the running emulator",
  usage,
  options: Object.fromEntries(Object.keys(OVERRIDE_FLAGS).map((flag) => [flag, { type: "string" as const }])),
  positionals: true,
  async run({ values, positionals, client }) {
    if (positionals.length !== 2) throw new UsageError("give the cage (OLT/BOARD/CAGE) and the profile");
    const cage = parseCagePath(positionals[0]);
    const body: Record<string, unknown> = { profile: positionals[1] };
    for (const [flag, key] of Object.entries(OVERRIDE_FLAGS)) {
      if (values[flag] !== undefined) body[key] = values[flag];
    }
    const module = await client.request("PUT", modulePath(cage), body) as Record<string, unknown>;
    console.log(`plugged ${describeModule(module)} into ${positionals[0]}`);
    return 0;
  },
});

/** "sfp-10gbase-sr (FINISAR CORP. FTLX8571D3BCL, SN AUJ0RCJ)" */
export function describeModule(module: Record<string, unknown>): string {
  const identity = [module.vendorName, module.vendorPn].filter((v) => typeof v === "string" && v).join(" ");
  return `${module.profile} (${identity}${module.vendorSn ? `, SN ${module.vendorSn}` : ""})`;
}
