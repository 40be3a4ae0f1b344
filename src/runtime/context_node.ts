/**
 * Async context on runtimes with `AsyncLocalStorage` (Node, Deno, Bun), so a
 * nested run finds its own parent even when many runs are open at once.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** A value visible to everything called, synchronously or not, inside `run`. */
export interface AsyncContext<T> {
  /** Whether `get` can tell the current value on this runtime. */
  readonly tracks: boolean;
  /** Calls `fn` with `value` as the current value. */
  run<R>(value: T, fn: () => R): R;
  /** The current value, or `undefined` outside any `run`. */
  get(): T | undefined;
}

/**
 * Creates an async context backed by `AsyncLocalStorage`.
 *
 * @returns A new context.
 * @example The value follows async calls
 * ```ts
 * import { createAsyncContext } from "./context_node.ts";
 * const context = createAsyncContext<string>();
 * await context.run("parent", async () => {
 *   await new Promise((r) => setTimeout(r, 1));
 *   if (context.get() !== "parent") throw new Error();
 * });
 * ```
 */
export function createAsyncContext<T>(): AsyncContext<T> {
  const storage = new AsyncLocalStorage<T>();
  return {
    tracks: true,
    run: (value, fn) => storage.run(value, fn),
    get: () => storage.getStore(),
  };
}
