/**
 * Async context where `AsyncLocalStorage` is missing (workerd without
 * `nodejs_compat`). Without it, which of several open runs a call belongs to
 * cannot be known, so the current value is given only while the open runs
 * form one chain (each opened inside the previous); otherwise `get` throws
 * rather than guessing a parent.
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

interface Entry<T> {
  value: T;
  enclosing: Entry<T> | undefined;
}

/**
 * Creates a context that tracks open values and refuses to guess.
 *
 * @returns A new context.
 * @throws {MlflowError} From `get`, when several values are open side by side.
 */
export function createAsyncContext<T>(): AsyncContext<T> {
  const open: Entry<T>[] = [];
  const innermost = (): Entry<T> | undefined => {
    for (let i = 1; i < open.length; i++) {
      if (open[i]!.enclosing !== open[i - 1]) {
        throw new MlflowError(
          "nested: true cannot tell which open run is the parent on a runtime without AsyncLocalStorage " +
            "while several runs are open side by side; pass parentRunId instead",
          { errorCode: "INVALID_STATE" },
        );
      }
    }
    return open[open.length - 1];
  };
  return {
    run<R>(value: T, fn: () => R): R {
      let enclosing: Entry<T> | undefined;
      try {
        enclosing = innermost();
      } catch {
        // Side-by-side runs already open: this one has no knowable parent, and `get` keeps refusing.
        enclosing = undefined;
      }
      const entry: Entry<T> = { value, enclosing };
      open.push(entry);
      const close = () => {
        const i = open.indexOf(entry);
        if (i >= 0) open.splice(i, 1);
      };
      try {
        const result = fn();
        if (result instanceof Promise) {
          return result.finally(close) as R;
        }
        close();
        return result;
      } catch (err) {
        close();
        throw err;
      }
    },
    get: () => innermost()?.value,
  };
}
