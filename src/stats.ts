/**
 * Where backtest values end up: finite numbers become metrics, everything
 * else becomes tags that keep the exact text; params become strings.
 *
 * @module
 */
import { durationSeconds } from "./duration.ts";
import { MlflowValidationError } from "./errors.ts";
import type { KeyValue, Metric } from "./store.ts";
import { nanosToIso, toNanoseconds } from "./time.ts";
import { keyProblem } from "./validation.ts";

/** How stat keys are named in MLflow: as given, or all snake_case, or all camelCase. */
export type StatsNaming = "as-given" | "snake_case" | "camelCase";

/** Stats become these metrics and tags. */
export interface StatsEntries {
  metrics: Metric[];
  tags: KeyValue[];
}

/** Options for {@link statsToEntries}. */
export interface StatsOptions {
  /** Metric timestamp in milliseconds. */
  timestamp: number;
  /** Key naming; default `"as-given"`. */
  naming?: StatsNaming;
  /** Prefix for every key, e.g. `train.`. */
  prefix?: string;
}

const SYMBOL_WORDS: Array<[RegExp, string]> = [
  [/%/g, " pct "],
  [/#/g, " num "],
  [/&/g, " and "],
  [/\$/g, " usd "],
  [/\+/g, " plus "],
  [/@/g, " at "],
];

/**
 * Maps a key MLflow would reject to a legal, readable one, deterministically:
 * `%` becomes `pct`, `#` `num`, `&` `and`; other illegal characters separate
 * words; words are lower-cased and joined with `_`. Legal keys stay as given.
 *
 * @param key A stat key as the backtester named it.
 * @returns A legal key.
 * @example backtesting.py names
 * ```ts
 * import { legalKey } from "./stats.ts";
 * if (legalKey("Return [%]") !== "return_pct") throw new Error();
 * if (legalKey("# Trades") !== "num_trades") throw new Error();
 * if (legalKey("sharpe_ratio") !== "sharpe_ratio") throw new Error();
 * ```
 */
export function legalKey(key: string): string {
  if (keyProblem(key) === undefined) return key;
  let text = key;
  for (const [pattern, word] of SYMBOL_WORDS) text = text.replace(pattern, word);
  const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return words.join("_") || "_";
}

function toSnake(key: string): string {
  return key.replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, "$1_$2").replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, "$1_$2").toLowerCase();
}

function toCamel(key: string): string {
  return key.replace(/_+(\p{L}|\p{N})/gu, (_, c: string) => c.toUpperCase());
}

function rename(key: string, naming: StatsNaming): string {
  if (naming === "snake_case") return toSnake(key);
  if (naming === "camelCase") return toCamel(key);
  return key;
}

const TIME_NS_KEY = /(_time_ns|TimeNs)$/;

function specialNumberText(value: number): string {
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

// A plain object of any realm: its prototype is null or some realm's
// Object.prototype (whose own prototype is null), so objects made by `vm` or
// parsed in an edge route's request.json() count too.
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Sorts stats into metrics and tags. Finite numbers (and BigInts within
 * 2^53) become metrics; NaN and ±Infinity become tags `"NaN"`, `"Infinity"`,
 * `"-Infinity"`; strings, booleans, larger BigInts and Dates become tags with
 * their exact text; nanosecond timestamps (`*_time_ns`, `*TimeNs`) become a tag
 * with the exact integer plus an ISO-8601 twin (`*_time_iso`, `*TimeIso`).
 * Durations in text (`"P1DT2H"`, pandas `"1 days 02:00:00"`, Python
 * `"1 day, 2:00:00"`; see {@link durationSeconds}) keep their text as a tag
 * and add a metric in seconds under the key suffixed `_s`
 * (`Duration` -> tag `Duration` and metric `Duration_s`).
 * Nested objects are flattened with `.`; keys MLflow rejects go through
 * {@link legalKey}. Two keys that end up the same are an error.
 *
 * @param stats The stats object.
 * @param options Timestamp, naming and prefix.
 * @returns The metrics and tags.
 * @throws {MlflowValidationError} When two stats map to one key.
 * @example FLOX stats
 * ```ts
 * import { statsToEntries } from "./stats.ts";
 * const { metrics, tags } = statsToEntries(
 *   { sharpe_ratio: 1.2, profit_factor: Infinity, start_time_ns: 1700000000000000000n },
 *   { timestamp: 0 },
 * );
 * if (metrics.length !== 1 || tags.length !== 3) throw new Error();
 * ```
 */
export function statsToEntries(stats: object, options: StatsOptions): StatsEntries {
  const metrics: Metric[] = [];
  const tags: KeyValue[] = [];
  const origin = new Map<string, string>();
  const naming = options.naming ?? "as-given";

  const claim = (key: string, source: string): void => {
    const first = origin.get(key);
    if (first !== undefined) {
      throw new MlflowValidationError(
        `stats[${JSON.stringify(source)}]`,
        `maps to key '${key}', which stats[${JSON.stringify(first)}] already uses; rename one of them`,
      );
    }
    origin.set(key, source);
  };
  const tag = (key: string, value: string, source: string): void => {
    claim(key, source);
    tags.push({ key, value });
  };
  const metric = (key: string, value: number, source: string): void => {
    claim(key, source);
    metrics.push({ key, value, timestamp: options.timestamp, step: 0 });
  };

  const visit = (value: unknown, path: string[], sourcePath: string): void => {
    if (value === undefined || value === null) return;
    if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) {
        visit(v, [...path, legalKey(rename(k, naming))], sourcePath ? `${sourcePath}.${k}` : k);
      }
      return;
    }
    const key = (options.prefix ?? "") + path.join(".");
    const rawKey = path[path.length - 1] ?? "";
    if (TIME_NS_KEY.test(rawKey) && (typeof value === "bigint" || typeof value === "number" || typeof value === "string")) {
      const ns = toNanoseconds(value, `stats.${sourcePath}`, "ns");
      tag(key, ns.toString(), sourcePath);
      tag(key.replace(/_ns$/, "_iso").replace(/Ns$/, "Iso"), nanosToIso(ns), sourcePath);
      return;
    }
    if (typeof value === "number") {
      if (Number.isFinite(value)) metric(key, value, sourcePath);
      else tag(key, specialNumberText(value), sourcePath);
    } else if (typeof value === "bigint") {
      if (value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) {
        metric(key, Number(value), sourcePath);
      } else {
        tag(key, value.toString(), sourcePath);
      }
    } else if (typeof value === "boolean") {
      tag(key, String(value), sourcePath);
    } else if (value instanceof Date) {
      tag(key, value.toISOString(), sourcePath);
    } else if (typeof value === "string") {
      tag(key, value, sourcePath);
      const seconds = durationSeconds(value);
      if (seconds !== undefined) metric(`${key}_s`, seconds, sourcePath);
    } else {
      tag(key, stringifyValue(value), sourcePath);
    }
  };

  if (!isPlainObject(stats)) {
    throw new MlflowValidationError("stats", "must be a plain object of stat names to values");
  }
  visit(stats, [], "");
  return { metrics, tags };
}

/**
 * Turns a param or tag value into the string MLflow stores, the way a
 * JavaScript user reads it: `0.0004` stays `"0.0004"`, `true` is `"true"`,
 * BigInts keep every digit, Dates are ISO-8601, arrays and objects are JSON.
 *
 * @param value Any value.
 * @returns Its string form.
 * @example Numbers and arrays
 * ```ts
 * import { stringifyValue } from "./stats.ts";
 * if (stringifyValue(0.0004) !== "0.0004") throw new Error();
 * if (stringifyValue([10, 30]) !== "[10,30]") throw new Error();
 * ```
 */
export function stringifyValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null || value === undefined) return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * Turns a params or tags object into key/value pairs, keys checked as given
 * (params are the user's own names; a bad one is an error, not a rename).
 *
 * @param values The object, or `undefined`.
 * @returns The pairs in the object's order; `undefined` values are left out.
 * @example Params from an object
 * ```ts
 * import { toKeyValues } from "./stats.ts";
 * const pairs = toKeyValues({ fast: 10, fee: 0.0004 });
 * if (pairs[1]!.value !== "0.0004") throw new Error();
 * ```
 */
export function toKeyValues(values: object | undefined): KeyValue[] {
  if (values === undefined) return [];
  return Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: stringifyValue(v) }));
}
