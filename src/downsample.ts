/**
 * Picks the few thousand points of an equity curve that a chart needs, on
 * typed arrays and in one pass, so a curve of any length charts quickly and
 * still shows every peak, trough and the maximum drawdown.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";

/** Where the notable points of an equity curve are (indices into its columns). */
export interface EquityExtremes {
  /** First index of the highest equity. */
  maxIndex: number;
  /** First index of the lowest equity. */
  minIndex: number;
  /** First index of the largest drawdown (the max-drawdown trough). */
  maxDrawdownIndex: number;
  /** First index of the highest equity at or before the trough (where the max drawdown started). */
  maxDrawdownPeakIndex: number;
  /** First index after the trough where equity is back at the peak, or -1 if it never is (or there is no drawdown). */
  recoveryIndex: number;
}

/** The chosen points of a curve and where its extremes are. */
export interface DownsampledEquity extends EquityExtremes {
  /** Indices of the kept points, ascending and unique; never more than the `maxPoints` asked for. */
  indices: Uint32Array;
  /**
   * The deepest drawdown of each range, plus the first and last points, ascending and unique: the
   * outline of a drawdown area filled from 0, without the in-range zigzag that costs raster time.
   */
  drawdownIndices: Uint32Array;
}

/** The smallest `maxPoints` accepted: room for the fixed points plus a few buckets. */
export const MIN_DOWNSAMPLE_POINTS = 16;

/** Points always kept on top of the per-bucket ones: first, last, drawdown peak, recovery. */
const FIXED_POINTS = 4;
/** Points a bucket can contribute: its lowest and highest equity, and its deepest drawdown. */
const PER_BUCKET = 3;

/**
 * Chooses at most `maxPoints` indices of an equity curve for charting. The
 * curve is cut into equal index ranges (one or two pixel columns each at the
 * default sizes); each range keeps its lowest and highest equity and its
 * deepest drawdown, so a line drawn through the kept points reaches every local
 * extreme. The first and last points, the global maximum and minimum, the
 * max-drawdown trough, the peak before it and the recovery after it are always
 * kept. Curves no longer than `maxPoints` keep every point.
 *
 * @param equity Equity per bar.
 * @param drawdownPct Drawdown from the running peak in percent (0 or positive), aligned with `equity`.
 * @param maxPoints Upper bound on the number of kept points (at least {@link MIN_DOWNSAMPLE_POINTS}).
 * @returns The kept indices and the positions of the extremes.
 * @throws {MlflowValidationError} When the curve is empty, the columns differ in length, a value is NaN
 *   or infinite, or `maxPoints` is too small.
 * @example Thin a 1M-point curve to 2,000 points
 * ```ts
 * import { downsampleEquity } from "./downsample.ts";
 * const n = 1_000_000;
 * const equity = new Float64Array(n).map((_, i) => 100 + Math.sin(i / 5000) * 10 + (i === 777_777 ? -50 : 0));
 * const drawdown = new Float64Array(n);
 * for (let i = 0, peak = -Infinity; i < n; i++) {
 *   peak = Math.max(peak, equity[i]!);
 *   drawdown[i] = ((peak - equity[i]!) / peak) * 100;
 * }
 * const picked = downsampleEquity(equity, drawdown, 2000);
 * if (picked.indices.length > 2000 || !picked.indices.includes(777_777)) throw new Error();
 * ```
 */
export function downsampleEquity(equity: Float64Array, drawdownPct: Float64Array, maxPoints: number): DownsampledEquity {
  const n = equity.length;
  if (n === 0) {
    throw new MlflowValidationError("equityCurve", "is empty; a chart needs at least one point");
  }
  if (drawdownPct.length !== n) {
    throw new MlflowValidationError(
      "equityCurve.drawdownPct",
      `has ${drawdownPct.length} values but equityCurve.equity has ${n}; columns must be the same length`,
    );
  }
  if (!Number.isInteger(maxPoints) || maxPoints < MIN_DOWNSAMPLE_POINTS) {
    throw new MlflowValidationError("maxPoints", `must be an integer of at least ${MIN_DOWNSAMPLE_POINTS}, got ${maxPoints}`);
  }
  const keepAll = n <= maxPoints;
  const buckets = keepAll ? 1 : Math.floor((maxPoints - FIXED_POINTS) / PER_BUCKET);
  const kept = keepAll ? new Uint32Array(n) : new Uint32Array(buckets * PER_BUCKET + FIXED_POINTS);
  const deepest = keepAll ? kept : new Uint32Array(buckets + 2);
  let count = 0;
  let maxIndex = 0;
  let minIndex = 0;
  let maxDrawdownIndex = 0;
  let maxDrawdownPeakIndex = 0;
  // Values ride along with their indices so the hot loop reads each column once per bar.
  let peakIndex = 0;
  let peak = equity[0]!;
  let maxDrawdown = drawdownPct[0]!;
  let start = 0;
  for (let b = 0; b < buckets; b++) {
    const end = b === buckets - 1 ? n : Math.floor(((b + 1) * n) / buckets);
    let lo = start;
    let loValue = Infinity;
    let hi = start;
    let hiValue = -Infinity;
    let deep = start;
    let deepValue = -Infinity;
    for (let i = start; i < end; i++) {
      const v = equity[i]!;
      const dd = drawdownPct[i]!;
      // v - v is NaN exactly when v is NaN or infinite.
      if (v - v !== 0) throw nonFinite("equityCurve.equity", i, v);
      if (dd - dd !== 0) throw nonFinite("equityCurve.drawdownPct", i, dd);
      if (keepAll) kept[count++] = i;
      if (v < loValue) (lo = i), (loValue = v);
      if (v > hiValue) (hi = i), (hiValue = v);
      if (v > peak) (peakIndex = i), (peak = v);
      if (dd > deepValue) {
        deep = i;
        deepValue = dd;
        if (dd > maxDrawdown) (maxDrawdownIndex = i), (maxDrawdown = dd), (maxDrawdownPeakIndex = peakIndex);
      }
    }
    if (loValue < equity[minIndex]!) minIndex = lo;
    if (hiValue > equity[maxIndex]!) maxIndex = hi;
    if (!keepAll) {
      count = pushSorted3(kept, count, lo, hi, deep);
      deepest[b + 1] = deep;
    }
    start = end;
  }
  const recoveryIndex = drawdownPct[maxDrawdownIndex]! > 0
    ? firstAtOrAbove(equity, maxDrawdownIndex + 1, equity[maxDrawdownPeakIndex]!)
    : -1;
  let deepCount = count;
  if (!keepAll) {
    deepest[0] = 0;
    deepest[buckets + 1] = n - 1;
    deepCount = sortUnique(deepest, buckets + 2);
    kept[count++] = 0;
    kept[count++] = n - 1;
    kept[count++] = maxDrawdownPeakIndex;
    if (recoveryIndex >= 0) kept[count++] = recoveryIndex;
    count = sortUnique(kept, count);
  }
  return {
    indices: kept.slice(0, count),
    drawdownIndices: keepAll ? kept : deepest.slice(0, deepCount),
    maxIndex,
    minIndex,
    maxDrawdownIndex,
    maxDrawdownPeakIndex,
    recoveryIndex,
  };
}

function nonFinite(field: string, index: number, value: number): MlflowValidationError {
  return new MlflowValidationError(
    `${field}[${index}]`,
    `is ${value}; a chart needs finite numbers (drop or fill the bar before logging)`,
  );
}

/** Appends up to three indices in ascending order, skipping repeats. */
function pushSorted3(out: Uint32Array, count: number, a: number, b: number, c: number): number {
  let t: number;
  if (a > b) (t = a), (a = b), (b = t);
  if (b > c) (t = b), (b = c), (c = t);
  if (a > b) (t = a), (a = b), (b = t);
  out[count++] = a;
  if (b !== a) out[count++] = b;
  if (c !== b) out[count++] = c;
  return count;
}

function sortUnique(values: Uint32Array, count: number): number {
  const head = values.subarray(0, count).sort();
  let unique = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0 || head[i] !== head[i - 1]) head[unique++] = head[i]!;
  }
  return unique;
}

function firstAtOrAbove(equity: Float64Array, from: number, level: number): number {
  for (let i = from; i < equity.length; i++) if (equity[i]! >= level) return i;
  return -1;
}
