/**
 * Async context where `AsyncLocalStorage` is missing (workerd without
 * `nodejs_compat`). Without it, which of several open runs a call belongs to
 * cannot be known, so the current value is given only while exactly one run
 * is open; with more, `get` throws rather than guessing a parent.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";

/** A value visible to everything called inside `run`, as far as this runtime can tell. */
export interface AsyncContext<T> {
  /** Calls `fn` with `value` as the current value. */
  run<R>(value: T, fn: () => R): R;
  /** The current value, or `undefined` outside any `run`. */
  get(): T | undefined;
}

/**
 * Creates a context that tracks open values and refuses to guess.
 *
 * @returns A new context.
 * @throws {MlflowError} From `get`, when more than one value is open.
 * @example One open run is the current one
 * ```ts
 * import { createAsyncContext } from "./context_edge.ts";
 * const context = createAsyncContext<string>();
 * await context.run("parent", async () => {
 *   if (context.get() !== "parent") throw new Error();
 * });
 * ```
 */
export function createAsyncContext<T>(): AsyncContext<T> {
  const open: T[] = [];
  return {
    run<R>(value: T, fn: () => R): R {
      open.push(value);
      const close = () => {
        const i = open.indexOf(value);
        if (i >= 0) open.splice(i, 1);
      };
      try {
        const result = fn();
        if (result instanceof Promise) return result.finally(close) as R;
        close();
        return result;
      } catch (err) {
        close();
        throw err;
      }
    },
    get(): T | undefined {
      if (open.length > 1) {
        throw new MlflowError(
          "nested: true cannot tell which open run is the parent on a runtime without AsyncLocalStorage " +
            "while several runs are open; pass parentRunId instead",
          { errorCode: "INVALID_STATE" },
        );
      }
      return open[0];
    },
  };
}
