// A lab with its state file, started the way `sfpemu run` starts it: the file opened (or refused),
// its state reconciled with the topology (one log line per difference), the event numbering going
// on from the earlier run's, the seed kept (a run not given one takes the earlier run's, so its faults
// go on making the same random choices), an emulator-started event, the lab started from the state,
// and every change saved from then on.
import type { Logger } from "../log/logger.ts";
import type { EventLoop } from "../native/event-loop.ts";
import { EventBus } from "../lab/events.ts";
import { Lab, type LabModule, type ModuleFactory } from "../lab/lab.ts";
import type { Topology } from "../topology/model.ts";
import { LabStore } from "./lab-store.ts";
import { reconcile } from "./reconcile.ts";
import { randomSeed } from "../lab/seed.ts";
import { STATE_FILE_NAME, StateFile } from "./state-file.ts";

export interface StoredLabOptions<M extends LabModule> {
  topology: Topology;
  modules: ModuleFactory<M>;
  /** Profiles a saved module may name (the catalog's ids). */
  knownProfiles: ReadonlySet<string>;
  loop: EventLoop;
  log: Logger;
  /** The state file is `STATE_FILE_NAME` in it. */
  stateDir: string;
  /**
   * The run's seed (every module's seed derives from it); default the one the state file kept from
   * the run before, else a random one.
   */
  seed?: number;
}

/** Where the run's seed came from: --seed, the earlier run's (the state file), or a new one. */
export type SeedSource = "given" | "state file" | "drawn";

/** Throws StateFileError when the state file cannot be used; then nothing was started. */
export async function startStoredLab<M extends LabModule>(
  options: StoredLabOptions<M>,
): Promise<{ lab: Lab<M>; store: LabStore<M>; seedFrom: SeedSource }> {
  const { topology, log } = options;
  const file = StateFile.open(`${options.stateDir}/${STATE_FILE_NAME}`);
  const saved = file.load();
  for (const problem of saved.problems) log.warn("saved state ignored", { problem });
  const { state, notes } = reconcile(saved, topology, options.knownProfiles);
  for (const note of notes) log[note.level](`state: ${note.message}`, { path: note.path });

  // The numbering goes on above every event an earlier run on this file may have published.
  const events = new EventBus({ after: saved.events.lastSeq });
  const seedFrom: SeedSource = options.seed !== undefined
    ? "given"
    : saved.seed !== undefined
    ? "state file"
    : "drawn";
  const seed = options.seed ?? saved.seed ?? randomSeed();
  if (options.seed !== undefined && saved.seed !== undefined && saved.seed !== options.seed) {
    log.info("state: the run's seed changed; faults' random choices differ from the earlier run's", {
      was: saved.seed,
      now: seed,
    });
  }
  const lab = new Lab({ topology, modules: options.modules, loop: options.loop, log, seed, events });
  const store = new LabStore(file, lab, { log });
  // The first event of every run, before the restored modules' own: a client that resumes the
  // stream (Last-Event-ID) learns here that the events of the earlier run it did not get are gone.
  events.publish("emulator-started", "", {
    restored: saved.boards.size > 0 || saved.cages.size > 0,
    previousLastSeq: saved.events.lastSeq,
    previousStop: saved.events.previousStop,
    seed,
    seedFrom,
  });
  try {
    lab.start(state);
  } catch (error) {
    store.close();
    await lab.stop();
    throw error;
  }
  store.start();
  file.saveSeed(seed);
  return { lab, store, seedFrom };
}
