// Structured logs: one JSON object per line, or readable text when stderr is a terminal.
// Every layer takes a Logger; `child` adds the fields that say where (olt, board, device).

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  format?: "json" | "text";
  level?: LogLevel;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function describe(value: unknown): unknown {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}

export function createLogger(options: LoggerOptions = {}, context: LogFields = {}): Logger {
  const format = options.format ?? (Deno.stderr.isTerminal() ? "text" : "json");
  const threshold = RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    const all: LogFields = { ...context, ...fields };
    for (const key in all) all[key] = describe(all[key]);
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, message, ...all }));
    } else {
      const extra = Object.entries(all).map(([k, v]) =>
        `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
      );
      write(
        `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${message}${
          extra.length ? "  " + extra.join(" ") : ""
        }`,
      );
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ format, level: options.level, write }, { ...context, ...fields }),
  };
}

/** Drops everything (tests that do not look at logs). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
