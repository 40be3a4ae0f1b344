/**
 * What the chart's Vega spec reads: the downsampled rows, the drawdown
 * outline, the max-drawdown marker and the subtitle line.
 *
 * @module
 */
import { downsampleEquity, type DownsampledEquity } from "./downsample.ts";
import type { EquityCurveInput, NormalizedEquity } from "./equity.ts";

const MINUS = "\u2212";

/** One point of the curve as the `equity` data set holds it. */
export interface EquityRowDatum {
  time: number;
  equity: number;
  drawdown: number;
}

/** One point of the drawdown outline (`drawdown` data set). */
export interface DrawdownDatum {
  time: number;
  drawdown: number;
}

/** The max drawdown (`maxDrawdown` data set). */
export interface MaxDrawdownDatum {
  peakTime: number;
  troughTime: number;
  endTime: number;
  drawdown: number;
  label: string;
  align: "left" | "right";
}

/** The three data sets and the params of one chart. */
export interface ChartData {
  /** The downsampled points. */
  rows: EquityRowDatum[];
  /** The deepest drawdown per pixel column. */
  drawdown: DrawdownDatum[];
  /** Zero or one row. */
  maxDrawdown: MaxDrawdownDatum[];
  /** The line under the title: time range, bar count, return and max drawdown. */
  subtitle: string;
  /** Last minus first time, ms. */
  timeSpan: number;
}

/**
 * Downsamples a normalised curve to at most `maxPoints` points and builds what
 * the chart's data sets and params hold.
 *
 * @param curve The normalised curve (at least one point).
 * @param maxPoints Most points drawn.
 * @returns Rows, drawdown outline, max drawdown, subtitle and time span.
 * @example A two-bar curve
 * ```ts
 * import { chartData } from "./chart_data.ts";
 * import { normalizeEquity } from "./equity.ts";
 * const data = chartData(normalizeEquity([{ timestamp_ns: 0n, equity: 2 }, { timestamp_ns: 60_000_000_000n, equity: 1 }]), 2000);
 * if (data.rows.length !== 2 || data.maxDrawdown[0]?.label !== "max drawdown \u221250.00%") throw new Error();
 * ```
 */
export function chartData(curve: NormalizedEquity, maxPoints: number): ChartData {
  const picked = downsampleEquity(curve.equity, curve.drawdownPct, maxPoints);
  return {
    rows: chartRows(curve, picked.indices),
    drawdown: drawdownRows(curve, picked.drawdownIndices),
    maxDrawdown: maxDrawdownRows(curve, picked),
    subtitle: describe(curve, picked),
    timeSpan: curve.timeMs[curve.timeMs.length - 1]! - curve.timeMs[0]!,
  };
}

/**
 * Whether a curve is already normalised (`normalizeEquity`'s output).
 *
 * @param curve A curve as given to the chart.
 * @returns True for normalised columns.
 * @example Rows are not normalised
 * ```ts
 * import { isNormalized } from "./chart_data.ts";
 * if (isNormalized([{ timestamp_ns: 0n, equity: 1 }])) throw new Error();
 * ```
 */
export function isNormalized(curve: EquityCurveInput | NormalizedEquity): curve is NormalizedEquity {
  if (typeof curve !== "object" || curve === null) return false;
  const c = curve as Partial<NormalizedEquity>;
  return c.timeMs instanceof Float64Array && c.equity instanceof Float64Array && c.drawdownPct instanceof Float64Array;
}

function chartRows(curve: NormalizedEquity, indices: Uint32Array): EquityRowDatum[] {
  const { timeMs, equity, drawdownPct } = curve;
  const rows = new Array<EquityRowDatum>(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    rows[j] = { time: timeMs[i]!, equity: equity[i]!, drawdown: -drawdownPct[i]! / 100 };
  }
  return rows;
}

function drawdownRows(curve: NormalizedEquity, indices: Uint32Array): DrawdownDatum[] {
  const { timeMs, drawdownPct } = curve;
  const rows = new Array<DrawdownDatum>(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    rows[j] = { time: timeMs[i]!, drawdown: -drawdownPct[i]! / 100 };
  }
  return rows;
}

function maxDrawdownRows(curve: NormalizedEquity, picked: DownsampledEquity): MaxDrawdownDatum[] {
  const { timeMs, drawdownPct } = curve;
  const depth = drawdownPct[picked.maxDrawdownIndex]!;
  if (!(depth > 0)) return [];
  const first = timeMs[0]!;
  const last = timeMs[timeMs.length - 1]!;
  const trough = timeMs[picked.maxDrawdownIndex]!;
  return [{
    peakTime: timeMs[picked.maxDrawdownPeakIndex]!,
    troughTime: trough,
    endTime: picked.recoveryIndex >= 0 ? timeMs[picked.recoveryIndex]! : last,
    drawdown: -depth / 100,
    label: `max drawdown ${signedPercent(-depth)}`,
    // Keep the label inside the plot: it reads away from the nearer edge.
    align: trough - first < (last - first) / 2 ? "left" : "right",
  }];
}

/** One line under the title: time range, bar count, return and max drawdown. */
function describe(curve: NormalizedEquity, picked: DownsampledEquity): string {
  const { timeMs, equity, drawdownPct } = curve;
  const length = timeMs.length;
  const start = timeMs[0]!;
  const end = timeMs[length - 1]!;
  const withTime = start % 86_400_000 !== 0 || end % 86_400_000 !== 0;
  const parts = [
    `${utcStamp(start, withTime)} \u2013 ${utcStamp(end, withTime)} UTC`,
    `${groupThousands(length)} ${length === 1 ? "bar" : "bars"}`,
  ];
  const first = equity[0]!;
  if (first > 0) parts.push(`return ${signedPercent((equity[length - 1]! / first - 1) * 100)}`);
  parts.push(`max drawdown ${signedPercent(-drawdownPct[picked.maxDrawdownIndex]!)}`);
  return parts.join("  \u00b7  ");
}

function utcStamp(ms: number, withTime: boolean): string {
  const iso = new Date(ms).toISOString();
  return withTime ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}

// Hand-written rather than toLocaleString: Intl data differs between runtimes, the PNG must not.
function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function signedPercent(value: number): string {
  const text = Math.abs(value).toFixed(2) + "%";
  if (text === "0.00%") return text;
  return (value < 0 ? MINUS : "+") + text;
}
