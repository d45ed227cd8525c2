// The client side of the HTTP API for the CLI's verbs (status, plug, unplug, set, events): where
// the API is (--api, SFPEMU_API), the bearer token (--api-token, SFPEMU_API_TOKEN), and errors a
// user can act on: the emulator not running there, or the API's own message and path.
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { parseApiAddress } from "./run.ts";

export const DEFAULT_API_ADDRESS = "127.0.0.1:7040";

/** Options every client verb takes, for node:util parseArgs. */
const CLIENT_OPTIONS = {
  api: { type: "string" },
  "api-token": { type: "string" },
} as const;

export const CLIENT_USAGE =
  `  --api HOST:PORT        where sfpemu run serves its API (default ${DEFAULT_API_ADDRESS}, or SFPEMU_API)
  --api-token TOKEN      bearer token, when sfpemu run was given one (or set SFPEMU_API_TOKEN)`;

/** Non-streaming requests give up after this long: a hung server must not hang a script. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The API could not be reached, or it answered with an error: printed as it is, exit code 1. */
export class ApiClientError extends Error {
  override name = "ApiClientError";
  constructor(message: string, readonly status?: number, readonly code?: string, readonly path?: string) {
    super(message);
  }
}

/** One server-sent event as the API streams it. */
export interface StreamedEvent {
  /** The SSE `event:` field: the lab event's type, or "hello" first. */
  event: string;
  id?: string;
  data: string;
}

export class ApiClient {
  readonly baseUrl: string;

  constructor(address: string, readonly token?: string) {
    const { host, port } = parseApiAddress(address);
    this.baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  /** From the verb's parsed --api / --api-token, falling back to the environment. */
  static fromOptions(values: { api?: string; "api-token"?: string }): ApiClient {
    const address = values.api ?? (Deno.env.get("SFPEMU_API") || DEFAULT_API_ADDRESS);
    const token = values["api-token"] ?? (Deno.env.get("SFPEMU_API_TOKEN") || undefined);
    return new ApiClient(address, token);
  }

  /** One JSON request under /api/v1; resolves to the parsed JSON answer. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.#fetch(method, path, body, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    const text = await response.text();
    if (!response.ok) throw this.#errorOf(response, text);
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiClientError(`${this.baseUrl} answered ${method} ${path} with something that is not JSON`);
    }
  }

  /** The event stream (GET /events) until it ends or `signal` aborts it. */
  async *events(options: { since?: number; signal?: AbortSignal } = {}): AsyncGenerator<StreamedEvent> {
    const query = options.since === undefined ? "" : `?since=${options.since}`;
    const response = await this.#fetch("GET", `/events${query}`, undefined, options.signal);
    if (!response.ok) throw this.#errorOf(response, await response.text());
    if (!response.body) return;
    yield* parseEventStream(response.body);
  }

  async #fetch(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted && (error as Error).name === "TimeoutError") {
        throw new ApiClientError(
          `the sfpemu API at ${this.baseUrl} did not answer within ${REQUEST_TIMEOUT_MS} ms`,
        );
      }
      if (signal?.aborted) throw error;
      throw new ApiClientError(
        `cannot reach the sfpemu API at ${this.baseUrl} (${reason(error)}); is "sfpemu run" running? ` +
          "Give its address with --api HOST:PORT or SFPEMU_API",
      );
    }
  }

  #errorOf(response: Response, text: string): ApiClientError {
    let error: { code?: unknown; message?: unknown; path?: unknown } | undefined;
    try {
      error = JSON.parse(text)?.error;
    } catch {
      // Not the API's error shape (a proxy, another server on that port): show what came.
    }
    if (typeof error?.message !== "string") {
      return new ApiClientError(
        `${this.baseUrl} answered HTTP ${response.status}: ${text.slice(0, 200) || response.statusText}`,
        response.status,
      );
    }
    const path = typeof error.path === "string" ? error.path : undefined;
    const code = typeof error.code === "string" ? error.code : undefined;
    return new ApiClientError(
      `${error.message}${path ? ` (at ${path})` : ""} [HTTP ${response.status}${code ? ` ${code}` : ""}]`,
      response.status,
      code,
      path,
    );
  }
}

/** The text of what went wrong with a connection, without Deno's long prefix. */
function reason(error: unknown): string {
  // Deno's fetch says "fetch failed"; what happened is in the cause.
  const cause = (error as { cause?: unknown }).cause;
  const message = [error, cause].map((e) => (e as Error)?.message ?? "").join(" ");
  if (/connection refused/i.test(message)) return "connection refused";
  const detail = (cause as Error)?.message ?? (error as Error).message ?? String(error);
  return detail.replace(/^error sending request for url \([^)]*\): /, "");
}

/** Server-sent events (HTML "event stream" format) from a byte stream. */
export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamedEvent> {
  let buffer = "";
  let event: Partial<StreamedEvent> = {};
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new ApiClientError(`the event stream broke off: ${(error as Error).message}`);
      }
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A CR at the end of what came so far may be the first half of a CRLF.
        if (buffer[newline] === "\r" && newline === buffer.length - 1) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (event.data !== undefined) {
            yield {
              event: event.event ?? "message",
              data: event.data,
              ...(event.id ? { id: event.id } : {}),
            };
          }
          event = {};
        } else if (!line.startsWith(":")) { // a line starting with ":" is a comment (keep-alive)
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") event.data = event.data === undefined ? value : `${event.data}\n${value}`;
          else if (field === "event") event.event = value;
          else if (field === "id") event.id = value;
        }
      }
    }
  } finally {
    // The caller stopped early (--count) or the stream failed: let the connection go.
    await reader.cancel().catch(() => {});
  }
}

/** OLT/BOARD/CAGE from the command line, as the API's path segments. */
export function parseCagePath(text: string | undefined): { olt: string; board: string; cage: number } {
  const parts = text?.split("/") ?? [];
  if (parts.length !== 3 || parts.some((p) => p === "") || !/^[0-9]+$/.test(parts[2])) {
    throw new UsageError(
      `expected a cage as OLT/BOARD/CAGE (e.g. olt1/lt1/3), not ${JSON.stringify(text ?? "")}`,
    );
  }
  return { olt: parts[0], board: parts[1], cage: Number(parts[2]) };
}

/** The API path of a cage's module. */
export function modulePath(cage: { olt: string; board: string; cage: number }): string {
  return `/olts/${encodeURIComponent(cage.olt)}/boards/${
    encodeURIComponent(cage.board)
  }/cages/${cage.cage}/module`;
}

/** What a client verb's work gets: its parsed arguments and a client for the API they name. */
export interface ClientVerbArgs {
  values: Record<string, string | undefined>;
  positionals: string[];
  client: ApiClient;
}

/**
 * A verb that talks to the API: its options plus --api / --api-token, parse mistakes as usage
 * errors (exit 2), and an unreachable API or an API error as one line on stderr (exit 1).
 */
export function clientVerb(verb: {
  name: string;
  summary: string;
  usage: string;
  /** Every option of a client verb takes a value (--format json). */
  options?: Record<string, { type: "string" }>;
  positionals?: boolean;
  run(args: ClientVerbArgs): Promise<number>;
}): Command {
  return {
    name: verb.name,
    summary: verb.summary,
    usage: verb.usage,
    async run(args: string[]): Promise<number> {
      const parsed = parseCommandArgs({
        args,
        options: { ...CLIENT_OPTIONS, ...verb.options },
        allowPositionals: verb.positionals ?? false,
      });
      const values = parsed.values as ClientVerbArgs["values"];
      const client = ApiClient.fromOptions(values);
      try {
        return await verb.run({ values, positionals: parsed.positionals, client });
      } catch (error) {
        if (!(error instanceof ApiClientError)) throw error;
        console.error(`sfpemu ${verb.name}: ${error.message}`);
        return 1;
      }
    },
  };
}
