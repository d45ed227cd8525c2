// The real program stopped and started again on the same state directory: by SIGTERM (an orderly
// stop) and by SIGKILL (nothing runs after it). What a client of the event stream sees across
// the restarts, and that nothing a guest or an API caller did is lost. Every wait is for an event
// or a line the program prints, up to a generous deadline.
import assert from "node:assert/strict";
import { cageI2cLocation, cageLineIndex } from "../../src/board/board.ts";
import { ApiClient, parseEventStream } from "../../src/cli/api-client.ts";
import { withDir } from "../lab/lab-fixture.ts";
import { VhostUserFrontend } from "../support/frontend.ts";
import { GpioClient } from "../support/gpio-client.ts";
import { I2cClient } from "../support/i2c-client.ts";
import { CONTROL } from "../sfp/support.ts";
import { EmulatorProcess, PROCESS_DEADLINE_MS } from "./emulator-process.ts";

const CAGE_1 = "/olts/olt1/boards/lt1/cages/1/module";
const CAGE_2 = "/olts/olt1/boards/lt1/cages/2/module";
const A2 = 0x51;
const USER_EEPROM = { offset: 128, size: 120 };

interface Message {
  event: string;
  data: Record<string, unknown>;
}

/** GET /events of the emulator at `api`, read in the background; `resume` as Last-Event-ID. */
function follow(api: string, resume: { lastEventId?: number; since?: number }) {
  const abort = new AbortController();
  const messages: Message[] = [];
  const headers: Record<string, string> = resume.lastEventId === undefined
    ? {}
    : { "Last-Event-ID": String(resume.lastEventId) };
  const query = resume.since === undefined ? "" : `?since=${resume.since}`;
  const reading = (async () => {
    const response = await fetch(`http://${api}/api/v1/events${query}`, { headers, signal: abort.signal });
    for await (const message of parseEventStream(response.body!)) {
      messages.push({ event: message.event, data: JSON.parse(message.data) });
    }
  })().catch((error) => {
    if (!abort.signal.aborted) throw error;
  });
  return {
    messages,
    /** The lab events so far (the hello left out). */
    get events() {
      return messages.filter((m) => m.event !== "hello").map((m) => m.data);
    },
    get hello() {
      assert.equal(messages[0]?.event, "hello", "the stream begins with hello");
      return messages[0].data;
    },
    /** The first lab event that satisfies the predicate, once it came. */
    async until(predicate: (event: Record<string, unknown>) => boolean, what: string) {
      const deadline = Date.now() + PROCESS_DEADLINE_MS;
      for (;;) {
        const found = this.events.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`no ${what} in ${PROCESS_DEADLINE_MS} ms: ${JSON.stringify(messages)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async stop() {
      abort.abort();
      await reading;
    },
  };
}

/** Every event after `after`, numbered one after the other. */
function assertInOrder(events: Record<string, unknown>[], after: number): void {
  const seqs = events.map((event) => event.seq as number);
  assert.ok(seqs.every((seq, i) => seq > after && (i === 0 || seq === seqs[i - 1] + 1)), `seqs ${seqs}`);
}

Deno.test({
  name:
    "real program: event numbers go on across SIGTERM and SIGKILL; a resuming client is told what it missed",
  fn: () =>
    withDir(async (dir) => {
      let emulator = await EmulatorProcess.start(dir);
      let stream = follow(emulator.api, { since: 0 });
      try {
        // The first run: emulator-started is event 1.
        const first = await stream.until((e) => e.type === "emulator-started", "emulator-started");
        assert.deepEqual(
          [first.seq, first.path, first.restored, first.previousLastSeq, first.previousStop],
          [1, "", false, 0, "none"],
        );
        await new ApiClient(emulator.api).request("PUT", CAGE_2, { profile: "sfp-10gbase-lr" });
        await stream.until((e) => e.type === "module-inserted" && e.path === "olt1/lt1/2", "the plug");
        const seenBeforeStop = stream.events.at(-1)!.seq as number;
        await stream.stop();
        assert.equal((await emulator.kill("SIGTERM")).code, 0, emulator.output.join("\n"));

        // An orderly stop: the next run numbers on right after the last event of this one.
        emulator = await EmulatorProcess.start(dir);
        stream = follow(emulator.api, { lastEventId: seenBeforeStop });
        const afterStop = await stream.until((e) => e.type === "emulator-started", "emulator-started");
        assert.deepEqual([afterStop.restored, afterStop.previousStop], [true, "clean"]);
        const previousLast = afterStop.previousLastSeq as number;
        assert.ok(previousLast >= seenBeforeStop, `previousLastSeq ${previousLast}`);
        assert.equal(afterStop.seq, previousLast + 1);
        assert.equal(stream.events[0], afterStop, "the first event the resumed stream gives");
        assert.deepEqual(
          stream.hello,
          {
            lastEvent: stream.hello.lastEvent,
            firstKept: afterStop.seq,
            ...(previousLast > seenBeforeStop
              ? { missed: { after: seenBeforeStop, before: afterStop.seq } }
              : {}),
          },
        );
        await new ApiClient(emulator.api).request("DELETE", CAGE_2);
        await stream.until((e) => e.type === "module-removed" && e.path === "olt1/lt1/2", "the unplug");
        const seenBeforeKill = stream.events.at(-1)!.seq as number;
        assertInOrder(stream.events, seenBeforeStop);
        await stream.stop();
        assert.equal((await emulator.kill("SIGKILL")).signal, "SIGKILL");

        // Killed: the next run numbers on above all that the killed one may have used.
        emulator = await EmulatorProcess.start(dir);
        stream = follow(emulator.api, { since: seenBeforeKill });
        const afterKill = await stream.until((e) => e.type === "emulator-started", "emulator-started");
        assert.deepEqual([afterKill.restored, afterKill.previousStop], [true, "unclean"]);
        assert.ok((afterKill.previousLastSeq as number) >= seenBeforeKill);
        assert.equal(afterKill.seq, (afterKill.previousLastSeq as number) + 1);
        assert.deepEqual(stream.hello.missed, { after: seenBeforeKill, before: afterKill.seq });
        assertInOrder(stream.events, seenBeforeKill);
        const health = await new ApiClient(emulator.api).request("GET", "/health") as { lastEvent: number };
        assert.ok(health.lastEvent >= (stream.events.at(-1)!.seq as number));
        assert.equal(
          (await new ApiClient(emulator.api).request("GET", "/topology") as {
            olts: { boards: { cages: { module: unknown }[] }[] }[];
          }).olts[0].boards[0].cages[1].module,
          null,
          "the unplug before the kill is kept",
        );
      } finally {
        await stream.stop();
        await emulator.kill("SIGKILL");
      }
    }),
});

/** The board VM's I2C adapter on olt1/lt1 of the emulator at `api`, with cage 1's mux channel open. */
async function attachI2c(api: string): Promise<{ i2c: I2cClient; detach: () => void }> {
  const topology = await new ApiClient(api).request("GET", "/topology") as {
    olts: { boards: { sockets: { i2c: string } }[] }[];
  };
  const frontend = await VhostUserFrontend.start(topology.olts[0].boards[0].sockets.i2c, {
    queues: [{ size: 64 }],
  });
  frontend.timeoutMs = PROCESS_DEADLINE_MS;
  const i2c = new I2cClient(frontend);
  const { muxAddress, channel } = cageI2cLocation(1);
  await i2c.selectChannels(muxAddress, 1 << channel);
  return { i2c, detach: () => frontend.disconnect() };
}

Deno.test({
  name:
    "real program: user EEPROM bytes a guest wrote one per transfer survive a SIGKILL right after the last",
  // The frontend loads the native library once for the whole test process; it is never unloaded.
  sanitizeResources: false,
  fn: () =>
    withDir(async (dir) => {
      const written = Uint8Array.from({ length: USER_EEPROM.size }, (_, i) => (i * 37 + 11) & 0xff);
      let emulator = await EmulatorProcess.start(dir);
      try {
        // As at24 writes without a page size: one byte per transfer, each acknowledged in turn.
        const guest = await attachI2c(emulator.api);
        for (const [i, byte] of written.entries()) {
          assert.ok(await guest.i2c.write(A2, USER_EEPROM.offset + i, byte), `byte ${i} acknowledged`);
        }
        // The last acknowledgement, then at once the hardest stop there is.
        assert.equal((await emulator.kill("SIGKILL")).signal, "SIGKILL");
        guest.detach();

        emulator = await EmulatorProcess.start(dir);
        const { a2 } = await new ApiClient(emulator.api).request("GET", `${CAGE_1}/eeprom`) as { a2: string };
        const bytes = Uint8Array.from(a2.match(/../g)!, (hex) => parseInt(hex, 16));
        assert.deepEqual(bytes.subarray(USER_EEPROM.offset, USER_EEPROM.offset + USER_EEPROM.size), written);
        const again = await attachI2c(emulator.api);
        try {
          assert.deepEqual(await again.i2c.readAt(A2, USER_EEPROM.offset, USER_EEPROM.size), written);
        } finally {
          again.detach();
        }
      } finally {
        await emulator.kill("SIGKILL");
      }
    }),
});

/** The board VM's GPIO controller on olt1/lt1 of the emulator at `api`. */
async function attachGpio(api: string): Promise<{ gpio: GpioClient; detach: () => void }> {
  const topology = await new ApiClient(api).request("GET", "/topology") as {
    olts: { boards: { sockets: { gpio: string } }[] }[];
  };
  const frontend = await VhostUserFrontend.start(topology.olts[0].boards[0].sockets.gpio, {
    queues: [{ size: 256 }, { size: 256 }],
  });
  frontend.timeoutMs = PROCESS_DEADLINE_MS;
  return { gpio: new GpioClient(frontend), detach: () => frontend.disconnect() };
}

Deno.test({
  name:
    "real program: soft TX_DISABLE, rate and power level select a guest wrote survive a SIGKILL right after the last",
  sanitizeResources: false,
  fn: () =>
    withDir(async (dir) => {
      const txDisableLine = cageLineIndex(1, "tx-disable");
      let emulator = await EmulatorProcess.start(dir);
      try {
        const guest = await attachI2c(emulator.api);
        const pins = await attachGpio(emulator.api);
        // The host lets the laser on by the pin: from now on only the soft bit can hold it off.
        assert.ok(await pins.gpio.directionOutput(txDisableLine, 0));
        // The page select first: the catalog's modules have no paging, so it stays 00h (SFF-8472).
        assert.ok(await guest.i2c.write(A2, CONTROL.pageSelect, 1));
        const pageBefore = (await guest.i2c.readAt(A2, CONTROL.pageSelect, 1))![0];
        // As Linux's sfp driver sets them: one byte per transfer, each acknowledged in turn.
        assert.ok(
          await guest.i2c.write(A2, CONTROL.extendedControl, CONTROL.softRs1 | CONTROL.powerLevelSelect),
        );
        assert.ok(await guest.i2c.write(A2, CONTROL.status, CONTROL.softTxDisable | CONTROL.softRs0));
        // The last acknowledgement, then at once the hardest stop there is.
        assert.equal((await emulator.kill("SIGKILL")).signal, "SIGKILL");
        guest.detach();
        pins.detach();

        emulator = await EmulatorProcess.start(dir);
        const again = await attachI2c(emulator.api);
        const pinsAgain = await attachGpio(emulator.api);
        try {
          // The pin comes back at its pull-up (the laser off anyway): the host lets it go again.
          assert.ok(await pinsAgain.gpio.directionOutput(txDisableLine, 0));
          const status = (await again.i2c.readAt(A2, CONTROL.status, 1))![0];
          assert.equal(
            status & 0xc8,
            CONTROL.softTxDisable | CONTROL.softRs0,
            `A2h 110 = 0x${status.toString(16)}: pin low, soft bits set`,
          );
          assert.deepEqual([...(await again.i2c.readAt(A2, CONTROL.extendedControl, 1))!], [
            CONTROL.softRs1 | CONTROL.powerLevelSelect,
          ]);
          assert.deepEqual([...(await again.i2c.readAt(A2, CONTROL.pageSelect, 1))!], [pageBefore]);
          const module = await new ApiClient(emulator.api).request("GET", CAGE_1) as {
            signals: { txDisabled: boolean };
            diagnostics: { txBiasMa: number };
          };
          assert.equal(module.signals.txDisabled, true, "the transmitter is off: the soft bit holds it");
          assert.equal(module.diagnostics.txBiasMa, 0);
        } finally {
          again.detach();
          pinsAgain.detach();
        }
      } finally {
        await emulator.kill("SIGKILL");
      }
    }),
});
