// The HTTP API (hono) under /api/v1: JSON in and out, errors as { error: { code, message, path } }.
// Routes are small functions of a Context; every body is validated at the edge (request-body.ts)
// before it reaches the lab.
import { Hono } from "hono";
import type { Context } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { streamSSE } from "hono/streaming";
import type { CageModule } from "../board/cage.ts";
import { LabError } from "../lab/errors.ts";
import type { Lab } from "../lab/lab.ts";
import type { LabEvent } from "../lab/events.ts";
import {
  BodyError,
  type DiagnosticKey,
  parseBoardInsert,
  parseDiagnosticsPatch,
  parseModuleSpec,
  parseSignalsPatch,
  readJson,
} from "./request-body.ts";

/** What the API needs from a module beyond what a cage needs (src/sfp/module.ts's SfpModule fits). */
export interface ApiModule extends CageModule {
  diagnostics(): Readonly<Record<DiagnosticKey, number>>;
  setDiagnostics(patch: Partial<Record<DiagnosticKey, number>>): void;
  forceSignal(signal: "rxLos" | "txFault", value: boolean | null): void;
  readonly txDisabled: boolean;
  a0(): Uint8Array;
  a2(): Uint8Array;
}

export interface CatalogEntry {
  id: string;
  formFactor: string;
  description: string;
  [field: string]: unknown;
}

export interface ApiOptions<M extends ApiModule> {
  lab: Lab<M>;
  catalog: () => CatalogEntry[];
  version: string;
  /** When set, every route needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Details for GET .../module beyond describe(): flags, forced signals, timers. */
  moduleState?: (module: M) => Record<string, unknown>;
  /** Board kinds a board may be re-inserted as (PUT /olts/{olt}/boards/{board} with { kind }). */
  boardKinds?: () => Record<string, { cageCount: number; formFactor: string }>;
}

const STATUS = { not_found: 404, conflict: 409, invalid: 422 } as const;

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

function cageNumber(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new LabError("not_found", `cage "${text}" is not a cage number (1, 2, ...)`);
  }
  return n;
}

export function createApi<M extends ApiModule>(options: ApiOptions<M>): Hono {
  const { lab } = options;
  const app = new Hono().basePath("/api/v1");

  app.onError((error, c) => {
    if (error instanceof LabError) {
      return errorResponse(c, STATUS[error.code], error.code, error.message, error.path);
    }
    if (error instanceof BodyError) {
      return errorResponse(c, error.status, error.code, error.message, error.path);
    }
    return errorResponse(c, 500, "internal", `internal error: ${error.message}`);
  });
  app.notFound((c) => errorResponse(c, 404, "not_found", `no route ${c.req.method} ${c.req.path}`));
  if (options.token) {
    const token = options.token;
    app.use(
      "*",
      bearerAuth({
        token,
        noAuthenticationHeaderMessage: {
          error: { code: "unauthorized", message: "this API needs a bearer token" },
        },
        invalidTokenMessage: { error: { code: "unauthorized", message: "wrong bearer token" } },
        invalidAuthenticationHeaderMessage: {
          error: { code: "unauthorized", message: "malformed Authorization header" },
        },
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
    }));

  app.get("/catalog", (c) => c.json({ profiles: options.catalog() }));
  app.get("/topology", (c) => c.json(lab.snapshot()));

  const modulePath = "/olts/:olt/boards/:board/cages/:cage/module";
  const target = (c: Context) => ({
    olt: c.req.param("olt")!,
    board: c.req.param("board")!,
    cage: cageNumber(c.req.param("cage")!),
  });
  const describeModule = (module: M) => ({
    ...lab.modules.describe(module),
    diagnostics: module.diagnostics(),
    signals: { rxLos: module.rxLos, txFault: module.txFault, txDisabled: module.txDisabled },
    ...options.moduleState?.(module),
  });

  app.get(modulePath, (c) => {
    const t = target(c);
    return c.json(describeModule(lab.module(t.olt, t.board, t.cage)));
  });

  app.put(modulePath, async (c) => {
    const t = target(c);
    const spec = parseModuleSpec(await readJson(c));
    const module = lab.plug(t.olt, t.board, t.cage, spec);
    return c.json(describeModule(module), 201);
  });

  app.delete(modulePath, (c) => {
    const t = target(c);
    const module = lab.unplug(t.olt, t.board, t.cage);
    return c.json({ removed: lab.modules.describe(module) });
  });

  app.patch(`${modulePath}/diagnostics`, async (c) => {
    const t = target(c);
    const patch = parseDiagnosticsPatch(await readJson(c));
    const module = lab.module(t.olt, t.board, t.cage);
    try {
      module.setDiagnostics(patch);
    } catch (error) {
      throw new BodyError(422, "invalid", (error as Error).message, c.req.path);
    }
    return c.json({ diagnostics: module.diagnostics() });
  });

  app.patch(`${modulePath}/signals`, async (c) => {
    const t = target(c);
    const patch = parseSignalsPatch(await readJson(c));
    const module = lab.module(t.olt, t.board, t.cage);
    for (const [signal, value] of Object.entries(patch)) {
      module.forceSignal(signal as "rxLos" | "txFault", value);
    }
    return c.json({
      signals: { rxLos: module.rxLos, txFault: module.txFault, txDisabled: module.txDisabled },
    });
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
    const current = lab.board(oltId, boardId);
    const text = await c.req.text();
    const { kind } = parseBoardInsert(text.trim() ? parseJsonText(text, c.req.path) : {});
    let replacement;
    if (kind && kind !== current.spec.kind) {
      const layout = options.boardKinds?.()[kind];
      if (!layout) {
        const known = Object.keys(options.boardKinds?.() ?? {}).join(", ") || "none";
        throw new BodyError(
          422,
          "invalid",
          `unknown board kind "${kind}"; known kinds: ${known}`,
          `${c.req.path}#kind`,
        );
      }
      replacement = {
        ...current.spec,
        kind,
        cageCount: layout.cageCount,
        formFactor: layout.formFactor as typeof current.spec.formFactor,
        cages: Array.from(
          { length: layout.cageCount },
          (_, i) => ({
            id: i + 1,
            formFactor: layout.formFactor as typeof current.spec.formFactor,
            module: null,
          }),
        ),
      };
    }
    const board = lab.insertBoard(oltId, boardId, replacement);
    return c.json({ inserted: board.path, kind: board.spec.kind, cages: board.planes.cages.length });
  });

  app.get("/events", (c) => {
    const since = Number(c.req.query("since") ?? c.req.header("Last-Event-ID") ?? NaN);
    return streamSSE(c, async (stream) => {
      const queue: LabEvent[] = Number.isFinite(since) ? lab.events.since(since) : [];
      let wake: (() => void) | undefined;
      const unsubscribe = lab.events.subscribe((event) => {
        queue.push(event);
        wake?.();
      });
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ lastEvent: lab.events.lastSeq }) });
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
      } finally {
        unsubscribe();
      }
    });
  });

  return app;
}

function parseJsonText(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BodyError(400, "bad_request", `body is not JSON: ${(error as Error).message}`, path);
  }
}
