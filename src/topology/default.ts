/** The topology `sfpemu run` uses when it is given no file: one small OLT with a bit of everything. */
import { type LoadOptions, loadTopology } from "./load.ts";
import type { Topology } from "./model.ts";

export const defaultTopologyText =
  `# The built-in topology of sfpemu run: one OLT with an NT board and two line boards.
name: default

defaults:
  idEeprom: true
  temperatureSensor: true

kinds:
  nt-4u:
    description: NT board, 3 SFP+ and 1 SFP28 uplink
    cages: 4
    formFactor: sfp+
    cageFormFactors: { 4: sfp28 }
  gpon-8:
    description: 8-port GPON line board
    cages: 8
    formFactor: sfp
  xgspon-8:
    description: 8-port XGS-PON line board
    cages: 8
    formFactor: sfp+

olts:
  - id: olt1
    boards:
      - id: nt
        slot: 0
        kind: nt-4u
        cages:
          1: sfp-10gbase-sr
          2: sfp-10gbase-lr
          3: sfp-10g-dac-passive-3m
          4: sfp28-25gbase-sr
      - id: lt1
        slot: 1
        kind: gpon-8
        cages:
          1: sfp-gpon-olt-bplus
          2: sfp-gpon-olt-bplus
          3: sfp-gpon-olt-cplus
          4: sfp-gpon-olt-cplus
          5: sfp-1000base-lx
      - id: lt2
        slot: 2
        kind: xgspon-8
        cages:
          1: sfpp-xgspon-olt-n1
          2: sfpp-xgspon-olt-n1
          3:
            profile: sfpp-xgspon-olt-n1
            vendorName: SFPEMU
            vendorSn: EMU0000000003
`;

/** The built-in topology, resolved like a file would be (sockets under `options.socketDir`). */
export function loadDefaultTopology(options: Omit<LoadOptions, "file">): Topology {
  return loadTopology(defaultTopologyText, options);
}
