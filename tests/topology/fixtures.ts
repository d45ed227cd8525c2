// What every topology test loads with: the catalog's profile ids, a fixed socket directory and an
// empty environment, so that no test depends on the machine it runs on.
import { type LoadOptions, loadTopology } from "../../src/topology/load.ts";
import type { Topology } from "../../src/topology/model.ts";

export const catalogProfiles: ReadonlySet<string> = new Set([
  "sfp-1000base-lx",
  "sfp-10gbase-sr",
  "sfp-10gbase-lr",
  "sfp28-25gbase-sr",
  "sfp-10g-dac-passive-3m",
  "sfp-gpon-olt-bplus",
  "sfp-gpon-olt-cplus",
  "sfpp-xgspon-olt-n1",
]);

export const testSocketDir = "/tmp/sfpemu-test";

export function load(text: string, options: Partial<LoadOptions> = {}): Topology {
  return loadTopology(text, {
    file: "lab.yaml",
    knownProfiles: catalogProfiles,
    env: {},
    socketDir: testSocketDir,
    ...options,
  });
}

/**
 * A valid topology whose lines the error cases edit; its line numbers are fixed:
 *  1 name, 4 cages of the kind, 6 the OLT, 8 the board, 9 slot, 10 kind, 12 cage 1.
 */
export const baseTopology = `name: lab
kinds:
  pon-16:
    cages: 16
olts:
  - id: olt1
    boards:
      - id: lt1
        slot: 1
        kind: pon-16
        cages:
          1: sfp-gpon-olt-bplus
`;
