// The backend's request handling, driven by the test frontend over a real socket: QEMU 7.2's
// start-up sequence, feature negotiation (modern and legacy), REPLY_ACK, config space, status.
import assert from "node:assert/strict";
import {
  bit,
  Feature,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  FLAG_VERSION,
  ProtocolFeature,
  Request,
  requestName,
} from "../../src/vhost/protocol.ts";
import { withBackend } from "../support/backend-fixture.ts";
import { ECHO_CONFIG_MAGIC, ECHO_CONFIG_SCRATCH_OFFSET, ECHO_F_LOUD } from "../support/echo-device.ts";
import { EchoClient, pattern } from "../support/echo-client.ts";
import {
  encodeConfig,
  encodeMemReg,
  encodeMemTable,
  encodeU64,
  encodeVringAddr,
  encodeVringState,
  RequestFailedError,
  VhostUserFrontend,
} from "../support/frontend.ts";
import { GuestMemory } from "../support/guest-memory.ts";
import { DriverRing } from "../support/driver-ring.ts";
import { closeQuietly, createEventFd } from "../../src/native/syscalls.ts";

const QEMU_72_SEQUENCE = [
  "GET_FEATURES",
  "GET_PROTOCOL_FEATURES",
  "SET_PROTOCOL_FEATURES",
  "SET_OWNER",
  "GET_FEATURES",
  "SET_VRING_CALL",
  "SET_VRING_ERR",
  "SET_VRING_CALL",
  "SET_FEATURES",
  "SET_MEM_TABLE",
  "SET_VRING_NUM",
  "SET_VRING_BASE",
  "SET_VRING_ADDR",
  "SET_VRING_KICK",
  "SET_VRING_ENABLE",
  "SET_VRING_CALL",
];

Deno.test("QEMU 7.2's start-up sequence, then echo traffic", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 64 }],
      eventIdx: true,
      indirect: true,
      acks: "qemu",
    });
    assert.deepEqual(frontend.sent, QEMU_72_SEQUENCE);
    const session = backend.listener.session!;
    assert.equal(session.ackedFeatures, frontend.negotiated.ackedFeatures);
    assert.ok(session.ackedFeatures & bit(Feature.VERSION_1));
    assert.equal(backend.device.negotiatedFeatures, frontend.negotiated.ackedFeatures);

    const client = new EchoClient(frontend);
    const payloads = [pattern(1), pattern(16, 2), pattern(300, 3), pattern(0, 4)];
    assert.deepEqual(await client.echo(payloads), payloads);
    assert.deepEqual(await client.echo(payloads, { parts: 3 }), payloads);
    for (let i = 0; i < 200; i++) {
      assert.deepEqual(await client.echoOne(pattern(17, i)), pattern(17, i));
    }
    assert.equal(backend.device.echoed, 8 + 200);
    assert.equal(frontend.takeErrors(0), 0n);
  });
});

Deno.test("QEMU 7.2's sequence with the requests its code adds for MQ and CONFIGURE_MEM_SLOTS", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice("echo", { queueCount: 2 });
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 16 }, { size: 16 }],
      conditionalRequests: true,
      // This backend does not offer CONFIGURE_MEM_SLOTS, so only GET_QUEUE_NUM is added here.
      protocolFeatures: bit(ProtocolFeature.MQ) | bit(ProtocolFeature.REPLY_ACK),
      acks: "qemu",
    });
    assert.deepEqual(frontend.sent.slice(0, 5), [
      "GET_FEATURES",
      "GET_PROTOCOL_FEATURES",
      "SET_PROTOCOL_FEATURES",
      "GET_QUEUE_NUM",
      "SET_OWNER",
    ]);
    const client = new EchoClient(frontend, 1);
    assert.deepEqual(await client.echoOne(pattern(21)), pattern(21));
  });
});

Deno.test("the same sequence with REPLY_ACK on every message acks each with 0", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    // connect() checks every ack: a non-zero one throws RequestFailedError naming the request.
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 8 }],
      acks: "every-message",
    });
    assert.ok(frontend.replyAck);
    assert.deepEqual(await new EchoClient(frontend).echoOne(pattern(33)), pattern(33));
  });
});

Deno.test("the backend offers what QEMU 7.2 and its guests need", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = new VhostUserFrontend(backend.path);
    const features = await frontend.getFeatures();
    for (
      const f of [Feature.PROTOCOL_FEATURES, Feature.VERSION_1, Feature.INDIRECT_DESC, Feature.EVENT_IDX]
    ) {
      assert.ok(features & bit(f), `feature bit ${f} offered`);
    }
    assert.ok(features & bit(ECHO_F_LOUD), "device features offered");
    const protocol = await frontend.getProtocolFeatures();
    for (const f of [ProtocolFeature.REPLY_ACK, ProtocolFeature.CONFIG]) {
      assert.ok(protocol & bit(f), `protocol feature bit ${f} offered`);
    }
  });
});

Deno.test("legacy negotiation (no VERSION_1) serves the ring", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 16 }], legacy: true });
    assert.equal(frontend.negotiated.ackedFeatures & bit(Feature.VERSION_1), 0n);
    assert.equal(backend.listener.session!.ackedFeatures & bit(Feature.VERSION_1), 0n);
    const client = new EchoClient(frontend);
    assert.deepEqual(await client.echo([pattern(5), pattern(6, 9)]), [pattern(5), pattern(6, 9)]);
  });
});

Deno.test("without protocol features rings start enabled at SET_VRING_KICK", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 8 }],
      useProtocolFeatures: false,
    });
    assert.ok(
      !frontend.sent.includes("SET_VRING_ENABLE") && !frontend.sent.includes("GET_PROTOCOL_FEATURES"),
    );
    assert.equal(frontend.negotiated.ackedFeatures & bit(Feature.PROTOCOL_FEATURES), 0n);
    assert.deepEqual(await new EchoClient(frontend).echoOne(pattern(8)), pattern(8));
  });
});

Deno.test("SET_FEATURES with bits that were not offered is refused", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = new VhostUserFrontend(backend.path);
    await frontend.setProtocolFeatures(bit(ProtocolFeature.REPLY_ACK));
    assert.notEqual(await frontend.ack(Request.SET_FEATURES, encodeU64(bit(40n))), 0n);
    assert.equal(await frontend.ack(Request.SET_FEATURES, encodeU64(bit(Feature.VERSION_1))), 0n);
  });
});

Deno.test("REPLY_ACK: need_reply on every request type gets exactly one reply", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using memory = new GuestMemory();
    using frontend = new VhostUserFrontend(backend.path);
    await frontend.getFeatures();
    await frontend.getProtocolFeatures();
    await frontend.setProtocolFeatures(bit(ProtocolFeature.REPLY_ACK) | bit(ProtocolFeature.CONFIG));
    const ring = new DriverRing(memory, 8);
    const eventFds = [createEventFd(), createEventFd(), createEventFd()];
    try {
      const region = memory.regions[0];
      // [request, payload, fds, ack expected: 0 for success, "fail" for non-zero]
      const cases: [number, Uint8Array, number[], "ok" | "fail"][] = [
        [Request.SET_OWNER, new Uint8Array(0), [], "ok"],
        [Request.SET_FEATURES, encodeU64(bit(Feature.VERSION_1) | bit(Feature.PROTOCOL_FEATURES)), [], "ok"],
        [Request.SET_MEM_TABLE, encodeMemTable([region]), [region.fd], "ok"],
        [Request.SET_VRING_NUM, encodeVringState(0, 8), [], "ok"],
        [Request.SET_VRING_NUM, encodeVringState(0, 3), [], "fail"],
        [Request.SET_VRING_NUM, encodeVringState(0, 8), [], "ok"],
        [Request.SET_VRING_NUM, encodeVringState(7, 8), [], "fail"],
        [Request.SET_VRING_BASE, encodeVringState(0, 0), [], "ok"],
        [Request.SET_VRING_ADDR, encodeVringAddr(0, ring.addresses), [], "ok"],
        [Request.SET_VRING_KICK, encodeU64(0n), [eventFds[0]], "ok"],
        [Request.SET_VRING_CALL, encodeU64(0n), [eventFds[1]], "ok"],
        [Request.SET_VRING_ERR, encodeU64(0n), [eventFds[2]], "ok"],
        [Request.SET_VRING_CALL, encodeU64(0n), [], "fail"], // fd missing
        [Request.SET_VRING_ENABLE, encodeVringState(0, 1), [], "ok"],
        [Request.SET_CONFIG, encodeConfig(ECHO_CONFIG_SCRATCH_OFFSET, new Uint8Array(4)), [], "ok"],
        [Request.SET_CONFIG, encodeConfig(0, new Uint8Array(4)), [], "fail"],
        [Request.ADD_MEM_REG, encodeMemReg(region), [region.fd], "fail"], // overlaps
        [Request.REM_MEM_REG, encodeMemReg({ ...region, guestPhysAddr: 0x1234_0000n }), [], "fail"],
        [Request.SET_STATUS, encodeU64(0xfn), [], "ok"],
        [Request.RESET_OWNER, new Uint8Array(0), [], "ok"],
        [Request.RESET_DEVICE, new Uint8Array(0), [], "ok"],
        [Request.SET_LOG_BASE, encodeU64(0n), [], "fail"],
        [Request.SET_LOG_FD, new Uint8Array(0), [], "fail"],
        [Request.SEND_RARP, encodeU64(0n), [], "fail"],
        [Request.NET_SET_MTU, encodeU64(1500n), [], "fail"],
        [Request.SET_BACKEND_REQ_FD, new Uint8Array(0), [], "fail"],
        [Request.IOTLB_MSG, new Uint8Array(32), [], "fail"],
        [Request.SET_VRING_ENDIAN, encodeVringState(0, 0), [], "fail"],
        [Request.SET_INFLIGHT_FD, new Uint8Array(20), [], "fail"],
        [Request.VRING_KICK, encodeVringState(0, 0), [], "fail"],
        [0, new Uint8Array(0), [], "fail"],
        [99, new Uint8Array(0), [], "fail"],
        [0xffff_ffff, encodeU64(1n), [], "fail"],
      ];
      const wrong: string[] = [];
      for (const [code, payload, fds, expected] of cases) {
        const status = await frontend.ack(code, payload, fds);
        if ((status === 0n) !== (expected === "ok")) wrong.push(`${requestName(code)} acked ${status}`);
      }
      assert.deepEqual(wrong, [], (backend.lastProblem()?.error as string) ?? "");

      // Requests with a reply body answer once, need_reply or not: the next reply is the next request's.
      for (
        const [code, payload] of [
          [Request.GET_FEATURES, new Uint8Array(0)],
          [Request.GET_PROTOCOL_FEATURES, new Uint8Array(0)],
          [Request.GET_QUEUE_NUM, new Uint8Array(0)],
          [Request.GET_MAX_MEM_SLOTS, new Uint8Array(0)],
          [Request.GET_STATUS, new Uint8Array(0)],
          [Request.GET_VRING_BASE, encodeVringState(0, 0)],
          [Request.GET_CONFIG, encodeConfig(0, new Uint8Array(4))],
        ] as const
      ) {
        const reply = await frontend.request(code, payload, [], { needReply: true });
        assert.equal(reply!.flags, FLAG_VERSION | FLAG_REPLY);
        assert.ok(reply!.payload.length > 0, `${requestName(code)} has a reply body`);
      }
      assert.equal(await frontend.getQueueNum(), 1n);
      const inflight = await frontend.request(Request.GET_INFLIGHT_FD, new Uint8Array(20), [], {
        needReply: true,
      });
      assert.equal(inflight!.payload.length, 0, "an unsupported request with a reply body answers empty");
      // The connection survived all of it.
      assert.equal(backend.listener.connected, true);
      assert.ok((await frontend.getFeatures()) & bit(Feature.VERSION_1));
    } finally {
      eventFds.forEach(closeQuietly);
    }
  });
});

Deno.test("without need_reply, requests without a reply body get no reply (even failing ones)", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = new VhostUserFrontend(backend.path);
    await frontend.setProtocolFeatures(bit(ProtocolFeature.REPLY_ACK));
    await frontend.request(Request.SET_VRING_NUM, encodeVringState(0, 3)); // fails silently
    await frontend.request(99, new Uint8Array(0)); // unknown, no reply wanted
    await frontend.request(Request.SET_OWNER, new Uint8Array(0), [], { flags: FLAG_VERSION });
    // The next message on the socket is the reply to this GET, nothing before it.
    assert.ok((await frontend.getFeatures()) & bit(Feature.PROTOCOL_FEATURES));
    assert.equal(FLAG_NEED_REPLY, 8);
  });
});

Deno.test("GET_CONFIG reads the device config; SET_CONFIG writes only writable fields", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice("echo", { queueCount: 2 });
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }, { size: 8 }] });
    const config = await frontend.getConfig(0, 12);
    const view = new DataView(config.buffer);
    assert.equal(view.getUint32(0, true), ECHO_CONFIG_MAGIC);
    assert.equal(view.getUint32(4, true), 2);
    assert.deepEqual(await frontend.getConfig(4, 1), new Uint8Array([2]));
    // Past the device's config space but inside the 256 bytes vhost-user allows: zeros.
    assert.deepEqual(await frontend.getConfig(200, 8), new Uint8Array(8));
    await assert.rejects(frontend.getConfig(250, 10), RequestFailedError);
    await frontend.setConfig(ECHO_CONFIG_SCRATCH_OFFSET, new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual(await frontend.getConfig(ECHO_CONFIG_SCRATCH_OFFSET, 4), new Uint8Array([1, 2, 3, 4]));
    await assert.rejects(frontend.setConfig(0, new Uint8Array([0])), RequestFailedError);
    assert.equal(new DataView((await frontend.getConfig(0, 4)).buffer).getUint32(0, true), ECHO_CONFIG_MAGIC);
  });
});

Deno.test("SET_STATUS and GET_STATUS keep the device status; status 0 resets", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }] });
    await frontend.setStatus(0x0f);
    assert.equal(await frontend.getStatus(), 0x0f);
    const resets = backend.device.resets;
    await frontend.setStatus(0);
    assert.equal(await frontend.getStatus(), 0);
    assert.equal(backend.device.resets, resets + 1);
    await assert.rejects(frontend.setStatus(0x100), RequestFailedError);
  });
});

Deno.test("two queues are served independently", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice("echo2", { queueCount: 2 });
    using frontend = await VhostUserFrontend.start(backend.path, {
      queues: [{ size: 8 }, { size: 32 }],
      eventIdx: true,
    });
    const first = new EchoClient(frontend, 0);
    const second = new EchoClient(frontend, 1);
    const waiting = frontend.queue(1).ring.add(second.chainFor(0, pattern(12, 3)));
    assert.deepEqual(await first.echo([pattern(10, 1), pattern(11, 2)]), [pattern(10, 1), pattern(11, 2)]);
    // Queue 1's chain is still unpublished: nothing happened there.
    assert.equal(frontend.takeCalls(1), 0n);
    assert.equal(frontend.queue(1).ring.usedIdx, 0);
    frontend.publish(1);
    const [used] = await frontend.waitForUsed(1);
    assert.equal(used.id, waiting);
    assert.equal(used.len, 12);
  });
});

Deno.test("RESET_DEVICE stops and disables every ring until the frontend sets it up again", async () => {
  await withBackend(async (fixture) => {
    const backend = fixture.addEchoDevice();
    using frontend = await VhostUserFrontend.start(backend.path, { queues: [{ size: 8 }] });
    const client = new EchoClient(frontend);
    const ring = frontend.queue(0).ring;
    assert.deepEqual(await client.echoOne(pattern(3)), pattern(3));
    const resets = backend.device.resets;
    await frontend.resetDevice();
    assert.equal(backend.device.resets, resets + 1);
    ring.add(client.chainFor(0, pattern(4)));
    frontend.publish(0);
    frontend.kick(0);
    await frontend.sync();
    assert.equal(ring.usedIdx, 1, "nothing served after the reset");
    // vhost-user.rst RESET_DEVICE: "disable all rings and reset all internal device state". Set
    // up again as QEMU would, the ring enabled last.
    await frontend.setFeatures(frontend.negotiated.ackedFeatures);
    await frontend.setVringNum(0, 8);
    await frontend.setVringBase(0, 1);
    await frontend.setVringAddr(0, frontend.queue(0).ring.addresses);
    await frontend.setVringKick(0, frontend.queue(0).kickFd);
    await frontend.setVringCall(0, frontend.queue(0).callFd);
    frontend.kick(0);
    await frontend.sync();
    assert.equal(ring.usedIdx, 1, "a disabled ring serves nothing");
    await frontend.setVringEnable(0, true);
    const [used] = await frontend.waitForUsed(0);
    assert.equal(used.len, 4);
  });
});
