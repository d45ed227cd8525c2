// The only place that calls Deno.dlopen (DESIGN.md "Layers": src/native/).
// Locates libsfpemu.so next to the program, in build/ of a checkout, or inside a binary made
// by `deno compile --include`, from which it is copied out first (dlopen needs a real file).

const symbols = {
  sfp_listen: { parameters: ["buffer", "i32"], result: "i32" },
  sfp_accept: { parameters: ["i32"], result: "i32" },
  sfp_connect: { parameters: ["buffer"], result: "i32" },
  sfp_socketpair: { parameters: ["buffer"], result: "i32" },
  sfp_send: { parameters: ["i32", "buffer", "u64", "buffer", "i32"], result: "i64" },
  sfp_recv: { parameters: ["i32", "buffer", "u64", "buffer", "buffer"], result: "i64" },
  sfp_eventfd: { parameters: ["u32"], result: "i32" },
  sfp_eventfd_write: { parameters: ["i32", "u64"], result: "i32" },
  sfp_eventfd_read: { parameters: ["i32"], result: "i64" },
  sfp_memfd: { parameters: ["buffer", "u64"], result: "i32" },
  sfp_mmap: { parameters: ["i32", "u64", "u64", "buffer"], result: "i32" },
  sfp_munmap: { parameters: ["u64", "u64"], result: "i32" },
  sfp_fd_size: { parameters: ["i32"], result: "i64" },
  sfp_close: { parameters: ["i32"], result: "i32" },
  sfp_set_nonblocking: { parameters: ["i32", "i32"], result: "i32" },
  sfp_poller_new: { parameters: [], result: "i32" },
  sfp_poller_add: { parameters: ["i32", "i32", "u32", "i32"], result: "i32" },
  sfp_poller_remove: { parameters: ["i32", "i32"], result: "i32" },
  sfp_poller_wait: { parameters: ["i32", "i32", "buffer", "i32"], result: "i32" },
  // The same C function run on Deno's blocking-call thread: the ONE pending wait of the loop.
  sfp_poller_wait_async: {
    name: "sfp_poller_wait",
    parameters: ["i32", "i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  sfp_now_ns: { parameters: [], result: "u64" },
} as const satisfies Deno.ForeignLibraryInterface;

export type NativeSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

const LIBRARY_NAME = "libsfpemu.so";

function candidatePaths(): string[] {
  const paths: string[] = [];
  const fromEnv = Deno.env.get("SFPEMU_LIB");
  if (fromEnv) paths.push(fromEnv);
  const here = new URL(".", import.meta.url);
  // src/native/ -> repository root -> build/
  paths.push(new URL(`../../build/${LIBRARY_NAME}`, here).pathname);
  // Beside a compiled binary.
  const execDir = Deno.execPath().replace(/\/[^/]*$/, "");
  paths.push(`${execDir}/${LIBRARY_NAME}`);
  return paths;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A copy of the library embedded with `deno compile --include build/libsfpemu.so`. */
function extractEmbedded(): string | undefined {
  const embedded = new URL(`../../build/${LIBRARY_NAME}`, import.meta.url);
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(embedded);
  } catch {
    return undefined;
  }
  const dir = Deno.makeTempDirSync({ prefix: "sfpemu-lib-" });
  const path = `${dir}/${LIBRARY_NAME}`;
  Deno.writeFileSync(path, bytes, { mode: 0o700 });
  return path;
}

let library: Deno.DynamicLibrary<typeof symbols> | undefined;

/** The loaded library (loaded on first use). */
export function native(): NativeSymbols {
  if (!library) {
    for (const path of candidatePaths().filter(isFile)) {
      try {
        library = Deno.dlopen(path, symbols);
        break;
      } catch {
        // Inside a compiled binary the embedded path stats as a file but is not a real one.
      }
    }
    const extracted = library ? undefined : extractEmbedded();
    if (extracted) library = Deno.dlopen(extracted, symbols);
    if (!library) {
      throw new Error(
        `cannot find ${LIBRARY_NAME}; looked in ${candidatePaths().join(", ")} ` +
          `(build it with tools/bootstrap.sh, or set SFPEMU_LIB)`,
      );
    }
  }
  return library.symbols;
}

/**
 * Unloads the library. Only call once nothing can be inside it (DESIGN.md: closing the
 * library while a nonblocking call runs crashes the process) — the event loop's stop()
 * guarantees that.
 */
export function closeNative(): void {
  library?.close();
  library = undefined;
}
