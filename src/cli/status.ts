// sfpemu status: the running lab as the API shows it (GET /topology): boards, their VMs, cages and
// the modules in them.
import { type Command, UsageError } from "./command.ts";
import { CLIENT_USAGE, clientVerb } from "./api-client.ts";

const usage = `usage: sfpemu status [--format text|json] [options]

Shows every board of the running emulator: slot, kind, whether it is inserted and its VM
connected, and what each cage holds.

  --format text|json     json prints the API's GET /topology answer as it is
${CLIENT_USAGE}`;

interface TopologyView {
  name: string;
  olts: {
    id: string;
    boards: {
      id: string;
      slot: number;
      kind: string;
      inserted?: boolean;
      frontends?: { i2c: boolean; gpio: boolean };
      cages: { id: number; formFactor: string; module: Record<string, unknown> | null }[];
    }[];
  }[];
}

export const statusCommand: Command = clientVerb({
  name: "status",
  summary: "show the running emulator's boards, cages and modules (via its API)",
  usage,
  options: { format: { type: "string" } },
  async run({ values, client }) {
    const format = values.format ?? "text";
    if (format !== "text" && format !== "json") {
      throw new UsageError(`--format is text or json, not "${format}"`);
    }
    const topology = await client.request("GET", "/topology") as TopologyView;
    console.log(format === "json" ? JSON.stringify(topology, null, 2) : formatStatus(topology));
    return 0;
  },
});

/** One line per board, then one per cage, columns aligned within the board. */
export function formatStatus(topology: TopologyView): string {
  const boards = topology.olts.flatMap((olt) => olt.boards.map((board) => ({ olt: olt.id, board })));
  const modules = boards.reduce((n, { board }) => n + board.cages.filter((c) => c.module).length, 0);
  const cages = boards.reduce((n, { board }) => n + board.cages.length, 0);
  const lines = [
    `topology ${topology.name}: ${topology.olts.length} OLT(s), ${boards.length} board(s), ` +
    `${modules} module(s) in ${cages} cage(s)`,
  ];
  for (const { olt, board } of boards) {
    const vm = board.frontends
      ? `VM i2c ${board.frontends.i2c ? "connected" : "-"}, gpio ${board.frontends.gpio ? "connected" : "-"}`
      : "";
    const state = board.inserted === false ? "REMOVED" : "inserted";
    lines.push(`${olt}/${board.id}  slot ${board.slot}  ${board.kind}  ${state}  ${vm}`.trimEnd());
    const rows = board.cages.map((cage) => {
      const m = cage.module;
      return [
        String(cage.id),
        cage.formFactor,
        m ? String(m.profile) : "empty",
        m ? String(m.vendorName ?? "") : "",
        m ? String(m.vendorPn ?? "") : "",
        m ? `SN ${m.vendorSn ?? "?"}` : "",
      ];
    });
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i].length))) ?? [];
    for (const row of rows) {
      lines.push(`  ${row.map((cell, i) => cell.padEnd(widths[i])).join("  ")}`.trimEnd());
    }
  }
  return lines.join("\n");
}
