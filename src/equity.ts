/**
 * Equity-curve input shapes and their one normalised, columnar form.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import { isNanosecondCount, type TimeInput, toNanoseconds } from "./time.ts";
import { describeValue } from "./validation.ts";

/** FLOX Python row: `{timestamp_ns, equity, drawdown_pct}`. */
export interface EquityRow {
  /** Bar time in nanoseconds since the epoch (numbers and integer strings count nanoseconds too); wins over `timestamp`. */
  timestamp_ns?: bigint | number | string;
  /** Bar time when `timestamp_ns` is absent: a nanosecond BigInt, millisecond number, ISO-8601 string or Date. */
  timestamp?: TimeInput;
  /** Account equity at the bar. */
  equity: number;
  /** Drawdown from the running peak in percent (0 or positive); on every row or none, computed when absent. */
  drawdown_pct?: number;
}

/** FLOX Node columns. */
export interface EquityColumns {
  /** Bar times in nanoseconds since the epoch. */
  timestampNs: BigInt64Array | readonly bigint[];
  /** Account equity per bar, aligned with `timestampNs`. */
  equity: Float64Array | readonly number[];
  /** Drawdown from the running peak in percent (0 or positive) per bar; computed when absent. */
  drawdownPct?: Float64Array | readonly number[];
}

/** Any equity curve the module accepts. */
export type EquityCurveInput = readonly EquityRow[] | EquityColumns;

/** The normalised curve: aligned typed arrays, times exact in nanoseconds and as milliseconds. */
export interface NormalizedEquity {
  /** Exact bar times, nanoseconds since the epoch. */
  timestampNs: BigInt64Array;
  /** Bar times in milliseconds since the epoch (for charts and metric timestamps). */
  timeMs: Float64Array;
  /** Account equity per bar. */
  equity: Float64Array;
  /** Drawdown from the running peak in percent (0 or positive); computed when not given. */
  drawdownPct: Float64Array;
  /** The number of bars. */
  length: number;
}

const isColumns = (input: EquityCurveInput): input is EquityColumns =>
  !Array.isArray(input) && typeof input === "object" && input !== null && "equity" in input;

function column(values: unknown, field: string, what: string): ArrayLike<unknown> {
  if (Array.isArray(values) || (ArrayBuffer.isView(values) && !(values instanceof DataView))) {
    return values as unknown as ArrayLike<unknown>;
  }
  throw new MlflowValidationError(field, `must be an array or typed array of ${what}, got ${describeValue(values)}`);
}

// Float64Array.from would turn "10000" into 10000 and "abc" into NaN without a word.
function numberColumn(values: ArrayLike<unknown>, field: string): Float64Array {
  if (values instanceof Float64Array) return values;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number") throw notANumber(v, `${field}[${i}]`);
    out[i] = v;
  }
  return out;
}

function notANumber(value: unknown, field: string): MlflowValidationError {
  const hint = typeof value === "string" ? "; convert text with Number(x) before logging" : "";
  return new MlflowValidationError(field, `must be a number, got ${describeValue(value)}${hint}`);
}

/**
 * Turns any accepted equity curve into aligned typed arrays.
 *
 * @param input FLOX Python rows or FLOX Node columns.
 * @returns The normalised curve.
 * @throws {MlflowValidationError} On unequal column lengths, a row that is not an object, a missing or
 *   out-of-range time, a value that is not a number (`"10000"` included), or `drawdown_pct` on only some rows.
 * @example Python rows
 * ```ts
 * import { normalizeEquity } from "./equity.ts";
 * const curve = normalizeEquity([
 *   { timestamp_ns: 1700000000000000000n, equity: 100 },
 *   { timestamp_ns: 1700000060000000000n, equity: 90 },
 * ]);
 * if (curve.drawdownPct[1] !== 10) throw new Error("drawdown is computed from the peak");
 * ```
 */
export function normalizeEquity(input: EquityCurveInput): NormalizedEquity {
  let timestampNs: BigInt64Array;
  let equity: Float64Array;
  let drawdown: Float64Array | undefined;
  if (isColumns(input)) {
    const equityValues = column(input.equity, "equityCurve.equity", "numbers");
    const n = equityValues.length;
    if (input.timestampNs === undefined) {
      throw new MlflowValidationError("equityCurve.timestampNs", "is missing; pass bar times as a BigInt64Array of nanoseconds");
    }
    const times = column(input.timestampNs, "equityCurve.timestampNs", "nanosecond times");
    if (times.length !== n) {
      throw new MlflowValidationError(
        "equityCurve.timestampNs",
        `has ${times.length} values but equityCurve.equity has ${n}; columns must be the same length`,
      );
    }
    const drawdownValues = input.drawdownPct === undefined
      ? undefined
      : column(input.drawdownPct, "equityCurve.drawdownPct", "percentages");
    if (drawdownValues !== undefined && drawdownValues.length !== n) {
      throw new MlflowValidationError(
        "equityCurve.drawdownPct",
        `has ${drawdownValues.length} values but equityCurve.equity has ${n}; columns must be the same length`,
      );
    }
    timestampNs = times instanceof BigInt64Array
      ? times
      : BigInt64Array.from(times, (t, i) => isNanosecondCount(t) ? t : toNanoseconds(t, `equityCurve.timestampNs[${i}]`, "ns"));
    equity = numberColumn(equityValues, "equityCurve.equity");
    drawdown = drawdownValues === undefined ? undefined : numberColumn(drawdownValues, "equityCurve.drawdownPct");
  } else if (Array.isArray(input)) {
    const n = input.length;
    timestampNs = new BigInt64Array(n);
    equity = new Float64Array(n);
    const rowAt = (i: number): EquityRow => {
      const row: unknown = input[i];
      if (typeof row !== "object" || row === null || Array.isArray(row)) {
        throw new MlflowValidationError(
          `equityCurve[${i}]`,
          `must be a row {timestamp_ns, equity, drawdown_pct}, got ${describeValue(row)}`,
        );
      }
      return row as EquityRow;
    };
    // Drawdowns are given on every row or computed for every row: a curve half given, half computed would mix two peaks.
    const hasDrawdown = n > 0 && rowAt(0).drawdown_pct !== undefined;
    drawdown = hasDrawdown ? new Float64Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const row = rowAt(i);
      const ns = row.timestamp_ns;
      // The common time is taken as it is: only the others pay for building the field's name (per row, that
      // was most of normalising a 100k-row curve on Bun and Deno: 44-53 -> 24-30 ms, 53-84 -> 20-24 ms).
      if (isNanosecondCount(ns)) {
        timestampNs[i] = ns;
      } else if (ns !== undefined) {
        timestampNs[i] = toNanoseconds(ns, `equityCurve[${i}].timestamp_ns`, "ns");
      } else if (row.timestamp !== undefined) {
        timestampNs[i] = toNanoseconds(row.timestamp, `equityCurve[${i}].timestamp`);
      } else {
        throw new MlflowValidationError(`equityCurve[${i}]`, "has no timestamp_ns (or timestamp); every row needs a time");
      }
      if (typeof row.equity !== "number") throw notANumber(row.equity, `equityCurve[${i}].equity`);
      equity[i] = row.equity;
      const dd: unknown = row.drawdown_pct;
      if ((dd !== undefined) !== hasDrawdown) {
        throw new MlflowValidationError(
          `equityCurve[${i}].drawdown_pct`,
          `${hasDrawdown ? "is missing, but equityCurve[0] has one" : "is given, but equityCurve[0] has none"}; ` +
            "give drawdown_pct on every row, or on none to have it computed from the running peak",
        );
      }
      if (drawdown) {
        if (typeof dd !== "number") throw notANumber(dd, `equityCurve[${i}].drawdown_pct`);
        drawdown[i] = dd;
      }
    }
  } else {
    throw new MlflowValidationError(
      "equityCurve",
      `must be an array of {timestamp_ns, equity, drawdown_pct} rows or {timestampNs, equity, drawdownPct} columns, got ${describeValue(input)}`,
    );
  }
  const length = equity.length;
  return { timestampNs, timeMs: nanosToMillisColumn(timestampNs), equity, drawdownPct: drawdown ?? drawdownFromPeak(equity), length };
}

const LOW_WORD_FIRST = new Uint8Array(BigInt64Array.of(1n).buffer)[0] === 1;

/**
 * Nanosecond times to whole milliseconds (floor), exactly as
 * `nanosToMillis` (time.ts) does per value, but on the two 32-bit halves of each
 * int64: no BigInt per bar, which on a million bars is the difference between
 * ~20 ms and ~100 ms and a lot of garbage.
 *
 * @param ns Nanoseconds since the epoch.
 * @returns Milliseconds since the epoch.
 * @example Floor to milliseconds, before 1970 too
 * ```ts
 * import { nanosToMillisColumn } from "./equity.ts";
 * const ms = nanosToMillisColumn(BigInt64Array.of(1700000000123999999n, -1n));
 * if (ms[0] !== 1700000000123 || ms[1] !== -1) throw new Error();
 * ```
 */
export function nanosToMillisColumn(ns: BigInt64Array): Float64Array {
  const words = new Uint32Array(ns.buffer, ns.byteOffset, ns.length * 2);
  const lo = LOW_WORD_FIRST ? 0 : 1;
  const out = new Float64Array(ns.length);
  for (let i = 0; i < ns.length; i++) {
    const low = words[2 * i + lo]!;
    const high = words[2 * i + 1 - lo]! | 0;
    // ns = high * 2^32 + low and 2^32 = 4294 * 1e6 + 967296, so
    // ns / 1e6 = high * 4294 + (high * 967296 + low) / 1e6, where the second
    // term stays far inside the range doubles hold exactly.
    const rest = high * 967_296 + low;
    let q = Math.floor(rest / 1e6);
    const r = rest - q * 1e6;
    if (r < 0) q -= 1;
    else if (r >= 1e6) q += 1;
    out[i] = high * 4294 + q;
  }
  return out;
}

function drawdownFromPeak(equity: Float64Array): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = -Infinity;
  for (let i = 0; i < equity.length; i++) {
    const v = equity[i]!;
    if (v > peak) peak = v;
    out[i] = peak > 0 ? ((peak - v) / peak) * 100 : 0;
  }
  return out;
}
