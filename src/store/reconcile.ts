// Saved state against the topology of this run: what still fits is restored, the rest is dropped,
// and every difference becomes one note for the log. With the same topology nothing is noted.
import type { CageState, LabState } from "../lab/lab.ts";
import type { Topology } from "../topology/model.ts";
import type { SavedBoard, SavedState } from "./state-file.ts";

export interface ReconcileNote {
  level: "info" | "warn";
  /** olt/board or olt/board/cage. */
  path: string;
  message: string;
}

export interface Reconciled {
  /** What Lab.start restores; cages not in it start as the topology says. */
  state: LabState;
  notes: ReconcileNote[];
}

interface BoardLayout {
  kind: string;
  cageCount: number;
  /** Initial modules of the topology, by cage id, for notes about new cages. */
  initialProfiles: (string | undefined)[];
}

export function reconcile(
  saved: SavedState,
  topology: Topology,
  knownProfiles: ReadonlySet<string>,
): Reconciled {
  const state: LabState = { boards: new Map(), cages: new Map() };
  const notes: ReconcileNote[] = [];
  if (saved.boards.size === 0 && saved.cages.size === 0) return { state, notes }; // first start
  const note = (level: ReconcileNote["level"], path: string, message: string) =>
    notes.push({ level, path, message });

  if (saved.topologyName !== undefined && saved.topologyName !== topology.name) {
    note("warn", "", `the state was saved for topology "${saved.topologyName}", this is "${topology.name}"`);
  }
  const specs = new Map(topology.olts.flatMap((olt) => olt.boards.map((b) => [`${olt.id}/${b.id}`, b])));
  const layouts = new Map<string, BoardLayout>();
  for (const [path, spec] of specs) {
    const savedBoard = saved.boards.get(path);
    const kind = savedBoard ? boardKind(path, savedBoard, spec.kind, topology, note) : spec.kind;
    layouts.set(path, {
      kind,
      cageCount: kind === spec.kind ? spec.cageCount : topology.kinds[kind].cageCount,
      initialProfiles: kind === spec.kind ? spec.cages.map((cage) => cage.module?.profile) : [],
    });
    if (savedBoard) {
      const { removed, temperatureC } = savedBoard;
      state.boards.set(path, { kind, removed, ...(temperatureC === undefined ? {} : { temperatureC }) });
    } else note("info", path, `board ${path} is new in the topology: it starts as the topology says`);
  }

  const dropped = new Map<string, number>();
  for (const [path, cage] of saved.cages) {
    const boardPath = path.slice(0, path.lastIndexOf("/"));
    const cageId = Number(path.slice(boardPath.length + 1));
    const layout = layouts.get(boardPath);
    if (!layout) {
      dropped.set(boardPath, (dropped.get(boardPath) ?? 0) + (cage.module ? 1 : 0));
      continue;
    }
    if (cageId > layout.cageCount) {
      note(
        "warn",
        path,
        `cage ${path} no longer exists (board ${boardPath} has cages 1..${layout.cageCount}): ` +
          `its saved ${describe(cage)} is dropped`,
      );
      continue;
    }
    if (cage.module && !knownProfiles.has(cage.module.profile)) {
      note(
        "warn",
        path,
        `cage ${path}: the saved module's profile "${cage.module.profile}" is not in the catalog; ` +
          "the cage starts as the topology says",
      );
      continue;
    }
    state.cages.set(path, cage);
  }
  for (const path of saved.boards.keys()) if (!layouts.has(path)) dropped.set(path, dropped.get(path) ?? 0);
  for (const [path, modules] of dropped) {
    note(
      "warn",
      path,
      `board ${path} is no longer in the topology: its saved state (${modules} module(s)) is dropped`,
    );
  }

  for (const [path, layout] of layouts) {
    if (!saved.boards.has(path)) continue; // already noted as a new board
    for (let cageId = 1; cageId <= layout.cageCount; cageId++) {
      const cagePath = `${path}/${cageId}`;
      if (saved.cages.has(cagePath)) continue;
      const profile = layout.initialProfiles[cageId - 1];
      note(
        "info",
        cagePath,
        `cage ${cagePath} is new: it starts ${profile ? `with ${profile} from the topology` : "empty"}`,
      );
    }
  }
  return { state, notes };
}

/**
 * The kind a saved board starts as. A kind the user chose (PUT with another kind) is kept while
 * the topology still gives the board the kind it had then; a changed topology wins.
 */
function boardKind(
  path: string,
  saved: SavedBoard,
  topologyKind: string,
  topology: Topology,
  note: (level: ReconcileNote["level"], path: string, message: string) => void,
): string {
  if (saved.topologyKind !== topologyKind) {
    note(
      "warn",
      path,
      `board ${path} is of kind ${topologyKind} in the topology now (was ${saved.topologyKind}): ` +
        `it starts as ${topologyKind}`,
    );
    return topologyKind;
  }
  if (saved.kind === topologyKind) return topologyKind;
  if (!Object.hasOwn(topology.kinds, saved.kind)) {
    note(
      "warn",
      path,
      `board ${path} was inserted as kind ${saved.kind}, which the topology no longer defines: ` +
        `it starts as ${topologyKind}`,
    );
    return topologyKind;
  }
  return saved.kind;
}

function describe(cage: CageState): string {
  return cage.module ? `module ${cage.module.profile}` : "state (empty)";
}
