// Bounded waits: every await of a benchmark ends, with an error that says what did not come.

/** Longest wait for one HTTP request of a benchmark. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** The promise's value, or an Error naming `what` after ms milliseconds. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** fetch() that gives up after REQUEST_TIMEOUT_MS. */
export function timedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}
