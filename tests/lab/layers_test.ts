// Which layer may use which: the lab and its store sit below the HTTP API and the command line, so
// nothing they import (directly or through another module) comes from src/api/ or src/cli/. What
// both the API and the store need (a module spec as JSON) lives in src/lab/.
import assert from "node:assert/strict";

const SRC = new URL("../../src/", import.meta.url);

/** Every local module `file` imports, directly or not, as paths below src/. */
async function importsOf(file: URL): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: { specifier: string }[] };
  return info.modules.map((module) => module.specifier).filter((specifier) => specifier.startsWith(SRC.href))
    .map((specifier) => specifier.slice(SRC.href.length));
}

Deno.test("the lab and the store import nothing of the API or the command line", async () => {
  for (const layer of ["lab", "store"]) {
    for (const entry of Deno.readDirSync(new URL(`${layer}/`, SRC))) {
      if (!entry.name.endsWith(".ts")) continue;
      const imports = await importsOf(new URL(`${layer}/${entry.name}`, SRC));
      const above = imports.filter((path) => path.startsWith("api/") || path.startsWith("cli/"));
      assert.deepEqual(above, [], `src/${layer}/${entry.name} imports ${above.join(", ")}`);
    }
  }
});
