// `ethtool -m` in a real guest: the module EEPROM as Linux hands it to userspace, which is what board
// software and field engineers read, checked against the API's description of each module (GET
// .../module, GET .../module/eeprom) and its profile file in devices/.
//
// The rig is aarch64_tx_fault_e2e.ts's: QEMU's xlnx-versal-virt, whose Cadence GEMs (Linux's macb, a
// phylink driver) `sfpemu vm-config --mac` wires to cages 1 and 2, so eth0's and eth1's sfp_bus are
// those cages' sockets. Debian's own arm64 ethtool 6.1 runs in the guest (prepare-assets.sh fetches
// it and its libraries; nothing of it is committed).
//
// Which modules ethtool can read here, and why. The GEM speaks only (R)GMII and QEMU has no PCS for
// it, so phylink refuses both optics of the tier's board at insertion; the guest's kernel says
//   sfp sfp1: module FINISAR CORP.    FTLX8571D3BCL    rev A    sn AUJ0RCJ...     dc 151029
//   macb ff0c0000.ethernet eth0: unsupported SFP module: no common interface modes
//   sfp sfp2: module E2E OPTICS       E2E-GPON-C+      rev 1.0  sn E2E000000002     dc 240115
//   macb ff0d0000.ethernet eth1: unsupported SFP module: no common interface modes
// (on a loaded host the probe can come before macb registers the netdev, and the refusal then names
// "macb ff0c0000.ethernet (unnamed net_device) (uninitialized)"), and debugfs shows "Module state:
// error" for both. `ethtool -m` reads them all the same: the
// netdev's sfp_bus is set when phylink attaches to the socket (phylink_sfp_attach), whatever module
// comes later, and sfp.c's module_info / module_eeprom (ioctl) and module_eeprom_by_page (netlink)
// read the EEPROM over I2C without looking at the module state ("locking... and check module is
// present" is a comment there, not code). So both optics are read, with their diagnostics:
// 10GBASE-SR in cage 1 and the GPON OLT C+ (as "E2E OPTICS") in cage 2, 512 bytes each (SFF-8472
// with DDM: A0h then A2h). The copper sfp-1000base-t, which phylink accepts (it may carry a PHY),
// is read too: hot-plugged into cage 2 at the end, 256 bytes (no A2h: SFF-8079).
//
// The optics' lasers are off throughout: the kernel holds TX_DISABLE (debugfs "tx_disable: 1": the
// netdevs stay down and the modules were refused, so sfp.c's state machine never enables TX), and
// the emulator models that: bias 0 mA and Tx power 0 mW in the API, "0.000 mA" and "0.0000 mW / -inf
// dBm" in ethtool, whose low bias and low Tx power alarms and warnings are therefore on.
//
// What is compared, per module:
// - `ethtool -m ethX raw on`, byte for byte, with the API's A0h (+ A2h for a module with DDM);
// - the decoded text: identifier, connector, encoding, transceiver type (the profile's codes, spelled
//   as SFF-8024/8472 and ethtool spell them), nominal rate, wavelength, vendor name, OUI, PN, rev,
//   SN, date code (the API); with DDM the five readings (the API, within the units' rounding: a raw
//   count and ethtool's printed digits), the 20 thresholds (the profile) and the 20 alarm / warning
//   flags (the API's readings against the profile's thresholds);
// - after a PATCH of the diagnostics through the API (cage 2's Rx power between its low alarm and
//   low warning, then cage 1's temperature past its high alarm and its Vcc past its high warning),
//   all of it again: ethtool shows the new readings and the raised flags.
//
//   tests/e2e/run.sh   (prepares the guest assets, then runs every *_e2e.ts)
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { type Emulator } from "./emulator.ts";
import { ethtoolFiles, type LineMatch, REPO_ROOT, runGuest } from "./qemu.ts";
import {
  aarch64BoardTree,
  type ApiModule,
  cagePath,
  debugfsState,
  eeprom,
  guestFile,
  kmsg,
  moduleIdentity,
  moduleOf,
  parseModuleLine,
  SFP_GUEST_FUNCTIONS,
  testArtifacts,
  withEmulator,
} from "./harness.ts";
import { hwmonTemperature, temperatureRaw } from "./sff.ts";

const artifacts = await testArtifacts();
const workDir = artifacts.dir;

/** The cages wired to the versal's GEMs, and the GEM's platform device (its netdev's parent). */
const WIRED = [
  { cage: 1, mac: "ethernet@ff0c0000", device: "ff0c0000.ethernet" }, // board.yaml: sfp-10gbase-sr
  { cage: 2, mac: "ethernet@ff0d0000", device: "ff0d0000.ethernet" }, // sfp-gpon-olt-cplus
] as const;

type Quantity = "temperatureC" | "vccV" | "txBiasMa" | "txPowerDbm" | "rxPowerDbm";

/**
 * The PATCHes, in this order; the guest knows the last one has landed when its hwmon shows cage 1's
 * new temperature. Cage 2 (GPON C+: low alarm -35, low warning -32, LOS at -38 dBm): Rx power
 * -33 dBm raises the low warning only. Cage 1 (10GBASE-SR): 80.5 °C is past the high alarm (78) and
 * warning (73); 3.65 V past the high warning (3.6), under the high alarm (3.7).
 */
const PATCHES: { cage: number; diagnostics: Partial<Record<Quantity, number>> }[] = [
  { cage: 2, diagnostics: { rxPowerDbm: -33 } },
  { cage: 1, diagnostics: { temperatureC: 80.5, vccV: 3.65 } },
];
/** The flags each PATCH must raise in ethtool's output (all of them are off before). */
const RAISED: Record<number, string[]> = {
  1: ["Module temperature high alarm", "Module temperature high warning", "Module voltage high warning"],
  2: ["Laser rx power low warning"],
};
const SYNC_C = PATCHES[1].diagnostics.temperatureC!;
/** The copper module hot-plugged into cage 2 at the end (no A2h; phylink accepts it). */
const COPPER = { cage: 2, profile: "sfp-1000base-t" };

// ---------------------------------------------------------------------------------------------
// What ethtool 6.1 prints (sfpid.c, sff-common.c, sff-diags.c), from the standards' code tables:
// the test's own spelling, so that a profile code the emulator encodes wrongly shows up here.

/** SFF-8024 table 4-1 (identifier). */
const IDENTIFIER: Record<string, string> = { SFP: "0x03 (SFP)" };
/** SFF-8024 table 4-3 (connector). */
const CONNECTOR: Record<string, string> = { SC: "0x01 (SC)", LC: "0x07 (LC)", RJ45: "0x22 (RJ45)" };
/** SFF-8024 table 4-2 (encoding). */
const ENCODING: Record<string, string> = {
  "8B/10B": "0x01 (8B/10B)",
  NRZ: "0x03 (NRZ)",
  "64B/66B": "0x06 (64B/66B)",
};
/** SFF-8472 table 5-3 (transceiver compliance codes), as ethtool's "Transceiver type" lines. */
const TRANSCEIVER: Record<string, string> = {
  "10GBASE-SR": "10G Ethernet: 10G Base-SR",
  "1000BASE-T": "Ethernet: 1000BASE-T",
};

function spelled(table: Record<string, string>, code: string, what: string): string {
  const text = table[code];
  if (text === undefined) {
    throw new Error(`the test does not know how ethtool prints ${what} ${code}: add it`);
  }
  return text;
}

/** The five DDM quantities: ethtool's names for the reading, its thresholds and flags. */
const QUANTITIES: {
  key: Quantity;
  /** Prefix of the flag and threshold lines. */
  label: string;
  /** The reading's line; the Rx power's depends on A0h 92 bit 3 (average or OMA). */
  reading: (profile: Profile) => string;
  /** The printed value in the unit compared: °C, V, mA, mW. */
  parse: (text: string) => number;
  /** API / profile value in the compared unit (powers: dBm -> mW, null -> 0). */
  toUnit: (value: number | null) => number;
  /** Half a raw count plus half of ethtool's last printed digit, in the compared unit. */
  tolerance: number;
}[] = [
  {
    key: "txBiasMa",
    label: "Laser bias current",
    reading: () => "Laser bias current",
    parse: (t) => unit(t, "mA"),
    toUnit: (v) => v ?? 0,
    tolerance: 0.001 + 0.0005, // 2 µA counts, "%.3f mA"
  },
  {
    key: "txPowerDbm",
    label: "Laser output power",
    reading: () => "Laser output power",
    parse: (t) => unit(t, "mW"),
    toUnit: milliwatts,
    tolerance: 0.00005 + 0.00005, // 0.1 µW counts, "%.4f mW"
  },
  {
    key: "rxPowerDbm",
    label: "Laser rx power",
    reading: (p) =>
      p.codes.diagnosticMonitoringType?.includes("rxPowerAverage")
        ? "Receiver signal average optical power"
        : "Receiver signal OMA",
    parse: (t) => unit(t, "mW"),
    toUnit: milliwatts,
    tolerance: 0.00005 + 0.00005,
  },
  {
    key: "temperatureC",
    label: "Module temperature",
    reading: () => "Module temperature",
    parse: (t) => unit(t, "degrees C"),
    toUnit: (v) => v ?? NaN,
    tolerance: 1 / 512 + 0.005, // 1/256 °C counts, "%.2f degrees C"
  },
  {
    key: "vccV",
    label: "Module voltage",
    reading: () => "Module voltage",
    parse: (t) => unit(t, "V"),
    toUnit: (v) => v ?? NaN,
    tolerance: 0.00005 + 0.00005, // 100 µV counts, "%.4f V"
  },
];

/** ethtool's order of the flags (and thresholds) of each quantity, with the profile's names. */
const FLAGS = [
  ["high", "alarm", "highAlarm"],
  ["low", "alarm", "lowAlarm"],
  ["high", "warning", "highWarning"],
  ["low", "warning", "lowWarning"],
] as const;

function milliwatts(dbm: number | null): number {
  return dbm === null ? 0 : 10 ** (dbm / 10);
}

/** "7.100 mA" -> 7.1; "0.4898 mW / -3.10 dBm" -> 0.4898 (the first number, in the unit given). */
function unit(text: string, name: string): number {
  const m = new RegExp(`^(-?\\d+(?:\\.\\d+)?) ?${name}\\b`).exec(text);
  if (!m) throw new Error(`"${text}" is not a value in ${name}`);
  return Number(m[1]);
}

interface Profile {
  id: string;
  codes: {
    identifier: string;
    connector: string;
    transceiverCodes: string[];
    encoding: string;
    brNominal100Mbd: number;
    diagnosticMonitoringType?: string[];
    enhancedOptions?: string[];
    sff8472Compliance?: string;
  };
  wavelengthNm?: number;
  thresholds?: Record<
    Quantity,
    { lowAlarm: number; lowWarning: number; highWarning: number; highAlarm: number }
  >;
}

async function readProfile(id: string): Promise<Profile> {
  return parseYaml(await Deno.readTextFile(path.join(REPO_ROOT, "devices", `${id}.yaml`))) as Profile;
}

/** GET .../module, with the fields this test reads besides the harness' ApiModule. */
type Module = ApiModule & { vendorOui: string; wavelengthNm?: number };

/** What the API and the profile say about one module at one moment. */
interface Truth {
  cage: number;
  module: Module;
  profile: Profile;
  a0: string;
  a2: string;
}

async function truth(emulator: Emulator, cage: number): Promise<Truth> {
  const module = await moduleOf(emulator, cage) as Module;
  const { a0, a2 } = await eeprom(emulator, cage);
  return { cage, module, profile: await readProfile(module.profile), a0, a2 };
}

/**
 * sfp.c's sfp_module_info: SFF-8472 (A0h + A2h, 512 bytes) when A0h 94 (compliance) is set and A0h
 * 92 bit 2 (address change required) is clear, else SFF-8079 (A0h, 256 bytes).
 */
const sff8472 = (p: Profile) =>
  (p.codes.sff8472Compliance ?? "none") !== "none" &&
  !p.codes.diagnosticMonitoringType?.includes("addressChangeRequired");
/** ethtool decodes the A2h diagnostics when it has them and A0h 92 bit 6 says they are there. */
const hasDdm = (p: Profile) =>
  sff8472(p) && (p.codes.diagnosticMonitoringType?.includes("ddmImplemented") ?? false);

// ---------------------------------------------------------------------------------------------
// The guest

function guestScript(): string {
  const wired = WIRED.map(({ cage, device }) => `dev${cage}=$(ls /sys/bus/platform/devices/${device}/net)`);
  const read = (tag: string) => WIRED.map(({ cage }) => `m_read ${tag}.${cage} "$dev${cage}"`).join("\n");
  return `
e2e_kmsg_stream 'sfp[0-9]+: |macb '
${SFP_GUEST_FUNCTIONS}
probed() { state_is "$1" 'Module state' error || state_is "$1" 'Module state' present; }
# m_read TAG NETDEV: what \`ethtool -m\` prints (E2E-FILE: TAG: ...), its exit status, and the raw
# dump as one line of hex (E2E: TAG.raw=...), with the time both took (centiseconds).
m_read() {
  e2e_now; _t0=$E2E_NOW
  ethtool -m "$2" >/tmp/m 2>&1; e2e "$1.rc" $?
  e2e_file "$1" /tmp/m
  ethtool -m "$2" raw on >/tmp/raw 2>/tmp/m; e2e "$1.raw.rc" $?
  e2e_file "$1.raw.err" /tmp/m
  e2e "$1.raw" "$(od -An -v -tx1 /tmp/raw | tr -d ' \\n')"
  e2e_now; e2e "$1.cs" $((E2E_NOW - _t0))
}
temperature_is() { read -r _v <"$HW/temp1_input"; [ "$_v" = "$1" ]; }

${wired.join("\n")}
${WIRED.map(({ cage }) => `e2e netdev.${cage} "$dev${cage}"`).join("\n")}
${
    WIRED.map(({ cage }) =>
      `if e2e_wait 60 probed ${cage}; then e2e probed.${cage} yes; else e2e probed.${cage} timeout; fi
e2e_file state.${cage} /sys/kernel/debug/sfp${cage}/state`
    ).join("\n")
  }
${read("before")}

e2e step patch
if hwmon_of sfp${PATCHES[1].cage} && e2e_wait 30 temperature_is ${
    hwmonTemperature(temperatureRaw(SYNC_C))
  }; then
  e2e patched yes
else
  e2e patched "timeout (temp1_input \${_v:-none})"
fi
${read("after")}

e2e step unplug
wait_state copper.gone ${COPPER.cage} 'Module state' empty 30
e2e step plug
if e2e_wait 60 probed ${COPPER.cage}; then e2e probed.copper yes; else e2e probed.copper timeout; fi
e2e_file state.copper /sys/kernel/debug/sfp${COPPER.cage}/state
m_read copper "$dev${COPPER.cage}"
`;
}

// ---------------------------------------------------------------------------------------------
// Reading ethtool's output

/** ethtool's "\tName<padding> : value" lines as name -> values (names like "Option" repeat). */
function ethtoolFields(lines: string[]): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const line of lines) {
    const at = line.indexOf(" : ");
    if (at < 0) continue;
    const name = line.slice(0, at).trim();
    fields.set(name, [...(fields.get(name) ?? []), line.slice(at + 3).trim()]);
  }
  return fields;
}

/** How two hex dumps differ: their lengths, and the first bytes that differ in their common part. */
function byteDiff(got: string, want: string): string {
  const out: string[] = [];
  for (let i = 0; i < Math.min(got.length, want.length) / 2 && out.length < 8; i++) {
    const [g, w] = [got.slice(2 * i, 2 * i + 2), want.slice(2 * i, 2 * i + 2)];
    if (g !== w) out.push(`${i < 256 ? "A0h" : "A2h"} 0x${(i % 256).toString(16)}: ethtool ${g}, API ${w}`);
  }
  const common = Math.min(got.length, want.length) / 2;
  return `${got.length / 2} bytes from ethtool, ${want.length / 2} from the API; ${
    out.length ? out.join("; ") : `the first ${common} bytes are equal`
  }`;
}

/**
 * Checks one module's `ethtool -m` (decoded and raw, under TAG in the console) against the API and
 * the profile; returns what it compared ("512 bytes, 58 fields").
 */
function checkEthtool(lines: string[], results: Record<string, string>, tag: string, t: Truth): string {
  const { module: m, profile: p } = t;
  // A dark laser's Tx power is null (-inf dBm).
  const readings = m.diagnostics as unknown as Record<Quantity, number | null>;
  const where = `${tag} (cage ${t.cage}, ${p.id})`;
  assert.equal(
    results[`${tag}.rc`],
    "0",
    `${where}: ethtool -m failed: ${guestFile(lines, tag).join(" | ")}`,
  );
  assert.equal(
    results[`${tag}.raw.rc`],
    "0",
    `${where}: ethtool -m raw on failed: ${guestFile(lines, `${tag}.raw.err`).join(" | ")}`,
  );
  const ddm = hasDdm(p);
  let compared = 0;

  const fields = ethtoolFields(guestFile(lines, tag));
  const one = (name: string) => {
    const values = fields.get(name);
    assert.ok(values?.length === 1, `${where}: ethtool printed ${JSON.stringify(values)} for "${name}"`);
    compared++;
    return values[0];
  };
  const text = (name: string, expected: string) => assert.equal(one(name), expected, `${where}: ${name}`);

  text("Identifier", spelled(IDENTIFIER, p.codes.identifier, "identifier"));
  text("Connector", spelled(CONNECTOR, p.codes.connector, "connector"));
  text("Encoding", spelled(ENCODING, p.codes.encoding, "encoding"));
  assert.deepEqual(
    fields.get("Transceiver type") ?? [],
    p.codes.transceiverCodes.map((c) => spelled(TRANSCEIVER, c, "transceiver code")),
    `${where}: Transceiver type`,
  );
  text("BR, Nominal", `${p.codes.brNominal100Mbd * 100}MBd`);
  // A module without a wavelength (copper) has 0 in A0h 60-61.
  text("Laser wavelength", `${m.wavelengthNm ?? 0}nm`);
  text("Vendor name", m.vendorName);
  text("Vendor OUI", m.vendorOui);
  text("Vendor PN", m.vendorPn);
  text("Vendor rev", m.vendorRev);
  text("Vendor SN", m.vendorSn);
  text("Date code", m.dateCode);

  // Raw: what the kernel reports, A0h then A2h (512 bytes) or A0h alone (256).
  const raw = results[`${tag}.raw`] ?? "";
  const api = sff8472(p) ? t.a0 + t.a2 : t.a0;
  assert.ok(raw === api, `${where}: ethtool's raw dump is not the API's EEPROM: ${byteDiff(raw, api)}`);

  if (!ddm) {
    // SFF-8079: ethtool shows no diagnostics at all.
    assert.ok(!fields.has("Module temperature"), `${where}: diagnostics without DDM`);
    return `${raw.length / 2} bytes, ${compared} fields`;
  }
  text("Optical diagnostics support", "Yes");
  text(
    "Alarm/warning flags implemented",
    p.codes.enhancedOptions?.includes("alarmWarningFlags") ? "Yes" : "No",
  );
  const near = (got: number, want: number, tolerance: number, what: string) =>
    assert.ok(
      Math.abs(got - want) <= tolerance * (1 + 1e-9),
      `${where}: ${what}: ethtool ${got}, expected ${want} (± ${+tolerance.toPrecision(3)})`,
    );
  for (const q of QUANTITIES) {
    const value = q.toUnit(readings[q.key]);
    const name = q.reading(p);
    const reading = one(name);
    near(q.parse(reading), value, q.tolerance, name);
    if (q.key === "txPowerDbm" || q.key === "rxPowerDbm") {
      const apiDbm = readings[q.key];
      // The dBm ethtool prints, from its mW: -inf for a dark laser, else within the count's rounding.
      const dbm = /\/ (-?(?:\d+(?:\.\d+)?|inf)) dBm$/.exec(reading)?.[1];
      const countDb = (10 / Math.LN10) * (0.00005 / Math.min(value, q.parse(reading)));
      if (apiDbm === null) assert.equal(dbm, "-inf", `${where}: ${reading}`);
      else near(Number(dbm), apiDbm, countDb + 0.005, `${name} in dBm`);
    }
    const limits = p.thresholds![q.key];
    for (const [side, level, key] of FLAGS) {
      const limit = q.toUnit(limits[key]);
      const flag = `${q.label} ${side} ${level}`;
      near(q.parse(one(`${flag} threshold`)), limit, q.tolerance, `${flag} threshold`);
      // The flag, from the API's reading and the profile's threshold. A reading within a count of
      // its threshold would make this a coin toss: the test's values stay clear of them.
      assert.ok(
        Math.abs(value - limit) > q.tolerance,
        `${where}: ${q.key} ${value} is too close to its ${key} ${limit} to call the flag`,
      );
      text(flag, (side === "high" ? value > limit : value < limit) ? "On" : "Off");
    }
  }

  return `${raw.length / 2} bytes, ${compared} fields`;
}

/** The flags that read On in one of ethtool's decoded outputs. */
function flagsOn(lines: string[], tag: string): string[] {
  return [...ethtoolFields(guestFile(lines, tag))]
    .filter(([name, values]) => / (alarm|warning)$/.test(name) && values.includes("On"))
    .map(([name]) => name);
}

// ---------------------------------------------------------------------------------------------

Deno.test("e2e aarch64 versal: ethtool -m against the API and the profiles", async (t) => {
  const check = artifacts.checker(t);
  try {
    await withEmulator(workDir, "aarch64-ethtool", async (emulator, stateDir) => {
      const { args } = await aarch64BoardTree(workDir, "aarch64-ethtool", stateDir, {
        machine: "xlnx-versal-virt",
        memory: "512M",
        macs: WIRED.map(({ cage, mac }) => `${cage}=${mac}`),
      });
      const before: Record<number, Truth> = {};
      const after: Record<number, Truth> = {};
      let copper: Truth | undefined;
      let unplugIndex = 0;
      let plugIndex = 0;

      const r = await runGuest({
        arch: "aarch64",
        machine: "xlnx-versal-virt",
        name: "aarch64-ethtool",
        workDir,
        script: guestScript(),
        modules: ["virtio_mmio", "i2c-virtio", "gpio-virtio", "i2c-dev", "i2c-mux-pca954x", "sfp", "macb"],
        files: ethtoolFiles(),
        sharedMemory: false,
        extraArgs: args,
        onStarted: async (vm) => {
          const step = (name: string, from: LineMatch | undefined, timeoutMs: number) =>
            vm.waitFor(`E2E: step=${name}`, { fromIndex: from?.index ?? 0, timeoutMs });
          // The guest has read every module as plugged; nothing has changed them since.
          const patch = await step("patch", undefined, 180_000);
          for (const { cage } of WIRED) before[cage] = await truth(emulator, cage);
          for (const { cage, diagnostics } of PATCHES) {
            await emulator.request("PATCH", `${cagePath(cage)}/diagnostics`, diagnostics);
          }
          for (const { cage } of WIRED) after[cage] = await truth(emulator, cage);
          // A swap within one of the driver's 100 ms polls would go unseen: the guest waits for
          // the cage to be empty before the new module goes in.
          const unplug = await step("unplug", patch, 120_000);
          unplugIndex = unplug.index;
          await emulator.request("DELETE", cagePath(COPPER.cage));
          const plug = await step("plug", unplug, 120_000);
          plugIndex = plug.index;
          await emulator.request("PUT", cagePath(COPPER.cage), { profile: COPPER.profile });
          copper = await truth(emulator, COPPER.cage);
        },
      });
      assert.equal(r.results.modules, "ok", `module loading: ${r.results.modules}`);
      assert.equal(r.rc, 0, `guest script rc ${r.rc}; log ${r.logFile}`);
      const g = r.results;
      /** The kernel's messages from console line `from` on (optionally up to `to`). */
      const kernel = (from = 0, to = r.lines.length) => r.lines.slice(from, to).flatMap((l) => kmsg(l) ?? []);
      /** The identity in sfpN's one "module ..." line (else the failure says what sfpN said). */
      const probeIdentity = (said: string[], cage: number) => {
        const probe = said.filter((s) => parseModuleLine(s)?.cage === cage);
        const others = said.filter((s) => s.startsWith(`sfp sfp${cage}: `));
        assert.equal(
          probe.length,
          1,
          `sfp${cage}'s "module ..." lines; sfp${cage} said ${JSON.stringify(others)}`,
        );
        return parseModuleLine(probe[0]);
      };
      const report: string[] = [];

      await check("the optics: probed by sfp, refused by phylink (module state error)", () => {
        const said = kernel(0, unplugIndex);
        for (const { cage, device } of WIRED) {
          const netdev = g[`netdev.${cage}`];
          assert.match(netdev, /^eth\d$/, `cage ${cage}: no netdev under ${device}`);
          assert.equal(g[`probed.${cage}`], "yes", `sfp${cage} was never probed`);
          assert.deepEqual(probeIdentity(said, cage), moduleIdentity(cage, before[cage].module));
          // phylink's refusal. macb attaches the socket before it registers the netdev, so when the
          // module is probed first (a loaded host) the kernel has no name for it yet.
          const refused = said.filter((l) =>
            l.startsWith(`macb ${device} `) &&
            l.endsWith(": unsupported SFP module: no common interface modes")
          );
          assert.equal(refused.length, 1, `cage ${cage}: phylink's refusal: ${JSON.stringify(said)}`);
          assert.ok(
            [netdev, "(unnamed net_device) (uninitialized)"].includes(
              refused[0].slice(`macb ${device} `.length, refused[0].lastIndexOf(": unsupported")),
            ),
            refused[0],
          );
          const state = debugfsState(guestFile(r.lines, `state.${cage}`));
          assert.equal(state["Module state"], "error", `sfp${cage}'s module state`);
          // The kernel holds the laser off: what the readings below show.
          assert.equal(state.tx_disable, "1", `sfp${cage}'s TX_DISABLE`);
        }
      });

      await check("ethtool -m = the API and the profiles, as plugged", () => {
        for (const { cage } of WIRED) {
          const n = checkEthtool(r.lines, g, `before.${cage}`, before[cage]);
          // The laser is off (the kernel holds TX_DISABLE): its low flags are on, nothing else.
          assert.deepEqual(flagsOn(r.lines, `before.${cage}`), [
            "Laser bias current low alarm",
            "Laser bias current low warning",
            "Laser output power low alarm",
            "Laser output power low warning",
          ]);
          report.push(`cage ${cage} ${before[cage].profile.id}: ${n}`);
        }
      });

      await check("after PATCH .../diagnostics: the new readings and the raised flags", () => {
        assert.equal(g.patched, "yes", "the guest's hwmon never showed the patched temperature");
        for (const { cage } of WIRED) {
          checkEthtool(r.lines, g, `after.${cage}`, after[cage]);
          const raised = flagsOn(r.lines, `after.${cage}`).filter((f) =>
            !flagsOn(r.lines, `before.${cage}`).includes(f)
          );
          assert.deepEqual(raised, RAISED[cage], `cage ${cage}: flags raised by the PATCH`);
        }
        const t1 = ethtoolFields(guestFile(r.lines, `after.${PATCHES[1].cage}`)).get("Module temperature");
        report.push(`after PATCH: ${t1}, raised ${Object.values(RAISED).flat().length} flags`);
      });

      await check("the copper module (accepted by phylink, no A2h): 256 bytes = the API's A0h", () => {
        assert.equal(g["copper.gone"], "empty", "the driver never saw cage 2 empty");
        assert.equal(g["probed.copper"], "yes");
        const state = debugfsState(guestFile(r.lines, "state.copper"))["Module state"];
        assert.equal(state, "present", `sfp${COPPER.cage}'s module state with the copper module`);
        const said = kernel(plugIndex);
        assert.deepEqual(probeIdentity(said, COPPER.cage), moduleIdentity(COPPER.cage, copper!.module));
        assert.ok(!said.some((s) => s.includes("unsupported SFP module")), JSON.stringify(said));
        const n = checkEthtool(r.lines, g, "copper", copper!);
        report.push(`copper ${copper!.profile.id}: ${n}`);
      });

      const ethtoolMs = Object.entries(g).filter(([k]) => k.endsWith(".cs")).map(([, v]) => Number(v) * 10);
      console.log(
        `[e2e] aarch64 versal ethtool: /init at ${g["uptime.init"]} s, E2E-END after ${
          (r.markerMs / 1000).toFixed(1)
        } s; ethtool -m (text + raw) ${Math.min(...ethtoolMs)}-${Math.max(...ethtoolMs)} ms; ${
          report.join("; ")
        }; log ${r.logFile}`,
      );
    });
  } catch (error) {
    artifacts.fail();
    throw error;
  }
});
