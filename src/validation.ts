/**
 * MLflow's rules for metric, param and tag keys and values
 * (`mlflow/utils/validation.py`), checked before any request is sent.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import type { KeyValue, Metric } from "./store.ts";

/** MLflow's length limits, in characters as Python counts them (code points). */
export const LIMITS = {
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 8000,
  runNameLength: 250,
  experimentNameLength: 500,
} as const;

/**
 * How deep a param, tag, stat or trade value may nest. Far beyond any real
 * backtest, and low enough that walking a hostile value cannot exhaust the
 * stack on any runtime.
 */
export const MAX_NESTING = 100;

/**
 * The length of `text` as MLflow counts it: Python's `len`, one per code
 * point, so an emoji counts once although JavaScript's `length` counts two.
 *
 * @param text Any string.
 * @returns The number of code points.
 * @example An emoji is one character
 * ```ts
 * import { codePointLength } from "./validation.ts";
 * if (codePointLength("a\u{1F600}") !== 2) throw new Error();
 * ```
 */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

// UTF-16 length bounds the code point count from above, so most texts skip the count.
function longerThan(text: string, limit: number): number | undefined {
  if (text.length <= limit) return undefined;
  const length = codePointLength(text);
  return length > limit ? length : undefined;
}

/**
 * The first `limit` code points of `text`, never half of a surrogate pair.
 *
 * @param text Any string.
 * @param limit How many code points to keep.
 * @returns `text`, or its start.
 * @example Cut between emoji, not inside one
 * ```ts
 * import { clipText } from "./validation.ts";
 * if (clipText("\u{1F600}\u{1F600}", 1) !== "\u{1F600}") throw new Error();
 * ```
 */
export function clipText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let out = "";
  let n = 0;
  for (const c of text) {
    if (n++ === limit) break;
    out += c;
  }
  return out;
}

/**
 * Whether `value` is a Date, from this realm or another (`vm`, an iframe).
 *
 * @param value Anything.
 * @returns `true` for Dates, valid or not.
 * @example Dates from any realm, valid or not
 * ```ts
 * import { isDate } from "./validation.ts";
 * if (!isDate(new Date(NaN)) || isDate("2024-01-01")) throw new Error();
 * ```
 */
export function isDate(value: unknown): value is Date {
  return Object.prototype.toString.call(value) === "[object Date]";
}

/**
 * Names a value for an error message without printing it whole (strings are
 * clipped) and without calling any of its methods, so it never throws.
 *
 * @param value Anything.
 * @returns e.g. `null`, `a Symbol`, `the string "10000"`, `a Map`.
 * @example A Map and a string, named for a message
 * ```ts
 * import { describeValue } from "./validation.ts";
 * if (describeValue(new Map()) !== "a Map" || describeValue("x") !== 'the string "x"') throw new Error();
 * ```
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? `${clipText(value, 40)}…` : value)}`;
    case "number":
      return `the number ${value}`;
    case "bigint":
      return `the BigInt ${value}n`;
    case "boolean":
      return String(value);
    case "undefined":
      return "undefined";
    case "symbol":
      return "a Symbol";
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Map) return "a Map";
  if (value instanceof Set) return "a Set";
  if (isDate(value)) return Number.isNaN(value.getTime()) ? "an invalid Date" : "a Date";
  if (ArrayBuffer.isView(value)) return `a ${Object.prototype.toString.call(value).slice(8, -1)}`;
  return "an object";
}

/**
 * A key path below `field`: `params["a"]`, then `.name` or `["odd key"]` for
 * object keys and `[3]` for array positions.
 *
 * @param field The path so far.
 * @param key The next key or position.
 * @returns The longer path.
 * @example A field inside a trade row
 * ```ts
 * import { fieldPath } from "./validation.ts";
 * if (fieldPath(fieldPath("trades", 3), "pnl") !== "trades[3].pnl") throw new Error();
 * ```
 */
export function fieldPath(field: string, key: string | number): string {
  if (typeof key === "number") return `${field}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) && field !== "" ? `${field}.${key}` : `${field}[${JSON.stringify(key)}]`;
}

/** Enumerable Symbol keys, which `Object.entries` and `for...in` skip without a word. */
function symbolKey(value: object): symbol | undefined {
  return Object.getOwnPropertySymbols(value).find((s) => Object.prototype.propertyIsEnumerable.call(value, s));
}

/**
 * Reads an object of names to values (params, tags, stats, metrics, a trade
 * row): refuses `null`, arrays, Maps, Sets, Dates, typed arrays, functions and
 * Symbol keys, which would otherwise be read as nothing at all.
 *
 * @param value What the caller passed.
 * @param field The option, for errors.
 * @param what What the object maps, e.g. `param names to values`.
 * @returns The entries, in the object's order.
 * @throws {MlflowValidationError} When `value` is not such an object.
 * @example Params from an object
 * ```ts
 * import { recordEntries } from "./validation.ts";
 * if (recordEntries({ fast: 10 }, "params", "param names to values").length !== 1) throw new Error();
 * ```
 */
export function recordEntries(value: unknown, field: string, what: string): [string, unknown][] {
  if (
    typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Map ||
    value instanceof Set || isDate(value) || ArrayBuffer.isView(value)
  ) {
    const hint = value instanceof Map ? "; convert a Map with Object.fromEntries(map)" : "";
    throw new MlflowValidationError(field, `must be an object of ${what}, got ${describeValue(value)}${hint}`);
  }
  const symbol = symbolKey(value);
  if (symbol !== undefined) {
    throw new MlflowValidationError(`${field}[${String(symbol)}]`, "is a Symbol key; MLflow names are strings");
  }
  return Object.entries(value);
}

/**
 * Writes a value as JSON text the way `JSON.stringify` does (BigInts as their
 * digits in quotes), but refuses what JSON would lose or cannot write:
 * functions and Symbols, Maps and Sets (written as `{}`), invalid Dates
 * (`null`), circular references and nesting deeper than {@link MAX_NESTING}.
 *
 * @param value The value.
 * @param field Where it came from, e.g. `params["grid"]`; errors name the path below it (too deep a value: `field` itself).
 * @returns The JSON text.
 * @throws {MlflowValidationError} Naming the first part that cannot be written.
 * @example An array param
 * ```ts
 * import { jsonText } from "./validation.ts";
 * if (jsonText([10, 30n, { a: "x" }], "params") !== '[10,"30",{"a":"x"}]') throw new Error();
 * ```
 */
export function jsonText(value: unknown, field: string): string {
  const ancestors: object[] = [];
  // Keys from `field` down to the value being written; paths are only spelled out for an error.
  const keys: Array<string | number> = [];
  const pathTo = (depth: number): string => keys.slice(0, depth).reduce<string>(fieldPath, field);
  const write = (input: unknown, key: string): string | undefined => {
    let v = input;
    if (typeof v === "object" && v !== null) {
      if (isDate(v) && Number.isNaN(v.getTime())) {
        throw new MlflowValidationError(pathTo(keys.length), "is an invalid Date; pass a valid Date, or leave the value out");
      }
      // Before toJSON: vega-lite, once the chart has loaded, gives every Set a toJSON ("Set(1,2)"),
      // so what a Set logs as would depend on whether a chart was drawn first.
      if (v instanceof Map || v instanceof Set) {
        const convert = v instanceof Map ? "Object.fromEntries(map)" : "[...set]";
        throw new MlflowValidationError(
          pathTo(keys.length),
          `is ${describeValue(v)}, which JSON writes as {}; convert it first, e.g. ${convert}`,
        );
      }
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") v = toJSON.call(v, key);
      if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf();
    }
    switch (typeof v) {
      case "string":
        return JSON.stringify(v);
      case "number":
        return Number.isFinite(v) ? String(v) : "null";
      case "boolean":
        return String(v);
      case "bigint":
        return `"${v}"`;
      case "undefined":
        return undefined;
      case "symbol":
      case "function":
        throw new MlflowValidationError(
          pathTo(keys.length),
          `is ${describeValue(v)}, which has no text to log; pass numbers, strings, booleans, or arrays and objects of them`,
        );
    }
    if (v === null) return "null";
    const object = v as object;
    const seen = ancestors.indexOf(object);
    if (seen >= 0) {
      throw new MlflowValidationError(
        pathTo(keys.length),
        `refers back to ${pathTo(seen)} (a circular reference); pass a tree of plain values`,
      );
    }
    if (ancestors.length >= MAX_NESTING) {
      // The value as the user named it: a path 100 levels long would say less.
      throw new MlflowValidationError(field, `nests deeper than ${MAX_NESTING} levels; flatten it, or log it as an artifact`);
    }
    ancestors.push(object);
    let out: string;
    if (Array.isArray(object)) {
      const items: string[] = new Array(object.length);
      for (let i = 0; i < object.length; i++) {
        keys.push(i);
        items[i] = write(object[i], String(i)) ?? "null";
        keys.pop();
      }
      out = `[${items.join(",")}]`;
    } else {
      const members: string[] = [];
      for (const k of Object.keys(object)) {
        keys.push(k);
        const text = write((object as Record<string, unknown>)[k], k);
        keys.pop();
        if (text !== undefined) members.push(`${JSON.stringify(k)}:${text}`);
      }
      out = `{${members.join(",")}}`;
    }
    ancestors.pop();
    return out;
  };
  return write(value, "") ?? "undefined";
}

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
  const length = codePointLength(key);
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
    const length = longerThan(value, LIMITS.paramValueLength);
    if (length !== undefined) {
      throw new MlflowValidationError(
        `${field}[${JSON.stringify(key)}]`,
        `value is ${length} characters; MLflow keeps at most ${LIMITS.paramValueLength}. Log long text as an artifact instead`,
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
    const length = longerThan(value, LIMITS.tagValueLength);
    if (length !== undefined) {
      throw new MlflowValidationError(
        `${field}[${JSON.stringify(key)}]`,
        `value is ${length} characters; MLflow keeps at most ${LIMITS.tagValueLength}. Log long text as an artifact instead`,
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
    if (typeof m.value !== "number") {
      const hint = typeof m.value === "bigint" ? " (convert a BigInt with Number())" : "";
      throw new MlflowValidationError(where, `value must be a number, got ${describeValue(m.value)}${hint}`);
    }
    if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) {
      throw new MlflowValidationError(
        where,
        `timestamp ${describeValue(m.timestamp)} must be a whole number of milliseconds since the epoch, 0 or more`,
      );
    }
    if (!Number.isSafeInteger(m.step)) {
      throw new MlflowValidationError(where, `step ${describeValue(m.step)} must be a whole number`);
    }
  }
}

/**
 * Checks a run name: a string within the 250-character limit of MLflow's SQL
 * stores, without NUL.
 *
 * @param name The run name.
 * @param field The option it came from.
 * @throws {MlflowValidationError} When it is not a string, is longer or holds NUL.
 * @example A short run name
 * ```ts
 * import { checkRunName } from "./validation.ts";
 * checkRunName("sma-crossover", "runName");
 * ```
 */
export function checkRunName(name: unknown, field: string): asserts name is string {
  checkString(name, field, "a run name");
  const length = longerThan(name, LIMITS.runNameLength);
  if (length !== undefined) {
    throw new MlflowValidationError(field, `is ${length} characters; MLflow stores at most ${LIMITS.runNameLength}`);
  }
  if (name.includes("\0")) throw new MlflowValidationError(field, "contains a NUL character");
}

/**
 * Throws unless `value` is a string; numbers are not turned into text,
 * since a number where a name or id belongs is usually a mix-up.
 *
 * @param value What the caller passed.
 * @param field The option.
 * @param what What the string is, e.g. `an experiment id`.
 * @throws {MlflowValidationError} When `value` is not a string.
 * @example A run name
 * ```ts
 * import { checkString } from "./validation.ts";
 * checkString("sma", "runName", "a run name");
 * ```
 */
export function checkString(value: unknown, field: string, what: string): asserts value is string {
  if (typeof value !== "string") {
    const hint = typeof value === "number" ? `; write it as text, e.g. "${value}"` : "";
    throw new MlflowValidationError(field, `must be ${what} (a string), got ${describeValue(value)}${hint}`);
  }
}

/**
 * Checks a run description (`mlflow.note.content`, a run tag): a string of
 * at most 8000 characters.
 *
 * @param description The description.
 * @param field The option it came from.
 * @throws {MlflowValidationError} When it is not a string or is longer.
 * @example A short description
 * ```ts
 * import { checkDescription } from "./validation.ts";
 * checkDescription("SMA crossover, fees included", "description");
 * ```
 */
export function checkDescription(description: unknown, field: string): asserts description is string {
  checkString(description, field, "Markdown text");
  const length = longerThan(description, LIMITS.tagValueLength);
  if (length !== undefined) {
    throw new MlflowValidationError(
      field,
      `is ${length} characters; MLflow keeps at most ${LIMITS.tagValueLength} in the tag mlflow.note.content. Log the full text as an artifact (run.logArtifact) and link it`,
    );
  }
}

/**
 * Throws unless `value` is an `AbortSignal` (from any realm: it is checked
 * by what a signal does, not by its class).
 *
 * @param value What the caller passed as `signal`.
 * @param field The option.
 * @throws {MlflowValidationError} When it is not a signal.
 * @example A controller's signal
 * ```ts
 * import { checkSignal } from "./validation.ts";
 * checkSignal(new AbortController().signal, "signal");
 * ```
 */
export function checkSignal(value: unknown, field: string): asserts value is AbortSignal | undefined {
  if (value === undefined) return;
  const signal = value as Partial<AbortSignal> | null;
  if (
    typeof signal !== "object" || signal === null || typeof signal.aborted !== "boolean" ||
    typeof signal.addEventListener !== "function" || typeof signal.removeEventListener !== "function"
  ) {
    throw new MlflowValidationError(field, `must be an AbortSignal (e.g. new AbortController().signal), got ${describeValue(value)}`);
  }
}

/**
 * Throws unless `value` is a function or `undefined`.
 *
 * @param value What the caller passed.
 * @param field The option.
 * @param shape How the function is called, e.g. `(message) => void`.
 * @throws {MlflowValidationError} When it is something else.
 * @example A warning callback
 * ```ts
 * import { checkCallback } from "./validation.ts";
 * checkCallback(console.warn, "onWarning", "(message) => void");
 * ```
 */
export function checkCallback(value: unknown, field: string, shape: string): void {
  if (value !== undefined && typeof value !== "function") {
    throw new MlflowValidationError(field, `must be a function ${shape}, got ${describeValue(value)}`);
  }
}

/**
 * Throws unless `value` is `true`, `false` or `undefined`.
 *
 * @param value What the caller passed.
 * @param field The option.
 * @throws {MlflowValidationError} When it is something else.
 * @example A boolean option
 * ```ts
 * import { checkBoolean } from "./validation.ts";
 * checkBoolean(true, "nested");
 * ```
 */
export function checkBoolean(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new MlflowValidationError(field, `must be true or false, got ${describeValue(value)}`);
  }
}

// MLflow's `_RUN_ID_REGEX` (mlflow/utils/validation.py).
const RUN_ID = /^[a-zA-Z0-9][\w\-]{0,255}$/;

/**
 * Throws unless `value` is a run id as MLflow takes it.
 *
 * @param value What the caller passed, e.g. as `parentRunId`.
 * @param field The option.
 * @throws {MlflowValidationError} When it is not a string or not a run id.
 * @example A run id as MLflow generates it
 * ```ts
 * import { checkRunId } from "./validation.ts";
 * checkRunId("4a6b3f12ab1c4d6f9beaa79dcdb22101", "parentRunId");
 * ```
 */
export function checkRunId(value: unknown, field: string): asserts value is string {
  checkString(value, field, "a run id");
  if (!RUN_ID.test(value)) {
    throw new MlflowValidationError(field, `${describeValue(value)} is not a run id; pass run.runId of the run meant (letters, digits, '_' and '-')`);
  }
}

// RFC 9110 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Why fetch would refuse a request header, or `undefined`. fetch's own
 * TypeError quotes the value on Node and Deno, so a token must be checked
 * here, and the problem is described without the value. fetch trims leading
 * and trailing whitespace first, so a token read from a file with its final
 * newline is fine.
 *
 * @param name The header name.
 * @param value The header value.
 * @returns The problem, in words that never include the value, or `undefined`.
 * @example A token with a line break inside
 * ```ts
 * import { headerProblem } from "./validation.ts";
 * if (headerProblem("Authorization", "Bearer abc\n") !== undefined) throw new Error();
 * if (headerProblem("Authorization", "Bearer a\nbc") === undefined) throw new Error();
 * ```
 */
export function headerProblem(name: string, value: unknown): string | undefined {
  if (!HEADER_NAME.test(name)) return "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)";
  if (typeof value !== "string") return `must be a string, got ${typeof value}`;
  const inner = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (/[\0\r\n]/.test(inner)) return "holds a line break or NUL character, which an HTTP header cannot carry";
  if (/[^\x00-\xff]/.test(inner)) return "holds a character beyond Latin-1, which an HTTP header cannot carry";
  return undefined;
}
