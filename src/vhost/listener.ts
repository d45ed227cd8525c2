// A listening vhost-user socket for one device. QEMU is the client; when its connection ends (a
// guest reboot, a QEMU restart) the listener accepts the next frontend. One frontend at a time:
// a second connection while one is active is refused, as a device has one driver.
import type { EventLoop, Watch } from "../native/event-loop.ts";
import { acceptConnection, closeQuietly, listenUnix } from "../native/syscalls.ts";
import type { Logger } from "../log/logger.ts";
import { silentLogger } from "../log/logger.ts";
import type { VirtioDevice } from "./device.ts";
import { VhostUserSession } from "./session.ts";

export type ListenerEvent =
  | { type: "connected"; path: string }
  | { type: "disconnected"; path: string; reason: string }
  | { type: "refused"; path: string; reason: string };

export interface ListenerOptions {
  path: string;
  device: VirtioDevice;
  loop: EventLoop;
  log?: Logger;
  onEvent?: (event: ListenerEvent) => void;
}

export class VhostUserListener {
  readonly path: string;
  readonly device: VirtioDevice;
  #loop: EventLoop;
  #log: Logger;
  #onEvent: (event: ListenerEvent) => void;
  #listenFd = -1;
  #watch: Watch | undefined;
  #session: VhostUserSession | undefined;
  /** Frontends served so far (for status and tests). */
  connections = 0;

  constructor(options: ListenerOptions) {
    this.path = options.path;
    this.device = options.device;
    this.#loop = options.loop;
    this.#log = (options.log ?? silentLogger).child({ socket: options.path });
    this.#onEvent = options.onEvent ?? (() => {});
  }

  get connected(): boolean {
    return this.#session !== undefined;
  }

  get session(): VhostUserSession | undefined {
    return this.#session;
  }

  /** Creates the socket file (mode 0600) and starts accepting. */
  start(): void {
    if (this.#listenFd >= 0) return;
    this.#listenFd = listenUnix(this.path);
    this.#watch = this.#loop.watchReadable(this.#listenFd, () => this.#accept());
    this.#log.debug("listening", { device: this.device.name });
  }

  #accept(): void {
    for (;;) {
      let fd: number | null;
      try {
        fd = acceptConnection(this.#listenFd);
      } catch (error) {
        this.#log.warn("accept failed", { error });
        return;
      }
      if (fd === null) return;
      if (this.#session) {
        closeQuietly(fd);
        const reason = "a frontend is already connected";
        this.#log.warn("refused a second frontend", { reason });
        this.#onEvent({ type: "refused", path: this.path, reason });
        continue;
      }
      this.connections++;
      this.device.driverStarted?.();
      this.#session = new VhostUserSession(fd, this.device, this.#loop, this.#log, (session, reason) => {
        if (this.#session === session) this.#session = undefined;
        this.#log.info("frontend disconnected", { reason });
        this.#onEvent({ type: "disconnected", path: this.path, reason });
      });
      this.#log.info("frontend connected", { device: this.device.name });
      this.#onEvent({ type: "connected", path: this.path });
    }
  }

  /** Drops the current frontend (it sees the device go away) but keeps listening. */
  disconnect(reason = "disconnected by the emulator"): void {
    this.#session?.close(reason);
  }

  /** Stops listening, ends the session and removes the socket file. */
  close(): Promise<void> {
    this.disconnect("emulator is closing this device");
    if (this.#watch) this.#loop.unwatch(this.#watch);
    this.#watch = undefined;
    if (this.#listenFd >= 0) {
      closeQuietly(this.#listenFd);
      this.#listenFd = -1;
      try {
        Deno.removeSync(this.path);
      } catch {
        // Already gone (removed by hand, or a second close): nothing to clean.
      }
    }
    return Promise.resolve();
  }
}
