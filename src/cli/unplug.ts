// sfpemu unplug: takes the module out of a cage of the running emulator (DELETE .../module).
import { type Command, UsageError } from "./command.ts";
import { CLIENT_USAGE, clientVerb, modulePath, parseCagePath } from "./api-client.ts";
import { describeModule } from "./plug.ts";

const usage = `usage: sfpemu unplug OLT/BOARD/CAGE [options]

Pulls the module out of the cage; the board's VM sees MOD_ABS rise. The cage must hold one.

${CLIENT_USAGE}`;

export const unplugCommand: Command = clientVerb({
  name: "unplug",
  summary: "pull the module out of a cage of the running emulator",
  usage,
  positionals: true,
  async run({ positionals, client }) {
    if (positionals.length !== 1) throw new UsageError("give the cage as OLT/BOARD/CAGE");
    const cage = parseCagePath(positionals[0]);
    const answer = await client.request("DELETE", modulePath(cage)) as { removed: Record<string, unknown> };
    console.log(`unplugged ${describeModule(answer.removed)} from ${positionals[0]}`);
    return 0;
  },
});
