// Latency measured in rounds: every path of a comparison (the backend, the C floor, ...) is
// measured once per round, one after the other, so a busy moment of a shared machine falls on
// all of them alike. A path's figures are the medians over the rounds of its p50 and p99 (and
// the largest max). Against the C floor two ratios are given: the median of the per-round ratios,
// and the path's p50 over the floor: the best round p50 of the C read ping-pong, unpinned or with
// both processes on one CPU. On a VM the unpinned figure is bimodal (a few µs when both ends share
// a core, tens of µs when a wake-up must rouse an idle vCPU); the floor is what the machine can
// do, so that ratio is the strict one and the one a target is read from.
import { cPingPong } from "./c-floor.ts";
import { fmt, type LatencySummary, summarizeNs } from "./stats.ts";

export interface RoundsSummary extends LatencySummary {
  rounds: number;
  /** Lowest and highest p50 of a round. */
  p50MinUs: number;
  p50MaxUs: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function combineRounds(rounds: LatencySummary[]): RoundsSummary {
  const p50s = rounds.map((r) => r.p50Us);
  return {
    rounds: rounds.length,
    samples: rounds.reduce((sum, r) => sum + r.samples, 0),
    p50Us: median(p50s),
    p99Us: median(rounds.map((r) => r.p99Us)),
    maxUs: Math.max(...rounds.map((r) => r.maxUs)),
    meanUs: median(rounds.map((r) => r.meanUs)),
    p50MinUs: Math.min(...p50s),
    p50MaxUs: Math.max(...p50s),
  };
}

/** A path compared with the C eventfd ping-pong measured in the same rounds. */
export interface FloorComparison {
  iterations: number;
  warmup: number;
  cRead: RoundsSummary;
  cEpoll: RoundsSummary;
  /** The C read ping-pong with both processes pinned to CPU 0. */
  cSameCore: RoundsSummary;
  /** The lowest round p50 of the C read ping-pong, pinned or not. */
  floorUs: number;
  /** The path's p50 over floorUs (the strict ratio). */
  ratio: number;
  /** Median over the rounds of the path's p50 over the same round's C read p50. */
  roundRatio: number;
}

/** The C ping-pong's rounds: read(2), epoll_wait(2), read(2) with both ends on one CPU. */
export interface FloorRuns {
  read: LatencySummary[];
  epoll: LatencySummary[];
  sameCore: LatencySummary[];
}

/** One round of the C floor, appended to runs. */
export async function measureFloorRound(runs: FloorRuns, count: number, warmup: number): Promise<void> {
  runs.read.push(await cPingPong("read", count, warmup));
  runs.epoll.push(await cPingPong("epoll", count, warmup));
  runs.sameCore.push(await cPingPong("read", count, warmup, 0));
}

/** The comparison of a path's rounds with the C rounds measured beside them. */
export function compareWithFloor(
  path: LatencySummary[],
  c: FloorRuns,
  counts: { iterations: number; warmup: number },
): FloorComparison & { path: RoundsSummary } {
  const summary = combineRounds(path);
  const read = combineRounds(c.read);
  const sameCore = combineRounds(c.sameCore);
  const floorUs = Math.min(read.p50MinUs, sameCore.p50MinUs);
  return {
    ...counts,
    path: summary,
    cRead: read,
    cEpoll: combineRounds(c.epoll),
    cSameCore: sameCore,
    floorUs,
    ratio: summary.p50Us / floorUs,
    roundRatio: p50Ratio(path, c.read),
  };
}

/** "3.6x the floor (4.1 us), 2.9x by round" */
export function describeRatio(c: FloorComparison): string {
  return `${c.ratio.toFixed(1)}x the floor (${c.floorUs.toFixed(1)} us), ${
    c.roundRatio.toFixed(1)
  }x by round`;
}

/** Median over rounds of a / b's p50. */
export function p50Ratio(a: LatencySummary[], b: LatencySummary[]): number {
  return median(a.map((r, i) => r.p50Us / b[i].p50Us));
}

/**
 * Times `roundTrip` `count` times after `warmup` untimed calls (prepare() runs untimed before
 * each); stops early at the time limit. Timing is by the caller-given clock in nanoseconds.
 */
export function timeRoundTrips(
  options: { count: number; warmup: number; maxSeconds: number; nowNs: () => bigint },
  roundTrip: () => void,
  prepare: () => void = () => {},
): LatencySummary {
  const samples = new Float64Array(options.count);
  let measured = 0;
  const deadline = performance.now() + options.maxSeconds * 1000;
  for (let i = 0; i < options.warmup + options.count && performance.now() < deadline; i++) {
    prepare();
    const start = options.nowNs();
    roundTrip();
    const elapsed = Number(options.nowNs() - start);
    if (i >= options.warmup) samples[measured++] = elapsed;
  }
  return summarizeNs(samples.subarray(0, measured));
}

/** Table columns for RoundsSummary rows (printTable), after the first (the path's name). */
export const ROUNDS_COLUMNS = ["samples", "p50 us", "p50 range", "p99 us", "max us"];

export function roundsRow(name: string, s: RoundsSummary): (string | number)[] {
  return [name, s.samples, s.p50Us, `${fmt(s.p50MinUs)}..${fmt(s.p50MaxUs)}`, s.p99Us, s.maxUs];
}
