// The event bus and its numbering: in order for every listener, even for events published by a
// listener; numbers made durable a block at a time before any event carries them; and, with the
// store, a numbering that goes on across restarts behind an emulator-started event.
import assert from "node:assert/strict";
import { EventBus, type LabEvent, SEQ_BLOCK } from "../../src/lab/events.ts";
import { LabFixture, withDir } from "./lab-fixture.ts";

Deno.test("an event a listener publishes reaches every listener after the one it was published in", () => {
  const bus = new EventBus();
  const heard: string[] = [];
  bus.subscribe((event) => {
    if (event.type === "user-eeprom-written") bus.publish("user-eeprom-saved", event.path);
  });
  bus.subscribe((event) => heard.push(`${event.seq} ${event.type}`));
  bus.publish("user-eeprom-written", "olt1/lt1/1");
  assert.deepEqual(heard, ["1 user-eeprom-written", "2 user-eeprom-saved"]);
});

Deno.test("numbers are reserved a block at a time before an event carries them; a failed reservation is tried again", () => {
  const bus = new EventBus({ after: 41 });
  const reserved: number[] = [];
  let refuse = false;
  bus.keepSeqsWith((upTo) => {
    reserved.push(upTo);
    return !refuse;
  });
  for (let i = 0; i < SEQ_BLOCK; i++) bus.publish("tick", "");
  assert.deepEqual(reserved, [41 + SEQ_BLOCK], "the first event reserved the whole block it opened");
  refuse = true;
  const beyond = bus.publish("tick", "");
  assert.equal(beyond.seq, 42 + SEQ_BLOCK, "an event is never held back");
  refuse = false;
  bus.publish("tick", "");
  assert.deepEqual(reserved, [41 + SEQ_BLOCK, 41 + 2 * SEQ_BLOCK, 42 + 2 * SEQ_BLOCK]);
  assert.throws(() => new EventBus({ after: -1 }), RangeError);
});

/** The lab's events from its first (emulator-started) on, as the history has them. */
function history(lab: LabFixture): LabEvent[] {
  return lab.lab.events.since(0);
}

Deno.test("every start begins with emulator-started; numbers go on after a clean stop", () =>
  withDir(async (dir) => {
    let lastSeq: number;
    {
      await using lab = await LabFixture.start({ dir });
      const [started] = history(lab);
      assert.deepEqual(
        { seq: started.seq, type: started.type, path: started.path },
        { seq: 1, type: "emulator-started", path: "" },
      );
      assert.deepEqual(
        [started.restored, started.previousLastSeq, started.previousStop],
        [false, 0, "none"],
        "a new state directory: nothing restored, no earlier numbers",
      );
      lab.lab.plug("olt1", "lt1", 2, { profile: "sfp-10gbase-lr", overrides: {} });
      lastSeq = lab.lab.events.lastSeq;
    } // a clean stop, as sfpemu run's on SIGTERM
    await using again = await LabFixture.start({ dir });
    const [started, ...rest] = history(again);
    assert.equal(started.type, "emulator-started");
    assert.equal(started.seq, lastSeq + 1, "the next number after the last one of the earlier run");
    assert.deepEqual([started.restored, started.previousLastSeq, started.previousStop], [
      true,
      lastSeq,
      "clean",
    ]);
    assert.ok(rest.length > 0 && rest.every((event, i) => event.seq === started.seq + 1 + i));
    assert.deepEqual(
      rest.filter((e) => e.type === "module-inserted").map((e) => e.path),
      ["olt1/lt1/1", "olt1/lt1/2", "olt1/lt2/2"],
      "the restored modules are told after it",
    );
  }));
