// CPU affinity of this process (every thread), for measuring a path with both ends on one CPU.

async function taskset(cpus: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", cpus, String(Deno.pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`taskset -c ${cpus}: ${new TextDecoder().decode(stderr)}`);
}

/** Runs body with every thread of this process on `cpus`, then lets it run anywhere again. */
export async function pinnedTo<T>(cpus: string, body: () => T | Promise<T>): Promise<T> {
  await taskset(cpus);
  try {
    return await body();
  } finally {
    await taskset(`0-${navigator.hardwareConcurrency - 1}`);
  }
}
