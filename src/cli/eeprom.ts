// sfpemu eeprom: the EEPROM a module of a profile shows a host, as a hexdump, raw bytes or fields.
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { reportCatalogErrors } from "./catalog.ts";
import { loadCatalog } from "../sfp/catalog.ts";
import { checkChecksums } from "../sfp/checksum.ts";
import { I2C_ADDRESS } from "../sfp/field-map.ts";
import { type ModuleOverrides, SfpModule } from "../sfp/module.ts";
import { profileHasA2h } from "../sfp/profile.ts";

const usage = `usage: sfpemu eeprom PROFILE [--format hex|raw|json] [--dir DIR]
                     [--vendor-name X] [--vendor-pn X] [--vendor-sn X] [--vendor-rev X] [--date-code X]

Prints the EEPROM of a module of PROFILE (see sfpemu catalog) as a host reads it once the module
is ready, with the identity fields overridden as given.

  --format hex    hexdump of A0h (I2C 0x50) then A2h (0x51)  [default]
  --format raw    the bytes themselves, A0h then A2h: 512 bytes, the layout of
                  \`ethtool -m DEV raw on\` (256 when the module has no A2h, as ethtool gives)
  --format json   every field decoded through the SFF-8472 field map, and the checksums
  --dir DIR       read the profiles from DIR instead of the built-in devices/ folder`;

const OVERRIDE_OPTIONS = {
  "vendor-name": "vendorName",
  "vendor-pn": "vendorPn",
  "vendor-sn": "vendorSn",
  "vendor-rev": "vendorRev",
  "date-code": "dateCode",
} as const;

export const eepromCommand: Command = {
  name: "eeprom",
  summary: "show a profile's EEPROM (A0h/A2h) as hex, raw bytes or decoded fields",
  usage,
  async run(args: string[]): Promise<number> {
    const options = parseEepromArgs(args);
    const catalog = await loadCatalog(options.dir);
    const profile = catalog.get(options.profileId);
    if (!profile) {
      reportCatalogErrors(catalog);
      throw new UsageError(
        `unknown profile "${options.profileId}"; known: ${[...catalog.keys()].sort().join(", ")}`,
      );
    }
    let module: SfpModule;
    try {
      // Long after insertion, so Data_Ready_Bar is already clear.
      module = new SfpModule(profile, {
        overrides: options.overrides,
        insertedAtMs: 0,
        now: () => Number.MAX_SAFE_INTEGER,
      });
    } catch (error) {
      if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message);
      throw error;
    }
    const a0 = module.a0();
    const a2 = profileHasA2h(profile) ? module.a2() : undefined;
    if (options.format === "raw") {
      await writeAll(a2 ? concat(a0, a2) : a0);
    } else if (options.format === "json") {
      const checksums = [...checkChecksums(a0, "A0"), ...(a2 ? checkChecksums(a2, "A2") : [])];
      console.log(
        JSON.stringify({ profile: profile.id, fields: module.decode(), checksums }, jsonNumbers, 2),
      );
    } else {
      console.log(hexdump(`A0h (I2C 0x${I2C_ADDRESS.A0.toString(16)})`, a0));
      console.log(
        a2
          ? hexdump(`A2h (I2C 0x${I2C_ADDRESS.A2.toString(16)})`, a2)
          : "A2h: none (SFF-8472 compliance none)",
      );
    }
    return 0;
  },
};

/** JSON has no infinities: a power of 0 mW (−∞ dBm) is written as the string "-Infinity". */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  return all;
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) written += await Deno.stdout.write(bytes.subarray(written));
}

/** 16 bytes a line with offsets and printable characters, like `xxd`. */
export function hexdump(title: string, bytes: Uint8Array): string {
  const lines = [title];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0"));
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(
      `${offset.toString(16).padStart(3, "0")}: ${hex.slice(0, 8).join(" ")}  ${
        hex.slice(8).join(" ")
      }  |${text}|`,
    );
  }
  return lines.join("\n");
}

interface EepromOptions {
  profileId: string;
  format: "hex" | "raw" | "json";
  dir?: string;
  overrides: ModuleOverrides;
}

function parseEepromArgs(args: string[]): EepromOptions {
  const parsed = parseCommandArgs({
    args,
    options: {
      format: { type: "string", default: "hex" },
      dir: { type: "string" },
      ...Object.fromEntries(
        Object.keys(OVERRIDE_OPTIONS).map((name) => [name, { type: "string" as const }]),
      ),
    },
    allowPositionals: true,
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected exactly one profile id");
  const format = values.format;
  if (format !== "hex" && format !== "raw" && format !== "json") {
    throw new UsageError(`unknown format "${format}"; use hex, raw or json`);
  }
  const overrides: Record<string, string> = {};
  for (const [option, field] of Object.entries(OVERRIDE_OPTIONS)) {
    const value = values[option as keyof typeof values];
    if (typeof value === "string") overrides[field] = value;
  }
  return { profileId: positionals[0], format, dir: values.dir as string | undefined, overrides };
}
