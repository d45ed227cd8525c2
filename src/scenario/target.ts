// What a scenario runs against: the HTTP API of an emulator, and its event stream. Two ways to
// reach them, one runner: over the network (`sfpemu scenario run`, through the CLI's ApiClient
// and the SSE stream) and inside the emulator (`sfpemu run --scenario`, through the same hono app
// with no socket, and the lab's event bus).
import type { Hono } from "hono";
import { ApiClient, ApiClientError } from "../cli/api-client.ts";
import type { EventBus, LabEvent } from "../lab/events.ts";

/** The event stream as a scenario follows it. */
export interface EventFollowing {
  /** The last event before following began: events after it are the scenario's to see. */
  readonly lastSeq: number;
  stop(): Promise<void>;
}

export interface ScenarioTarget {
  /** Where it runs, for the first line printed: the API's address, or "in-process". */
  readonly name: string;
  /** One API request under /api/v1; the JSON answer, or an ApiClientError with the API's message. */
  request(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Every event from now on to `listener`; `lost` when the stream breaks off. */
  follow(listener: (event: LabEvent) => void, lost: (error: Error) => void): Promise<EventFollowing>;
}

/** An emulator over the network, through the CLI's client (its --api and --api-token). */
export function apiTarget(client: ApiClient): ScenarioTarget {
  return {
    name: client.baseUrl,
    request: (method, path, body) => client.request(method, path, body),
    async follow(listener, lost) {
      const abort = new AbortController();
      const hello = Promise.withResolvers<number>();
      const ended = (error: Error) => {
        hello.reject(error);
        lost(error);
      };
      const reading = (async () => {
        try {
          for await (const message of client.events({ signal: abort.signal })) {
            const data = JSON.parse(message.data);
            if (message.event === "hello") hello.resolve(data.lastEvent);
            else if (message.event === "overflow") throw new ApiClientError(data.message);
            else listener(data);
          }
          ended(
            new ApiClientError(`the API at ${client.baseUrl} closed the event stream (sfpemu run stopped?)`),
          );
        } catch (error) {
          if (!abort.signal.aborted) ended(error as Error);
        }
      })();
      return {
        lastSeq: await hello.promise,
        async stop() {
          abort.abort();
          await reading;
        },
      };
    },
  };
}

/** The emulator this process runs: its API app without a socket, and its lab's event bus. */
export function inProcessTarget(app: Hono, events: EventBus, token?: string): ScenarioTarget {
  return {
    name: "in-process",
    async request(method, path, body) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await app.request(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const answer = await response.json();
      if (response.ok) return answer;
      const { code, message, path: where } = answer.error;
      // As ApiClient words an API error, so both runs of a scenario print the same.
      throw new ApiClientError(
        `${message}${where ? ` (at ${where})` : ""} [HTTP ${response.status} ${code}]`,
        response.status,
        code,
        where,
      );
    },
    follow(listener) {
      const lastSeq = events.lastSeq;
      const unsubscribe = events.subscribe(listener);
      return Promise.resolve({
        lastSeq,
        stop: () => {
          unsubscribe();
          return Promise.resolve();
        },
      });
    },
  };
}
