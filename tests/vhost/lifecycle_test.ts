// Connections over time: reconnecting frontends, a second frontend while one is connected,
// orderly shutdown of a listener (in this process and as a signalled process), fd hygiene.
import assert from "node:assert/strict";
import { withBackend } from "../support/backend-fixture.ts";
import { EchoClient, pattern } from "../support/echo-client.ts";
import { ConnectionClosedError, VhostUserFrontend } from "../support/frontend.ts";
import { openFdCount, openFdTargets } from "../support/process-fds.ts";
import { BackendProcess } from "../support/backend-process.ts";

const CONNECT = { queues: [{ size: 8 }], eventIdx: true, indirect: true } as const;

async function connectAndEcho(path: string, seed: number): Promise<VhostUserFrontend> {
  const frontend = await VhostUserFrontend.start(path, CONNECT);
  assert.deepEqual(await new EchoClient(frontend).echoOne(pattern(24, seed)), pattern(24, seed));
  return frontend;
}

Deno.test("100 frontends connect, echo and disconnect in turn with no fd leak", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    (await connectAndEcho(backend.path, 0)).disconnect();
    await backend.waitForEvents("disconnected", 1);
    const before = openFdCount();
    const targetsBefore = openFdTargets();
    for (let i = 1; i <= 100; i++) {
      const frontend = await connectAndEcho(backend.path, i);
      frontend.disconnect();
      // Like a VM restart: the next frontend comes once the backend has seen this one go.
      await backend.waitForEvents("disconnected", i + 1);
    }
    assert.equal(backend.count("refused"), 0);
    assert.equal(backend.listener.connections, 101);
    assert.equal(backend.device.frontends, 101);
    const after = openFdCount();
    assert.equal(
      after,
      before,
      `fds before:\n${targetsBefore.join("\n")}\nafter:\n${openFdTargets().join("\n")}`,
    );
  });
});

Deno.test("a frontend that connects right after the previous one hung up is served", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    for (let i = 0; i < 20; i++) {
      const frontend = await connectAndEcho(backend.path, i);
      // No wait for the backend to notice: the hang-up and the new connection are both pending
      // when it next looks, as when a killed QEMU is restarted at once.
      frontend.disconnect();
    }
    await backend.waitForEvents("disconnected", 20);
    assert.equal(backend.count("refused"), 0);
  });
});

Deno.test("a second frontend while one is connected is refused; the first keeps working", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using first = await connectAndEcho(backend.path, 1);
    using second = new VhostUserFrontend(backend.path);
    await second.expectClosed();
    await backend.waitForEvents("refused", 1);
    assert.deepEqual(await new EchoClient(first).echoOne(pattern(9)), pattern(9));
    await assert.rejects(second.getFeatures(), ConnectionClosedError);
  });
});

Deno.test("closing a listener drops its frontend and removes the socket file", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    const other = fixture.addEchoDevice("other");
    using frontend = await connectAndEcho(backend.path, 1);
    using bystander = await connectAndEcho(other.path, 2);
    await backend.listener.close();
    assert.throws(() => Deno.statSync(backend.path), Deno.errors.NotFound);
    await frontend.expectClosed();
    assert.throws(() => new VhostUserFrontend(backend.path), /ENOENT/);
    // The other device of the same process is untouched.
    assert.deepEqual(await new EchoClient(bystander).echoOne(pattern(3)), pattern(3));
  });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal}: a backend process closes its listeners, removes the socket files and exits 0`, async () => {
    const directory = Deno.makeTempDirSync({ prefix: "sfpemu-signal-" });
    const paths = [`${directory}/a.sock`, `${directory}/b.sock`];
    const process = new BackendProcess(paths);
    try {
      await process.waitForLine("ready");
      using frontend = await connectAndEcho(paths[0], 1);
      process.kill(signal);
      const { status, stderr } = await process.exit();
      assert.equal(status.code, 0, stderr);
      assert.ok(process.output.includes(`stopped on ${signal}`));
      for (const path of paths) assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
      await frontend.expectClosed();
    } finally {
      process.kill("SIGKILL");
      await process.child.status;
      Deno.removeSync(directory, { recursive: true });
    }
  });
}
