// The catalog of module types: every devices/*.yaml profile, by id. A bad file is left out and
// reported; the good ones still load, so one typo does not take the whole lab down.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadProfileFile, type ModuleProfile, ProfileError } from "./profile.ts";

/** The repository's devices/ folder, found relative to this file (works from any working directory). */
export const DEFAULT_CATALOG_DIR: string = fileURLToPath(new URL("../../devices/", import.meta.url));

/** Profiles by id, plus the errors of the files that did not load. */
export class Catalog extends Map<string, ModuleProfile> {
  constructor(profiles: readonly ModuleProfile[] = [], readonly errors: readonly ProfileError[] = []) {
    super(profiles.map((p) => [p.id, p]));
  }

  /** The profile with this id, or an error that lists the ids there are. */
  require(id: string): ModuleProfile {
    const profile = this.get(id);
    if (profile) return profile;
    const known = [...this.keys()].sort().join(", ") || "none";
    throw new Error(`unknown module profile ${JSON.stringify(id)}; the catalog has: ${known}`);
  }
}

/** Loads every *.yaml / *.yml file of dir (default: the repository's devices/). */
export async function loadCatalog(dir: string | URL = DEFAULT_CATALOG_DIR): Promise<Catalog> {
  const path = dir instanceof URL ? fileURLToPath(dir) : dir;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isFile && /\.ya?ml$/.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    throw new Error(`cannot read the module catalog folder ${path}: ${(error as Error).message}`);
  }
  names.sort();
  const profiles: ModuleProfile[] = [];
  const errors: ProfileError[] = [];
  const files = new Map<string, string>();
  for (const name of names) {
    const file = join(path, name);
    try {
      const profile = await loadProfileFile(file);
      const first = files.get(profile.id);
      if (first !== undefined) {
        errors.push(
          new ProfileError(file, [{ path: "id", message: `"${profile.id}" is already defined by ${first}` }]),
        );
        continue;
      }
      files.set(profile.id, file);
      profiles.push(profile);
    } catch (error) {
      if (error instanceof ProfileError) errors.push(error);
      else errors.push(new ProfileError(file, [{ path: "", message: (error as Error).message }]));
    }
  }
  return new Catalog(profiles, errors);
}
