/**
 * MLflow's rules for metric, param and tag keys and values
 * (`mlflow/utils/validation.py`), checked before any request is sent.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import type { KeyValue, Metric } from "./store.ts";

/** MLflow's length limits. */
export const LIMITS = {
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 8000,
  runNameLength: 250,
  experimentNameLength: 500,
} as const;

// Python's `\w` is Unicode letters and numbers plus `_`: any script is legal, combining marks are not.
const KEY_CHARS = /^[\/\p{L}\p{N}_.\- :]*$/u;

/**
 * Why `key` is not a legal MLflow key, or `undefined` when it is.
 *
 * @param key A metric, param or tag key.
 * @returns The problem, in words, or `undefined`.
 * @example Legal and illegal keys
 * ```ts
 * import { keyProblem } from "./validation.ts";
 * if (keyProblem("ok key-1.a:b/c_d") !== undefined) throw new Error();
 * if (keyProblem("../escape") === undefined) throw new Error();
 * ```
 */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== "string" || key.length === 0) return "is empty; keys need at least one character";
  // MLflow counts characters as Python does, by code point.
  const length = Array.from(key).length;
  if (length > LIMITS.keyLength) {
    return `is ${length} characters long; MLflow allows at most ${LIMITS.keyLength}`;
  }
  if (!KEY_CHARS.test(key)) {
    return "has a character MLflow rejects; keys may only contain letters, digits, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)";
  }
  const segments = key.split("/");
  if (key.startsWith("..") || segments.some((s) => s === "" || s === "." || s === "..")) {
    return "would resolve to another name as a file path; no leading, trailing or double slashes, no '.' or '..' segments and no leading '..'";
  }
  return undefined;
}

/**
 * Throws unless `key` is a legal MLflow key.
 *
 * @param key The key.
 * @param field Where the key came from, e.g. `params`.
 * @throws {MlflowValidationError} Naming `field.key` and the rule it breaks.
 * @example A legal key passes
 * ```ts
 * import { checkKey } from "./validation.ts";
 * checkKey("sharpe_ratio", "stats");
 * ```
 */
export function checkKey(key: string, field: string): void {
  const problem = keyProblem(key);
  if (problem) throw new MlflowValidationError(`${field}[${JSON.stringify(key)}]`, `key ${problem}`);
}

/**
 * Checks params: legal keys, values within 6000 characters, no key twice.
 *
 * @param params The params to send.
 * @param field The option they came from.
 * @throws {MlflowValidationError} On the first bad param.
 * @example One param
 * ```ts
 * import { checkParams } from "./validation.ts";
 * checkParams([{ key: "fast", value: "10" }], "params");
 * ```
 */
export function checkParams(params: readonly KeyValue[], field: string): void {
  const seen = new Set<string>();
  for (const { key, value } of params) {
    checkKey(key, field);
    if (seen.has(key)) {
      throw new MlflowValidationError(`${field}[${JSON.stringify(key)}]`, "is given twice; MLflow params are logged once");
    }
    seen.add(key);
    if (value.length > LIMITS.paramValueLength) {
      throw new MlflowValidationError(
        `${field}[${JSON.stringify(key)}]`,
        `value is ${value.length} characters; MLflow keeps at most ${LIMITS.paramValueLength}. Log long text as an artifact instead`,
      );
    }
  }
}

/**
 * Checks tags: legal keys and values within 8000 characters.
 *
 * @param tags The tags to send.
 * @param field The option they came from.
 * @throws {MlflowValidationError} On the first bad tag.
 * @example One tag
 * ```ts
 * import { checkTags } from "./validation.ts";
 * checkTags([{ key: "data", value: "btcusdt_1m" }], "tags");
 * ```
 */
export function checkTags(tags: readonly KeyValue[], field: string): void {
  for (const { key, value } of tags) {
    checkKey(key, field);
    if (value.length > LIMITS.tagValueLength) {
      throw new MlflowValidationError(
        `${field}[${JSON.stringify(key)}]`,
        `value is ${value.length} characters; MLflow keeps at most ${LIMITS.tagValueLength}. Log long text as an artifact instead`,
      );
    }
  }
}

/**
 * Checks metrics: legal keys, numeric values, integer non-negative
 * timestamps and integer steps.
 *
 * @param metrics The metric points.
 * @param field The option they came from.
 * @throws {MlflowValidationError} On the first bad point.
 * @example NaN values are legal
 * ```ts
 * import { checkMetrics } from "./validation.ts";
 * checkMetrics([{ key: "sharpe", value: NaN, timestamp: 0, step: 0 }], "metrics");
 * ```
 */
export function checkMetrics(metrics: readonly Metric[], field: string): void {
  let lastKey = "";
  for (const m of metrics) {
    // Histories repeat one key many times; check each key once per run of it.
    if (m.key !== lastKey) checkKey(m.key, field);
    lastKey = m.key;
    const where = `${field}[${JSON.stringify(m.key)}]`;
    if (typeof m.value !== "number") throw new MlflowValidationError(where, "value must be a number");
    if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) {
      throw new MlflowValidationError(where, `timestamp ${m.timestamp} must be a whole number of milliseconds since the epoch, 0 or more`);
    }
    if (!Number.isSafeInteger(m.step)) throw new MlflowValidationError(where, `step ${m.step} must be a whole number`);
  }
}

/**
 * Checks a run name against the 250-character limit of MLflow's SQL stores.
 *
 * @param name The run name.
 * @param field The option it came from.
 * @throws {MlflowValidationError} When it is longer.
 * @example A short run name
 * ```ts
 * import { checkRunName } from "./validation.ts";
 * checkRunName("sma-crossover", "runName");
 * ```
 */
export function checkRunName(name: string, field: string): void {
  if (name.length > LIMITS.runNameLength) {
    throw new MlflowValidationError(field, `is ${name.length} characters; MLflow stores at most ${LIMITS.runNameLength}`);
  }
  if (name.includes("\0")) throw new MlflowValidationError(field, "contains a NUL character");
}
