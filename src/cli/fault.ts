// sfpemu fault: breaks a module of the running emulator on purpose (PUT .../module/faults/KIND),
// mends it (DELETE), shows a module's faults, and lists the kinds there are (GET /faults), with
// parameters as key=value pairs.
import { type Command, parseCommandArgs, UsageError } from "./command.ts";
import { ApiClient, ApiClientError, CLIENT_USAGE, modulePath, parseCagePath } from "./api-client.ts";

const usage = `usage: sfpemu fault OLT/BOARD/CAGE KIND [KEY=VALUE...]   put a fault into the module
       sfpemu fault OLT/BOARD/CAGE KIND --clear           take it out again
       sfpemu fault OLT/BOARD/CAGE                        the module's faults
       sfpemu fault --list (or: fault list)               every kind with its parameters

Values are read as JSON where they parse (500, true, "a2", {"rxPowerDbm":1}), else as text;
KEY.SUB=VALUE builds nested objects.

  e.g. sfpemu fault olt1/lt1/3 rx-los-flap periodMs=500
       sfpemu fault olt1/lt1/3 noise band.temperatureC=2 band.rxPowerDbm=0.5
       sfpemu fault olt1/lt1/3 quirk "known=HUAWEI MA5671A"
       sfpemu fault olt1/lt1/3 rx-los-flap --clear

  --clear                take the fault KIND out of the module
  --list                 the fault kinds, their parameters and what each allows
${CLIENT_USAGE}`;

/** One parameter value as typed: JSON where it parses (numbers, booleans, objects), text otherwise. */
export function parseParamValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // SFF-8024 codes are written in hex: identifier value=0x0d.
    return /^0x[0-9a-f]+$/i.test(text) ? Number(text) : text;
  }
}

/** KEY=VALUE pairs as a parameter object; `band.temperatureC=2` nests. Mistakes are usage errors. */
export function parseFaultParams(pairs: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    if (equals <= 0) throw new UsageError(`"${pair}" is not KEY=VALUE`);
    const keys = pair.slice(0, equals).split(".");
    if (keys.some((key) => key === "")) throw new UsageError(`"${pair.slice(0, equals)}" is not a key`);
    let into = params;
    for (const key of keys.slice(0, -1)) {
      const next = into[key] ?? {};
      if (typeof next !== "object" || next === null || Array.isArray(next)) {
        throw new UsageError(`"${pair}": ${key} already has a value that is not an object`);
      }
      into = into[key] = next as Record<string, unknown>;
    }
    const last = keys[keys.length - 1];
    if (Object.hasOwn(into, last)) throw new UsageError(`"${pair}": ${keys.join(".")} is given twice`);
    into[last] = parseParamValue(pair.slice(equals + 1));
  }
  return params;
}

/** `periodMs=500 band={"rxPowerDbm":1}`: parameters the way they are typed. */
export function formatFaultParams(params: Record<string, unknown>): string {
  return Object.entries(params).map(([key, value]) =>
    `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`
  ).join(" ");
}

interface Fault {
  kind: string;
  params: Record<string, unknown>;
}

interface FaultKindDescription {
  kind: string;
  layer: string;
  summary: string;
  params: Record<string, { summary: string; allowed: string; required: boolean; default?: unknown }>;
}

function formatKinds(kinds: FaultKindDescription[]): string {
  const lines: string[] = [];
  for (const kind of kinds) {
    lines.push(`${kind.kind}  [${kind.layer}]  ${kind.summary}`);
    for (const [name, param] of Object.entries(kind.params)) {
      const tail = param.required
        ? ", required"
        : param.default === undefined
        ? ""
        : `, default ${JSON.stringify(param.default)}`;
      lines.push(`    ${name}: ${param.summary}; ${param.allowed}${tail}`);
    }
  }
  return lines.join("\n");
}

export const faultCommand: Command = {
  name: "fault",
  summary: "put a fault into a module, take it out, or list the fault kinds",
  usage,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      options: {
        api: { type: "string" },
        "api-token": { type: "string" },
        clear: { type: "boolean", default: false },
        list: { type: "boolean", default: false },
      },
      allowPositionals: true,
    });
    const client = ApiClient.fromOptions(values);
    try {
      // `fault list` as well as `fault --list`: as `scenario check` reads, and no cage is named "list".
      const listWord = positionals[0] === "list";
      if (values.list || listWord) {
        if (positionals.length > (listWord ? 1 : 0) || values.clear || (values.list && listWord)) {
          throw new UsageError("--list takes no cage, kind or --clear");
        }
        const { kinds } = await client.request("GET", "/faults") as { kinds: FaultKindDescription[] };
        console.log(formatKinds(kinds));
        return 0;
      }
      const [cageText, kind, ...pairs] = positionals;
      if (cageText === undefined) throw new UsageError("give the cage (OLT/BOARD/CAGE), or --list");
      const cage = parseCagePath(cageText);
      if (kind === undefined) {
        if (values.clear) throw new UsageError("--clear needs the KIND of fault to take out");
        const { faults } = await client.request("GET", `${modulePath(cage)}/faults`) as { faults: Fault[] };
        if (faults.length === 0) console.log(`${cageText}: no faults`);
        for (const fault of faults) {
          console.log(`${cageText}: ${[fault.kind, formatFaultParams(fault.params)].join(" ").trim()}`);
        }
        return 0;
      }
      const faultPath = `${modulePath(cage)}/faults/${encodeURIComponent(kind)}`;
      if (values.clear) {
        if (pairs.length > 0) throw new UsageError("--clear takes no KEY=VALUE parameters");
        await client.request("DELETE", faultPath);
        console.log(`${cageText}: fault ${kind} cleared`);
        return 0;
      }
      const fault = await client.request("PUT", faultPath, parseFaultParams(pairs)) as Fault;
      const shown = formatFaultParams(fault.params);
      console.log(`${cageText}: fault ${fault.kind} set${shown ? ` (${shown})` : ""}`);
      return 0;
    } catch (error) {
      if (!(error instanceof ApiClientError)) throw error;
      console.error(`sfpemu fault: ${error.message}`);
      return 1;
    }
  },
};
