// `sfpemu run` refusing to start: what is wrong is said on stderr with exit 1, and nothing is left
// behind — no socket, no process, the state file as it was.
import assert from "node:assert/strict";
import { failed, ROOT, sfpemu } from "./cli-process.ts";
import { withDir } from "../lab/lab-fixture.ts";

const TOPOLOGY = `${ROOT}examples/minimal.yaml`;
const args = (stateDir: string) => ["run", TOPOLOGY, "--state-dir", stateDir, "--api", "127.0.0.1:0"];

Deno.test("run: a board socket path that is taken is named, with the failed call, and nothing is started", () =>
  withDir(async (dir) => {
    // A directory where the GPIO socket goes: listen(2) on it fails after the I2C socket was made.
    await Deno.mkdir(`${dir}/olt1-lt1-gpio.sock`);
    failed(
      await sfpemu(args(dir)),
      1,
      /^sfpemu run: cannot open the board sockets: listen .*\/olt1-lt1-gpio\.sock: EADDRINUSE \(98\); nothing was started$/m,
    );
    assert.equal(
      await Deno.stat(`${dir}/olt1-lt1-i2c.sock`).catch(() => null),
      null,
      "the I2C socket is removed",
    );
  }));

Deno.test("run: a state file that is not sfpemu's is refused by name and left as it was", () =>
  withDir(async (dir) => {
    const garbage = new TextEncoder().encode("not a database, but someone's notes\n".repeat(100));
    await Deno.writeFile(`${dir}/sfpemu-state.db`, garbage);
    failed(await sfpemu(args(dir)), 1, /^sfpemu run: state file .*sfpemu-state\.db.*; nothing was started$/m);
    assert.deepEqual(await Deno.readFile(`${dir}/sfpemu-state.db`), garbage);
    assert.equal(await Deno.stat(`${dir}/olt1-lt1-i2c.sock`).catch(() => null), null, "no socket was made");
  }));
