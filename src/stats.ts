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
import { describeValue, isDate, jsonText, keyProblem, MAX_NESTING, recordEntries } from "./validation.ts";

/** How stat keys are named in MLflow: as given, or all snake_case, or all camelCase. */
export type StatsNaming = "as-given" | "snake_case" | "camelCase";

const NAMINGS: readonly string[] = ["as-given", "snake_case", "camelCase"] satisfies StatsNaming[];

/**
 * Throws unless `value` is a {@link StatsNaming} or `undefined`.
 *
 * @param value What the caller passed as `statsNaming`.
 * @param field The option.
 * @throws {MlflowValidationError} Listing the namings there are.
 * @example A naming that exists
 * ```ts
 * import { checkStatsNaming } from "./stats.ts";
 * checkStatsNaming("snake_case", "statsNaming");
 * ```
 */
export function checkStatsNaming(value: unknown, field: string): asserts value is StatsNaming | undefined {
  if (value !== undefined && !NAMINGS.includes(value as string)) {
    throw new MlflowValidationError(field, `is ${describeValue(value)}; pass "snake_case", "camelCase" or "as-given"`);
  }
}

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
 * {@link legalKey}. Arrays and other objects become tags holding their JSON.
 * Two keys that end up the same are an error, and so are stats that cannot be
 * logged faithfully: a Map or Set (convert it first), a function, a Symbol,
 * an invalid Date, a circular reference, nesting deeper than 100 levels.
 *
 * @param stats The stats object.
 * @param options Timestamp, naming and prefix.
 * @returns The metrics and tags.
 * @throws {MlflowValidationError} Naming the stat, e.g. `stats["drawdown.max"]`.
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

  const fieldOf = (sourcePath: string) => `stats[${JSON.stringify(sourcePath)}]`;
  const ancestors: object[] = [];
  const ancestorPaths: string[] = [];

  const visit = (value: unknown, path: string[], sourcePath: string): void => {
    if (value === undefined || value === null) return;
    if (isPlainObject(value)) {
      const seen = ancestors.indexOf(value);
      if (seen >= 0) {
        const target = seen === 0 ? "stats itself" : fieldOf(ancestorPaths[seen]!);
        throw new MlflowValidationError(fieldOf(sourcePath), `refers back to ${target} (a circular reference); stats must be a tree`);
      }
      if (ancestors.length >= MAX_NESTING) {
        // Named by its first-level key: a path 100 levels long would say less.
        throw new MlflowValidationError(fieldOf(ancestorPaths[1] ?? sourcePath), `nests deeper than ${MAX_NESTING} levels; no MLflow key is that long, flatten the stats`);
      }
      ancestors.push(value);
      ancestorPaths.push(sourcePath);
      for (const [k, v] of recordEntries(value, sourcePath ? fieldOf(sourcePath) : "stats", "stat names to values")) {
        visit(v, [...path, legalKey(rename(k, naming))], sourcePath ? `${sourcePath}.${k}` : k);
      }
      ancestors.pop();
      ancestorPaths.pop();
      return;
    }
    const key = (options.prefix ?? "") + path.join(".");
    const rawKey = path[path.length - 1] ?? "";
    if (TIME_NS_KEY.test(rawKey) && (typeof value === "bigint" || typeof value === "number" || typeof value === "string")) {
      const ns = toNanoseconds(value, fieldOf(sourcePath), "ns");
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
    } else if (typeof value === "string") {
      tag(key, value, sourcePath);
      const seconds = durationSeconds(value);
      if (seconds !== undefined) metric(`${key}_s`, seconds, sourcePath);
    } else {
      // Dates, arrays and other objects: Dates as ISO-8601, the rest as JSON.
      tag(key, stringifyValue(value, fieldOf(sourcePath)), sourcePath);
    }
  };

  if (!isPlainObject(stats)) {
    const hint = stats instanceof Map ? "; convert a Map with Object.fromEntries(map)" : "";
    throw new MlflowValidationError("stats", `must be a plain object of stat names to values, got ${describeValue(stats)}${hint}`);
  }
  visit(stats, [], "");
  return { metrics, tags };
}

/**
 * Turns a param or tag value into the string MLflow stores, the way a
 * JavaScript user reads it: `0.0004` stays `"0.0004"`, `true` is `"true"`,
 * BigInts keep every digit, Dates are ISO-8601, arrays and objects are JSON.
 * What has no text (a function, a Symbol, an invalid Date) and what JSON
 * would lose (a Map, a Set, a circular or absurdly deep object) is an error.
 *
 * @param value Any value.
 * @param field Where it came from, for errors; default `value`.
 * @returns Its string form.
 * @throws {MlflowValidationError} Naming `field` (or the part below it) when the value has no faithful text.
 * @example Numbers and arrays
 * ```ts
 * import { stringifyValue } from "./stats.ts";
 * if (stringifyValue(0.0004) !== "0.0004") throw new Error();
 * if (stringifyValue([10, 30]) !== "[10,30]") throw new Error();
 * ```
 */
export function stringifyValue(value: unknown, field = "value"): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null || value === undefined) return String(value);
  if (isDate(value)) {
    if (Number.isNaN(value.getTime())) {
      throw new MlflowValidationError(field, "is an invalid Date; pass a valid Date, or leave the value out");
    }
    return value.toISOString();
  }
  return jsonText(value, field);
}

/**
 * Turns a params or tags object into key/value pairs, keys checked as given
 * (params are the user's own names; a bad one is an error, not a rename).
 *
 * @param values The object, or `undefined`.
 * @param field The option, for errors; default `params`.
 * @returns The pairs in the object's order; `undefined` values are left out.
 * @throws {MlflowValidationError} When `values` is not an object of names to values (`null`, an array, a Map) or a value has no faithful text.
 * @example Params from an object
 * ```ts
 * import { toKeyValues } from "./stats.ts";
 * const pairs = toKeyValues({ fast: 10, fee: 0.0004 });
 * if (pairs[1]!.value !== "0.0004") throw new Error();
 * ```
 */
export function toKeyValues(values: unknown, field = "params"): KeyValue[] {
  if (values === undefined) return [];
  const pairs: KeyValue[] = [];
  for (const [key, v] of recordEntries(values, field, `${field === "tags" ? "tag" : "param"} names to values`)) {
    if (v !== undefined) pairs.push({ key, value: stringifyValue(v, `${field}[${JSON.stringify(key)}]`) });
  }
  return pairs;
}
