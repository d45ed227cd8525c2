// sfpemu: SFP transceiver and board-hardware emulator over vhost-user.
// The command line; each verb lives in src/cli/<verb>.ts and is registered in src/cli/commands.ts.
import { commands } from "./src/cli/commands.ts";
import { UsageError } from "./src/cli/command.ts";

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "usage: sfpemu <command> [arguments]",
    "",
    "commands:",
    ...lines,
    `  ${"help".padEnd(width)}  show this text, or a command's usage: sfpemu help <command>`,
  ].join("\n");
}

export async function main(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    const about = rest[0] && commands.find((c) => c.name === rest[0]);
    console.log(about ? about.usage : help());
    return 0;
  }
  const command = commands.find((c) => c.name === verb);
  if (!command) {
    console.error(`sfpemu: unknown command "${verb}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`sfpemu ${command.name}: ${error.message}\n\n${command.usage}`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
