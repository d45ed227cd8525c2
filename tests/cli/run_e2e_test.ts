// THE end-to-end test of the running emulator: `./sfpemu run examples/minimal.yaml` as a child
// process, a TypeScript vhost-user frontend (QEMU's role) on the board's GPIO and I2C sockets, a
// module plugged through the HTTP API, the MOD_ABS interrupt seen and the new EEPROM read through
// the mux; diagnostics changed and read back through A2h; then SIGKILL, a second start on the same
// state directory, and the same modules with their overrides, diagnostics, forced pins and user
// EEPROM are there. Every wait is on an observed fact with a generous deadline.
import assert from "node:assert/strict";
import { ApiClient } from "../../src/cli/api-client.ts";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import { IrqType } from "../../src/virtio/gpio.ts";
import { decodeImage } from "../../src/sfp/codec.ts";
import { OPTICAL_POWER } from "../../src/sfp/diagnostics.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import { GpioClient, IRQ_STATUS_VALID } from "../support/gpio-client.ts";
import { I2cClient } from "../support/i2c-client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DEADLINE_MS = 30_000;
const CAGE = 2;
const MODULE = `/olts/olt1/boards/lt1/cages/${CAGE}/module`;
const A0 = 0x50;
const A2 = 0x51;

/** `./sfpemu run` as a child process, its output collected as it comes. */
class Emulator {
  readonly #child: Deno.ChildProcess;
  readonly output: string[] = [];
  readonly #done: Promise<void>;

  constructor(stateDir: string) {
    this.#child = new Deno.Command(`${ROOT}sfpemu`, {
      args: [
        "run",
        `${ROOT}examples/minimal.yaml`,
        "--state-dir",
        stateDir,
        "--api",
        "127.0.0.1:0",
        "--log-format",
        "json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = Promise.all([this.#collect(this.#child.stdout), this.#collect(this.#child.stderr)]).then(
      () => {},
    );
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      this.output.push(...lines);
    }
    if (rest) this.output.push(rest);
  }

  /** The `ready api=... state=...` line's API address (host:port). */
  async ready(): Promise<string> {
    const line = await this.waitForLine((l) => l.startsWith("ready "), "the ready line");
    const match = /^ready api=http:\/\/(\S+) state=(\S+)$/.exec(line);
    assert.ok(match, line);
    return match[1];
  }

  async waitForLine(predicate: (line: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const line = this.output.find(predicate);
      if (line) return line;
      const status = await Promise.race([
        this.#child.status,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20)),
      ]);
      if (status) {
        throw new Error(`sfpemu run exited (${status.code}) before ${what}:\n${this.output.join("\n")}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no ${what} in ${DEADLINE_MS} ms:\n${this.output.join("\n")}`);
      }
    }
  }

  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    this.#child.kill(signal);
    const status = await this.#child.status;
    await this.#done;
    return status;
  }
}

/** The board VM: a frontend on each socket, as QEMU's vhost-user-gpio and vhost-user-i2c devices. */
async function connectBoard(sockets: { i2c: string; gpio: string }) {
  const gpioFrontend = await VhostUserFrontend.start(sockets.gpio, { queues: [{ size: 64 }, { size: 64 }] });
  const i2cFrontend = await VhostUserFrontend.start(sockets.i2c, { queues: [{ size: 64 }] });
  gpioFrontend.timeoutMs = i2cFrontend.timeoutMs = DEADLINE_MS;
  return {
    gpio: new GpioClient(gpioFrontend),
    i2c: new I2cClient(i2cFrontend),
    /** What Linux's sfp driver does: open the cage's mux channel, then read in 16-byte chunks. */
    async readCage(address: number): Promise<Uint8Array> {
      const { muxAddress, channel } = cageI2cLocation(CAGE);
      await this.i2c.selectChannels(muxAddress, 1 << channel);
      return await this.i2c.readDevice(address, 256, 16);
    },
    disconnect() {
      gpioFrontend.disconnect();
      i2cFrontend.disconnect();
    },
  };
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
}

Deno.test({
  name: "e2e: plug through the API, see the interrupt, read the EEPROM; SIGKILL; a restart finds it all",
  // The frontends load the native library once for the whole test process; it is never unloaded.
  sanitizeResources: false,
  fn: async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "sfpemu-e2e-" });
    const userBytes = Uint8Array.from({ length: 16 }, (_, i) => 0xc0 + i);
    let emulator = new Emulator(stateDir);
    try {
      const client = new ApiClient(await emulator.ready());
      const topology = await client.request("GET", "/topology") as {
        olts: { boards: { sockets: { i2c: string; gpio: string } }[] }[];
      };
      const sockets = topology.olts[0].boards[0].sockets;
      const board = await connectBoard(sockets);
      try {
        // The guest finds its lines by name and arms MOD_ABS of the empty cage.
        const names = await board.gpio.names(await board.gpio.config());
        const modAbs = names.indexOf(`cage${CAGE}-mod-abs`);
        assert.equal(modAbs, cageLineIndex(CAGE, "mod-abs"));
        assert.equal(await board.gpio.getValue(modAbs), 1, "an empty cage reads MOD_ABS high");
        assert.ok(await board.gpio.setIrqType(modAbs, IrqType.EDGE_BOTH));
        board.gpio.unmask(modAbs);

        const plugged = await client.request("PUT", MODULE, {
          profile: "sfp-10gbase-lr",
          vendorName: "E2E OPTICS",
          vendorSn: "E2E-0001",
        }) as { vendorSn: string };
        assert.equal(plugged.vendorSn, "E2E-0001");

        const [interrupt] = await board.gpio.waitForInterrupts(1);
        assert.deepEqual([interrupt.line, interrupt.status], [modAbs, IRQ_STATUS_VALID]);
        assert.equal(await board.gpio.getValue(modAbs), 0, "MOD_ABS is low with a module in");

        const a0 = await board.readCage(A0);
        const identity = decodeImage({ a0 });
        assert.equal(identity.vendorSn, "E2E-0001");
        assert.equal(identity.vendorName, "E2E OPTICS");
        const api = await client.request("GET", `${MODULE}/eeprom`) as { a0: string; a2: string };
        assert.deepEqual(a0, fromHex(api.a0), "the guest reads what the API shows");

        await client.request("PATCH", `${MODULE}/diagnostics`, {
          temperatureC: 55.5,
          rxPowerDbm: -14,
          vccV: 3.25,
        });
        const readings = decodeImage({ a0, a2: await board.readCage(A2) });
        assert.equal(readings.temperature, 55.5);
        assert.equal(readings.vcc, 3.25);
        assert.equal(
          readings.rxPower,
          OPTICAL_POWER.fromRaw(OPTICAL_POWER.toRaw(-14)),
          "-14 dBm as A2h holds it",
        );
        await client.request("PATCH", `${MODULE}/signals`, { rxLos: true });

        // The guest writes its own bytes into the user EEPROM; the store says when they are saved.
        const saved = (async () => {
          for await (const message of client.events({ since: 0 })) {
            if (
              message.event === "user-eeprom-saved" && JSON.parse(message.data).path === `olt1/lt1/${CAGE}`
            ) return;
          }
        })();
        for (let offset = 0; offset < userBytes.length; offset += 8) {
          assert.ok(await board.i2c.write(A2, 128 + offset, ...userBytes.subarray(offset, offset + 8)));
        }
        await withDeadline(saved, "the user-eeprom-saved event");
      } finally {
        board.disconnect();
      }

      const killed = await emulator.kill("SIGKILL");
      assert.equal(killed.signal, "SIGKILL");

      emulator = new Emulator(stateDir);
      const again = new ApiClient(await emulator.ready());
      const after = await again.request("GET", "/topology") as {
        olts: { boards: { cages: { module: Record<string, unknown> | null }[] }[] }[];
      };
      const cages = after.olts[0].boards[0].cages;
      assert.equal(cages[0].module?.profile, "sfp-10gbase-sr", "the topology's module is still in cage 1");
      assert.equal(cages[1].module?.profile, "sfp-10gbase-lr");
      assert.equal(cages[1].module?.vendorSn, "E2E-0001");
      assert.equal(cages[1].module?.vendorName, "E2E OPTICS");
      const module = await again.request("GET", MODULE) as {
        diagnostics: Record<string, number>;
        signals: { rxLos: boolean; forced: Record<string, boolean | null> };
      };
      assert.equal(module.diagnostics.temperatureC, 55.5);
      assert.deepEqual(module.signals.forced, { rxLos: true, txFault: null });
      assert.equal(module.signals.rxLos, true);

      // And the VM of the restarted emulator reads the same module, readings and user bytes.
      const vm = await connectBoard(sockets);
      try {
        const a0 = await vm.readCage(A0);
        const a2 = await vm.readCage(A2);
        const fields = decodeImage({ a0, a2 });
        assert.equal(fields.vendorSn, "E2E-0001");
        assert.equal(fields.temperature, 55.5);
        assert.deepEqual(a2.subarray(128, 128 + userBytes.length), userBytes);
      } finally {
        vm.disconnect();
      }
      const stopped = await emulator.kill("SIGTERM");
      assert.equal(stopped.code, 0, emulator.output.join("\n"));
    } catch (error) {
      await emulator.kill("SIGKILL").catch(() => {});
      throw error;
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});

async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} in ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
