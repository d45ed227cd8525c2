// tools/try-guest.sh as a user runs it: one command, a real guest, an interactive shell on its
// serial console. Each test types into that shell through the script's stdin (QEMU's -serial
// mon:stdio), waits for what the guest answers, calls the emulator the way the banner suggests
// (./sfpemu on the host), then types `exit` and checks that the guest powered off, the script
// exited 0 and left no process and no temporary file behind.
//
// Every wait is on observed console output (the prompt, an answer) with a deadline. The script is
// given --api 127.0.0.1:0 (start an emulator on a free port, never a user's), or, for x86_64, the
// address of an emulator this test runs (the "already running" path). The three sessions take
// 17-18 s on an idle 2-core machine (virt 5-6 s, x86_64 5-6 s, versal 7 s, each ~2 s of it
// prepare-assets.sh checking the cache).
//
//   tests/e2e/run.sh   (prepares the guest assets, then runs every *_e2e.ts)
import assert from "node:assert/strict";
import * as path from "node:path";
import { deadline, REPO_ROOT } from "./qemu.ts";
import { apiAddress, moduleOf, testArtifacts, withEmulator } from "./harness.ts";

const artifacts = await testArtifacts();
const TRY_GUEST = path.join(REPO_ROOT, "tools", "try-guest.sh");
const PROMPT = "olt1/lt1# ";

/** tools/try-guest.sh with its stdin piped: its console text (CRs dropped), typing, bounded waits. */
class TryGuest {
  text = "";
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #log: Deno.FsFile;
  readonly #done: Promise<Deno.CommandStatus>;
  #wake: () => void = () => {};
  status: Deno.CommandStatus | null = null;

  constructor(args: string[], logFile: string) {
    this.#log = Deno.openSync(logFile, { write: true, create: true, truncate: true });
    this.#append(`# tools/try-guest.sh ${args.join(" ")}\n`);
    this.#child = new Deno.Command("bash", {
      args: [TRY_GUEST, ...args],
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    const readers = [this.#read(this.#child.stdout), this.#read(this.#child.stderr)];
    this.#done = this.#child.status.then(async (s) => {
      await Promise.all(readers);
      this.status = s;
      this.#append(`\n# exited: code ${s.code}${s.signal ? ` signal ${s.signal}` : ""}\n`);
      this.#log.close();
      this.#wake();
      return s;
    });
  }

  #append(s: string) {
    this.text += s;
    const b = new TextEncoder().encode(s);
    let off = 0;
    while (off < b.length) off += this.#log.writeSync(b.subarray(off));
  }

  async #read(stream: ReadableStream<Uint8Array>) {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      this.#append(chunk.replaceAll("\r", ""));
      this.#wake();
    }
  }

  /** Wait until the text after `from` matches `re`; the match and where it ends. */
  async waitFor(re: RegExp, from: number, timeoutMs: number): Promise<{ m: RegExpExecArray; end: number }> {
    const ms = deadline(timeoutMs);
    const until = performance.now() + ms;
    while (true) {
      const m = re.exec(this.text.slice(from));
      if (m) return { m, end: from + m.index + m[0].length };
      if (this.status) throw new Error(`try-guest.sh exited before ${re}:\n${this.text.slice(-3000)}`);
      const left = until - performance.now();
      if (left <= 0) throw new Error(`no ${re} within ${ms} ms:\n${this.text.slice(-3000)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Type a command line (or raw keys, with end ""); the offset where its echo and answer begin. */
  async type(line: string, end = "\n"): Promise<number> {
    const at = this.text.length;
    await this.#stdin.write(new TextEncoder().encode(line + end));
    return at;
  }

  /**
   * Type a command at the prompt and wait for `answer` in what follows, then for the next prompt;
   * the answer's match.
   */
  async run(line: string, answer: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const at = await this.type(line);
    const { m, end } = await this.waitFor(answer, at, timeoutMs);
    await this.waitFor(new RegExp(PROMPT.replace("/", "\\/")), end, timeoutMs);
    return m;
  }

  /** Wait for the script's exit within the deadline; kill it (SIGTERM: its trap cleans up) if late. */
  async exit(timeoutMs: number): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), deadline(timeoutMs))));
    const s = await Promise.race([this.#done, late]);
    clearTimeout(timer);
    if (s) return s;
    this.kill();
    throw new Error(`try-guest.sh did not exit within ${deadline(timeoutMs)} ms:\n${this.text.slice(-3000)}`);
  }

  kill() {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
  }

  async close() {
    await this.#stdin.close().catch(() => {});
    if (!this.status) this.kill();
    await this.#done;
  }
}

/** The host's CLI, as the banner shows it (plus the API the script printed). */
async function sfpemu(args: string[]): Promise<string> {
  const out = await new Deno.Command(path.join(REPO_ROOT, "sfpemu"), { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `sfpemu ${args.join(" ")}: ${text}`);
  return text;
}

/** Processes whose command line mentions `needle` (other than this test). */
function processesWith(needle: string): string[] {
  const found: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      if (cmd.includes(needle)) found.push(`${e.name}: ${cmd}`);
    } catch { /* gone meanwhile */ }
  }
  return found;
}

/**
 * One session: start the script, wait for the banner's prompt, `body`, `exit`, then check the end:
 * the guest powered off, exit code 0, the work dir gone and no process left that used it; the
 * emulator stopped when the script started it, left running when it was the test's (`api`).
 */
async function session(
  name: string,
  args: string[],
  o: { api?: string },
  body: (g: TryGuest, api: string) => Promise<void>,
) {
  const t0 = performance.now();
  const g = new TryGuest(
    [...args, "--api", o.api ?? "127.0.0.1:0"],
    path.join(artifacts.dir, `try-guest-${name}.log`),
  );
  try {
    const work = (await g.waitFor(/temporary files in (\/\S+) \(removed on exit\)/, 0, 120_000)).m[1];
    let api = o.api;
    if (api) {
      await g.waitFor(
        new RegExp(`using the sfpemu run that answers at ${api.replaceAll(".", "\\.")}\n`),
        0,
        60_000,
      );
    } else {
      api = (await g.waitFor(/emulator ready: API at http:\/\/(127\.0\.0\.1:\d+)\/api\/v1/, 0, 120_000)).m[1];
    }
    const banner = await g.waitFor(/"exit" powers the guest off[^\n]*\n[\s\S]*?olt1\/lt1# /, 0, 120_000);
    const promptMs = performance.now() - t0;
    // The user's console: the packing /init's own progress lines (E2E: insmod.*=ok ...) stay out of it.
    assert.doesNotMatch(g.text.slice(0, banner.end), /^E2E: /m, "the init's progress lines on the console");
    await body(g, api);
    await g.run("echo TG-$((6*7))", /^TG-42$/m);
    const bye = await g.type("exit");
    await g.waitFor(/the shell exited: powering off/, bye, 20_000);
    const status = await g.exit(60_000);
    assert.equal(status.code, 0, `try-guest.sh exit code:\n${g.text.slice(-2000)}`);
    const stopped = /stopped the emulator it started \(pid (\d+)\)/.exec(g.text.slice(banner.end));
    assert.equal(Boolean(stopped), !o.api, "the script stops the emulator it started, and only that one");
    assert.throws(() => Deno.statSync(work), "its work dir is removed");
    assert.deepEqual(processesWith(work), [], "no process of the session is left");
    console.log(
      `[e2e] try-guest ${name}: prompt after ${(promptMs / 1000).toFixed(1)} s, done after ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
  } catch (error) {
    artifacts.fail();
    throw error;
  } finally {
    await g.close();
  }
}

/** A GPIO line of the emulated controller in /sys/kernel/debug/gpio, requested, at a level. */
const gpioLevel = (line: string, level: "hi" | "lo") =>
  new RegExp(`gpio-\\d+ +\\(${line} *\\|[^)]*\\) (in |out) ${level}`);
/** The kernel's sfp line for cage 1 of the built-in olt1/lt1 (a GPON B+ optic). */
const SFP1_LINE = /^ {2}sfp sfp1: module SFPEMU {11}SE-GPON-OLT-B\+ {3}rev 1\.0 {2}sn \S+ +dc \d{6}/m;

Deno.test("e2e try-guest aarch64 virt: its own emulator, the default board, the sfp driver, a fault", async () => {
  await session("virt", [], {}, async (g, api) => {
    assert.match(
      g.text,
      /booting olt1\/lt1 in virt \(aarch64\)/,
      "the first line board of the built-in topology",
    );
    assert.match(g.text, SFP1_LINE);
    for (const cage of [2, 3, 4, 5]) {
      assert.match(g.text, new RegExp(`^ {2}sfp sfp${cage}: module SFPEMU`, "m"));
    }
    await g.run("cat /sys/kernel/debug/sfp1/state", /^Module state: waitdev$/m);
    await g.run("grep cage1-tx-fault /sys/kernel/debug/gpio", gpioLevel("cage1-tx-fault", "lo"));
    await sfpemu(["fault", "olt1/lt1/1", "tx-fault", "mode=stuck", "--api", api]); // as the banner says
    await g.run("grep cage1-tx-fault /sys/kernel/debug/gpio", gpioLevel("cage1-tx-fault", "hi"));
    // A shell with job control on the console's tty: a background job, and Ctrl-C interrupts the
    // foreground one (a shell without a controlling terminal would wait out the sleep).
    await g.run("sleep 300 &", /sleep 300 &\n/);
    await g.run("jobs", /^\[1\]\+ +Running +sleep 300/m);
    // (Ctrl-C once the job runs in the foreground, i.e. once it printed: typed while the shell
    // still edits the line, the key would be a character of the next line instead.)
    const fg = await g.type("sh -c 'echo FG-$((1+1)); exec sleep 300'");
    await g.waitFor(/^FG-2$/m, fg, 10_000);
    const intr = await g.type("\x03", "");
    await g.waitFor(/\^C\nolt1\/lt1# /, intr, 10_000);
  });
});

Deno.test("e2e try-guest x86_64: a running emulator, two muxes instantiated in the guest, an unplug", async () => {
  await withEmulator(artifacts.dir, "try-guest-x86_64", async (emulator) => {
    const api = apiAddress(emulator);
    const want = await moduleOf(emulator, 9);
    await session("x86_64", ["olt1/lt1", "--arch", "x86_64"], { api }, async (g) => {
      // The tier's board: cages 1, 2 and 9 (the second mux), read through the guest's own at24s.
      assert.match(g.text, /^ {2}cage 1: FINISAR CORP\. FTLX8571D3BCL sn \S+ {2}\(i2c-\d+, /m);
      assert.match(g.text, /^ {2}cage 2: E2E OPTICS E2E-GPON-C\+ sn E2E000000002 {2}\(i2c-\d+, /m);
      const nine = new RegExp(
        `^ {2}cage 9: ${want.vendorName} ${want.vendorPn} sn ${want.vendorSn} {2}\\(i2c-(\\d+), `,
        "m",
      );
      assert.match(g.text, nine);
      const bus = nine.exec(g.text)![1];
      await g.run(`i2ctransfer -y ${bus} w1@0x51 96 r2`, /^0x[0-9a-f]{2} 0x[0-9a-f]{2}$/m);
      // Both muxes (bound: UU) disconnect when idle: no module answers on the root segment (0x50
      // shows UU only because the at24s behind the muxes hold that address; 0x51 is silent).
      const root = /virtio I2C bus i2c-(\d+) itself/.exec(g.text)![1];
      const detect = await g.run(`i2cdetect -y ${root}`, /^50: (.*)\n(?:.*\n)*?70: (.*)\n/m);
      assert.equal(detect[1].trim(), `UU${" --".repeat(15)}`);
      assert.equal(detect[2].trim(), `UU UU${" --".repeat(6)}`);
      await g.run("cat /sys/class/gpio/cage2-mod-abs/value", /^0$/m);
      await emulator.request("DELETE", "/olts/olt1/boards/lt1/cages/2/module");
      await g.run("cat /sys/class/gpio/cage2-mod-abs/value", /^1$/m);
    });
    assert.equal(emulator.status, null, "the test's emulator is still running");
  });
});

Deno.test("e2e try-guest aarch64 versal --mac: ethtool -m and ifup on the GEM wired to cage 1", async () => {
  const args = [
    "--machine",
    "xlnx-versal-virt",
    "--mac",
    "1=ethernet@ff0c0000",
    "--mac",
    "2=ethernet@ff0d0000",
  ];
  await session("versal", args, {}, async (g) => {
    assert.match(g.text, SFP1_LINE);
    assert.match(g.text, /ethtool -m eth0 +cage 1's module, decoded \(eth0 is the GEM ethernet@ff0c0000\)/);
    await g.run("ethtool -m eth0", /^\s*Vendor PN\s*: SE-GPON-OLT-B\+$/m);
    // Kernel messages show on the console as they come: the macb's own line after ifup.
    const at = await g.type("ip link set eth0 up");
    await g.waitFor(/macb ff0c0000\.ethernet eth0: configuring for inband/, at, 20_000);
  });
});
