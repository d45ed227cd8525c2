// Command-line options shared by the latency benchmarks.
import { parseArgs } from "node:util";

export interface LatencyOptions {
  /** Round trips measured. */
  iterations: number;
  /** Round trips before measuring (not counted). */
  warmup: number;
  /** Time limit of each measuring loop: it stops early rather than run on. */
  maxSeconds: number;
  /** Rounds the iterations are spread over (bench/support/rounds.ts). */
  rounds: number;
  /** iterations and warmup divided among the rounds. */
  perRound: number;
  warmupPerRound: number;
}

/** --iterations (20000), --warmup (2000), --max-seconds (60), --rounds (5). */
export function latencyOptions(args: string[] = Deno.args): LatencyOptions {
  const { values } = parseArgs({
    args,
    options: {
      iterations: { type: "string", default: "20000" },
      warmup: { type: "string", default: "2000" },
      "max-seconds": { type: "string", default: "60" },
      rounds: { type: "string", default: "5" },
    },
  });
  const iterations = Number(values.iterations);
  const warmup = Number(values.warmup);
  const rounds = Math.max(1, Number(values.rounds));
  return {
    iterations,
    warmup,
    maxSeconds: Number(values["max-seconds"]),
    rounds,
    perRound: Math.ceil(iterations / rounds),
    warmupPerRound: Math.ceil(warmup / rounds),
  };
}
