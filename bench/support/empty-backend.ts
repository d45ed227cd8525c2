// Child process of bench/kick_call.ts: the real backend (one EventLoop, a VhostUserListener) with
// an EmptyDevice on the socket given as argument; prints "ready" once it listens, stops on SIGTERM.
import { EventLoop } from "../../src/native/event-loop.ts";
import { closeNative } from "../../src/native/library.ts";
import { VhostUserListener } from "../../src/vhost/listener.ts";
import { EmptyDevice } from "./empty-device.ts";

const loop = new EventLoop((error) => console.error("empty backend handler failed:", error));
const listener = new VhostUserListener({ path: Deno.args[0], device: new EmptyDevice(), loop });
listener.start();
loop.start();

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await listener.close();
  await loop.stop();
  closeNative();
  Deno.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => void stop());
console.log("ready");
