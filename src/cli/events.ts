// sfpemu events: follows the running emulator's event stream (GET /events, server-sent events):
// plugs, pins, TX_DISABLE from the guest, alarms, VMs connecting, boards pulled and put back.
import { type Command, UsageError } from "./command.ts";
import { ApiClientError, CLIENT_USAGE, clientVerb } from "./api-client.ts";

const usage = `usage: sfpemu events [--format json|text] [--since N] [--count N] [options]

Prints every event of the running emulator as it happens, until Ctrl-C.

  --format json|text     json: one JSON object per line (seq, time, type, path, ...); default text
  --since N              first the events after sequence number N that the emulator still keeps
  --count N              stop after N events
${CLIENT_USAGE}`;

export const eventsCommand: Command = clientVerb({
  name: "events",
  summary: "follow the running emulator's events (plugs, pins, alarms, VMs, boards)",
  usage,
  options: { format: { type: "string" }, since: { type: "string" }, count: { type: "string" } },
  async run({ values, client }) {
    const format = values.format ?? "text";
    if (format !== "text" && format !== "json") {
      throw new UsageError(`--format is json or text, not "${format}"`);
    }
    const since = wholeNumber(values.since, "--since");
    const count = wholeNumber(values.count, "--count");
    if (count === 0) return 0;
    let seen = 0;
    for await (const message of client.events({ since })) {
      if (message.event === "hello") {
        // A resumed stream whose gap the emulator no longer keeps (a restart, or a client that
        // fell far behind): say so, on stderr so that --format json stays parseable.
        const missed = helloMissed(message.data);
        if (missed) {
          console.error(
            `sfpemu events: events ${missed.after + 1}..${missed.before - 1} are no longer kept ` +
              "(the emulator restarted, or they fell out of its history)",
          );
        }
        continue;
      }
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(message.data);
      } catch {
        throw new ApiClientError(
          `the event stream sent something that is not JSON: ${message.data.slice(0, 100)}`,
        );
      }
      console.log(format === "json" ? JSON.stringify(event) : formatEvent(event));
      if (count !== undefined && ++seen >= count) return 0;
    }
    throw new ApiClientError(`the API at ${client.baseUrl} closed the event stream (sfpemu run stopped?)`);
  },
});

/** The hello event's `missed: {after, before}`, when the emulator reports a gap. */
function helloMissed(data: string): { after: number; before: number } | undefined {
  try {
    const missed = JSON.parse(data)?.missed;
    if (Number.isSafeInteger(missed?.after) && Number.isSafeInteger(missed?.before)) return missed;
  } catch { /* a hello without JSON says nothing about a gap */ }
  return undefined;
}

function wholeNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${flag} wants a whole number, not "${text}"`);
  return Number(text);
}

/** "12:00:01.123  #7  module-inserted  olt1/lt1/2  profile=sfp-10gbase-sr ..." */
export function formatEvent(event: Record<string, unknown>): string {
  const { seq, time, type, path, ...fields } = event;
  const extra = Object.entries(fields).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  const clock = typeof time === "string" ? time.slice(11, 23) : "?";
  return [clock, `#${seq}`, type, path, ...extra].join("  ");
}
