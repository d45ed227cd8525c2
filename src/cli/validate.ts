// sfpemu validate: checks a topology file the way `sfpemu run` would load it, without starting anything.
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { loadTopologyFile } from "../topology/load.ts";
import { formatIssue, TopologyError } from "../topology/issue.ts";
import type { Topology } from "../topology/model.ts";
import { loadCatalog } from "../sfp/catalog.ts";

const usage = `usage: sfpemu validate TOPOLOGY [--format text|json]

Checks a topology file: YAML syntax, keys and values (schema/topology.schema.json), ids, slots,
cage numbers, module profiles, environment references and socket paths. Prints a summary, or
every problem as file:line:column: path: message. Exits 1 when the file has problems.

  --format text|json   json prints { valid, summary, topology } or { valid, issues }`;

export const validateCommand: Command = {
  name: "validate",
  summary: "check a topology file and summarize its OLTs, boards and cages",
  usage,
  async run(args: string[]): Promise<number> {
    const { file, format } = parseValidateArgs(args);
    const knownProfiles = await catalogProfileIds();
    let topology: Topology;
    try {
      topology = await loadTopologyFile(file, { knownProfiles, env: Deno.env.toObject() });
    } catch (error) {
      if (!(error instanceof TopologyError)) throw error;
      if (format === "json") console.log(JSON.stringify({ valid: false, issues: error.issues }, null, 2));
      else for (const issue of error.issues) console.error(formatIssue(issue));
      return 1;
    }
    if (format === "json") {
      console.log(JSON.stringify({ valid: true, summary: summarize(topology), topology }, null, 2));
    } else {
      console.log(describe(file, topology));
    }
    return 0;
  },
};

function parseValidateArgs(args: string[]): { file: string; format: "text" | "json" } {
  const parsed = parseCommandArgs({
    args,
    options: { format: { type: "string", default: "text" } },
    allowPositionals: true,
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected exactly one topology file");
  if (values.format !== "text" && values.format !== "json") {
    throw new UsageError(`unknown format "${values.format}"; use text or json`);
  }
  return { file: positionals[0], format: values.format };
}

/** The profile ids of the module catalog (a profile file that does not load is not a known id). */
async function catalogProfileIds(): Promise<ReadonlySet<string>> {
  return new Set((await loadCatalog()).keys());
}

interface Summary {
  name: string;
  olts: number;
  boards: number;
  cages: number;
  modules: number;
}

function summarize(topology: Topology): Summary {
  const boards = topology.olts.flatMap((olt) => olt.boards);
  const cages = boards.flatMap((board) => board.cages);
  return {
    name: topology.name,
    olts: topology.olts.length,
    boards: boards.length,
    cages: cages.length,
    modules: cages.filter((cage) => cage.module !== null).length,
  };
}

function describe(file: string, topology: Topology): string {
  const summary = summarize(topology);
  const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  const lines = [
    `${file}: topology ${summary.name} is valid: ${plural(summary.olts, "OLT")}, ${
      plural(summary.boards, "board")
    }, ` +
    `${plural(summary.cages, "cage")}, ${plural(summary.modules, "module")}`,
  ];
  for (const olt of topology.olts) {
    lines.push(`  ${olt.id}`);
    for (const board of olt.boards) {
      const modules = board.cages.filter((cage) => cage.module !== null).length;
      lines.push(
        `    ${board.id.padEnd(8)} slot ${String(board.slot).padStart(3)}  ${board.kind.padEnd(12)} ` +
          `${
            `${plural(board.cageCount, "cage")}, ${plural(modules, "module")}`.padEnd(22)
          } ${board.sockets.i2c}`,
      );
    }
  }
  return lines.join("\n");
}
