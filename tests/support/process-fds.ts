// Open file descriptors of this process, for leak checks (every fd a test creates through FFI is
// invisible to Deno's resource sanitizer).

/** Entries in /proc/self/fd (the directory handle used to list it is counted the same each time). */
export function openFdCount(): number {
  let count = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
  return count;
}

/** The targets of this process's open fds, to name what leaked when a count differs. */
export function openFdTargets(): string[] {
  const targets: string[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      targets.push(`${entry.name} -> ${Deno.readLinkSync(`/proc/self/fd/${entry.name}`)}`);
    } catch {
      // The listing's own fd is gone by the time it is read.
    }
  }
  return targets;
}
