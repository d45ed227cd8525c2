// What the board e2e tests share: where artifacts go, the emulator on the tier's board topology,
// `sfpemu vm-config` run as a user runs it, and the API shapes the tests read.
import * as path from "node:path";
import { Emulator, sfpemuBinary } from "./emulator.ts";
import { deadline, E2E_DIR } from "./qemu.ts";

/** The tier's board: olt1/lt1, 10 cages, modules in cages 1, 2 and 9. */
export const TOPOLOGY = path.join(E2E_DIR, "board.yaml");
export const BOARD = "olt1/lt1";
export const BOARD_PATH = "/olts/olt1/boards/lt1";

/**
 * Artifacts (guest serial logs, emulator logs, device trees, vm-config output) go to
 * SFPEMU_E2E_WORK, which tests/e2e/run.sh sets to build/e2e-artifacts/<timestamp>/; without it, to
 * a temp dir that is kept when a test fails.
 */
export async function artifactsDir(): Promise<{ dir: string; keep: boolean }> {
  const env = Deno.env.get("SFPEMU_E2E_WORK");
  if (env) {
    await Deno.mkdir(env, { recursive: true });
    return { dir: env, keep: true };
  }
  return { dir: await Deno.makeTempDir({ prefix: "sfpemu-e2e-" }), keep: false };
}

/**
 * Runs `fn` with a fresh emulator on the tier's topology (its own state directory, so its sockets
 * and state are its own; the socket directory is a short temp path, as unix socket paths are
 * limited to 107 bytes), then stops it and checks it exited cleanly.
 */
export async function withEmulator<T>(
  workDir: string,
  name: string,
  fn: (emulator: Emulator, stateDir: string) => Promise<T>,
): Promise<T> {
  const stateDir = await Deno.makeTempDir({ prefix: "sfpemu-e2e-state-" });
  const emulator = await Emulator.start({
    topology: TOPOLOGY,
    stateDir,
    logFile: path.join(workDir, `${name}-emulator.log`),
  });
  let result: T;
  try {
    result = await fn(emulator, stateDir);
  } catch (error) {
    await emulator.stop();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    throw error;
  }
  const status = await emulator.stop();
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  if (status.code !== 0) {
    throw new Error(`sfpemu run exited with code ${status.code} after the test:\n${emulator.tail()}`);
  }
  return result;
}

/** `sfpemu vm-config ARGS...`; its stdout, or an error with its stderr. */
export async function vmConfig(args: string[]): Promise<string> {
  const child = new Deno.Command(sfpemuBinary(), {
    args: ["vm-config", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), deadline(60_000));
  try {
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`sfpemu vm-config ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return stdout;
  } finally {
    clearTimeout(timer);
  }
}

/** The API's host:port, for `--api`. */
export function apiAddress(emulator: Emulator): string {
  return new URL(emulator.api).host;
}

export interface ApiModule {
  profile: string;
  vendorName: string;
  vendorPn: string;
  vendorRev: string;
  vendorSn: string;
  dateCode: string;
  diagnostics: {
    temperatureC: number;
    vccV: number;
    txBiasMa: number;
    txPowerDbm: number;
    rxPowerDbm: number;
  };
}

export interface ApiTopology {
  olts: {
    id: string;
    boards: {
      id: string;
      sockets: { i2c: string; gpio: string };
      cages: { id: number; module: unknown }[];
    }[];
  }[];
}

export const cagePath = (cage: number) => `${BOARD_PATH}/cages/${cage}/module`;

export async function eeprom(emulator: Emulator, cage: number): Promise<{ a0: string; a2: string }> {
  return await emulator.request("GET", `${cagePath(cage)}/eeprom`) as { a0: string; a2: string };
}

export async function moduleOf(emulator: Emulator, cage: number): Promise<ApiModule> {
  return await emulator.request("GET", cagePath(cage)) as ApiModule;
}

/** The cages that hold a module at the start, from the API. */
export async function pluggedCages(emulator: Emulator): Promise<number[]> {
  const topology = await emulator.request("GET", "/topology") as ApiTopology;
  const board = topology.olts.find((o) => o.id === "olt1")!.boards.find((b) => b.id === "lt1")!;
  return board.cages.filter((c) => c.module).map((c) => c.id);
}
