// Scenarios from the command line: `scenario check`, `scenario run` against a real API server over
// HTTP and its event stream, and `run --scenario` (the emulator running one after start-up and
// exiting with its result, or keeping on with --keep-running). Also `run --seed`.
import assert from "node:assert/strict";
import { LabFixture } from "../lab/lab-fixture.ts";
import { failed, ok, ROOT, sfpemu } from "./cli-process.ts";

const PASSING = `name: plug and pull
steps:
  - at: 0s
    plug: { cage: olt1/lt1/2, profile: sfp-10gbase-lr, faults: { slow-ready: { delayMs: 100 } } }
  - expect: { event: fault-set, path: olt1/lt1/2, fields: { kind: slow-ready }, within: 10s }
  - fault: { cage: olt1/lt1/2, kind: tx-fault, params: { mode: stuck } }
  - expect: { event: signal-changed, path: olt1/lt1/2, fields: { signal: tx-fault, level: 1 }, within: 10s }
  - at: 200ms
    unplug: { cage: olt1/lt1/2 }
  - expect: { event: module-removed, path: olt1/lt1/2, within: 10s }
`;

const FAILING = `name: never comes
steps:
  - fault: { cage: olt1/lt1/1, kind: nack }
  - expect: { event: module-removed, path: olt1/lt1/1, within: 300ms }
  - clear: { cage: olt1/lt1/1, kind: nack }
`;

async function withFiles(files: Record<string, string>, work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sfpemu-scenario-cli-" });
  try {
    for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
    await work(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("scenario check: ok, every problem at file:line:column, usage mistakes", () =>
  withFiles(
    { "good.yaml": PASSING, "bad.yaml": "name: x\nsteps:\n  - unplug: { cage: olt1/lt1 }\n" },
    async (dir) => {
      assert.equal(
        ok(await sfpemu(["scenario", "check", `${dir}/good.yaml`])).trim(),
        `${dir}/good.yaml: scenario "plug and pull", 6 steps (2 with at): ok`,
      );
      failed(
        await sfpemu(["scenario", "check", `${dir}/bad.yaml`]),
        1,
        new RegExp(
          `^${dir}/bad\\.yaml:3:21: steps\\[0\\]\\.unplug\\.cage: "olt1/lt1" is not valid: a cage is OLT/BOARD/CAGE`,
        ),
      );
      for (const examples of Deno.readDirSync(`${ROOT}examples/scenarios`)) {
        ok(await sfpemu(["scenario", "check", `${ROOT}examples/scenarios/${examples.name}`]));
      }
      failed(await sfpemu(["scenario"]), 2, /check or run\?/);
      failed(await sfpemu(["scenario", "walk", "x.yaml"]), 2, /unknown "walk"; check or run/);
      failed(await sfpemu(["scenario", "check"]), 2, /scenario check takes one FILE/);
    },
  ));

Deno.test("scenario run against a running emulator: each step with its time; exit 0, or 1 naming the failure", async () => {
  await using lab = await LabFixture.start({ seed: 8 });
  const api = (await lab.serve()).slice("http://".length);
  await withFiles({ "pass.yaml": PASSING, "fail.yaml": FAILING }, async (dir) => {
    const lines = ok(await sfpemu(["scenario", "run", `${dir}/pass.yaml`, "--api", api])).trim().split("\n");
    assert.equal(
      lines[0],
      `scenario "plug and pull" (${dir}/pass.yaml): 6 steps against http://${api}, emulator seed 8`,
    );
    assert.match(
      lines[1],
      /^ {2}0\.\d{3}s {2}step 1 \(line 3\) {2}plug olt1\/lt1\/2 profile=sfp-10gbase-lr .* {2}ok$/,
    );
    assert.match(
      lines[2],
      /step 2 \(line 5\) {2}expect fault-set at olt1\/lt1\/2 \{kind: slow-ready\} within 10s {2}seen #\d+/,
    );
    assert.match(
      lines[6],
      /step 6 \(line 10\) {2}expect module-removed at olt1\/lt1\/2 within 10s {2}seen #\d+/,
    );
    assert.match(lines[7], /^scenario "plug and pull" passed: 6 steps in /);
    assert.equal(lab.lab.cage("olt1", "lt1", 2).cage.module, null);

    const failure = await sfpemu(["scenario", "run", `${dir}/fail.yaml`, "--api", api]);
    assert.equal(failure.code, 1, failure.stderr);
    assert.match(
      failure.stdout,
      /^scenario "never comes" FAILED at step 2 \(.*fail\.yaml:4\) expect: no module-removed at olt1\/lt1\/1 within 300ms; seen instead: #\d+ fault-set olt1\/lt1\/1 kind=nack/m,
    );
    assert.deepEqual(
      lab.lab.module("olt1", "lt1", 1).faults().map((f) => f.kind),
      ["nack"],
      "step 3 never ran",
    );
  });
  // The emulator's catalog decides which profiles exist; and an emulator that is not there.
  await withFiles({ "unknown.yaml": PASSING.replace("sfp-10gbase-lr", "sfp-400g-dreams") }, async (dir) => {
    failed(
      await sfpemu(["scenario", "run", `${dir}/unknown.yaml`, "--api", api]),
      1,
      /unknown\.yaml:4:40: steps\[0\]\.plug\.profile: unknown module profile "sfp-400g-dreams"/,
    );
  });
  failed(
    await sfpemu([
      "scenario",
      "run",
      `${ROOT}examples/scenarios/module-flapping.yaml`,
      "--api",
      "127.0.0.1:1",
    ]),
    1,
    /sfpemu scenario: cannot reach the sfpemu API at http:\/\/127\.0\.0\.1:1/,
  );
});

Deno.test("run --scenario: the emulator runs it after start-up and exits with its result", () =>
  withFiles({ "pass.yaml": PASSING, "fail.yaml": FAILING, "bad.yaml": "name: x\n" }, async (dir) => {
    const run = (scenario: string, ...more: string[]) =>
      sfpemu([
        "run",
        `${ROOT}examples/minimal.yaml`,
        "--state-dir",
        `${dir}/state-${scenario}`,
        "--api",
        "127.0.0.1:0",
        "--log-level",
        "warn",
        "--scenario",
        `${dir}/${scenario}`,
        ...more,
      ]);
    const passed = ok(await run("pass.yaml", "--seed", "77"));
    assert.match(passed, /^ {2}seed {2}77 {2}\(the same random choices again: --seed 77\)$/m);
    assert.match(passed, /^ready api=http/m);
    assert.match(
      passed,
      /^scenario "plug and pull" \(.*pass\.yaml\): 6 steps against in-process, emulator seed 77$/m,
    );
    assert.match(passed, /^scenario "plug and pull" passed: 6 steps in /m);
    // Again on the same state directory, not given a seed: the earlier run's, kept in the state file.
    const again = ok(await run("pass.yaml"));
    assert.match(
      again,
      /^ {2}seed {2}77 {2}\(the earlier run's, kept in the state file; the same random choices again: --seed 77\)$/m,
    );
    assert.match(again, /^scenario "plug and pull" passed: 6 steps in /m);

    const failure = await run("fail.yaml");
    assert.equal(failure.code, 1, failure.stderr);
    assert.match(failure.stdout, /^ {2}seed {2}\d+ {2}\(the same random choices again: --seed \d+\)$/m);
    assert.match(
      failure.stdout,
      /FAILED at step 2 .* expect: no module-removed at olt1\/lt1\/1 within 300ms/,
    );

    failed(await run("bad.yaml"), 1, /bad\.yaml:1:1: steps: missing required key "steps"/);
    assert.equal(await Deno.stat(`${dir}/state-bad.yaml`).catch(() => null), null, "nothing was started");
    failed(
      await run("pass.yaml", "--seed", "4294967296"),
      2,
      /--seed wants a whole number 0\.\.4294967295, not "4294967296"/,
    );
    failed(await sfpemu(["run", "--keep-running"]), 2, /--keep-running goes with --scenario/);
  }));

Deno.test("run --scenario --keep-running: serves on after the scenario until told to stop", () =>
  withFiles({ "pass.yaml": PASSING }, async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}main.ts`,
        "run",
        `${ROOT}examples/minimal.yaml`,
        "--state-dir",
        `${dir}/state`,
        "--api",
        "127.0.0.1:0",
        "--log-level",
        "warn",
        "--scenario",
        `${dir}/pass.yaml`,
        "--keep-running",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output: string[] = [];
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    // A child that never prints the line must not hang the test: each read races the deadline.
    const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
    while (!output.join("").includes("passed: 6 steps")) {
      const { value, done } = await reader.read();
      if (done) assert.fail(`sfpemu run ended before the scenario passed: ${output.join("")}${await stderr}`);
      output.push(value);
    }
    clearTimeout(deadline);
    const api = /^ready api=(\S+)/m.exec(output.join(""))![1];
    const health = await (await fetch(`${api}/api/v1/health`)).json();
    assert.equal(health.status, "ok", "still serving after the scenario ended");
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    // Read to the end, so the pipe is closed when the test ends.
    while (!(await reader.read()).done);
    await stderr;
  }));
