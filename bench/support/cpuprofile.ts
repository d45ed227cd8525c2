// Reads a V8 .cpuprofile (what `deno run --cpu-prof` writes) and summarises where the time went:
// self and total time per function, and self time per source folder. A sample lasts until the
// next one (as Chrome DevTools counts it); "(idle)" is time spent waiting, not working.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  location: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  wallMs: number;
  idleMs: number;
  /** Everything but (idle). */
  busyMs: number;
  samples: number;
  functions: FunctionTime[];
  /** Self time per source folder (src/vhost, node_modules/hono, ext:deno, ...). */
  areas: { area: string; selfMs: number }[];
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** The file of a call frame relative to the repository (or the runtime's own name for it). */
function fileOf(url: string, root: string): string {
  if (!url) return "";
  const path = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
  return path.startsWith(root) ? path.slice(root.length) : path;
}

function areaOf(name: string, file: string): string {
  if (SPECIAL.has(name)) return name;
  if (!file) return "(native or V8 builtin)";
  const nodeModules = /node_modules\/(?:\.deno\/)?(@[^/]+\/[^/@]+|[^/@]+)/.exec(file);
  if (nodeModules) return `node_modules/${nodeModules[1]}`;
  if (file.startsWith("ext:")) return "ext: (Deno runtime)";
  if (file.startsWith("node:")) return "node: (Deno runtime)";
  const parts = file.split("/");
  return parts.length > 2 ? parts.slice(0, 2).join("/") : parts[0];
}

/** Only samples inside [fromUs, toUs] of the profile's clock (CLOCK_MONOTONIC in µs on Linux). */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

export function summarizeProfile(
  profile: CpuProfile,
  repositoryRoot: string,
  window?: ProfileWindow,
): ProfileSummary {
  const root = repositoryRoot.endsWith("/") ? repositoryRoot : `${repositoryRoot}/`;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = new Map<number, string>();
  const functions = new Map<string, FunctionTime & { area: string }>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    const file = fileOf(url, root);
    const location = file ? `${file}:${lineNumber + 1}` : "";
    const key = `${name} ${location}`;
    keyOf.set(node.id, key);
    if (!functions.has(key)) {
      functions.set(key, { name, location, selfMs: 0, totalMs: 0, area: areaOf(name, file) });
    }
  }

  // Sample i lasts from its timestamp to the next one's; the last one gets the mean interval.
  const times: number[] = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) times.push(t += delta);
  const n = profile.samples.length;
  const meanUs = n > 1 ? (times[n - 1] - times[0]) / (n - 1) : 0;
  let idleMs = 0;
  let counted = 0;
  for (let i = 0; i < n; i++) {
    if (window && (times[i] < window.fromUs || times[i] > window.toUs)) continue;
    counted++;
    const durationMs = Math.max(0, (i + 1 < n ? times[i + 1] - times[i] : meanUs) / 1000);
    const leaf = profile.samples[i];
    const self = functions.get(keyOf.get(leaf)!)!;
    self.selfMs += durationMs;
    if (self.name === "(idle)") idleMs += durationMs;
    // Total: each function once per sample, however deep its recursion.
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const key = keyOf.get(id)!;
      if (seen.has(key) || !byId.has(id)) continue;
      seen.add(key);
      functions.get(key)!.totalMs += durationMs;
    }
  }
  const areas = new Map<string, number>();
  for (const f of functions.values()) areas.set(f.area, (areas.get(f.area) ?? 0) + f.selfMs);
  const wallMs = window
    ? (Math.min(window.toUs, profile.endTime) - Math.max(window.fromUs, profile.startTime)) / 1000
    : (profile.endTime - profile.startTime) / 1000;
  return {
    wallMs,
    idleMs,
    busyMs: [...functions.values()].reduce((sum, f) => sum + f.selfMs, 0) - idleMs,
    samples: counted,
    functions: [...functions.values()]
      .filter((f) => f.name !== "(root)")
      .sort((a, b) => b.selfMs - a.selfMs)
      .map(({ name, location, selfMs, totalMs }) => ({ name, location, selfMs, totalMs })),
    areas: [...areas].map(([area, selfMs]) => ({ area, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** The newest .cpuprofile in a folder. */
export function newestProfile(dir: string): string {
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"))
    .map((e) => `${dir}/${e.name}`)
    .sort((a, b) => (Deno.statSync(a).mtime?.getTime() ?? 0) - (Deno.statSync(b).mtime?.getTime() ?? 0));
  if (!files.length) throw new Error(`no .cpuprofile in ${dir}`);
  return files[files.length - 1];
}
