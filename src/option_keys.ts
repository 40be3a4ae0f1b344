/**
 * Option objects are checked for keys this module does not know, so a typo or
 * a Python spelling (`run_name`, `equity_curve`) is an error naming the key
 * meant, instead of a run logged silently without it.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";

// snake_case, kebab-case and case differences fold to one form: run_name ~ runName.
const fold = (key: string): string => key.replace(/[_\-\s]/g, "").toLowerCase();

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known key closest to `key`: the same name in another spelling, else
 * the nearest by edit distance when it is close enough to be a typo.
 *
 * @param key The unknown key.
 * @param known The keys that exist.
 * @returns The suggestion, or `undefined`.
 * @example A Python spelling
 * ```ts
 * import { nearestKey } from "./option_keys.ts";
 * if (nearestKey("run_name", ["runName", "tags"]) !== "runName") throw new Error();
 * ```
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const folded = fold(key);
  const same = known.find((k) => fold(k) === folded);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(folded.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(folded, fold(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Checks that `value` is an options object (plain, from any realm, or a class
 * instance) holding only known keys. Keys whose value is `undefined` count as
 * absent.
 *
 * @param value The options the caller passed.
 * @param known Every key the options type has.
 * @param field The option's name, for errors (`options`, `retry`, `chart`).
 * @returns The value, typed as an object.
 * @throws {MlflowValidationError} When `value` is not an object, or has an unknown key (naming the nearest known one).
 * @example A typo
 * ```ts
 * import { checkOptionKeys } from "./option_keys.ts";
 * try {
 *   checkOptionKeys({ runNmae: "x" }, ["runName"], "options");
 *   throw new Error("expected an error");
 * } catch (err) {
 *   if (!String(err).includes("did you mean 'runName'")) throw err;
 * }
 * ```
 */
export function checkOptionKeys(value: unknown, known: readonly string[], field: string): object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MlflowValidationError(field, `must be an object of options, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (known.includes(key) || (value as Record<string, unknown>)[key] === undefined) continue;
    const near = nearestKey(key, known);
    throw new MlflowValidationError(
      `${field}.${key}`,
      near === undefined ? `is not an option; the options are ${known.join(", ")}` : `is not an option; did you mean '${near}'?`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? "a string" : typeof value;
}

/** Keys of `ConnectionOptions`. */
export const CONNECTION_KEYS = ["trackingUri", "env", "fetch", "headers", "retry", "batchLimits", "verifyArtifacts", "aws", "gcp"] as const;

/** Keys of `RunOptions`. */
export const RUN_KEYS = [
  ...CONNECTION_KEYS,
  "runName",
  "experiment",
  "experimentId",
  "tags",
  "description",
  "nested",
  "parentRunId",
  "signal",
  "runId",
  "reopen",
  "dataset",
] as const;

/** Keys of `BacktestData`. */
export const BACKTEST_KEYS = [
  "stats",
  "equityCurve",
  "trades",
  "params",
  "htmlReport",
  "artifacts",
  "statsNaming",
  "symbolNames",
  "chart",
  "equityMetric",
  "onWarning",
  "dataset",
] as const;

/** Keys of `RetryOptions`. */
export const RETRY_KEYS = ["maxRetries", "timeoutMs", "budgetMs", "initialDelayMs", "maxDelayMs"] as const;

/** Keys of `EquityChartOptions`. */
export const CHART_KEYS = ["width", "height", "equityColor", "drawdownColor", "title", "maxPoints", "png", "scale", "spec"] as const;

/**
 * `true` when `Keys` lists exactly the keys of `T`, so a key list cannot
 * drift from its interface: `type _ = ExactKeys<typeof RUN_KEYS, RunOptions>`
 * fails to compile when it does.
 */
export type ExactKeys<Keys extends readonly string[], T> = [Exclude<keyof T, Keys[number]>] extends [never]
  ? [Exclude<Keys[number], keyof T>] extends [never] ? true : { missing: Exclude<Keys[number], keyof T> }
  : { unlisted: Exclude<keyof T, Keys[number]> };

/** Compiles only for `true`. */
export type Assert<T extends true> = T;
