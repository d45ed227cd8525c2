// The API through a real HTTP server on a loopback port: requests, errors, the token, and the event
// stream, which must deliver every change in order to every subscriber.
import assert from "node:assert/strict";
import { ApiClient, type StreamedEvent } from "../../src/cli/api-client.ts";
import { API_TOKEN, eventually, LabFixture } from "../lab/lab-fixture.ts";

const MODULE = "/olts/olt1/boards/lt1/cages/2/module";

/** A subscriber that collects lab events until told to stop; `ready` once the server said hello. */
function subscribe(client: ApiClient, options: { since?: number } = {}) {
  const abort = new AbortController();
  const seen: Record<string, unknown>[] = [];
  const hello = Promise.withResolvers<void>();
  let wake: (() => void) | undefined;
  const done = (async () => {
    try {
      for await (const message of client.events({ ...options, signal: abort.signal })) {
        if (message.event === "hello") hello.resolve();
        else seen.push(checkedEvent(message));
        wake?.();
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return {
    seen,
    ready: hello.promise,
    /** Resolves once an event satisfies the predicate; rejects after a generous deadline. */
    async until(predicate: (event: Record<string, unknown>) => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!seen.some(predicate)) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no such event in ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}

function checkedEvent(message: StreamedEvent): Record<string, unknown> {
  const event = JSON.parse(message.data);
  assert.equal(message.event, event.type, "the SSE event name is the lab event's type");
  assert.equal(message.id, String(event.seq), "the SSE id is the sequence number");
  assert.equal(typeof event.time, "string");
  assert.ok(!Number.isNaN(Date.parse(event.time)), `time ${event.time}`);
  assert.equal(typeof event.path, "string");
  return event;
}

Deno.test("real server: requests, API errors and the token over HTTP", async () => {
  await using lab = await LabFixture.start({ token: API_TOKEN });
  const url = await lab.serve();
  const client = new ApiClient(url.slice("http://".length), API_TOKEN);
  const plugged = await client.request("PUT", MODULE, { profile: "sfp-1000base-lx" }) as { profile: string };
  assert.equal(plugged.profile, "sfp-1000base-lx");
  await assert.rejects(client.request("PUT", MODULE, { profile: "sfp-1000base-lx" }), (error: Error) => {
    assert.match(error.message, /already holds a module.*\(at olt1\/lt1\/2\) \[HTTP 409 conflict\]/);
    return true;
  });
  const anonymous = await fetch(`${url}/api/v1/topology`);
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json()).error.code, "unauthorized");
  const wrong = new ApiClient(url.slice("http://".length), "not-it");
  await assert.rejects(wrong.request("GET", "/health"), /wrong bearer token .*HTTP 401/);
});

Deno.test("SSE: two subscribers see every event, in the same order, without gaps", async () => {
  await using lab = await LabFixture.start();
  const url = await lab.serve();
  const client = new ApiClient(url.slice("http://".length));
  const first = subscribe(client);
  const second = subscribe(client);
  try {
    await Promise.all([first.ready, second.ready]);
    await client.request("PUT", MODULE, { profile: "sfp-10gbase-lr", vendorSn: "SSE1" });
    await client.request("PATCH", `${MODULE}/diagnostics`, { temperatureC: 90 });
    await client.request("PATCH", `${MODULE}/signals`, { txFault: true });
    await client.request("DELETE", MODULE);
    await client.request("DELETE", "/olts/olt1/boards/lt2");
    await client.request("PUT", "/olts/olt1/boards/lt2", {});
    const last = (e: Record<string, unknown>) => e.type === "board-inserted" && e.path === "olt1/lt2";
    await Promise.all([first.until(last), second.until(last)]);
  } finally {
    await first.stop();
    await second.stop();
  }
  assert.deepEqual(first.seen, second.seen);
  const seqs = first.seen.map((e) => e.seq as number);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), "consecutive sequence numbers");
  const types = first.seen.map((e) => `${e.type} ${e.path}`);
  const expected = [
    "module-inserted olt1/lt1/2",
    "diagnostics-set olt1/lt1/2",
    "signals-forced olt1/lt1/2",
    "module-removed olt1/lt1/2",
    "board-removed olt1/lt2",
    "board-inserted olt1/lt2",
  ];
  let at = 0;
  for (const type of types) if (type === expected[at]) at++;
  assert.equal(at, expected.length, `in order: ${expected.join(", ")}; saw ${types.join(", ")}`);
  assert.ok(types.includes("module-flag olt1/lt1/2"), "a temperature alarm was raised at 90 °C");
  assert.ok(types.includes("signal-changed olt1/lt1/2"), "TX_FAULT went high");
  assert.equal(first.seen[0].vendorSn, "SSE1");
});

Deno.test("SSE: ?since=N replays the events after N that the lab still keeps", async () => {
  await using lab = await LabFixture.start();
  const url = await lab.serve();
  const client = new ApiClient(url.slice("http://".length));
  const before = lab.lab.events.lastSeq;
  await client.request("PUT", MODULE, { profile: "sfp-10gbase-sr" });
  await client.request("DELETE", MODULE);
  const late = subscribe(client, { since: before });
  try {
    await late.until((e) => e.type === "module-removed");
  } finally {
    await late.stop();
  }
  assert.equal(late.seen[0].seq, before + 1);
  assert.equal(late.seen[0].type, "module-inserted");
});

Deno.test("SSE: hello tells a resuming client which events it will not get", async () => {
  await using lab = await LabFixture.start();
  const url = await lab.serve();
  const client = new ApiClient(url.slice("http://".length));
  /** hello and the first event replayed after `since`. */
  const resume = async (since: number) => {
    const messages: Record<string, unknown>[] = [];
    for await (const message of client.events({ since })) {
      messages.push(JSON.parse(message.data));
      if (messages.length === 2) break;
    }
    return { hello: messages[0], first: messages[1] };
  };
  await client.request("PUT", MODULE, { profile: "sfp-10gbase-sr" });
  const lastSeq = lab.lab.events.lastSeq;

  // A number this emulator never handed out (a client of a state directory started afresh since):
  // everything kept is replayed, from emulator-started on.
  const foreign = await resume(lastSeq + 500);
  assert.deepEqual(foreign.hello, { lastEvent: lastSeq, firstKept: 1 });
  assert.deepEqual([foreign.first.seq, foreign.first.type], [1, "emulator-started"]);

  // A client further behind than the history reaches is told which numbers it missed.
  for (let i = 0; i < 1100; i++) lab.lab.events.publish("test-tick", "");
  const firstKept = lab.lab.events.firstKept;
  assert.ok(firstKept > 5);
  const behind = await resume(5);
  assert.deepEqual(behind.hello, {
    lastEvent: lab.lab.events.lastSeq,
    firstKept,
    missed: { after: 5, before: firstKept },
  });
  assert.equal(behind.first.seq, firstKept);
  const upToDate = await resume(lab.lab.events.lastSeq - 1);
  assert.deepEqual(upToDate.hello, { lastEvent: lab.lab.events.lastSeq, firstKept });
});

Deno.test("SSE: a shutting-down server ends its streams instead of waiting on them", async () => {
  await using lab = await LabFixture.start();
  const url = await lab.serve();
  const client = new ApiClient(url.slice("http://".length));
  const messages: string[] = [];
  const ended = (async () => {
    for await (const message of client.events()) messages.push(message.event);
  })();
  await eventually(() => messages.length > 0, "the hello event");
  await lab.close(); // would hang if the stream stayed open
  await ended;
  assert.deepEqual(messages, ["hello"]);
});
