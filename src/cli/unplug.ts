// sfpemu unplug: takes the module out of a cage of the running emulator (DELETE .../module).
import { parseArgs } from "node:util";
import { type Command, UsageError } from "./command.ts";
import {
  ApiClient,
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  modulePath,
  parseCagePath,
  reportApiErrors,
} from "./api-client.ts";
import { describeModule } from "./plug.ts";

const usage = `usage: sfpemu unplug OLT/BOARD/CAGE [options]

Pulls the module out of the cage; the board's VM sees MOD_ABS rise. The cage must hold one.

${CLIENT_USAGE}`;

export const unplugCommand: Command = {
  name: "unplug",
  summary: "pull the module out of a cage of the running emulator",
  usage,
  run(args: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({ args, options: CLIENT_OPTIONS, allowPositionals: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError("give the cage as OLT/BOARD/CAGE");
    const cage = parseCagePath(positionals[0]);
    const client = ApiClient.fromOptions(values);
    return reportApiErrors("unplug", async () => {
      const answer = await client.request("DELETE", modulePath(cage)) as { removed: Record<string, unknown> };
      console.log(`unplugged ${describeModule(answer.removed)} from ${positionals[0]}`);
      return 0;
    });
  },
};
