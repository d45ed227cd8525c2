// TX_FAULT as Linux 6.1's drivers/net/phy/sfp.c handles it once a cage has an upstream network
// device: the path issue 7 asks for ("module transmit fault indicated", the fault recovery
// retries, "module persistently indicates fault, disabling").
//
// The sfp driver's main state machine only runs with the module present AND the upstream device
// up (phylink_start -> sfp_upstream_start). QEMU's `virt` machine has no MAC for a cage, so the
// other aarch64 tests see only the pin poll. This one boots QEMU's `xlnx-versal-virt`, whose two
// Cadence GEMs are driven by Linux's macb, a phylink driver: `sfpemu vm-config --mac` wires GEM 0
// to cage 1 and GEM 1 to cage 2 in the device tree (sfp = <&sfpN>, managed = "in-band-status"),
// exactly as a line card's tree wires its MACs, and the guest brings both netdevs up.
//
// Both cages hold the catalog's 1000BASE-T copper module: the GEMs speak only (R)GMII, and phylink
// accepts a module that may carry a PHY at insertion (it defers the MAC check to the PHY), where
// a 1000BASE-X optic is refused at once ("no common interface modes") and never reaches the fault
// path. Each module has its fault from insertion, through the API only:
//
// - cage 1, tx-fault stuck: sfp.c sees TX_FAULT after t_wait, waits t_start_up, says "module
//   transmit fault indicated", resets the module (a TX_DISABLE pulse) once a second, and after
//   N_FAULT_INIT = 5 tries says "module persistently indicates fault, disabling" and stays in
//   tx_disable. The emulator sees exactly those 4 reset pulses on the cage's TX_DISABLE line.
// - cage 2, tx-fault latched: the same first report, and the kernel's first reset pulse clears the
//   fault (SFF-8419: TX_DISABLE resets a latched TX_FAULT). The emulator drops the fault itself
//   (fault-cleared), the driver sees TX_FAULT fall and leaves the fault path with retries left.
//   What follows is the rig's, not the module's: no PHY answers behind the module ("no PHY
//   detected"), and the GEM, which QEMU emulates without a PCS, cannot do the SGMII the module then
//   needs, so phylink reports "unsupported SFP module" and the state machine ends in "fail".
//
//   tests/e2e/run.sh   (prepares the guest assets, then runs every *_e2e.ts)
import assert from "node:assert/strict";
import { runGuest } from "./qemu.ts";
import {
  aarch64BoardTree,
  type ApiEvent,
  cagePath,
  debugfsState,
  guestFile,
  kmsg,
  pastEvents,
  SFP_GUEST_FUNCTIONS,
  testArtifacts,
  withEmulator,
} from "./harness.ts";

const artifacts = await testArtifacts();
const workDir = artifacts.dir;

const PROFILE = "sfp-1000base-t";
/** Cage -> the versal GEM wired to it, and the fault its module has from insertion. */
const CAGES = {
  stuck: { cage: 1, mac: "ethernet@ff0c0000", fault: { mode: "stuck" } },
  latched: { cage: 2, mac: "ethernet@ff0d0000", fault: { mode: "latched" } },
} as const;
/** sfp.c's N_FAULT_INIT: tries before "persistently indicates fault"; one reset between two. */
const N_FAULT_INIT = 5;

function guestScript(): string {
  const { stuck, latched } = CAGES;
  const macDevice = (mac: string) => `${mac.split("@")[1]}.ethernet`;
  return `
e2e_kmsg_stream 'sfp[0-9]+: |macb '
${SFP_GUEST_FUNCTIONS}
# The state machine left the fault path and came to rest (up, waiting for light, or failed).
settled() { state_is "$1" 'Main state' fail || state_is "$1" 'Main state' wait_los || state_is "$1" 'Main state' link_up; }

if echo 'module sfp +p' >/sys/kernel/debug/dynamic_debug/control; then e2e dyndbg on; else e2e dyndbg failed; fi
# Both modules probed; each cage's upstream (its GEM) attached, the netdevs still down. The driver
# reads TX_FAULT only once a module is probed (state_hw_mask), at its next 100 ms poll: wait for it.
wait_state stuck.present ${stuck.cage} 'Module state' present 60
wait_state latched.present ${latched.cage} 'Module state' present 60
wait_state stuck.txfault ${stuck.cage} tx_fault 1 30
wait_state latched.txfault ${latched.cage} tx_fault 1 30
e2e_file stuck.before /sys/kernel/debug/sfp${stuck.cage}/state
e2e_file latched.before /sys/kernel/debug/sfp${latched.cage}/state
n1=$(e2e_netdev ${macDevice(stuck.mac)}); n2=$(e2e_netdev ${macDevice(latched.mac)})
e2e netdevs "$n1 $n2"

e2e step ifup
ip link set "$n1" up && ip link set "$n2" up; e2e ifup $?
wait_state stuck.main ${stuck.cage} 'Main state' tx_disable 60
if e2e_wait 60 settled ${latched.cage}; then e2e latched.settled yes; else e2e latched.settled timeout; fi
e2e_file stuck.after /sys/kernel/debug/sfp${stuck.cage}/state
e2e_file latched.after /sys/kernel/debug/sfp${latched.cage}/state
# debugfs shows a new state before the event that set it logs "SM: exit ..." (versal has two CPUs).
# Every SM event runs under the RTNL, which "ip link show" takes: the last ones have logged by then.
# The mark then waits until the streamer has put them on the console, before the poweroff.
ip link show >/dev/null
e2e_kmsg_mark end || e2e kmsg.mark timeout
`;
}

/** The levels the TX_FAULT line of one cage took, as the emulator told them. */
function txFaultLine(events: ApiEvent[], cagePath: string): unknown[] {
  return events
    .filter((e) => e.path === cagePath && e.type === "signal-changed" && e.signal === "tx-fault")
    .map((e) => e.level);
}

/** The host's TX_DISABLE pulses on one cage (level 1 then 0), as the emulator saw them. */
function txDisablePulses(events: ApiEvent[], cagePath: string): number {
  const levels = events
    .filter((e) => e.path === cagePath && e.type === "host-signal-changed" && e.signal === "tx-disable")
    .map((e) => e.level);
  return levels.filter((level, i) => level === 0 && levels[i - 1] === 1).length;
}

Deno.test("e2e aarch64 versal: the kernel's TX_FAULT path with a GEM as the cage's upstream", async (t) => {
  const check = artifacts.checker(t);
  try {
    await withEmulator(workDir, "aarch64-tx-fault", async (emulator, stateDir) => {
      const { args } = await aarch64BoardTree(workDir, "aarch64-tx-fault", stateDir, {
        machine: "xlnx-versal-virt",
        memory: "512M",
        macs: Object.values(CAGES).map(({ cage, mac }) => `${cage}=${mac}`),
      });
      for (const { cage, fault } of Object.values(CAGES)) {
        await emulator.request("DELETE", cagePath(cage)).catch(() => {}); // the cage may be empty
        await emulator.request("PUT", cagePath(cage), { profile: PROFILE, faults: { "tx-fault": fault } });
      }
      const { lastEvent } = await emulator.request("GET", "/health") as { lastEvent: number };
      let ifupSeq = NaN;

      const r = await runGuest({
        arch: "aarch64",
        machine: "xlnx-versal-virt",
        name: "aarch64-tx-fault",
        workDir,
        script: guestScript(),
        modules: ["virtio_mmio", "i2c-virtio", "gpio-virtio", "i2c-dev", "i2c-mux-pca954x", "sfp", "macb"],
        sharedMemory: false,
        extraArgs: args,
        onStarted: async (vm) => {
          await vm.waitFor("E2E: step=ifup", { timeoutMs: 180_000 });
          ifupSeq = ((await emulator.request("GET", "/health")) as { lastEvent: number }).lastEvent;
        },
      });
      assert.equal(r.results.modules, "ok", `module loading: ${r.results.modules}`);
      assert.equal(r.rc, 0, `guest script rc ${r.rc}; log ${r.logFile}`);
      const g = r.results;
      const events = await pastEvents(emulator, lastEvent);
      const afterIfup = events.filter((e) => e.seq > ifupSeq);
      /**
       * The kernel's messages for one cage after the netdevs came up: from its state machine's
       * dev_up event on. Not from the "E2E: step=ifup" console line: the streamer can print the
       * SM lines of the TX_FAULT event before ifup after it (debugfs shows tx_fault: 1, which the
       * script waits for, before that event logs), and they would count as the fault path's.
       */
      const said = (cage: number) => {
        const all = r.lines.flatMap((l) => {
          const text = kmsg(l);
          return text?.startsWith(`sfp sfp${cage}: `) ? [text.slice(`sfp sfp${cage}: `.length)] : [];
        });
        const up = all.findIndex((m) => /^SM: enter [a-z_]+:[a-z_]+:[a-z_]+ event dev_up$/.test(m));
        return up < 0 ? [] : all.slice(up);
      };
      /**
       * The main states the state machine went into ("SM: exit MOD:DEV:MAIN"), in order; an event
       * that leaves the state as it was ("exit" the same state again) is not a new state.
       */
      const mainStates = (cage: number) =>
        said(cage)
          .flatMap((m) => /^SM: exit [a-z_]+:[a-z_]+:([a-z_]+)$/.exec(m)?.[1] ?? [])
          .filter((state, i, all) => state !== all[i - 1]);
      const report: string[] = [];

      await check("each GEM is its cage's upstream: modules present, devices down until ifup", () => {
        assert.equal(g.dyndbg, "on");
        for (const key of ["stuck", "latched"] as const) {
          assert.equal(g[`${key}.present`], "present", `${key}: module never present`);
          assert.equal(g[`${key}.txfault`], "1", `${key}: the driver never saw TX_FAULT high`);
          const before = debugfsState(guestFile(r.lines, `${key}.before`));
          // "detached" here would mean the tree's sfp = <&sfpN> link did not reach phylink.
          assert.deepEqual(
            [before["Module state"], before["Device state"], before["Main state"], before.tx_fault],
            ["present", "down", "down", "1"],
            `${key}: ${JSON.stringify(before)}`,
          );
        }
        assert.match(g.netdevs, /^eth\d eth\d$/);
        assert.equal(g.ifup, "0");
      });

      await check(
        "tx-fault stuck: fault indicated, 4 resets, 'persistently indicates fault, disabling'",
        () => {
          const { cage } = CAGES.stuck;
          const messages = said(cage);
          const notes = messages.filter((m) => !m.startsWith("SM: ") && !/^tx[- ]/.test(m));
          assert.deepEqual(
            notes,
            ["module transmit fault indicated", "module persistently indicates fault, disabling"],
            JSON.stringify(messages),
          );
          // t_wait, then t_start_up with TX_FAULT high, then N_FAULT_INIT - 1 resets, each followed
          // by another t_start_up that still finds the fault.
          assert.deepEqual(mainStates(cage), [
            "wait",
            "init",
            ...Array(N_FAULT_INIT - 1).fill(["init_tx_fault", "init"]).flat(),
            "tx_disable",
          ]);
          assert.equal(g["stuck.main"], "tx_disable");
          const after = debugfsState(guestFile(r.lines, "stuck.after"));
          assert.equal(after["Fault recovery remaining retries"], "0");
          assert.equal(after.tx_fault, "1");
          // The emulator's side: each reset the kernel did is a TX_DISABLE pulse on the cage.
          const pulses = txDisablePulses(afterIfup, `olt1/lt1/${cage}`);
          assert.deepEqual(txFaultLine(afterIfup, `olt1/lt1/${cage}`), [], "TX_FAULT never left high");
          assert.equal(pulses, N_FAULT_INIT - 1, `the emulator saw ${pulses} TX_DISABLE pulses`);
          report.push(`stuck: ${pulses} reset pulses, then "disabling"`);
        },
      );

      await check(
        "tx-fault latched: the kernel's first reset clears it and the driver leaves the fault path",
        () => {
          const { cage } = CAGES.latched;
          const path = `olt1/lt1/${cage}`;
          const messages = said(cage);
          assert.equal(
            messages.filter((m) => m === "module transmit fault indicated").length,
            1,
            JSON.stringify(messages),
          );
          assert.ok(!messages.some((m) => m.includes("persistently")), JSON.stringify(messages));

          // The kernel's resets: normally one, which clears the fault. On a starved guest the
          // state machine's next 300 ms check can come before its 100 ms pin poll has read the fall;
          // it then resets once more (with TX_FAULT already low), which is the kernel's timing, not
          // the emulator's.
          const states = mainStates(cage);
          const resets = states.filter((s) => s === "init_tx_fault").length;
          assert.ok(resets >= 1 && resets < N_FAULT_INIT, states.join(" "));
          assert.deepEqual(states, [
            "wait",
            "init",
            ...Array(resets).fill(["init_tx_fault", "init"]).flat(),
            "init_phy",
            "fail",
          ]);

          // Emulator: a TX_DISABLE pulse per reset; the first spends the fault and TX_FAULT falls.
          assert.equal(txDisablePulses(afterIfup, path), resets);
          const cleared = afterIfup.find((e) => e.path === path && e.type === "fault-cleared");
          assert.ok(cleared, "no fault-cleared event for the latched fault");
          assert.equal(cleared.kind, "tx-fault");
          assert.equal(cleared.reason, "reset by host TX_DISABLE pulse");
          const firstPulseEnd = afterIfup.find((e) =>
            e.path === path && e.type === "host-signal-changed" && e.signal === "tx-disable" &&
            e.level === 0 &&
            afterIfup.some((b) =>
              b.seq < e.seq && b.path === path && b.type === "host-signal-changed" && b.level === 1
            )
          );
          assert.ok(
            firstPulseEnd && firstPulseEnd.seq < cleared.seq,
            "the fault went before the first pulse ended",
          );
          assert.ok(
            !afterIfup.some((e) =>
              e.seq > firstPulseEnd.seq && e.seq < cleared.seq && e.type === "host-signal-changed" &&
              e.path === path
            ),
            "the fault outlived the first pulse",
          );
          // The TX_FAULT line's only change after the netdevs came up: its fall.
          assert.deepEqual(txFaultLine(afterIfup, path), [0]);

          // Kernel: it saw TX_FAULT fall and went on to look for a PHY.
          const fall = messages.indexOf("tx-fault 1 -> 0");
          assert.ok(fall >= 0, JSON.stringify(messages));
          assert.ok(messages.slice(fall).includes("SM: exit present:up:init_phy"), JSON.stringify(messages));
          const after = debugfsState(guestFile(r.lines, "latched.after"));
          assert.equal(after.tx_fault, "0");
          assert.equal(after["Fault recovery remaining retries"], String(N_FAULT_INIT - resets));
          // The rig's limit, not the module's (see the top of this file).
          assert.equal(g["latched.settled"], "yes");
          assert.ok(messages.includes("no PHY detected"), JSON.stringify(messages));
          assert.equal(after["Main state"], "fail");
          report.push(
            `latched: ${resets} reset pulse(s), fault-cleared seq ${cleared.seq}, then ${
              states.slice(2 + 2 * resets).join(" ")
            }`,
          );
        },
      );

      console.log(
        `[e2e] aarch64 versal tx-fault: E2E-END after ${(r.markerMs / 1000).toFixed(1)} s; ${
          report.join("; ")
        }; log ${r.logFile}`,
      );
    });
  } catch (error) {
    artifacts.fail();
    throw error;
  }
});
