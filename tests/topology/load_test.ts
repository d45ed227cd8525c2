// Loading valid topologies: the examples, the built-in default, inheritance, environment references
// and socket paths.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadDefaultTopology } from "../../src/topology/default.ts";
import { loadTopologyFile } from "../../src/topology/load.ts";
import type { Board, Topology } from "../../src/topology/model.ts";
import { baseTopology, catalogProfiles, load, testSocketDir } from "./fixtures.ts";

const examples = fileURLToPath(new URL("../../examples/", import.meta.url));

function board(topology: Topology, olt: string, id: string): Board {
  const found = topology.olts.find((candidate) => candidate.id === olt)?.boards.find((b) => b.id === id);
  assert.ok(found, `no board ${olt}/${id}`);
  return found;
}

const modulesOf = (b: Board) => b.cages.filter((cage) => cage.module !== null).length;

Deno.test("examples/minimal.yaml: one OLT, one board, two cages", async () => {
  const topology = await loadTopologyFile(`${examples}minimal.yaml`, {
    knownProfiles: catalogProfiles,
    env: {},
  });
  assert.equal(topology.name, "minimal");
  assert.equal(topology.olts.length, 1);
  const lt1 = board(topology, "olt1", "lt1");
  assert.deepEqual(lt1.cages, [
    { id: 1, formFactor: "sfp+", module: { profile: "sfp-10gbase-sr", overrides: {} } },
    { id: 2, formFactor: "sfp+", module: null },
  ]);
  // No socket directory anywhere: the topology file's own directory.
  assert.equal(lt1.sockets.i2c, `${examples}olt1-lt1-i2c.sock`);
  assert.equal(lt1.sockets.gpio, `${examples}olt1-lt1-gpio.sock`);
});

Deno.test("examples/olt-chassis.yaml: two OLTs of an NT and four 16-port line boards", async () => {
  const topology = await loadTopologyFile(`${examples}olt-chassis.yaml`, {
    knownProfiles: catalogProfiles,
    env: {},
  });
  assert.deepEqual(topology.olts.map((olt) => olt.id), ["olt1", "olt2"]);
  for (const olt of topology.olts) {
    assert.deepEqual(olt.boards.map((b) => b.id), ["nt", "lt1", "lt2", "lt3", "lt4"]);
    for (const lineBoard of olt.boards.slice(1)) assert.ok(lineBoard.cageCount >= 16);
  }
  const profiles = new Set(
    topology.olts.flatMap((olt) => olt.boards.flatMap((b) => b.cages.map((cage) => cage.module?.profile))),
  );
  for (const pon of ["sfp-gpon-olt-bplus", "sfp-gpon-olt-cplus", "sfpp-xgspon-olt-n1"]) {
    assert.ok(profiles.has(pon));
  }

  // The NT board: its kind's SFP28 cages, the default extras, its own ID EEPROM content.
  const nt = board(topology, "olt1", "nt");
  assert.deepEqual(nt.cages.map((cage) => cage.formFactor), [
    "sfp+",
    "sfp+",
    "sfp+",
    "sfp+",
    "sfp28",
    "sfp28",
  ]);
  assert.deepEqual(nt.extras, {
    idEeprom: true,
    temperatureSensor: true,
    idEepromContent: { productName: "NT-6U", partNumber: "3FE-1001-AA", serialNumber: "NT0001" },
    boardTemperatureC: 41.5,
  });

  // lt1 takes its kind from defaults, and shares its cages with lt2 through a YAML alias.
  const lt1 = board(topology, "olt1", "lt1");
  assert.equal(lt1.kind, "gpon-16");
  assert.equal(modulesOf(lt1), 8);
  assert.deepEqual(lt1.cages[4].module, {
    profile: "sfp-gpon-olt-cplus",
    overrides: {
      vendorName: "ACME PHOTONICS",
      vendorPn: "APX-GC-2000",
      vendorSn: "AP2401150005",
      dateCode: "240115",
    },
  });
  assert.deepEqual(board(topology, "olt1", "lt2").cages, lt1.cages);
  assert.notEqual(board(topology, "olt1", "lt2").cages[4].module, lt1.cages[4].module);

  const uplinks = board(topology, "olt1", "lt4");
  assert.deepEqual(uplinks.cages.slice(15).map((cage) => cage.formFactor), ["sfp", "sfp+", "sfp+"]);
  assert.deepEqual(uplinks.cages[3].module?.diagnostics, { temperatureC: 68, rxPowerDbm: -27.5 });
  assert.equal(board(topology, "olt2", "lt2").cages[1].module?.overrides.vendorOui, "00:1B:21");
  assert.equal(board(topology, "olt2", "lt4").dataReadyDelayMs, 1000);
  assert.equal(board(topology, "olt2", "lt3").dataReadyDelayMs, 300);
  assert.equal(board(topology, "olt2", "nt").sockets.gpio, "/tmp/sfpemu/pon-lab/olt2-nt-gpio.sock");
});

Deno.test("examples/env.yaml: defaults when the variables are unset, values when set", async () => {
  const file = `${examples}env.yaml`;
  const unset = await loadTopologyFile(file, { knownProfiles: catalogProfiles, env: {} });
  assert.equal(unset.socketDir, "/tmp/sfpemu");
  assert.equal(unset.stateDir, "/tmp/sfpemu/state");
  assert.equal(board(unset, "olt1", "lt1").slot, 1);
  assert.equal(board(unset, "olt1", "lt1").cages[0].module?.profile, "sfp-gpon-olt-cplus");

  const set = await loadTopologyFile(file, {
    knownProfiles: catalogProfiles,
    env: { SFPEMU_SOCKET_DIR: "/run/lab", SFPEMU_OLT: "olt7", SFPEMU_LT1_SLOT: "4", SFPEMU_LT1_SN: "X1" },
  });
  const lt1 = board(set, "olt7", "lt1");
  assert.equal(lt1.slot, 4);
  assert.equal(lt1.sockets.i2c, "/run/lab/olt7-lt1-i2c.sock");
  assert.equal(lt1.cages[1].module?.overrides.vendorSn, "X1");
});

Deno.test("the built-in default topology: olt1 with nt, lt1 and lt2, full and empty cages", () => {
  const topology = loadDefaultTopology({ knownProfiles: catalogProfiles, socketDir: "/run/sfpemu" });
  assert.equal(topology.file, undefined);
  assert.deepEqual(topology.olts.map((olt) => [olt.id, olt.boards.map((b) => b.id)]), [["olt1", [
    "nt",
    "lt1",
    "lt2",
  ]]]);
  const profiles = new Set(
    topology.olts[0].boards.flatMap((b) => b.cages.map((cage) => cage.module?.profile)),
  );
  assert.deepEqual([...profiles].filter((p) => p !== undefined).sort(), [...catalogProfiles].sort());
  assert.ok(
    topology.olts[0].boards.every((b) => b.cages.some((cage) => cage.module === null) || b.id === "nt"),
  );
  assert.equal(board(topology, "olt1", "lt1").sockets.i2c, "/run/sfpemu/olt1-lt1-i2c.sock");
});

Deno.test("inheritance: board over kind over defaults over built-in defaults", () => {
  const topology = load(`name: lab
defaults:
  kind: small
  cages: 4
  formFactor: sfp28
  temperatureSensor: true
  dataReadyDelayMs: 50
kinds:
  small:
    description: a small board
  big:
    cages: 8
    formFactor: sfp+
    idEeprom: true
    dataReadyDelayMs: 20
    cageFormFactors: { 8: sfp28 }
olts:
  - id: olt1
    boards:
      - { id: a, slot: 1 }
      - { id: b, slot: 2, kind: big }
      - { id: c, slot: 3, kind: big, formFactor: sfp, idEeprom: false, dataReadyDelayMs: 0, description: c board }
`);
  const [a, b, c] = topology.olts[0].boards;
  assert.deepEqual(
    [a.kind, a.cageCount, a.formFactor, a.extras, a.dataReadyDelayMs, a.description],
    ["small", 4, "sfp28", { idEeprom: false, temperatureSensor: true }, 50, "a small board"],
  );
  assert.deepEqual(
    [b.kind, b.cageCount, b.formFactor, b.extras, b.dataReadyDelayMs, b.description],
    ["big", 8, "sfp+", { idEeprom: true, temperatureSensor: true }, 20, undefined],
  );
  assert.deepEqual(b.cages.map((cage) => cage.formFactor), [...Array(7).fill("sfp+"), "sfp28"]);
  assert.deepEqual(
    [c.formFactor, c.extras, c.dataReadyDelayMs, c.description],
    ["sfp", { idEeprom: false, temperatureSensor: true }, 0, "c board"],
  );
  // A per-cage form factor belongs to the kind's cage, whatever the board's own form factor.
  assert.deepEqual(c.cages.map((cage) => cage.formFactor), [...Array(7).fill("sfp"), "sfp28"]);
});

Deno.test("built-in defaults when nothing is said", () => {
  const lt1 = load(baseTopology).olts[0].boards[0];
  assert.equal(lt1.formFactor, "sfp");
  assert.deepEqual(lt1.extras, { idEeprom: false, temperatureSensor: false });
  assert.equal(lt1.dataReadyDelayMs, 300);
  assert.equal(lt1.cages.length, 16);
  assert.deepEqual(lt1.cages.map((cage) => cage.id), Array.from({ length: 16 }, (_, i) => i + 1));
});

Deno.test("cages: a profile id, a module with overrides, null or absent for empty", () => {
  const topology = load(baseTopology.replace(
    "1: sfp-gpon-olt-bplus",
    `1: sfp-gpon-olt-bplus
          2:
          3: ~
          "4": sfp-10gbase-lr
          5:
            profile: sfp-gpon-olt-cplus
            vendorName: ACME
            vendorPn: "12345"
            vendorRev: 1.0
            vendorSn: 0012345
            dateCode: 240229AB
            vendorOui: 0090-65
            diagnostics: { temperatureC: -5, vccV: 3.3, txBiasMa: 12.5, txPowerDbm: 3, rxPowerDbm: -28.1 }`,
  ));
  const cages = topology.olts[0].boards[0].cages;
  assert.deepEqual(cages.slice(0, 4).map((cage) => cage.module?.profile ?? null), [
    "sfp-gpon-olt-bplus",
    null,
    null,
    "sfp-10gbase-lr",
  ]);
  assert.deepEqual(cages[4].module, {
    profile: "sfp-gpon-olt-cplus",
    // Unquoted numbers are kept as written: vendorRev 1.0, not 1; vendorSn 0012345, not 12345.
    overrides: {
      vendorName: "ACME",
      vendorPn: "12345",
      vendorRev: "1.0",
      vendorSn: "0012345",
      dateCode: "240229AB",
      vendorOui: "00:90:65",
    },
    diagnostics: { temperatureC: -5, vccV: 3.3, txBiasMa: 12.5, txPowerDbm: 3, rxPowerDbm: -28.1 },
  });
});

Deno.test("OLTs and boards as lists or as maps by id", () => {
  const topology = load(`name: lab
defaults: { kind: k }
kinds: { k: { cages: 2 } }
olts:
  olt1:
    boards:
      lt1: { slot: 1, cages: { 1: sfp-10gbase-sr } }
      lt2: { id: lt2, slot: 2 }
  olt2:
    boards:
      - { id: lt1, slot: 1 }
`);
  assert.deepEqual(topology.olts.map((olt) => [olt.id, olt.boards.map((b) => `${b.id}@${b.slot}`)]), [
    ["olt1", ["lt1@1", "lt2@2"]],
    ["olt2", ["lt1@1"]],
  ]);
});

Deno.test("environment references: set, unset with default, empty with default, literal", () => {
  const topology = load(
    `name: \${LAB:=lab}
defaults:
  socketDir: \${RUN}/\${SUB:=sockets}
kinds:
  k:
    cages: \${CAGES}
    description: "costs $$5, written $\${NOT_A_VAR}"
olts:
  - id: olt1
    boards:
      - id: lt1
        slot: \${SLOT:=7}
        kind: k
        idEeprom: \${EEPROM}
`,
    { env: { RUN: "/run", SUB: "", CAGES: "0x10", EEPROM: "true" } },
  );
  assert.equal(topology.name, "lab");
  assert.equal(topology.socketDir, "/run/sockets");
  const lt1 = topology.olts[0].boards[0];
  assert.equal(lt1.cageCount, 16);
  assert.equal(lt1.slot, 7);
  assert.equal(lt1.extras.idEeprom, true);
  assert.equal(lt1.description, "costs $$5, written ${NOT_A_VAR}");
});

Deno.test('a quoted reference stays text: slot: "${SLOT}" is not a number', () => {
  assert.throws(
    () => load(baseTopology.replace("slot: 1", 'slot: "${SLOT}"'), { env: { SLOT: "3" } }),
    /expected an integer 0\.\.255, got the string "3"/,
  );
});

Deno.test("socket paths: default directory, the caller's, the topology's, explicit ones", () => {
  const text = baseTopology;
  assert.equal(load(text).olts[0].boards[0].sockets.i2c, `${testSocketDir}/olt1-lt1-i2c.sock`);
  // Relative paths in the file are relative to the file's directory.
  const inFile = load(text.replace("kinds:", "defaults:\n  socketDir: run/sockets\nkinds:"), {
    file: "/srv/lab/topology.yaml",
  });
  assert.equal(inFile.socketDir, "/srv/lab/run/sockets");
  assert.equal(inFile.olts[0].boards[0].sockets.gpio, "/srv/lab/run/sockets/olt1-lt1-gpio.sock");
  // The state directory holds the sockets when no socket directory is named.
  const inState = load(text.replace("kinds:", "defaults:\n  stateDir: /var/lib/sfpemu\nkinds:"));
  assert.equal(inState.stateDir, "/var/lib/sfpemu");
  assert.equal(inState.olts[0].boards[0].sockets.i2c, "/var/lib/sfpemu/olt1-lt1-i2c.sock");
  const explicit = load(
    text.replace(
      "        slot: 1\n",
      "        slot: 1\n        sockets: { i2c: ../vm/lt1.i2c, gpio: /run/lt1.gpio }\n",
    ),
    { file: "/srv/lab/topology.yaml" },
  );
  assert.deepEqual(explicit.olts[0].boards[0].sockets, { i2c: "/srv/vm/lt1.i2c", gpio: "/run/lt1.gpio" });
  // Without a file or a caller's directory: the working directory.
  const bare = load(text, { file: undefined, socketDir: undefined });
  assert.equal(bare.olts[0].boards[0].sockets.i2c, `${Deno.cwd()}/olt1-lt1-i2c.sock`);
});

Deno.test("socket paths at the 107-byte limit load; one byte more does not", () => {
  const name = "olt1-lt1-gpio.sock";
  const fits = "/tmp/" + "s".repeat(107 - "/tmp/".length - name.length - 1);
  const socketsIn = (dir: string) =>
    load(baseTopology.replace("kinds:", `defaults:\n  socketDir: ${dir}\nkinds:`));
  assert.equal(new TextEncoder().encode(socketsIn(fits).olts[0].boards[0].sockets.gpio).length, 107);
  assert.throws(() => socketsIn(fits + "s"), /gpio socket \/tmp\/s+\/olt1-lt1-gpio\.sock is 108 bytes/);
});

Deno.test("an unreadable file is an issue, not a crash", async () => {
  await assert.rejects(
    loadTopologyFile("/nonexistent/lab.yaml", { knownProfiles: catalogProfiles }),
    /^TopologyError: \/nonexistent\/lab\.yaml:1:1: cannot read the topology: no such file$/,
  );
  const binary = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeFile(binary, new Uint8Array([0x6e, 0x3a, 0x20, 0xff, 0xfe]));
    await assert.rejects(loadTopologyFile(binary, { knownProfiles: catalogProfiles }), /is not UTF-8 text/);
  } finally {
    await Deno.remove(binary);
  }
});
