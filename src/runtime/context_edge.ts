/**
 * Async context where `AsyncLocalStorage` is missing (workerd without
 * `nodejs_compat`). Without it, which run a call belongs to cannot be known:
 * every request in an isolate shares its globals, so even a single open run
 * may belong to another request. This context therefore never names a
 * current run; a child run names its parent explicitly (`parentRunId`, or a
 * parent handle's `startChild`/`logChild`).
 *
 * @module
 */

/** A value visible to everything called inside `run`, as far as this runtime can tell. */
export interface AsyncContext<T> {
  /** Whether `get` can tell the current value on this runtime. */
  readonly tracks: boolean;
  /** Calls `fn` with `value` as the current value. */
  run<R>(value: T, fn: () => R): R;
  /** The current value, or `undefined` outside any `run` (always, where the runtime cannot tell). */
  get(): T | undefined;
}

/**
 * Creates a context that never guesses: `get` is always `undefined`.
 *
 * @returns A new context.
 * @example Nothing is current, even inside `run`
 * ```ts
 * import { createAsyncContext } from "./context_edge.ts";
 * const context = createAsyncContext<string>();
 * await context.run("parent", async () => {
 *   if (context.get() !== undefined || context.tracks) throw new Error();
 * });
 * ```
 */
export function createAsyncContext<T>(): AsyncContext<T> {
  return {
    tracks: false,
    run: (_value, fn) => fn(),
    get: () => undefined,
  };
}
