// Typed wrappers over libsfpemu: numbers in, numbers out, failures as NativeError.
import { native } from "./library.ts";

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  17: "EEXIST",
  20: "ENOTDIR",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  32: "EPIPE",
  36: "ENAMETOOLONG",
  90: "EMSGSIZE",
  98: "EADDRINUSE",
  104: "ECONNRESET",
  107: "ENOTCONN",
  111: "ECONNREFUSED",
};

export const EAGAIN = 11;
export const EMSGSIZE = 90;

/** A failed system call: what was attempted and the errno it gave. */
export class NativeError extends Error {
  override name = "NativeError";
  constructor(readonly operation: string, readonly errno: number) {
    super(`${operation}: ${ERRNO_NAMES[errno] ?? "errno"} (${errno})`);
  }
}

function check(operation: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new NativeError(operation, -n);
  return n;
}

const encoder = new TextEncoder();
function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(encoder.encode(text).length + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

export const MAX_FDS_PER_MESSAGE = 8;

/** Listening unix socket at path (mode 0600, a stale file replaced); non-blocking. */
export function listenUnix(path: string, backlog = 4): number {
  return check(`listen ${path}`, native().sfp_listen(cString(path), backlog));
}

/** The accepted connection's fd (non-blocking), or null when nobody is waiting. */
export function acceptConnection(listenFd: number): number | null {
  const rc = native().sfp_accept(listenFd);
  if (rc === -EAGAIN) return null;
  return check("accept", rc);
}

/** A blocking connection to a listening unix socket. */
export function connectUnix(path: string): number {
  return check(`connect ${path}`, native().sfp_connect(cString(path)));
}

export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  check("socketpair", native().sfp_socketpair(fds));
  return [fds[0], fds[1]];
}

/** Sends bytes with fds attached as SCM_RIGHTS; returns the bytes sent. */
export function sendWithFds(fd: number, bytes: Uint8Array, fds: readonly number[] = []): number {
  if (fds.length > MAX_FDS_PER_MESSAGE) throw new NativeError("send", 22);
  const fdArray = new Int32Array(Math.max(fds.length, 1));
  fdArray.set(fds);
  return check("send", native().sfp_send(fd, bytes, BigInt(bytes.length), fdArray, fds.length));
}

export interface Received {
  /** Bytes read into the buffer; 0 means the peer closed the connection. */
  bytes: number;
  /** Descriptors that came with them; the receiver owns (and must close) them. */
  fds: number[];
}

const recvFds = new Int32Array(MAX_FDS_PER_MESSAGE);
const recvFdCount = new Int32Array(1);

/** Non-blocking receive into buffer; null when nothing is waiting. */
export function receiveWithFds(fd: number, buffer: Uint8Array): Received | null {
  const rc = native().sfp_recv(fd, buffer, BigInt(buffer.length), recvFds, recvFdCount);
  if (rc === BigInt(-EAGAIN)) return null;
  const bytes = check("recv", rc);
  return { bytes, fds: Array.from(recvFds.subarray(0, recvFdCount[0])) };
}

/** A non-blocking eventfd. */
export function createEventFd(initial = 0): number {
  return check("eventfd", native().sfp_eventfd(initial));
}

export function signalEventFd(fd: number, value = 1n): void {
  check("eventfd write", native().sfp_eventfd_write(fd, value));
}

/**
 * Signals without failing: for notifications to a peer, where a saturated counter (EAGAIN: the
 * peer has not read for 2^64-2 signals) means a wake-up is already pending, and a bad fd is the
 * peer's problem. Returns whether the signal went through.
 */
export function notifyEventFd(fd: number): boolean {
  return native().sfp_eventfd_write(fd, 1n) === 0;
}

/** The eventfd counter, reset to zero; 0n when nothing was signalled. */
export function drainEventFd(fd: number): bigint {
  const rc = native().sfp_eventfd_read(fd);
  if (rc === BigInt(-EAGAIN)) return 0n;
  check("eventfd read", rc);
  return BigInt(rc);
}

export function createMemFd(name: string, sizeBytes: number): number {
  return check(`memfd ${name}`, native().sfp_memfd(cString(name), BigInt(sizeBytes)));
}

/** A shared read/write mapping of an fd, viewed as one ArrayBuffer. */
export interface SharedMapping {
  readonly address: bigint;
  readonly sizeBytes: number;
  buffer: ArrayBuffer;
}

export function mapShared(fd: number, sizeBytes: number, offset = 0n): SharedMapping {
  const address = new BigUint64Array(1);
  check("mmap", native().sfp_mmap(fd, BigInt(sizeBytes), offset, address));
  const pointer = Deno.UnsafePointer.create(address[0]);
  if (!pointer) throw new NativeError("mmap", 22);
  // One view per mapping, made once (DESIGN.md): every access goes through it.
  const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, sizeBytes);
  return { address: address[0], sizeBytes, buffer };
}

/**
 * Unmaps. The view is detached first (transfer(0)): touching an unmapped page would be a
 * SIGSEGV, while touching a detached buffer is a TypeError that the caller can survive.
 */
export function unmap(mapping: SharedMapping): void {
  if (mapping.buffer.byteLength > 0) mapping.buffer.transfer(0);
  check("munmap", native().sfp_munmap(mapping.address, BigInt(mapping.sizeBytes)));
}

/** The size in bytes of the file behind fd. */
export function fileSize(fd: number): number {
  return check("fstat", native().sfp_fd_size(fd));
}

export function closeFd(fd: number): void {
  check("close", native().sfp_close(fd));
}

/** Closes without throwing (teardown paths where the fd may already be gone). */
export function closeQuietly(fd: number | undefined | null): void {
  if (fd !== undefined && fd !== null && fd >= 0) native().sfp_close(fd);
}

export function setNonBlocking(fd: number, on: boolean): void {
  check("fcntl", native().sfp_set_nonblocking(fd, on ? 1 : 0));
}

/** Monotonic nanoseconds (finer than performance.now() in some runtimes). */
export function nowNs(): bigint {
  return native().sfp_now_ns();
}

export const WATCH_EVENTFD = 0;
export const WATCH_READABLE = 1;
export type WatchKind = typeof WATCH_EVENTFD | typeof WATCH_READABLE;

/** One epoll set. Results are (token, value) pairs in `results`, valid until the next wait. */
export class Poller {
  readonly fd: number;
  readonly results: BigUint64Array<ArrayBuffer>;
  readonly #maxPairs: number;

  constructor(maxPairs = 64) {
    this.fd = check("epoll_create", native().sfp_poller_new());
    this.#maxPairs = maxPairs;
    this.results = new BigUint64Array(maxPairs * 2);
  }

  add(fd: number, token: number, kind: WatchKind): void {
    check("epoll add", native().sfp_poller_add(this.fd, fd, token, kind));
  }

  remove(fd: number): void {
    native().sfp_poller_remove(this.fd, fd);
  }

  /** Synchronous wait (timeout 0 = poll); returns the number of pairs. */
  waitNow(timeoutMs = 0): number {
    return check("epoll_wait", native().sfp_poller_wait(this.fd, timeoutMs, this.results, this.#maxPairs));
  }

  /** The awaited wait, run off the main thread. Keep only one pending at a time. */
  async wait(timeoutMs: number): Promise<number> {
    const rc = await native().sfp_poller_wait_async(this.fd, timeoutMs, this.results, this.#maxPairs);
    return check("epoll_wait", rc);
  }

  close(): void {
    closeQuietly(this.fd);
  }
}
