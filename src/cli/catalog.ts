// sfpemu catalog: the module types a topology can plug, from devices/*.yaml.
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { type Catalog, loadCatalog } from "../sfp/catalog.ts";

const usage = `usage: sfpemu catalog [--format text|json] [--dir DIR]

Lists the module profiles: id, form factor and description. Files that do not load are
reported on stderr as file:line:column: path: message, and the exit code is then 1.

  --format text|json   json prints [{ id, formFactor, description, vendorName, vendorPn }]
  --dir DIR            read the profiles from DIR instead of the built-in devices/ folder`;

export const catalogCommand: Command = {
  name: "catalog",
  summary: "list the module profiles (devices/*.yaml)",
  usage,
  async run(args: string[]): Promise<number> {
    const options = parseCatalogArgs(args);
    const catalog = await loadCatalog(options.dir);
    const profiles = [...catalog.values()].sort((a, b) => a.id.localeCompare(b.id));
    if (options.format === "json") {
      const rows = profiles.map((p) => ({
        id: p.id,
        formFactor: p.formFactor,
        description: p.description,
        vendorName: p.identity.vendorName,
        vendorPn: p.identity.vendorPn,
      }));
      console.log(JSON.stringify(rows, null, 2));
    } else {
      const idWidth = Math.max(2, ...profiles.map((p) => p.id.length));
      console.log(`${"ID".padEnd(idWidth)}  FORM   DESCRIPTION`);
      for (const p of profiles) {
        console.log(`${p.id.padEnd(idWidth)}  ${p.formFactor.padEnd(5)}  ${p.description}`);
      }
    }
    return reportCatalogErrors(catalog);
  },
};

/** Prints the files that did not load; the exit code to use. */
export function reportCatalogErrors(catalog: Catalog): number {
  for (const error of catalog.errors) console.error(error.message);
  return catalog.errors.length > 0 ? 1 : 0;
}

function parseCatalogArgs(args: string[]): { format: "text" | "json"; dir?: string } {
  const parsed = parseCommandArgs({
    args,
    options: { format: { type: "string", default: "text" }, dir: { type: "string" } },
    allowPositionals: false,
  });
  const { format, dir } = parsed.values;
  if (format !== "text" && format !== "json") {
    throw new UsageError(`unknown format "${format}"; use text or json`);
  }
  return { format, dir };
}
