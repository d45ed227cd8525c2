// The HTTP API (hono) under /api/v1: JSON in and out, errors as { error: { code, message, path } }.
// Routes are small functions of a Context; every body is validated at the edge (request-body.ts)
// before it reaches the lab. A fault kind that does not exist is a 404 wherever a URL names it,
// like an unknown cage; in a body (PUT .../module's faults) it is a 422 like any unknown key.
import { Hono } from "hono";
import type { Context } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { LabError } from "../lab/errors.ts";
import type { Lab, LabModule } from "../lab/lab.ts";
import type { EventBus, LabEvent } from "../lab/events.ts";
import { parseDiagnosticsPatch, ShapeError } from "../lab/module-spec.ts";
import { describeFaultKinds } from "../sfp/faults.ts";
import {
  BodyError,
  knownFaultKind,
  parseBoardInsert,
  parseBoardPatch,
  parseFault,
  parsePlugRequest,
  parseSignalsPatch,
  readJson,
  readOptionalJson,
} from "./request-body.ts";

export interface CatalogEntry {
  id: string;
  formFactor: string;
  description: string;
  [field: string]: unknown;
}

export interface ApiOptions<M extends LabModule> {
  lab: Lab<M>;
  catalog: () => CatalogEntry[];
  version: string;
  /** When set, every route needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Details for GET .../module beyond describe(): flags, timers. */
  moduleState?: (module: M) => Record<string, unknown>;
  /**
   * Aborted when the server shuts down: event streams end then, since a graceful server shutdown
   * waits for every open response and a stream never ends by itself.
   */
  closing?: AbortSignal;
}

const STATUS = { not_found: 404, conflict: 409, invalid: 422 } as const;

/** Events one SSE client may have pending before it is disconnected as too slow. */
const MAX_QUEUED_EVENTS_PER_STREAM = 10_000;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function errorResponse(
  c: Context,
  status: 400 | 401 | 404 | 409 | 422 | 500,
  code: string,
  message: string,
  path?: string,
) {
  return c.json({ error: { code, message, path: path ?? c.req.path } }, status);
}

/**
 * The stream's first message: the last event's number, the oldest the history still keeps, and,
 * for a client resuming after `since`, which numbers it will not be given: those of an earlier run
 * (the history is in memory; see the emulator-started event) or older than the history's 1000.
 */
function helloData(events: EventBus, since: number | undefined) {
  const { lastSeq: lastEvent, firstKept } = events;
  const missed = since !== undefined && since + 1 < firstKept
    ? { after: since, before: firstKept }
    : undefined;
  return { lastEvent, firstKept, ...(missed ? { missed } : {}) };
}

function cageNumber(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new LabError("not_found", `cage "${text}" is not a cage number (1, 2, ...)`);
  }
  return n;
}

export function createApi<M extends LabModule>(options: ApiOptions<M>): Hono {
  const { lab } = options;
  const app = new Hono().basePath("/api/v1");

  app.onError((error, c) => {
    if (error instanceof LabError) {
      return errorResponse(c, STATUS[error.code], error.code, error.message, error.path);
    }
    if (error instanceof BodyError) {
      return errorResponse(c, error.status, error.code, error.message, error.path);
    }
    if (error instanceof ShapeError) return errorResponse(c, 422, "invalid", error.message, error.path);
    // Middleware refusals (the bearer token) carry their own response.
    if (error instanceof HTTPException) return error.getResponse();
    return errorResponse(c, 500, "internal", `internal error: ${error.message}`);
  });
  app.notFound((c) => errorResponse(c, 404, "not_found", `no route ${c.req.method} ${c.req.path}`));
  if (options.token) {
    const refusal = (code: string, message: string) => ({
      message: (c: Context) => ({ error: { code, message, path: c.req.path } }),
    });
    app.use(
      "*",
      bearerAuth({
        token: options.token,
        noAuthenticationHeader: refusal(
          "unauthorized",
          "this API needs a bearer token (Authorization: Bearer TOKEN)",
        ),
        invalidToken: refusal("unauthorized", "wrong bearer token"),
        invalidAuthenticationHeader: refusal(
          "bad_request",
          "malformed Authorization header; send Authorization: Bearer TOKEN",
        ),
      }),
    );
  }

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      version: options.version,
      boards: lab.boards.length,
      frontends: lab.boards.flatMap((b) => b.listeners).filter((l) => l.connected).length,
      lastEvent: lab.events.lastSeq,
      // What to give `sfpemu run --seed` to replay this run's random choices.
      seed: lab.seed,
    }));

  app.get("/catalog", (c) => c.json({ profiles: options.catalog() }));
  app.get("/topology", (c) => c.json(lab.snapshot()));
  app.get("/faults", (c) => c.json({ kinds: describeFaultKinds() }));

  const modulePath = "/olts/:olt/boards/:board/cages/:cage/module";
  const target = (c: Context) => ({
    olt: c.req.param("olt")!,
    board: c.req.param("board")!,
    cage: cageNumber(c.req.param("cage")!),
  });
  const signalsOf = (module: M) => ({
    rxLos: module.rxLos,
    txFault: module.txFault,
    txDisabled: module.txDisabled,
    forced: lab.forcedSignals(module),
  });
  const describeModule = (module: M) => ({
    ...lab.modules.describe(module),
    diagnostics: module.diagnostics(),
    signals: signalsOf(module),
    faults: module.faults(),
    ...options.moduleState?.(module),
  });
  const faultKind = (c: Context) => {
    const known = knownFaultKind(c.req.param("kind")!);
    if ("problem" in known) throw new LabError("not_found", known.problem, c.req.path);
    return known.kind;
  };

  app.get(modulePath, (c) => {
    const t = target(c);
    return c.json(describeModule(lab.module(t.olt, t.board, t.cage)));
  });

  app.put(modulePath, async (c) => {
    const t = target(c);
    const { spec, faults } = parsePlugRequest(await readJson(c));
    const module = lab.plug(t.olt, t.board, t.cage, spec, faults);
    return c.json(describeModule(module), 201);
  });

  app.delete(modulePath, (c) => {
    const t = target(c);
    const module = lab.unplug(t.olt, t.board, t.cage);
    return c.json({ removed: lab.modules.describe(module) });
  });

  app.patch(`${modulePath}/diagnostics`, async (c) => {
    const t = target(c);
    lab.module(t.olt, t.board, t.cage); // 404 for an empty cage before a 4xx about the body
    const module = lab.setDiagnostics(t.olt, t.board, t.cage, parseDiagnosticsPatch(await readJson(c)));
    return c.json({ diagnostics: module.diagnostics() });
  });

  app.patch(`${modulePath}/signals`, async (c) => {
    const t = target(c);
    lab.module(t.olt, t.board, t.cage);
    const module = lab.forceSignals(t.olt, t.board, t.cage, parseSignalsPatch(await readJson(c)));
    return c.json({ signals: signalsOf(module) });
  });

  app.get(`${modulePath}/faults`, (c) => {
    const t = target(c);
    return c.json({ faults: lab.module(t.olt, t.board, t.cage).faults() });
  });

  app.put(`${modulePath}/faults/:kind`, async (c) => {
    const t = target(c);
    lab.module(t.olt, t.board, t.cage); // 404 for an empty cage before anything about the fault
    const fault = parseFault(faultKind(c), await readOptionalJson(c));
    return c.json(lab.setFault(t.olt, t.board, t.cage, fault.kind, fault.params));
  });

  app.delete(`${modulePath}/faults/:kind`, (c) => {
    const t = target(c);
    lab.module(t.olt, t.board, t.cage);
    return c.json({ cleared: lab.clearFault(t.olt, t.board, t.cage, faultKind(c)) });
  });

  app.get(`${modulePath}/eeprom`, (c) => {
    const t = target(c);
    const module = lab.module(t.olt, t.board, t.cage);
    return c.json({ a0: hex(module.a0()), a2: hex(module.a2()) });
  });

  app.delete("/olts/:olt/boards/:board", async (c) => {
    await lab.removeBoard(c.req.param("olt"), c.req.param("board"));
    return c.json({ removed: `${c.req.param("olt")}/${c.req.param("board")}` });
  });

  app.put("/olts/:olt/boards/:board", async (c) => {
    const oltId = c.req.param("olt");
    const boardId = c.req.param("board");
    lab.board(oltId, boardId); // 404 before a 4xx about the body
    const { kind } = parseBoardInsert(await readOptionalJson(c));
    if (kind !== undefined && !Object.hasOwn(lab.topology.kinds, kind)) {
      const known = Object.keys(lab.topology.kinds).join(", ") || "none";
      throw new BodyError(422, "invalid", `unknown board kind "${kind}"; known kinds: ${known}`, "body.kind");
    }
    const board = lab.insertBoard(oltId, boardId, kind);
    return c.json({ inserted: board.path, kind: board.spec.kind, cages: board.planes.cages.length });
  });

  app.patch("/olts/:olt/boards/:board", async (c) => {
    const oltId = c.req.param("olt");
    const boardId = c.req.param("board");
    lab.board(oltId, boardId); // 404 before a 4xx about the body
    const { temperatureC } = parseBoardPatch(await readJson(c));
    lab.setBoardTemperature(oltId, boardId, temperatureC); // 422 for a board without a sensor
    const board = lab.board(oltId, boardId);
    return c.json({ board: board.path, extras: lab.boardExtras(board) });
  });

  app.get("/events", (c) => {
    const given = Number(c.req.query("since") ?? c.req.header("Last-Event-ID") ?? NaN);
    // A number above the last one was not handed out by this emulator (its state directory was
    // started afresh since): the client gets all that is kept, as it would for 0.
    const since = given > lab.events.lastSeq ? 0 : given;
    return streamSSE(c, async (stream) => {
      const queue: LabEvent[] = Number.isFinite(since) ? lab.events.since(since) : [];
      const hello = helloData(lab.events, Number.isFinite(since) ? since : undefined);
      let wake: (() => void) | undefined;
      let overflowed = false;
      const unsubscribe = lab.events.subscribe((event) => {
        // A client that stops reading must not grow our memory without bound: it is told it fell
        // behind and disconnected, and reconnects with Last-Event-ID to catch up from the history.
        if (queue.length >= MAX_QUEUED_EVENTS_PER_STREAM) {
          overflowed = true;
          close();
          return;
        }
        queue.push(event);
        wake?.();
      });
      let open = !options.closing?.aborted;
      function close() {
        open = false;
        wake?.();
      }
      stream.onAbort(close);
      options.closing?.addEventListener("abort", close);
      try {
        await stream.writeSSE({ event: "hello", data: JSON.stringify(hello) });
        while (open) {
          while (queue.length && open) {
            const event = queue.shift()!;
            await stream.writeSSE({ id: String(event.seq), event: event.type, data: JSON.stringify(event) });
          }
          if (!open) break;
          // Wake on the next event, or after 15 s to send a keep-alive comment.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 15_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
          if (!queue.length && open) await stream.write(": keep-alive\n\n");
        }
        if (overflowed) {
          const message =
            `more than ${MAX_QUEUED_EVENTS_PER_STREAM} events waited for this client; reconnect with Last-Event-ID`;
          await stream.writeSSE({
            event: "overflow",
            data: JSON.stringify({ message, lastEvent: lab.events.lastSeq }),
          });
        }
      } finally {
        unsubscribe();
        options.closing?.removeEventListener("abort", close);
      }
    });
  });

  return app;
}
