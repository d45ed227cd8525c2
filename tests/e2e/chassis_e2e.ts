// The chassis promise with real guests: one `sfpemu run` serves two boards of tests/e2e/chassis.yaml,
// each to its own QEMU VM, booted at the same time, each attached with `sfpemu vm-config`:
//
//   A  olt1/lt1 (gpon-10: 10 cages, muxes 0x70 + 0x71)        aarch64 virt, vm-config's device tree:
//      the kernel's sfp driver probes the cages, hot-plug and TX_FAULT in its kernel lines
//   B  olt2/lt1 (nt-4: 4 cages, mux 0x70, ID EEPROM, LM75)    x86_64 q35: the mux and at24 by hand,
//      EEPROM bytes through at24 and i2c-dev, pins through sysfs GPIO
//
// Both boards are "lt1" with modules in cages 1 and 2 (cage 1: the same profile, serial numbers
// set apart in the topology), so a change that lands on the wrong board, or a guest on the other
// board's sockets, shows in what the guests read. What is shown, each against the API:
//
// - each guest sees its own board: the muxes that answer on its root bus, the names (and so the
//   number) of its GPIO lines, its modules' identities (the kernel's "module ..." lines; A0h as
//   at24 reads it), B its board's ONIE identity EEPROM; and nothing of the other board;
// - a plug (cage 3), an unplug (cage 2), a stuck TX_FAULT and a temperature PATCH (cage 1) on A are
//   seen by A (kernel lines, debugfs, hwmon) while B polls the same cages' pins and bytes on its
//   board and sees nothing change. B's reading is taken after A has seen each change: the host
//   then moves B's board temperature (its LM75, nothing of its cages) to a new value, B waits for
//   that value and reports what its cages show at that moment;
// - the event stream names the right board for every change and shows both VMs connected; so do
//   GET /health and GET /topology;
// - the two consoles run at the same time; A's QEMU killed (SIGKILL), the emulator logs both
//   devices' disconnect (no warning, no error), and a module plugged into B afterwards reaches B.
//
// A guest on the wrong board fails the first steps at once (before any change); a change of B's
// cages while A's change, B's "b.changed" line, ends the test at once with what B read.
//
//   tests/e2e/run.sh --filter chassis
import assert from "node:assert/strict";
import * as path from "node:path";
import { Emulator } from "./emulator.ts";
import {
  deadline,
  dumpAarch64Dtb,
  E2E_DIR,
  guestAssets,
  type LineMatch,
  makeInitramfs,
  Qemu,
  qemuCommand,
} from "./qemu.ts";
import {
  apiAddress,
  type ApiEvent,
  type ApiModule,
  kmsg,
  moduleIdentity,
  parseModuleLine,
  pastEvents,
  SFP_GUEST_FUNCTIONS,
  testArtifacts,
  vmConfig,
} from "./harness.ts";
import { a0Identity, hexBytes, hwmonTemperature, i2ctransferWord, temperatureRaw } from "./sff.ts";

const artifacts = await testArtifacts();
const workDir = artifacts.dir;

const TOPOLOGY = path.join(E2E_DIR, "chassis.yaml");
const A = { id: "olt1/lt1", olt: "olt1", board: "lt1" } as const;
const B = { id: "olt2/lt1", olt: "olt2", board: "lt1" } as const;
type Board = typeof A | typeof B;
const boardApi = (b: Board) => `/olts/${b.olt}/boards/${b.board}`;
const moduleApi = (b: Board, cage: number) => `${boardApi(b)}/cages/${cage}/module`;

/** What happens to A, one step each; B watches the same cages of its own board meanwhile. */
const A_PLUG = { cage: 3, body: { profile: "sfp-1000base-lx", vendorSn: "CHASSIS-A-03" } };
const A_UNPLUG = 2;
const A_FAULTY = 1; // tx-fault stuck, then a temperature
const A_TEMPERATURE_C = 71.5;
/** B's board temperature after each of A's steps (it starts at 30 °C in chassis.yaml). */
const B_BATONS_C = [31, 32, 33, 34];
const STEPS = ["plug", "unplug", "tx-fault", "temperature"] as const;
/** After A is gone, the change on B. */
const B_PLUG = {
  cage: 4,
  body: { profile: "sfp-gpon-olt-bplus", vendorPn: "CHASSIS-B-PN4", vendorSn: "CHASSIS-B-04" },
};

interface ApiBoard {
  id: string;
  sockets: { i2c: string; gpio: string };
  frontends: { i2c: boolean; gpio: boolean };
  extras: {
    idEeprom: boolean;
    temperatureSensor: boolean;
    identity?: { productName: string; partNumber: string; serialNumber: string; macBase: string };
  };
  cages: { id: number; module: unknown }[];
}
type ApiModuleState = ApiModule & { signals: { txFault: boolean } };

/** busybox i2ctransfer's way of printing bytes read: "0x53 0x45 ...". */
const i2ctransferBytes = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, "0")}`).join(" ");

/** Guest functions both guests use (busybox sh). */
const COMMON = `
# addresses BUS: who answers on the bus, as "48 57 70" ("70:UU" where a kernel driver holds it)
addresses() {
  i2cdetect -y "$1" | awk 'NR > 1 { r = substr($1, 1, 1); o = (NR == 2) ? 3 : 0
    for (i = 2; i <= NF; i++) if ($i != "--") printf "%s%x%s ", r, i - 2 + o, ($i == "UU") ? ":UU" : "" }'
}
# virtio_bus: BUS = the number of the virtio I2C adapter (the board's root bus)
virtio_bus() { BUS=$(grep -l virtio /sys/bus/i2c/devices/i2c-*/name | sed -n 's|.*/i2c-\\([0-9]*\\)/name|\\1|p'); [ -n "$BUS" ]; }
# gpio_names: the names of the GPIO lines that belong to cages, in line order
gpio_names() { grep -o '(cage[0-9]*-[a-z0-9-]*' /sys/kernel/debug/gpio | tr -d '(' | tr '\\n' ' '; }
e2e_wait 30 virtio_bus || { e2e error "no virtio i2c adapter"; exit 1; }
`;

/** A: the kernel's sfp driver on the device tree vm-config made for olt1/lt1. */
function guestA(o: { plugged: number; tempWant: number }): string {
  return `
e2e_kmsg_stream 'sfp[0-9]+: '
${SFP_GUEST_FUNCTIONS}
${COMMON}
hwmon_count() {
  c=0
  # Complete ones only: a hwmon's power/ comes after all its attributes (see hwmon_of).
  for h in /sys/class/hwmon/hwmon*; do [ -d "$h/power" ] && c=$((c + 1)); done
  [ $c -ge ${o.plugged} ]
}
if e2e_wait 30 hwmon_count; then e2e a.hwmon yes; else e2e a.hwmon timeout; fi
e2e a.root "$(addresses "$BUS")"
e2e a.gpio "$(gpio_names)"
s=
for d in /sys/kernel/debug/sfp*; do s="$s \${d##*/sfp}=$(sed -n 's/^Module state: //p' "$d/state")"; done
e2e a.states "$s"

e2e step plug
if e2e_wait 30 hwmon_of sfp${A_PLUG.cage}; then e2e a.plug yes; else e2e a.plug timeout; fi
e2e step unplug
if e2e_wait 30 eval '! hwmon_of sfp${A_UNPLUG}'; then e2e a.unplug yes; else e2e a.unplug timeout; fi
echo 'module sfp +p' >/sys/kernel/debug/dynamic_debug/control
e2e step tx-fault
wait_state a.txfault ${A_FAULTY} tx_fault 1 30
echo 'module sfp -p' >/sys/kernel/debug/dynamic_debug/control
temp_is() { hwmon_of sfp${A_FAULTY} && read -r T <"$HW/temp1_input" && [ "$T" = "${o.tempWant}" ]; }
e2e step temperature
if e2e_wait 30 temp_is; then e2e a.temperature "$T"; else e2e a.temperature "timeout $T"; fi
e2e step done
while :; do sleep 60; done # until the host kills this VM
`;
}

/** B: the board by hand; then it watches cages 1-3 until each baton, and waits for cage 4. */
function guestB(o: { batons: string[]; pn4: string }): string {
  return `
${COMMON}
hexof() { od -An -v -tx1 "$@" | tr -d ' \\n'; }
e2e b.root "$(addresses "$BUS")"
echo pca9548 0x70 >/sys/bus/i2c/devices/i2c-$BUS/new_device
echo -2 >/sys/bus/i2c/devices/$BUS-0070/idle_state
chan() { c=$(readlink "/sys/bus/i2c/devices/$BUS-0070/channel-$1"); echo "\${c##*i2c-}"; }
C1=$(chan 0); C2=$(chan 1); C3=$(chan 2); C4=$(chan 3)
e2e b.detect "1=$(addresses $C1)2=$(addresses $C2)3=$(addresses $C3)4=$(addresses $C4)"
e2e b.detect.beyond "$(for ch in 4 5 6 7; do addresses "$(chan $ch)"; done)"
for c in $C1 $C2; do echo 24c02 0x50 >/sys/bus/i2c/devices/i2c-$c/new_device; done
e2e b.a0.cage1 "$(hexof /sys/bus/i2c/devices/$C1-0050/eeprom 2>&1)"
e2e b.a0.cage2 "$(hexof /sys/bus/i2c/devices/$C2-0050/eeprom 2>&1)"
echo 24c02 0x57 >/sys/bus/i2c/devices/i2c-$BUS/new_device
e2e b.ideeprom "$(hexof /sys/bus/i2c/devices/$BUS-0057/eeprom 2>&1)"
e2e b.gpio "$(gpio_names)"
gpio_num() { sed -n "s/^ *gpio-\\([0-9]*\\) ($1 .*/\\1/p" /sys/kernel/debug/gpio; }
for n in 1 2 3 4; do for l in mod-abs tx-fault; do gpio_num cage$n-$l >/sys/class/gpio/export; done; done

# rd BUS ADDR REG COUNT: R = the bytes, or "none" when nothing answers (-f: at24 holds some 0x50s)
rd() { R=$(i2ctransfer -f -y "$1" "w1@$2" "$3" "r$4" 2>&1); case "$R" in 0x*) ;; *) R=none ;; esac; }
# view: V = what B shows of the cages A's steps touch on A: MOD_ABS and TX_FAULT of cages 1-4,
# cage 1's temperature (A2h 96-97) and status byte (A2h 110), cage 2's part number, cage 3's A0h 0
view() {
  V=abs=
  for n in 1 2 3 4; do read -r x </sys/class/gpio/cage$n-mod-abs/value; V=$V$x; done
  V="$V txf="
  for n in 1 2 3 4; do read -r x </sys/class/gpio/cage$n-tx-fault/value; V=$V$x; done
  rd $C1 0x51 0x60 2; V="$V t1=$R"
  rd $C1 0x51 0x6e 1; V="$V s1=$R"
  rd $C2 0x50 0x28 16; V="$V pn2=$R"
  rd $C3 0x50 0x00 1; V="$V id3=$R"
}
# watch KEY BATON: poll the view (any change is reported at once) until the LM75 reads BATON,
# then report the view, and how many times it was read meanwhile (KEY.polls)
watch() {
  e2e_now; _end=$((E2E_NOW + 60 * E2E_WAIT_PCT)); _polls=0 # 60 s, scaled as e2e_wait
  while :; do
    view; _polls=$((_polls + 1))
    if [ "$V" != "$V0" ] && [ "$V" != "$CHANGED" ]; then CHANGED=$V; e2e b.changed "$V"; fi
    rd $BUS 0x48 0x00 2; [ "$R" = "$2" ] && break
    e2e_now; [ "$E2E_NOW" -ge "$_end" ] && { e2e "$1" "timeout (LM75 $R)"; return; }
    sleep 0.05
  done
  view; e2e "$1" "$V"; e2e "$1.polls" "$_polls"
}
view; V0=$V; e2e b.view.boot "$V"
e2e step watch
${STEPS.map((step, i) => `watch b.view.${step} '${o.batons[i]}'`).join("\n")}

e2e step b-plug
pn4_is() { read -r x </sys/class/gpio/cage4-mod-abs/value; [ "$x" = 0 ] && rd $C4 0x50 0x28 16 && [ "$R" = '${o.pn4}' ]; }
if e2e_wait 60 pn4_is; then e2e b.plug4 yes; else e2e b.plug4 "timeout (MOD_ABS $x, $R)"; fi
echo 24c02 0x50 >/sys/bus/i2c/devices/i2c-$C4/new_device
e2e b.a0.cage4 "$(hexof /sys/bus/i2c/devices/$C4-0050/eeprom 2>&1)"
view; e2e b.view.end "$V"
`;
}

/** What a board's root bus answers, from the API: the LM75, the ID EEPROM, one PCA9548 per 8 cages. */
function rootExpected(board: ApiBoard, held: boolean): string {
  const muxes = Array.from({ length: Math.ceil(board.cages.length / 8) }, (_, i) => (0x70 + i).toString(16));
  return [
    ...(board.extras.temperatureSensor ? ["48"] : []),
    ...(board.extras.idEeprom ? ["57"] : []),
    ...muxes.map((m) => (held ? `${m}:UU` : m)),
  ].join(" ");
}

/** The README's GPIO layout: six named lines per cage. */
const gpioExpected = (cages: number) =>
  Array.from(
    { length: cages },
    (_, i) => ["mod-abs", "rx-los", "tx-fault", "tx-disable", "rs0", "rs1"].map((l) => `cage${i + 1}-${l}`),
  ).flat()
    .join(" ");

/** ONIE TlvInfo (onie.org, EEPROM format): "TlvInfo\0", version, length, then type-length-value. */
function onieTlvs(bytes: Uint8Array): Map<number, Uint8Array> {
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "TlvInfo\0", "ONIE header");
  const end = 11 + ((bytes[9] << 8) | bytes[10]);
  const tlvs = new Map<number, Uint8Array>();
  for (let at = 11; at + 2 <= end; at += 2 + bytes[at + 1]) {
    tlvs.set(bytes[at], bytes.subarray(at + 2, at + 2 + bytes[at + 1]));
  }
  return tlvs;
}

async function topologyBoard(emulator: Emulator, b: Board): Promise<ApiBoard> {
  const t = await emulator.request("GET", "/topology") as { olts: { id: string; boards: ApiBoard[] }[] };
  return t.olts.find((o) => o.id === b.olt)!.boards.find((x) => x.id === b.board)!;
}

/** What B's `view` should read now, from the API: pins per SFF-8419, bytes = the API's EEPROM. */
async function bViewExpected(emulator: Emulator): Promise<string> {
  const board = await topologyBoard(emulator, B);
  const plugged = (n: number) => board.cages[n - 1].module !== null;
  const modules = new Map<number, ApiModuleState>();
  const eeproms = new Map<number, { a0: Uint8Array; a2: Uint8Array }>();
  for (const n of [1, 2, 3, 4].filter(plugged)) {
    modules.set(n, await emulator.request("GET", moduleApi(B, n)) as ApiModuleState);
    const e = await emulator.request("GET", `${moduleApi(B, n)}/eeprom`) as { a0: string; a2: string };
    eeproms.set(n, { a0: hexBytes(e.a0), a2: hexBytes(e.a2) });
  }
  const read = (n: number, page: "a0" | "a2", at: number, count: number) => {
    const e = eeproms.get(n);
    return e ? i2ctransferBytes(e[page].subarray(at, at + count)) : "none";
  };
  // Host-side pull-ups (SFF-8419): with no module, MOD_ABS and TX_FAULT read high.
  const abs = [1, 2, 3, 4].map((n) => (plugged(n) ? "0" : "1")).join("");
  const txf = [1, 2, 3, 4].map((n) => (modules.get(n)?.signals.txFault ?? true) ? "1" : "0").join("");
  return `abs=${abs} txf=${txf} t1=${read(1, "a2", 96, 2)} s1=${read(1, "a2", 110, 1)} ` +
    `pn2=${read(2, "a0", 40, 16)} id3=${read(3, "a0", 0, 1)}`;
}

/** Polls an API answer until `ok`, within a deadline; the last answer. */
async function apiUntil<T>(what: string, get: () => Promise<T>, ok: (t: T) => boolean): Promise<T> {
  const end = performance.now() + deadline(15_000);
  for (;;) {
    const answer = await get();
    if (ok(answer)) return answer;
    if (performance.now() > end) throw new Error(`${what}: still ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `list` with each run of consecutive items that `together` accepts sorted (runs of at most `most`
 * items): events whose relative order is not the emulator's to decide.
 */
function runsSorted(list: string[], together: (item: string) => boolean, most = Infinity): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    out.push(...run.sort());
    run = [];
  };
  for (const item of list) {
    if (!together(item) || run.length >= most) flush();
    if (together(item)) run.push(item);
    else out.push(item);
  }
  flush();
  return out;
}

interface Health {
  frontends: number;
  lastEvent: number;
}

const health = async (emulator: Emulator) => await emulator.request("GET", "/health") as Health;

/** Host time (performance.now()) of a console line. */
const hostTime = (vm: Qemu, line: LineMatch) => vm.startedAt + line.atMs;

/** Boots a guest with the command line a user writes: the machine, the kernel, vm-config's output. */
function boot(arch: "aarch64" | "x86_64", initrd: string, vmConfigOut: string, name: string): Qemu {
  const { binary, args } = qemuCommand({
    arch,
    kernel: guestAssets(arch).kernel,
    initrd,
    sharedMemory: false,
    extraArgs: vmConfigOut.trim().split("\n"),
  });
  return Qemu.start(binary, args, { logFile: path.join(workDir, `${name}.log`) });
}

/** Event types the lab publishes for API changes and VM connections (not pin or flag changes). */
const LAB_EVENTS = new Set([
  "frontend-connected",
  "frontend-disconnected",
  "frontend-refused",
  "module-inserted",
  "module-removed",
  "fault-set",
  "fault-cleared",
  "diagnostics-set",
  "signals-forced",
  "board-temperature-set",
  "board-removed",
  "board-inserted",
]);

Deno.test("e2e chassis: two board VMs on one emulator at once, each sees only its own board", async (t) => {
  const check = artifacts.checker(t);
  const stateDir = await Deno.makeTempDir({ prefix: "sfpemu-e2e-state-" });
  let emulator: Emulator | undefined;
  let status: Deno.CommandStatus | undefined;
  try {
    emulator = await Emulator.start({
      topology: TOPOLOGY,
      stateDir,
      logFile: path.join(workDir, "chassis-emulator.log"),
    });
    const api = emulator;
    const testStart = performance.now();

    // The API's description of both boards before anything runs.
    const boardA = await topologyBoard(api, A);
    const boardB = await topologyBoard(api, B);
    const pluggedA = boardA.cages.filter((c) => c.module).map((c) => c.id);
    const modulesA = new Map<number, ApiModule>();
    for (const cage of pluggedA) {
      modulesA.set(cage, await api.request("GET", moduleApi(A, cage)) as ApiModule);
    }
    const modulesB = new Map<number, { module: ApiModule; a0: string }>();
    for (const cage of boardB.cages.filter((c) => c.module).map((c) => c.id)) {
      const module = await api.request("GET", moduleApi(B, cage)) as ApiModule;
      const { a0 } = await api.request("GET", `${moduleApi(B, cage)}/eeprom`) as { a0: string };
      modulesB.set(cage, { module, a0 });
    }
    const since = (await health(api)).lastEvent;

    // What a user does: A's tree dumped from QEMU and merged by vm-config (asking the running
    // emulator); B's arguments from the topology file and the state directory.
    const baseDtb = path.join(workDir, "chassis-virt.dtb");
    const dtbA = path.join(workDir, "chassis-a.dtb");
    const tempWant = hwmonTemperature(temperatureRaw(A_TEMPERATURE_C));
    const pn4 = i2ctransferBytes(new TextEncoder().encode(B_PLUG.body.vendorPn.padEnd(16, " ")));
    const [argsA, argsB, initrdA, initrdB] = await Promise.all([
      dumpAarch64Dtb({ dtbOut: baseDtb, memMiB: 256 }).then(() =>
        vmConfig([A.id, "--arch", "aarch64", "--api", apiAddress(api), "--memory", "256M"].concat(
          ["--base-dtb", baseDtb, "--dtb-out", dtbA],
        ))
      ),
      vmConfig([B.id, "--arch", "x86_64", "--topology", TOPOLOGY, "--state-dir", stateDir]),
      makeInitramfs({
        arch: "aarch64",
        script: guestA({ plugged: pluggedA.length, tempWant }),
        out: path.join(workDir, "chassis-a.cpio"),
      }),
      makeInitramfs({
        arch: "x86_64",
        script: guestB({ batons: B_BATONS_C.map((c) => i2ctransferWord(temperatureRaw(c))), pn4 }),
        out: path.join(workDir, "chassis-b.cpio"),
      }),
    ]);
    await Deno.writeTextFile(path.join(workDir, "chassis-a-vm-config.txt"), argsA);
    await Deno.writeTextFile(path.join(workDir, "chassis-b-vm-config.txt"), argsB);

    // Both at once.
    await using vmA = boot("aarch64", initrdA, argsA, "chassis-a");
    await using vmB = boot("x86_64", initrdB, argsB, "chassis-b");
    const [readyA, readyB] = await Promise.all([
      vmA.waitFor("E2E: step=plug", { timeoutMs: 120_000 }),
      vmB.waitFor("E2E: step=watch", { timeoutMs: 120_000 }),
    ]);
    const bothUp = {
      health: await health(api),
      a: await topologyBoard(api, A),
      b: await topologyBoard(api, B),
    };
    // What B read at boot, as the API describes B now (its modules' Data_Ready_Bar has gone low since
    // the emulator started; nothing else changes on B until the end).
    const bBoot = await bViewExpected(api);

    // Each guest's view of its board, checked before anything changes: a guest on the wrong board
    // fails here, at once.
    const gA0 = vmA.results();
    const gB0 = vmB.results();
    const ownA = await t.step("A sees its own board, and nothing of B's", () => {
      assert.equal(gA0.modules, "ok", `A's module loading: ${gA0.modules}`);
      // A: the kernel's drivers on vm-config's tree. Two PCA9548s answer (held by the mux driver),
      // no LM75 or ID EEPROM (B has them); 60 GPIO lines named for cages 1-10; the sfp driver's
      // module state per cage follows MOD_ABS; "module ..." = the API's identity per plugged cage.
      assert.equal(gA0["a.root"].trim(), rootExpected(boardA, true), "A's root bus");
      assert.equal(gA0["a.gpio"].trim(), gpioExpected(boardA.cages.length), "A's GPIO lines");
      const states = Object.fromEntries(gA0["a.states"].trim().split(" ").map((s) => s.split("=")));
      assert.deepEqual(
        states,
        Object.fromEntries(boardA.cages.map((c) => [String(c.id), c.module ? "waitdev" : "empty"])),
        "A's sfp driver: module state per cage",
      );
      const atBoot = vmA.lines.slice(0, readyA.index).map((l) => parseModuleLine(kmsg(l) ?? "")).filter((m) =>
        m !== undefined
      ).sort((x, y) => x.cage - y.cage);
      assert.deepEqual(atBoot, pluggedA.map((cage) => moduleIdentity(cage, modulesA.get(cage)!)));
      assert.equal(gA0["a.hwmon"], "yes", "A's sfp driver registered fewer hwmon devices than plugged cages");
    });
    const ownB = await t.step("B sees its own board, and nothing of A's", () => {
      assert.equal(gB0.modules, "ok", `B's module loading: ${gB0.modules}`);
      // B: by hand. One PCA9548 (no 0x71: B has 4 cages), the LM75 and the ID EEPROM; behind the
      // mux (a channel passes through to the root bus, so its devices answer there too) cages 1 and
      // 2 answer at 0x50/0x51, 3 and 4 do not, nor do channels 4-7; 24 GPIO lines named for cages 1-4.
      assert.equal(gB0["b.root"].trim(), rootExpected(boardB, false), "B's root bus");
      const channel = (plugged: boolean) =>
        [...rootExpected(boardB, true).split(" "), ...(plugged ? ["50", "51"] : [])].sort().join(" ");
      const detect = boardB.cages.map((c) => `${c.id}=${channel(c.module !== null)}`).join(" ");
      assert.equal(gB0["b.detect"].trim(), detect, "B's cages behind the mux");
      assert.equal(
        gB0["b.detect.beyond"].trim(),
        Array(4).fill(channel(false)).join(" "),
        "B's channels 4-7",
      );
      assert.equal(gB0["b.gpio"].trim(), gpioExpected(boardB.cages.length), "B's GPIO lines");
      for (const [cage, { module, a0 }] of modulesB) {
        assert.equal(gB0[`b.a0.cage${cage}`], a0, `B's cage ${cage}: A0h as at24 reads it`);
        const { vendorName, vendorPn, vendorRev, vendorSn, dateCode } = module;
        assert.deepEqual(a0Identity(hexBytes(gB0[`b.a0.cage${cage}`])), {
          vendorName,
          vendorPn,
          vendorRev,
          vendorSn,
          dateCode,
        });
      }
      // Cage 1: one profile on both boards, told apart by the serial numbers chassis.yaml sets.
      assert.equal(modulesB.get(1)!.module.profile, modulesA.get(1)!.profile);
      assert.notEqual(modulesB.get(1)!.module.vendorSn, modulesA.get(1)!.vendorSn);
      // B's board identity (ONIE TlvInfo at 0x57) = the API's for olt2/lt1.
      const tlvs = onieTlvs(hexBytes(gB0["b.ideeprom"]));
      const text = (type: number) => new TextDecoder().decode(tlvs.get(type));
      const mac = Array.from(tlvs.get(0x24) ?? [], (b) => b.toString(16).padStart(2, "0")).join(":");
      const identity = boardB.extras.identity!;
      assert.deepEqual(
        { productName: text(0x21), partNumber: text(0x22), serialNumber: text(0x23), macBase: mac },
        {
          productName: identity.productName,
          partNumber: identity.partNumber,
          serialNumber: identity.serialNumber,
          macBase: identity.macBase,
        },
        "B's ID EEPROM",
      );
      assert.equal(gB0["b.view.boot"], bBoot, "B's cages at boot, against the API");
    });
    if (!ownA || !ownB) throw new Error("the guests do not see their own boards (see the steps above)");

    // A's steps. After A has seen each one, B's LM75 moves on and B reports its cages.
    const acts: Record<(typeof STEPS)[number], { act: () => Promise<unknown>; seen: RegExp }> = {
      plug: {
        act: () => api.request("PUT", moduleApi(A, A_PLUG.cage), A_PLUG.body),
        seen: new RegExp(`^E2E-KMSG: \\d+ sfp sfp${A_PLUG.cage}: module `),
      },
      unplug: {
        act: () => api.request("DELETE", moduleApi(A, A_UNPLUG)),
        seen: new RegExp(`^E2E-KMSG: \\d+ sfp sfp${A_UNPLUG}: module removed$`),
      },
      "tx-fault": {
        act: () => api.request("PUT", `${moduleApi(A, A_FAULTY)}/faults/tx-fault`, { mode: "stuck" }),
        seen: new RegExp(`^E2E-KMSG: \\d+ sfp sfp${A_FAULTY}: tx-fault 0 -> 1$`),
      },
      temperature: {
        act: () =>
          api.request("PATCH", `${moduleApi(A, A_FAULTY)}/diagnostics`, { temperatureC: A_TEMPERATURE_C }),
        seen: /^E2E: a\.temperature=/,
      },
    };
    const answers: Record<string, unknown> = {};
    const seenByA: Record<string, LineMatch> = {};
    const bExpected: Record<string, string> = {};
    const latency: Record<string, { a: number; b: number }> = {};
    let from = readyA.index;
    let firstAct = NaN;
    // B reports any change of its cages at once: that ends the test as soon as it comes.
    const leaked = vmB.waitFor(/^E2E: b\.changed=/, { fromIndex: readyB.index, timeoutMs: 600_000 });
    leaked.catch(() => {}); // it rejects when B ends, as it should, without a change
    for (const [i, step] of STEPS.entries()) {
      const ready = await vmA.waitFor(`E2E: step=${step}`, { fromIndex: from, timeoutMs: 60_000 });
      const t0 = performance.now();
      if (i === 0) firstAct = t0;
      answers[step] = await acts[step].act();
      const seen = await Promise.race([
        vmA.waitFor(acts[step].seen, { fromIndex: ready.index, timeoutMs: 30_000 }),
        leaked.then((l) => {
          throw new Error(`B's cages changed with A's ${step}: ${l.line} (at boot: ${gB0["b.view.boot"]})`);
        }),
      ]);
      seenByA[step] = seen;
      bExpected[step] = await bViewExpected(api);
      const t1 = performance.now();
      await api.request("PATCH", boardApi(B), { temperatureC: B_BATONS_C[i] });
      const bSaw = await vmB.waitFor(`E2E: b.view.${step}=`, { timeoutMs: 60_000 });
      latency[step] = { a: hostTime(vmA, seen) - t0, b: hostTime(vmB, bSaw) - t1 };
      // The next step line is waited for from this one, not from the kernel's line: A's script
      // goes on as soon as it sees the change (no hwmon, tx_fault: 1), which the driver shows
      // before it logs "module removed" or the SM events, and the streamer can print a kernel line
      // after A's next "step=" line. Only the script's own lines come in a known order.
      from = ready.index;
    }

    // A's QEMU killed: the emulator lets its two devices go; B goes on.
    await vmA.waitFor("E2E: step=done", { fromIndex: from, timeoutMs: 60_000 });
    const killedAt = performance.now();
    const killedWall = Date.now();
    Deno.kill(vmA.pid, "SIGKILL");
    const killed = await vmA.kill();
    const afterKill = await apiUntil(
      "GET /health after A's QEMU was killed",
      () => health(api),
      (h) => h.frontends === 2,
    );
    const gone = { a: await topologyBoard(api, A), b: await topologyBoard(api, B) };

    const plugStep = await vmB.waitFor("E2E: step=b-plug", { timeoutMs: 60_000 });
    const t2 = performance.now();
    const pluggedB = await api.request("PUT", moduleApi(B, B_PLUG.cage), B_PLUG.body) as ApiModule;
    const a0B4 = (await api.request("GET", `${moduleApi(B, B_PLUG.cage)}/eeprom`) as { a0: string }).a0;
    const plugSeen = await vmB.waitFor("E2E: b.plug4=", { fromIndex: plugStep.index, timeoutMs: 60_000 });
    const bEnd = await vmB.waitFor(/^E2E-END rc=(\d+)/, { fromIndex: plugSeen.index, timeoutMs: 60_000 });
    await vmB.waitExit(60_000);
    const bEndExpected = await bViewExpected(api);
    await apiUntil("GET /health after B's poweroff", () => health(api), (h) => h.frontends === 0);
    const events = await pastEvents(api, since);
    const emulatorLog = api.lines.slice();
    const gA = vmA.results();
    const gB = vmB.results();
    const initA = await vmA.waitFor("E2E: init=");
    const initB = await vmB.waitFor("E2E: init=");
    const totalMs = performance.now() - testStart;

    await check("A's plug, unplug, TX_FAULT and temperature reach A; B, polling the same, sees none", () => {
      const plugged = answers.plug as ApiModule;
      assert.equal(plugged.vendorSn, A_PLUG.body.vendorSn);
      assert.deepEqual(
        parseModuleLine(kmsg(seenByA.plug.line)!),
        moduleIdentity(A_PLUG.cage, plugged),
        "A's kernel on the plugged module",
      );
      assert.equal(gA["a.plug"], "yes", `no hwmon for sfp${A_PLUG.cage} after the plug`);
      const complaints = vmA.lines.map(kmsg).filter((m) => m && /checksum|fail|error|unsupported/i.test(m));
      assert.deepEqual(complaints, [], "A's sfp driver complained");
      assert.equal(gA["a.unplug"], "yes", `sfp${A_UNPLUG}'s hwmon stayed after the unplug`);
      assert.equal(gA["a.txfault"], "1", "A's debugfs never showed tx_fault: 1");
      assert.equal(gA["a.temperature"], String(tempWant), "A's hwmon temperature after the PATCH");
      assert.equal(gB["b.changed"], undefined, "B's cages changed while A's did");
      for (const step of STEPS) {
        assert.equal(bExpected[step], bBoot, `the API says B changed with A's ${step}`);
        assert.equal(gB[`b.view.${step}`], bExpected[step], `B's cages after A's ${step}, against the API`);
        assert.ok(Number(gB[`b.view.${step}.polls`]) >= 1, `B did not poll during A's ${step}`);
      }
    });

    await check("the event stream names the right board; both VMs connected, then only B", () => {
      const boardPath = (e: ApiEvent) => e.path.split("/").slice(0, 2).join("/");
      const lab = events.filter((e) => LAB_EVENTS.has(e.type));
      const describe = (e: ApiEvent) =>
        e.type.startsWith("frontend-")
          ? `${e.type} ${e.path} ${e.device} ${e.socket}`
          : `${e.type} ${e.path}${e.type === "fault-set" ? ` ${e.kind}` : ""}`;
      const connect = (b: ApiBoard, path: string, type: string) =>
        ["i2c", "gpio"].map((d) => `${type} ${path} ${d} ${b.sockets[d as "i2c" | "gpio"]}`);
      // Connections and disconnections that come together are sorted: their order is the order
      // in which the QEMUs got there, or the emulator noticed them.
      const seen = runsSorted(lab.map(describe), (e) => e.startsWith("frontend-"));
      assert.deepEqual(seen, [
        ...[...connect(boardA, A.id, "frontend-connected"), ...connect(boardB, B.id, "frontend-connected")]
          .sort(),
        `module-inserted ${A.id}/${A_PLUG.cage}`,
        `board-temperature-set ${B.id}`,
        `module-removed ${A.id}/${A_UNPLUG}`,
        `board-temperature-set ${B.id}`,
        `fault-set ${A.id}/${A_FAULTY} tx-fault`,
        `board-temperature-set ${B.id}`,
        `diagnostics-set ${A.id}/${A_FAULTY}`,
        `board-temperature-set ${B.id}`,
        ...connect(boardA, A.id, "frontend-disconnected").sort(),
        `module-inserted ${B.id}/${B_PLUG.cage}`,
        ...connect(boardB, B.id, "frontend-disconnected").sort(),
      ]);
      // Pins and flags too: on B only the board temperature and cage 4's insertion; TX_FAULT rose on A's cage.
      const onB = events.filter((e) => boardPath(e) === B.id && !LAB_EVENTS.has(e.type));
      assert.deepEqual(
        onB.filter((e) => e.path !== `${B.id}/${B_PLUG.cage}`).map(describe),
        [],
        "events on B",
      );
      assert.ok(
        events.some((e) =>
          e.path === `${A.id}/${A_FAULTY}` && e.type === "signal-changed" && e.signal === "tx-fault" &&
          e.level === 1
        ),
        "no signal-changed tx-fault 1 on A's cage",
      );
      assert.equal(bothUp.health.frontends, 4, "GET /health with both VMs up");
      assert.deepEqual([bothUp.a.frontends, bothUp.b.frontends], [{ i2c: true, gpio: true }, {
        i2c: true,
        gpio: true,
      }]);
      assert.equal(afterKill.frontends, 2);
      assert.deepEqual([gone.a.frontends, gone.b.frontends], [{ i2c: false, gpio: false }, {
        i2c: true,
        gpio: true,
      }]);
    });

    const disconnects = events.filter((e) => e.type === "frontend-disconnected" && e.path === A.id);
    const disconnectMs = Math.max(...disconnects.map((e) => Date.parse(e.time as string))) - killedWall;
    await check("both guests ran at once; A killed, the emulator lets it go cleanly and B goes on", () => {
      // The consoles overlap: B's guest was up before A's first change, and ran on after A was killed.
      assert.ok(hostTime(vmB, initB) < firstAct, "B's guest started after A's first change");
      assert.ok(hostTime(vmB, bEnd) > killedAt, "B ended before A was killed");
      assert.equal(killed.signal, "SIGKILL");
      // The emulator's log: A's devices disconnected (then B's, at its poweroff), both times because
      // the frontend closed the connection; nothing above info level anywhere.
      const logged = emulatorLog.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      assert.deepEqual(
        runsSorted(
          logged.filter((l) => l.message === "frontend disconnected").map((l) =>
            `${l.board} ${l.device} ${l.reason}`
          ),
          () => true,
          2,
        ),
        [`${A.id} gpio`, `${A.id} i2c`, `${B.id} gpio`, `${B.id} i2c`].map((d) =>
          `${d} frontend closed the connection`
        ),
      );
      assert.deepEqual(
        logged.filter((l) => l.level === "warn" || l.level === "error"),
        [],
        "emulator warnings",
      );
      // The change on B after A is gone reaches B.
      assert.equal(
        gB["b.plug4"],
        "yes",
        `B never read part number ${B_PLUG.body.vendorPn} in cage ${B_PLUG.cage}`,
      );
      assert.equal(pluggedB.vendorPn, B_PLUG.body.vendorPn);
      assert.equal(gB["b.a0.cage4"], a0B4, `B's cage ${B_PLUG.cage}: A0h as at24 reads it`);
      assert.equal(gB["b.view.end"], bEndExpected, "B's cages at the end, against the API");
      assert.equal(Number(bEnd.match![1]), 0, "B's guest script");
    });

    // Both consoles from spawn to A's kill / B's poweroff, and both guests' user space (from /init).
    const overlap = {
      consoles: Math.min(killedAt, hostTime(vmB, bEnd)) - Math.max(vmA.startedAt, vmB.startedAt),
      userSpace: Math.min(killedAt, hostTime(vmB, bEnd)) -
        Math.max(hostTime(vmA, initA), hostTime(vmB, initB)),
    };
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const steps = STEPS.map((step) => `${step} ${latency[step].a.toFixed(0)}/${latency[step].b.toFixed(0)}`);
    const polls = STEPS.reduce((n, step) => n + Number(gB[`b.view.${step}.polls`]), 0);
    console.log(
      [
        `[e2e] chassis: A (aarch64) /init ${s(initA.atMs)} s, ready ${s(readyA.atMs)} s;`,
        `B (x86_64) /init ${s(initB.atMs)} s, ready ${s(readyB.atMs)} s after spawn;`,
        `overlap: consoles ${s(overlap.consoles)} s, user space ${s(overlap.userSpace)} s;`,
        `API -> A's kernel / baton -> B's report, ms: ${steps.join(", ")} (B polled ${polls} times);`,
        `SIGKILL A -> disconnected ${disconnectMs} ms;`,
        `plug B -> B reads ${(hostTime(vmB, plugSeen) - t2).toFixed(0)} ms;`,
        `whole test ${s(totalMs)} s`,
      ].join(" "),
    );
  } catch (error) {
    artifacts.fail();
    throw error;
  } finally {
    status = await emulator?.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
  if (status?.code !== 0) {
    artifacts.fail();
    throw new Error(`sfpemu run exited with code ${status?.code} after the test:\n${emulator?.tail()}`);
  }
});
