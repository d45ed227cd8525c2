// sfpemu run: loads a topology (or the built-in default), opens every board's vhost-user
// sockets, serves the HTTP API, and runs until SIGINT/SIGTERM, then shuts down in order. With a
// scenario, it runs the scenario once started and exits with its result (or keeps running).
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { createApi } from "../api/app.ts";
import type { Lab } from "../lab/lab.ts";
import { MAX_SEED, parseSeed } from "../lab/seed.ts";
import { catalogEntries, sfpModuleFactory } from "../lab/sfp-modules.ts";
import { createLogger, type Logger, type LogLevel } from "../log/logger.ts";
import { EventLoop } from "../native/event-loop.ts";
import { NativeError } from "../native/syscalls.ts";
import { closeNative } from "../native/library.ts";
import { type Catalog, loadCatalog } from "../sfp/catalog.ts";
import type { SfpModule } from "../sfp/module.ts";
import { loadDefaultTopology } from "../topology/default.ts";
import { formatIssue, TopologyError } from "../topology/issue.ts";
import { loadTopologyFile } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";
import type { LabStore } from "../store/lab-store.ts";
import { StateFileError } from "../store/state-file.ts";
import { type SeedSource, startStoredLab } from "../store/stored-lab.ts";
import { VERSION } from "../version.ts";
import { runScenario } from "../scenario/runner.ts";
import type { Scenario } from "../scenario/scenario.ts";
import { inProcessTarget } from "../scenario/target.ts";
import { loadScenarioOrReport } from "./scenario-file.ts";

const usage = `usage: sfpemu run [TOPOLOGY] [options]

Starts every board of TOPOLOGY (a YAML file; without one, a small built-in OLT) with its
virtio-i2c and virtio-gpio vhost-user sockets, and the HTTP API. Runs until Ctrl-C / SIGTERM.

  --api HOST:PORT        where the API listens (default 127.0.0.1:7040; port 0 picks one)
  --api-token TOKEN      require "Authorization: Bearer TOKEN" (or set SFPEMU_API_TOKEN)
  --allow-remote         let the API listen beyond loopback without a token
  --state-dir DIR        sockets and saved state (default $XDG_STATE_HOME/sfpemu or ~/.local/state/sfpemu);
                         a restart on the same directory finds the modules, settings and user EEPROM again
  --seed N               every random choice of every module (intermittent NACKs, noise) derives from
                         N and the module's cage; without it the state file's seed (the run before
                         on this state dir), else a new one; printed so the run can be replayed
  --scenario FILE        run this scenario (sfpemu help scenario) once started, then exit with its
                         result: 0 when every step passed, 1 when one failed
  --keep-running         with --scenario: keep serving after the scenario ended, until Ctrl-C
  --log-format json|text (default: text on a terminal, json otherwise)
  --log-level debug|info|warn|error`;

interface RunOptions {
  topologyFile?: string;
  apiHost: string;
  apiPort: number;
  apiToken?: string;
  allowRemote: boolean;
  stateDir: string;
  logFormat?: "json" | "text";
  logLevel: LogLevel;
  seed?: number;
  scenarioFile?: string;
  keepRunning: boolean;
}

/** Where `sfpemu run` keeps its state file unless --state-dir says otherwise (XDG state home). */
export function defaultStateDir(): string {
  const stateHome = Deno.env.get("XDG_STATE_HOME") || `${Deno.env.get("HOME") ?? "/tmp"}/.local/state`;
  return `${stateHome}/sfpemu`;
}

export function parseApiAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`--api wants HOST:PORT (e.g. 127.0.0.1:7040), not "${text}"`);
  }
  return { host: match[1] ?? match[2], port };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function parseRunArgs(args: string[]): RunOptions {
  const parsed = parseCommandArgs({
    args,
    options: {
      api: { type: "string", default: "127.0.0.1:7040" },
      "api-token": { type: "string" },
      "allow-remote": { type: "boolean", default: false },
      "state-dir": { type: "string" },
      "log-format": { type: "string" },
      "log-level": { type: "string", default: "info" },
      seed: { type: "string" },
      scenario: { type: "string" },
      "keep-running": { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError("at most one topology file");
  const { host, port } = parseApiAddress(values.api!);
  const logFormat = values["log-format"];
  if (logFormat !== undefined && logFormat !== "json" && logFormat !== "text") {
    throw new UsageError(`--log-format is json or text, not "${logFormat}"`);
  }
  const logLevel = values["log-level"] as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new UsageError(`--log-level is debug, info, warn or error, not "${logLevel}"`);
  }
  const seed = values.seed === undefined ? undefined : parseSeed(values.seed);
  if (values.seed !== undefined && seed === undefined) {
    throw new UsageError(`--seed wants a whole number 0..${MAX_SEED}, not "${values.seed}"`);
  }
  if (values["keep-running"] && values.scenario === undefined) {
    throw new UsageError("--keep-running goes with --scenario");
  }
  return {
    topologyFile: positionals[0],
    apiHost: host,
    apiPort: port,
    apiToken: values["api-token"] ?? (Deno.env.get("SFPEMU_API_TOKEN") || undefined),
    allowRemote: values["allow-remote"]!,
    stateDir: values["state-dir"] ?? defaultStateDir(),
    logFormat,
    logLevel,
    seed,
    scenarioFile: values.scenario,
    keepRunning: values["keep-running"]!,
  };
}

async function loadTopology(options: RunOptions, catalog: Catalog): Promise<Topology> {
  const loadOptions = {
    knownProfiles: new Set(catalog.keys()),
    env: Deno.env.toObject(),
    socketDir: options.stateDir,
  };
  return options.topologyFile
    ? await loadTopologyFile(options.topologyFile, loadOptions)
    : loadDefaultTopology(loadOptions);
}

function printSummary(lab: Lab<SfpModule>, apiUrl: string, stateFile: string, seedFrom: SeedSource): void {
  const topology = lab.topology;
  const lines = [
    `sfpemu ${VERSION}: topology "${topology.name}"${
      topology.file ? ` (${topology.file})` : " (built-in default)"
    }`,
  ];
  for (const board of lab.boards) {
    const { spec } = board;
    const plugged = board.planes.cages.filter((c) => c.module).length;
    lines.push(
      `  ${board.path}  slot ${spec.slot}  ${spec.kind}  ${spec.cageCount} cages, ${plugged} modules` +
        (board.inserted ? "" : "  (removed)"),
    );
    lines.push(`    i2c  ${spec.sockets.i2c}`);
    lines.push(`    gpio ${spec.sockets.gpio}`);
  }
  const kept = seedFrom === "state file" ? "the earlier run's, kept in the state file; " : "";
  lines.push(`  seed  ${lab.seed}  (${kept}the same random choices again: --seed ${lab.seed})`);
  lines.push(`  state ${stateFile}`);
  lines.push(`  API   ${apiUrl}/api/v1  (try: curl ${apiUrl}/api/v1/topology)`);
  // One machine-readable line, last: scripts and tests wait for it and take the API address from it.
  lines.push(`ready api=${apiUrl} state=${stateFile}`);
  console.log(lines.join("\n"));
}

export const runCommand: Command = {
  name: "run",
  summary: "run the emulator on a topology (or the built-in default) with its HTTP API",
  usage,
  async run(args: string[]): Promise<number> {
    const options = parseRunArgs(args);
    const log: Logger = createLogger({ format: options.logFormat, level: options.logLevel });
    if (!options.apiToken && !isLoopback(options.apiHost) && !options.allowRemote) {
      throw new UsageError(
        `the API would listen on ${options.apiHost} without a token; give --api-token, or --allow-remote to mean it`,
      );
    }
    const catalog = await loadCatalog();
    for (const error of catalog.errors) log.warn("module profile not loaded", { error: error.message });

    let topology: Topology;
    try {
      topology = await loadTopology(options, catalog);
    } catch (error) {
      if (!(error instanceof TopologyError)) throw error;
      for (const issue of error.issues) console.error(formatIssue(issue));
      console.error(`sfpemu run: the topology has ${error.issues.length} problem(s); nothing was started`);
      return 1;
    }
    let scenario: Scenario | undefined;
    if (options.scenarioFile !== undefined) {
      // Checked before anything starts: a broken scenario should not cost a start-up.
      scenario = await loadScenarioOrReport(options.scenarioFile, new Set(catalog.keys()));
      if (!scenario) return 1;
    }
    const stateDir = topology.stateDir && !args.includes("--state-dir")
      ? topology.stateDir
      : options.stateDir;
    await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    for (const olt of topology.olts) {
      for (const board of olt.boards) {
        for (const path of Object.values(board.sockets)) {
          await Deno.mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true, mode: 0o700 });
        }
      }
    }

    const loop = new EventLoop((error) => log.error("event handler failed", { error }));
    let lab: Lab<SfpModule>;
    let store: LabStore<SfpModule>;
    let seedFrom: SeedSource;
    try {
      ({ lab, store, seedFrom } = await startStoredLab({
        topology,
        modules: sfpModuleFactory(catalog),
        knownProfiles: new Set(catalog.keys()),
        loop,
        log,
        stateDir,
        seed: options.seed,
      }));
    } catch (error) {
      await loop.stop();
      // A failed system call is the sockets' (listen on a path taken, a directory not writable);
      // anything else is named as what it is rather than blamed on them.
      const what = error instanceof StateFileError
        ? ""
        : error instanceof NativeError
        ? "cannot open the board sockets: "
        : "cannot start: ";
      console.error(`sfpemu run: ${what}${(error as Error).message}; nothing was started`);
      return 1;
    }
    lab.events.subscribe((event) => log.debug(event.type, { path: event.path }));
    loop.start();

    const closing = new AbortController();
    const app = createApi({
      lab,
      closing: closing.signal,
      version: VERSION,
      token: options.apiToken,
      catalog: () => catalogEntries(catalog),
    });
    let server: Deno.HttpServer;
    const listening = Promise.withResolvers<Deno.NetAddr>();
    try {
      server = Deno.serve({
        hostname: options.apiHost,
        port: options.apiPort,
        onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
      }, app.fetch);
    } catch (error) {
      store.close();
      await lab.stop();
      await loop.stop();
      console.error(
        `sfpemu run: cannot listen on ${options.apiHost}:${options.apiPort}: ${(error as Error).message}`,
      );
      return 1;
    }
    const addr = await listening.promise;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    printSummary(lab, `http://${host}:${addr.port}`, store.file, seedFrom);
    log.info("running", { boards: lab.boards.length, api: `${host}:${addr.port}` });

    const stopped = Promise.withResolvers<string>();
    const onSignal = (name: string) => () => stopped.resolve(name);
    const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, onSignal(s)] as const);
    for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
    let exitCode = 0;
    if (scenario) {
      const target = inProcessTarget(app, lab.events, options.apiToken);
      const ended = runScenario(scenario, { target }).then((result) => (result.ok ? 0 : 1));
      const first = await Promise.race([ended, stopped.promise]);
      if (typeof first === "number") {
        exitCode = first;
        if (!options.keepRunning) stopped.resolve("the scenario ended");
      } else {
        console.error(`sfpemu run: the scenario was interrupted (${first})`);
        exitCode = 1;
      }
    }
    const reason = await stopped.promise;
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);

    // Order matters (DESIGN.md): no new work, sockets closed and removed, the wait woken and
    // returned, and only then the library unloaded.
    log.info("shutting down", { signal: reason });
    closing.abort();
    await server.shutdown();
    store.close();
    await lab.stop();
    await loop.stop();
    closeNative();
    return exitCode;
  },
};
