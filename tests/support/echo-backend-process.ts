// The backend as its own process, for tests that must survive what it does: a crash (SIGBUS,
// SIGSEGV) kills only this child, and signal-driven shutdown can be observed from outside.
// Usage: deno run -A tests/support/echo-backend-process.ts <socket path>...
// Prints "ready" once every socket listens; on SIGTERM or SIGINT it closes each listener (which
// removes its socket file), stops the loop and exits 0.
import { EventLoop } from "../../src/native/event-loop.ts";
import { VhostUserListener } from "../../src/vhost/listener.ts";
import { createLogger } from "../../src/log/logger.ts";
import { EchoDevice } from "./echo-device.ts";

// Backend logs go to stderr (JSON lines), where the parent test can show them when it fails.
const log = createLogger({ format: "json", level: "debug" });
const loop = new EventLoop((error) => log.error("event loop handler failed", { error }));
const listeners = Deno.args.map((path) =>
  new VhostUserListener({ path, device: new EchoDevice(), loop, log })
);
for (const listener of listeners) listener.start();
loop.start();

let stopping = false;
async function shutDown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const listener of listeners) await listener.close();
  await loop.stop();
  console.log(`stopped on ${signal}`);
  Deno.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => void shutDown(signal));
}
console.log("ready");
