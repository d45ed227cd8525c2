// sfpemu vm-config: the QEMU arguments and device tree for one board, from a topology file (as
// `sfpemu run` reads it) or from a running emulator's API, and the mistakes it refuses.
import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/command.ts";
import { vmConfigCommand } from "../../src/cli/vm-config.ts";
import { loadCatalog } from "../../src/sfp/catalog.ts";
import { loadTopologyFile } from "../../src/topology/load.ts";
import { nodeAt, parseFdt, property, readCells } from "../../src/vm/fdt.ts";
import { QEMU_VIRT_DTB_GZ, qemuVersalDtb, qemuVirtDtb } from "./support.ts";

const TOPOLOGY = `name: vm
kinds: { ten: { cages: 10 } }
olts:
  - id: olt1
    boards:
      - { id: lt1, slot: 1, kind: ten, cages: { 1: sfp-10gbase-sr } }
      - id: odd
        slot: 2
        kind: ten
        sockets: { i2c: "/tmp/with space,comma/i2c.sock", gpio: /tmp/x/gpio.sock }
`;

async function vmConfig(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await vmConfigCommand.run(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, { log, error });
  }
}

async function withTopology<T>(fn: (file: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sfpemu-vm-config-" });
  try {
    await Deno.writeTextFile(`${dir}/topology.yaml`, TOPOLOGY);
    return await fn(`${dir}/topology.yaml`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vm-config: x86_64 arguments with the socket paths `sfpemu run --state-dir` uses", () =>
  withTopology(async (file, dir) => {
    const state = `${dir}/state`;
    const { code, out, err } = await vmConfig(
      "olt1/lt1",
      "--arch",
      "x86_64",
      "--topology",
      file,
      "--state-dir",
      state,
    );
    assert.equal(code, 0, err);
    // The same loader and options as `sfpemu run FILE --state-dir DIR`.
    const catalog = await loadCatalog();
    const topology = await loadTopologyFile(file, {
      knownProfiles: new Set(catalog.keys()),
      socketDir: state,
    });
    const sockets = topology.olts[0].boards[0].sockets;
    assert.equal(sockets.i2c, `${state}/olt1-lt1-i2c.sock`);
    assert.deepEqual(out.split("\n"), [
      "-object",
      "memory-backend-memfd,id=sfpemu-mem,size=256M,share=on",
      "-m",
      "256M",
      "-numa",
      "node,memdev=sfpemu-mem",
      "-chardev",
      `socket,id=sfpemu-olt1-lt1-i2c,path=${sockets.i2c}`,
      "-device",
      "vhost-user-i2c-pci,chardev=sfpemu-olt1-lt1-i2c",
      "-chardev",
      `socket,id=sfpemu-olt1-lt1-gpio,path=${sockets.gpio}`,
      "-device",
      "vhost-user-gpio-pci,chardev=sfpemu-olt1-lt1-gpio",
    ]);
  }));

Deno.test("vm-config: aarch64 arguments; --memory; the state directory defaults like `sfpemu run`'s", async () => {
  const home = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", "/srv/state");
  try {
    // No --topology: the built-in one, as `sfpemu run` without a file.
    const { code, out } = await vmConfig(
      "olt1/lt1",
      "--arch",
      "aarch64",
      "--memory",
      "1g",
      "--format",
      "shell",
    );
    assert.equal(code, 0);
    assert.equal(
      out,
      "-object memory-backend-memfd,id=sfpemu-mem,size=1G,share=on -m 1G -machine memory-backend=sfpemu-mem " +
        "-global virtio-mmio.force-legacy=false " +
        "-chardev socket,id=sfpemu-olt1-lt1-i2c,path=/srv/state/sfpemu/olt1-lt1-i2c.sock " +
        "-device vhost-user-i2c-device,chardev=sfpemu-olt1-lt1-i2c " +
        "-chardev socket,id=sfpemu-olt1-lt1-gpio,path=/srv/state/sfpemu/olt1-lt1-gpio.sock " +
        "-device vhost-user-gpio-device,chardev=sfpemu-olt1-lt1-gpio",
    );
    const none = await vmConfig("olt1/nt", "--arch", "aarch64", "--memory", "none");
    assert.equal(none.code, 0);
    assert.match(none.out, /^-global\nvirtio-mmio.force-legacy=false\n-chardev\n/);
    assert.doesNotMatch(none.out, /memory|^-m$/m);
  } finally {
    if (home === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", home);
  }
});

Deno.test("vm-config: commas in a socket path are doubled for QEMU; shell format quotes", () =>
  withTopology(async (file) => {
    const args = await vmConfig("olt1/odd", "--arch", "x86_64", "--topology", file, "--memory", "none");
    assert.equal(args.code, 0);
    assert.ok(
      args.out.split("\n").includes("socket,id=sfpemu-olt1-odd-i2c,path=/tmp/with space,,comma/i2c.sock"),
    );
    const shell = await vmConfig("olt1/odd", "--arch", "x86_64", "--topology", file, "--format", "shell");
    assert.match(
      shell.out,
      / -chardev 'socket,id=sfpemu-olt1-odd-i2c,path=\/tmp\/with space,,comma\/i2c.sock' /,
    );
    // What a shell reads back is the args format's list.
    const echoed = await new Deno.Command("sh", {
      args: ["-c", `printf '%s\\n' ${shell.out}`],
    }).output();
    const full = await vmConfig("olt1/odd", "--arch", "x86_64", "--topology", file);
    assert.equal(new TextDecoder().decode(echoed.stdout).trimEnd(), full.out);
  }));

Deno.test("vm-config: json has the sockets and each cage's mux, channel and GPIO lines", () =>
  withTopology(async (file, dir) => {
    const { code, out } = await vmConfig(
      "olt1/lt1",
      "--arch",
      "x86_64",
      "--topology",
      file,
      "--state-dir",
      dir,
      "--format",
      "json",
    );
    assert.equal(code, 0);
    const json = JSON.parse(out);
    assert.equal(json.board, "olt1/lt1");
    assert.equal(json.arch, "x86_64");
    assert.deepEqual(json.sockets, { i2c: `${dir}/olt1-lt1-i2c.sock`, gpio: `${dir}/olt1-lt1-gpio.sock` });
    assert.equal(json.args.length, 14);
    assert.equal(json.cages.length, 10);
    assert.deepEqual(json.cages[8], {
      cage: 9,
      mux: 0x71,
      channel: 0,
      lines: { "mod-abs": 48, "rx-los": 49, "tx-fault": 50, "tx-disable": 51, rs0: 52, rs1: 53 },
    });
    assert.equal(json.dtb, undefined);
  }));

Deno.test("vm-config: aarch64 with --base-dtb writes the merged tree and boots it with -dtb", () =>
  withTopology(async (file, dir) => {
    await Deno.writeFile(`${dir}/virt.dtb`, await qemuVirtDtb());
    const { code, out, err } = await vmConfig(
      "olt1/lt1",
      "--arch",
      "aarch64",
      "--topology",
      file,
      "--state-dir",
      dir,
      "--base-dtb",
      `${dir}/virt.dtb`,
      "--dtb-out",
      `${dir}/board.dtb`,
      "--max-power-mw",
      "2000",
      "--format",
      "json",
    );
    assert.equal(code, 0, err);
    const json = JSON.parse(out);
    assert.deepEqual(json.args.slice(-2), ["-dtb", `${dir}/board.dtb`]);
    assert.equal(json.dtb.file, `${dir}/board.dtb`);
    assert.equal(json.dtb.nodes.i2c, "/virtio_mmio@a003e00/i2c");
    assert.equal(json.dtb.nodes.cages.length, 10);
    const tree = parseFdt(await Deno.readFile(`${dir}/board.dtb`));
    assert.deepEqual(readCells(property(nodeAt(tree, "/sfp10")!, "maximum-power-milliwatt")!), [2000]);
    assert.ok(nodeAt(tree, "/virtio_mmio@a003e00/i2c/i2c-mux@71/i2c@1"));
  }));

Deno.test("vm-config: --mac wires xlnx-versal-virt's GEMs to cages; a wrong node is one line", () =>
  withTopology(async (file, dir) => {
    await Deno.writeFile(`${dir}/versal.dtb`, await qemuVersalDtb());
    const run = (...more: string[]) =>
      vmConfig(
        ...["olt1/lt1", "--arch", "aarch64", "--topology", file, "--state-dir", dir],
        ...["--base-dtb", `${dir}/versal.dtb`, "--dtb-out", `${dir}/board.dtb`, ...more],
      );
    const { code, out, err } = await run(
      "--mac",
      "1=ethernet@ff0c0000",
      "--mac",
      "2=/ethernet@ff0d0000",
      "--format",
      "json",
    );
    assert.equal(code, 0, err);
    const json = JSON.parse(out);
    assert.equal(json.dtb.nodes.i2c, "/virtio_mmio@a0000e00/i2c");
    assert.deepEqual(
      json.dtb.nodes.cages.filter((c: { mac?: string }) => c.mac).map((
        c: { cage: number; mac: string },
      ) => [c.cage, c.mac]),
      [[1, "/ethernet@ff0c0000"], [2, "/ethernet@ff0d0000"]],
    );
    const tree = parseFdt(await Deno.readFile(`${dir}/board.dtb`));
    const sfp1 = readCells(property(nodeAt(tree, "/sfp1")!, "phandle")!);
    assert.deepEqual(readCells(property(nodeAt(tree, "/ethernet@ff0c0000")!, "sfp")!), sfp1);

    await Deno.remove(`${dir}/board.dtb`);
    const wrong = await run("--mac", "1=eth0");
    assert.equal(wrong.code, 1);
    assert.equal(
      wrong.err,
      `sfpemu vm-config: ${dir}/versal.dtb: no node eth0 in the base tree; ` +
        "the tree's Ethernet nodes: /ethernet@ff0c0000, /ethernet@ff0d0000",
    );
    await assert.rejects(Deno.stat(`${dir}/board.dtb`), Deno.errors.NotFound);
  }));

Deno.test("vm-config: what the user can fix is one line and exit code 1", () =>
  withTopology(async (file, dir) => {
    const unknown = await vmConfig("olt1/lt9", "--arch", "x86_64", "--topology", file);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no board olt1\/lt9 in topology "vm"; it has olt1\/lt1, olt1\/odd/);

    await Deno.writeTextFile(`${dir}/bad.yaml`, "name: x\nolts: 3\n");
    const bad = await vmConfig("olt1/lt1", "--arch", "x86_64", "--topology", `${dir}/bad.yaml`);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /the topology has 1 problem\(s\):\n.*bad\.yaml:2:/);

    const dtbArgs = (base: string) => [
      "olt1/lt1",
      "--arch",
      "aarch64",
      "--topology",
      file,
      "--base-dtb",
      base,
      "--dtb-out",
      `${dir}/o.dtb`,
    ];
    const missing = await vmConfig(...dtbArgs(`${dir}/none.dtb`));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read the base device tree .*none\.dtb/);
    await Deno.writeFile(`${dir}/gz.dtb`, await Deno.readFile(QEMU_VIRT_DTB_GZ));
    const notDtb = await vmConfig(...dtbArgs(`${dir}/gz.dtb`));
    assert.equal(notDtb.code, 1);
    assert.match(notDtb.err, /gz\.dtb: not a device tree blob: magic 0x1f8b/);
    await assert.rejects(Deno.stat(`${dir}/o.dtb`), Deno.errors.NotFound);
  }));

Deno.test("vm-config: usage mistakes", async () => {
  const cases: [string[], RegExp][] = [
    [["--arch", "x86_64"], /exactly one board/],
    [["olt1", "--arch", "x86_64"], /OLT\/BOARD/],
    [["olt1/lt1/3", "--arch", "x86_64"], /OLT\/BOARD/],
    [["olt1/lt1"], /--arch is x86_64 or aarch64$/],
    [["olt1/lt1", "--arch", "riscv64"], /not "riscv64"/],
    [["olt1/lt1", "--arch", "x86_64", "--format", "yaml"], /--format is args, shell or json/],
    [
      ["olt1/lt1", "--arch", "x86_64", "--api", "127.0.0.1:1", "--topology", "t.yaml"],
      /leave out --topology/,
    ],
    [["olt1/lt1", "--arch", "aarch64", "--base-dtb", "a.dtb"], /go together/],
    [["olt1/lt1", "--arch", "x86_64", "--base-dtb", "a", "--dtb-out", "b"], /needs --arch aarch64/],
    [["olt1/lt1", "--arch", "x86_64", "--memory", "lots"], /--memory wants a size/],
    [["olt1/lt1", "--arch", "x86_64", "--max-power-mw", "1.5"], /--max-power-mw wants a whole number/],
    [
      ["olt1/lt1", "--arch", "x86_64", "--mmio-before", "31"],
      /--mmio-before wants a whole number from 0 to 30/,
    ],
    [["olt1/lt1", "--arch", "aarch64", "--mac", "1=ethernet@ff0c0000"], /--mac edits the device tree/],
    [["olt1/lt1", "--arch", "aarch64", "--mac", "ethernet@ff0c0000"], /--mac wants CAGE=NODE/],
    [["olt1/lt1", "--arch", "aarch64", "--mac", "0=ethernet@ff0c0000"], /--mac wants CAGE=NODE/],
    [["olt1/lt1", "--arch", "x86_64", "--bogus"], /bogus/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(vmConfig(...args), (e: Error) => {
      assert.ok(e instanceof UsageError, `${args.join(" ")}: ${e}`);
      assert.match(e.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("vm-config --api: a running emulator's sockets and cage count, with its token", async () => {
  const seen: string[] = [];
  const snapshot = {
    name: "live",
    olts: [{
      id: "olt1",
      boards: [{
        id: "lt1",
        sockets: { i2c: "/run/a/i2c.sock", gpio: "/run/a/gpio.sock" },
        cages: Array.from({ length: 12 }, (_, i) => ({ id: i + 1, module: null })),
      }],
    }],
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push(`${request.method} ${new URL(request.url).pathname} ${request.headers.get("authorization")}`);
    return Response.json(snapshot);
  });
  const api = `127.0.0.1:${server.addr.port}`;
  try {
    const { code, out, err } = await vmConfig(
      "olt1/lt1",
      "--arch",
      "x86_64",
      "--api",
      api,
      "--api-token",
      "t0k",
      "--format",
      "json",
    );
    assert.equal(code, 0, err);
    assert.deepEqual(seen, ["GET /api/v1/topology Bearer t0k"]);
    const json = JSON.parse(out);
    assert.deepEqual(json.sockets, snapshot.olts[0].boards[0].sockets);
    assert.equal(json.cages.length, 12);
    const unknown = await vmConfig("olt1/nt", "--arch", "x86_64", "--api", api);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no board olt1\/nt at http:\/\/127\.0\.0\.1:\d+; it has olt1\/lt1/);
  } finally {
    await server.shutdown();
  }
  const gone = await vmConfig("olt1/lt1", "--arch", "x86_64", "--api", api);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /cannot reach the sfpemu API/);
});
