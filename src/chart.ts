/**
 * The equity chart: equity over time above drawdown below, rendered
 * Vega-Lite -> Vega -> SVG -> PNG (resvg-wasm) with the same bytes on Node,
 * Deno, Bun and workerd.
 *
 * - Curves of any length are thinned first ({@link downsampleEquity}), so Vega
 *   only sees a few thousand points.
 * - Vega runs without code generation (workerd forbids it): expressions are
 *   turned into closures once per view instead of being interpreted per datum.
 * - The Vega-Lite template is compiled and parsed once per size; the WebAssembly,
 *   font and Vega setup start with {@link initChart}, which callers can start
 *   early so it overlaps with network requests.
 *
 * @module
 */
import type { Runtime, Spec as VegaSpec, View } from "vega";
import type { Config as VegaLiteConfig, TopLevelSpec } from "vega-lite";
import { downsampleEquity, type DownsampledEquity, MIN_DOWNSAMPLE_POINTS } from "./downsample.ts";
import { type EquityCurveInput, type NormalizedEquity, normalizeEquity } from "./equity.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { checkOptionKeys, CHART_KEYS } from "./option_keys.ts";
import { checkBoolean, describeValue } from "./validation.ts";
import {
  CHART_FONT_ADVANCES,
  CHART_FONT_FAMILY,
  CHART_FONT_UNITS_PER_EM,
  CHART_FONT_WOFF2_BASE64,
} from "./font_data.ts";
import { resvgWasm } from "#wasm";
import { closureExpressions, type ExpressionHooks } from "./vega_expressions.ts";

export type { NormalizedEquity } from "./equity.ts";

/**
 * A Vega-Lite spec: a plain JSON object, as {@link equityChartSpec} builds it.
 * Cast it to the `vega-lite` package's `TopLevelSpec` for typed edits.
 */
export type VegaLiteSpec = object;

/** Size and colours of the chart a spec is built for. */
export interface EquityChartSpecOptions {
  /** Width of the whole image in CSS pixels (default 1200, what the MLflow artifact viewer shows). */
  width?: number;
  /** Height of the whole image in CSS pixels (default 640). */
  height?: number;
  /** Colour of the equity line (default `#1f5fa6`). */
  equityColor?: string;
  /** Colour of the drawdown area and the max-drawdown marks (default `#d62728`). */
  drawdownColor?: string;
}

/** Options of {@link renderEquityChart}. */
export interface EquityChartOptions extends EquityChartSpecOptions {
  /** Chart title, usually the run name (default `Equity curve`). */
  title?: string;
  /** Most points handed to Vega after downsampling (default 2000, at least 16). */
  maxPoints?: number;
  /** Render the PNG as well as the SVG (default true). */
  png?: boolean;
  /** Pixels per CSS pixel of the PNG (default 1: a 1200 px wide image). */
  scale?: number;
  /**
   * A restyled Vega-Lite spec, usually {@link equityChartSpec}'s output edited.
   * It reads the data sets `equity`, `drawdown` and `maxDrawdown` and the params `chartTitle`,
   * `chartSubtitle` and `chartTimeSpan` described there. Its own sizes and colours apply (the
   * `width`, `height` and colour options only shape the built-in spec). Compiled once per spec
   * object: pass a new object after changing one.
   */
  spec?: VegaLiteSpec;
}

/** What {@link renderEquityChart} produces. */
export interface EquityChartResult {
  /** The PNG file, unless `png: false` was asked for. */
  png?: Uint8Array;
  /** The SVG document (text is kept as text, so it holds every label). */
  svg: string;
  /** How many points of the curve were drawn after downsampling. */
  points: number;
}

/** Options of {@link initChart}. */
export interface InitChartOptions {
  /**
   * resvg's WebAssembly, for edge runtimes that cannot load it themselves (a
   * worker or browser bundle: the module your bundler makes of
   * `@resvg/resvg-wasm/index_bg.wasm`). Node, Deno and Bun read it from the
   * installed package; the workerd build (Cloudflare Workers) imports it itself.
   */
  wasm?: WebAssembly.Module | ArrayBuffer | ArrayBufferView | Promise<WebAssembly.Module | ArrayBuffer | ArrayBufferView>;
  /** Also load the WebAssembly (default true); false prepares SVG-only rendering. */
  png?: boolean;
  /**
   * Also render a small chart once (default false), so part of the JIT work of a cold
   * first render happens now. It costs about twice what it saves on the first real
   * render (measured: ~1.2 s more here against ~0.6 s less there, Node 20), so it pays
   * only when it fits entirely in time spent waiting, e.g. on a slow tracking server.
   */
  warmUp?: boolean;
}

const DEFAULT_WIDTH = 1200;
const DEFAULT_HEIGHT = 640;
const DEFAULT_MAX_POINTS = 2000;
const DEFAULT_TITLE = "Equity curve";
const EQUITY_DATA = "equity";
const DRAWDOWN_DATA = "drawdown";
const MAX_DRAWDOWN_DATA = "maxDrawdown";
const TITLE_SIGNAL = "chartTitle";
const SUBTITLE_SIGNAL = "chartSubtitle";
const SPAN_SIGNAL = "chartTimeSpan";

// The plots sit inside fixed margins (Vega autosize "none"), so the image is
// exactly width x height whatever the labels say: the left margin holds the
// y-axis title and labels (truncated to fit), the top one the title and subtitle,
// the bottom one the time axis.
const Y_AXIS_EXTENT = 56;
const MARGIN = { left: 8 + 22 + Y_AXIS_EXTENT, top: 62, right: 16, bottom: 46 };
const PANEL_GAP = 18;

const MINUS = "\u2212";

/**
 * The Vega-Lite spec of the equity chart, for restyling: change colours, fonts,
 * sizes or marks and pass the result as `spec` to {@link renderEquityChart}.
 *
 * The renderer fills in the data set `equity` (rows `{time, equity, drawdown}`:
 * UTC milliseconds, equity, and drawdown as a fraction at or below 0), the data
 * set `drawdown` (rows `{time, drawdown}`: the deepest drawdown per pixel
 * column, the outline of an area filled from 0), the data set `maxDrawdown`
 * (zero or one row `{peakTime, troughTime, endTime, drawdown, label, align}`)
 * and the params `chartTitle`, `chartSubtitle` and `chartTimeSpan` (last minus
 * first time, ms). Text is drawn with the bundled Inter font; resvg has no other.
 *
 * @param options Image size and colours.
 * @returns A Vega-Lite spec (a plain object; edit freely).
 * @throws {MlflowValidationError} When `width` or `height` is not a sensible pixel size.
 * @example Thicker, green equity line
 * ```ts
 * import { equityChartSpec } from "./chart.ts";
 * const spec = equityChartSpec({ width: 900, equityColor: "#2ca02c" });
 * const top = (spec as { vconcat: { layer: { mark: { strokeWidth?: number } }[] }[] }).vconcat[0]!;
 * top.layer[1]!.mark.strokeWidth = 3;
 * // await renderEquityChart(curve, { spec });
 * ```
 */
export function equityChartSpec(options: EquityChartSpecOptions = {}): VegaLiteSpec {
  checkChartOptions(options, "", "options");
  const width = pixelSize(options.width, DEFAULT_WIDTH, "width", 300);
  const height = pixelSize(options.height, DEFAULT_HEIGHT, "height", 240);
  const equityColor = options.equityColor ?? "#1f5fa6";
  const drawdownColor = options.drawdownColor ?? "#d62728";
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const plots = plotHeight - PANEL_GAP;
  const drawdownHeight = Math.round(plots * 0.3);
  const time = { field: "time", type: "temporal", scale: { type: "utc" } } as const;
  const yAxis = { minExtent: Y_AXIS_EXTENT, maxExtent: Y_AXIS_EXTENT, labelLimit: Y_AXIS_EXTENT - 8, tickCount: 6 };
  const config: VegaLiteConfig = {
    font: CHART_FONT_FAMILY,
    background: "white",
    // Per-datum ARIA descriptions would format every point's values: a large, invisible cost.
    aria: false,
    view: { stroke: null },
    mark: { invalid: null },
    axis: {
      labelFontSize: 11,
      titleFontSize: 11,
      titleFontWeight: "normal",
      titleColor: "#444",
      labelColor: "#444",
      gridColor: "#e6e6e6",
      domainColor: "#999",
      tickColor: "#999",
      titlePadding: 8,
    },
    title: { fontSize: 16, fontWeight: "normal", subtitleFontSize: 12, subtitleColor: "#555", subtitlePadding: 4 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config,
    autosize: { type: "none" },
    padding: MARGIN,
    width: plotWidth,
    // Vega-Lite drops the height of a concat spec; compileTemplate hands it to Vega.
    height: plotHeight,
    params: [
      { name: TITLE_SIGNAL, value: DEFAULT_TITLE },
      { name: SUBTITLE_SIGNAL, value: "" },
      { name: SPAN_SIGNAL, value: 0 },
    ],
    title: {
      text: { expr: TITLE_SIGNAL },
      // Vega-Lite's types allow only literal subtitles, but it forwards an expression to Vega untouched.
      subtitle: { expr: SUBTITLE_SIGNAL } as unknown as string,
      anchor: "start",
      offset: 12,
      limit: plotWidth,
    },
    // Numbers arrive as numbers: no per-row parsing.
    data: { name: EQUITY_DATA, format: { parse: null } },
    spacing: PANEL_GAP,
    // Panels are stacked by their plot areas alone, so the sizes above add up exactly.
    bounds: "flush",
    resolve: { scale: { x: "shared" } },
    vconcat: [
      {
        width: plotWidth,
        height: plots - drawdownHeight,
        layer: [
          {
            data: { name: MAX_DRAWDOWN_DATA, format: { parse: null } },
            mark: { type: "rect", color: drawdownColor, fillOpacity: 0.07 },
            encoding: { x: { ...time, field: "peakTime" }, x2: { field: "endTime" } },
          },
          {
            mark: { type: "line", color: equityColor, strokeWidth: 1.5 },
            encoding: {
              x: { ...time, axis: { labels: false, ticks: false, domain: false, title: null, tickCount: 10 } },
              y: {
                field: "equity",
                type: "quantitative",
                title: "Equity",
                scale: { zero: false },
                axis: {
                  ...yAxis,
                  // Seven-figure equity reads better as 1.25M than as a truncated 1,250,0…; a flat
                  // curve (zero-width domain) gets default labels with a dozen decimals.
                  labelExpr: "abs(datum.value) >= 1e6 ? replace(format(datum.value, '.4~s'), 'G', 'B')" +
                    " : length(datum.label) > 10 ? format(datum.value, ',.6~g') : datum.label",
                },
              },
            },
          },
        ],
      },
      {
        width: plotWidth,
        height: drawdownHeight,
        layer: [
          {
            data: { name: DRAWDOWN_DATA, format: { parse: null } },
            // fillOpacity, not opacity: resvg paints an element with opacity on a layer of its own.
            mark: { type: "area", color: drawdownColor, fillOpacity: 0.3, line: { color: drawdownColor, strokeWidth: 1 } },
            encoding: {
              x: {
                ...time,
                title: "Time (UTC)",
                axis: {
                  tickCount: 10,
                  labelFlush: true,
                  labelOverlap: true,
                  // 24-hour UTC labels whose detail follows the tick (years, months, days, times);
                  // under two months midnight ticks name the day, not "2025" or "Mar".
                  labelExpr: "utcFormat(datum.value, utcmilliseconds(datum.value) ? '%H:%M:%S.%L'" +
                    " : utcseconds(datum.value) ? '%H:%M:%S'" +
                    " : utchours(datum.value) || utcminutes(datum.value) ? '%H:%M'" +
                    ` : utcdate(datum.value) !== 1 || ${SPAN_SIGNAL} < 60 * 864e5 ? '%b %-d'` +
                    " : utcmonth(datum.value) ? '%b' : '%Y')",
                },
              },
              y: {
                field: "drawdown",
                type: "quantitative",
                title: "Drawdown",
                stack: null,
                scale: { domainMax: 0, nice: true },
                axis: { ...yAxis, tickCount: 4, format: "~%" },
              },
            },
          },
          {
            data: { name: MAX_DRAWDOWN_DATA, format: { parse: null } },
            mark: { type: "point", filled: true, color: drawdownColor, size: 30, opacity: 1 },
            encoding: { x: { ...time, field: "troughTime" }, y: { field: "drawdown", type: "quantitative" } },
          },
          // The label twice: a white outline first, so it stays readable over the area.
          ...[{ stroke: "white", strokeWidth: 3, strokeOpacity: 0.85 }, {}].map((halo) => ({
            data: { name: MAX_DRAWDOWN_DATA, format: { parse: null } },
            mark: {
              type: "text",
              color: "#8c1c1d",
              fontSize: 11,
              baseline: "bottom",
              dy: -5,
              align: { expr: "datum.align" },
              dx: { expr: "datum.align === 'left' ? 6 : -6" },
              ...halo,
            },
            encoding: {
              x: { ...time, field: "troughTime" },
              y: { field: "drawdown", type: "quantitative" },
              text: { field: "label" },
            },
          })),
        ],
      },
    ],
  } as TopLevelSpec;
}

/**
 * Starts everything a chart needs (Vega, the compiled template, the font and
 * resvg's WebAssembly; optionally a warm-up render) and resolves when it is
 * ready. Safe to call many times; the work happens once per process. Call it
 * early, e.g. while the run is being created and the CSVs upload, so the first
 * {@link renderEquityChart} does not pay for it: that work is CPU, the requests
 * are waiting on the server.
 *
 * @param options The WebAssembly module on edge runtimes that cannot load it themselves (not
 *   workerd, which imports it); PNG and warm-up switches.
 * @returns Resolves when the chart can be rendered.
 * @throws {MlflowError} When Vega or resvg cannot be loaded (`CHART_WASM_UNAVAILABLE` when the
 *   WebAssembly is missing); a later call may retry, e.g. with `wasm`.
 * @example Start early, render later
 * ```ts
 * import { initChart, renderEquityChart } from "./chart.ts";
 * const ready = initChart(); // overlaps with the requests below
 * // ... create the MLflow run, upload CSVs ...
 * await ready;
 * const { png } = await renderEquityChart([{ timestamp_ns: 1n, equity: 1 }, { timestamp_ns: 2n, equity: 2 }]);
 * if (!png) throw new Error("expected a PNG");
 * ```
 * @example On an edge runtime other than workerd, with the module its bundler made
 * ```ts
 * // import wasm from "@resvg/resvg-wasm/index_bg.wasm";
 * // await initChart({ wasm });
 * ```
 */
export async function initChart(options: InitChartOptions = {}): Promise<void> {
  checkOptionKeys(options, ["wasm", "png", "warmUp"] satisfies (keyof InitChartOptions)[], "options");
  checkBoolean(options.png, "png");
  checkBoolean(options.warmUp, "warmUp");
  const png = options.png !== false;
  await Promise.all([
    loadEngine().then((engine) => template(engine, undefined, DEFAULT_WIDTH, DEFAULT_HEIGHT)),
    png ? loadResvg(options.wasm) : undefined,
  ]);
  if (options.warmUp === true) await warmUp(png);
}

/**
 * Renders an equity curve to SVG and PNG: equity over time on top, drawdown
 * below, on a shared UTC time axis, titled with the run name. Curves longer than
 * `maxPoints` are downsampled keeping every extreme and the max drawdown.
 *
 * @param curve FLOX rows or columns, or a curve already normalised by `normalizeEquity`.
 * @param options Title, size, point budget, PNG on/off, PNG scale, restyled spec.
 * @returns The SVG, the PNG (unless `png: false`) and the number of points drawn.
 * @throws {MlflowValidationError} When the curve is empty, holds NaN or infinite values, has columns
 *   of different lengths, or an option is out of range.
 * @throws {MlflowError} When Vega or resvg fail (`CHART_RENDER_FAILED`) or the WebAssembly is missing
 *   (`CHART_WASM_UNAVAILABLE`; on edge runtimes other than workerd call {@link initChart} with the module first).
 * @example Render a short curve
 * ```ts
 * import { renderEquityChart } from "./chart.ts";
 * const chart = await renderEquityChart(
 *   { timestampNs: BigInt64Array.of(1700000000000000000n, 1700000060000000000n), equity: Float64Array.of(100, 101) },
 *   { title: "sma-cross fast=10" },
 * );
 * if (!chart.svg.includes("sma-cross fast=10") || chart.png === undefined) throw new Error();
 * ```
 */
export function renderEquityChart(
  curve: EquityCurveInput | NormalizedEquity,
  options?: EquityChartOptions & { png?: true },
): Promise<EquityChartResult & { png: Uint8Array }>;
/**
 * Renders an equity curve with the PNG switched by `png` (off with `png: false`), so the
 * result's `png` may be absent.
 *
 * @param curve FLOX rows or columns, or a curve already normalised by `normalizeEquity`.
 * @param options Title, size, point budget, PNG on/off, PNG scale, restyled spec.
 * @returns The SVG, the PNG when `png` was not false, and the number of points drawn.
 * @example SVG only
 * ```ts
 * import { renderEquityChart } from "./chart.ts";
 * const chart = await renderEquityChart([{ timestamp_ns: 1n, equity: 1 }, { timestamp_ns: 2n, equity: 2 }], { png: false });
 * if (chart.png !== undefined || !chart.svg.startsWith("<svg")) throw new Error();
 * ```
 */
export function renderEquityChart(curve: EquityCurveInput | NormalizedEquity, options: EquityChartOptions): Promise<EquityChartResult>;
export async function renderEquityChart(
  curve: EquityCurveInput | NormalizedEquity,
  options: EquityChartOptions = {},
): Promise<EquityChartResult> {
  checkChartOptions(options, "", "options");
  const width = pixelSize(options.width, DEFAULT_WIDTH, "width", 300);
  const height = pixelSize(options.height, DEFAULT_HEIGHT, "height", 240);
  const scale = options.scale ?? 1;
  const title = options.title ?? DEFAULT_TITLE;
  const wantPng = options.png !== false;
  // Start loading while the curve is being prepared.
  const engineReady = loadEngine();
  const resvgReady = wantPng ? loadResvg(undefined) : undefined;
  engineReady.catch(() => {});
  resvgReady?.catch(() => {});

  const equity = isNormalized(curve) ? curve : normalizeEquity(curve);
  if (equity.timeMs.length !== equity.equity.length) {
    throw new MlflowValidationError(
      "equityCurve.timeMs",
      `has ${equity.timeMs.length} values but equityCurve.equity has ${equity.equity.length}; columns must be the same length`,
    );
  }
  const picked = downsampleEquity(equity.equity, equity.drawdownPct, options.maxPoints ?? DEFAULT_MAX_POINTS);
  const rows = chartRows(equity, picked.indices);
  const drawdown = drawdownRows(equity, picked.drawdownIndices);
  const maxDrawdown = maxDrawdownRows(equity, picked);
  const subtitle = describe(equity, picked);

  const engine = await engineReady;
  const tpl = await template(engine, options.spec, width, height, options);
  let svg: string;
  try {
    svg = await toSvg(engine, tpl, { [EQUITY_DATA]: rows, [DRAWDOWN_DATA]: drawdown, [MAX_DRAWDOWN_DATA]: maxDrawdown }, {
      [TITLE_SIGNAL]: title,
      [SUBTITLE_SIGNAL]: subtitle,
      [SPAN_SIGNAL]: equity.timeMs[equity.timeMs.length - 1]! - equity.timeMs[0]!,
    });
  } catch (cause) {
    if (cause instanceof MlflowError) throw cause;
    throw new MlflowError(`equity chart: Vega could not render the chart: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  }
  if (!resvgReady) return { svg, points: rows.length };
  const resvg = await resvgReady;
  try {
    return { svg, png: rasterize(resvg, svg, scale), points: rows.length };
  } catch (cause) {
    throw new MlflowError(`equity chart: resvg could not rasterize the SVG: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  }
}

// ---------------------------------------------------------------------------
// Data handed to Vega

interface EquityRowDatum {
  time: number;
  equity: number;
  drawdown: number;
}

interface DrawdownDatum {
  time: number;
  drawdown: number;
}

interface MaxDrawdownDatum {
  peakTime: number;
  troughTime: number;
  endTime: number;
  drawdown: number;
  label: string;
  align: "left" | "right";
}

function isNormalized(curve: EquityCurveInput | NormalizedEquity): curve is NormalizedEquity {
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

function pixelSize(value: number | undefined, fallback: number, field: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 8000) {
    throw new MlflowValidationError(field, `must be a whole number of pixels from ${min} to 8000, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Checks chart options before anything is drawn or sent: known keys, and
 * each option of the right type and range. {@link renderEquityChart} calls it;
 * `logBacktest` calls it for its `chart` option, so a bad option is refused
 * before the run exists rather than noted in `flox.chart_error` afterwards.
 *
 * @param options The chart options.
 * @param prefix Put before each option's name in errors (`"chart."` for logBacktest's `chart`).
 * @param field The name of the options object itself, for unknown keys (`"chart"`, `"options"`).
 * @returns The options.
 * @throws {MlflowValidationError} Naming the option.
 * @example logBacktest's chart option
 * ```ts
 * import { checkChartOptions } from "./chart.ts";
 * checkChartOptions({ width: 900, png: false }, "chart.", "chart");
 * ```
 */
export function checkChartOptions(options: unknown, prefix: string, field: string): EquityChartOptions {
  const checked = checkOptionKeys(options, CHART_KEYS, field) as EquityChartOptions;
  pixelSize(checked.width, DEFAULT_WIDTH, `${prefix}width`, 300);
  pixelSize(checked.height, DEFAULT_HEIGHT, `${prefix}height`, 240);
  const { scale, title, maxPoints, spec } = checked;
  if (scale !== undefined && (typeof scale !== "number" || !(scale > 0 && scale <= 8))) {
    throw new MlflowValidationError(`${prefix}scale`, `must be a number above 0 and at most 8, got ${describeValue(scale)}`);
  }
  if (title !== undefined && typeof title !== "string") {
    throw new MlflowValidationError(`${prefix}title`, `must be a string, got ${describeValue(title)}`);
  }
  for (const key of ["equityColor", "drawdownColor"] as const) {
    const colour = checked[key];
    if (colour !== undefined && typeof colour !== "string") {
      throw new MlflowValidationError(`${prefix}${key}`, `must be a CSS colour string such as "#1f5fa6", got ${describeValue(colour)}`);
    }
  }
  if (maxPoints !== undefined && (typeof maxPoints !== "number" || !Number.isInteger(maxPoints) || maxPoints < MIN_DOWNSAMPLE_POINTS)) {
    throw new MlflowValidationError(`${prefix}maxPoints`, `must be a whole number of at least ${MIN_DOWNSAMPLE_POINTS}, got ${describeValue(maxPoints)}`);
  }
  checkBoolean(checked.png, `${prefix}png`);
  if (spec !== undefined && (typeof spec !== "object" || spec === null || Array.isArray(spec))) {
    throw new MlflowValidationError(`${prefix}spec`, `must be a Vega-Lite spec object (see equityChartSpec()), got ${describeValue(spec)}`);
  }
  return checked;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------
// Vega: modules, templates, views

type VegaModule = typeof import("vega");
type VegaLiteModule = typeof import("vega-lite");
type ResvgModule = typeof import("@resvg/resvg-wasm");

interface Engine {
  vega: VegaModule;
  vl: VegaLiteModule;
  expr: ExpressionHooks;
}

interface Template {
  runtime: Runtime;
  signals: ReadonlySet<string>;
  data: ReadonlySet<string>;
}

let engine: Promise<Engine> | undefined;
const warmUps = new Map<boolean, Promise<void>>();
let resvgModule: Promise<ResvgModule> | undefined;
let fontBytes: Uint8Array | undefined;
const templates = new Map<string, Promise<Template>>();
const customTemplates = new WeakMap<VegaLiteSpec, Promise<Template>>();
const MAX_TEMPLATES = 8;

function loadEngine(): Promise<Engine> {
  engine ??= Promise.all([import("vega"), import("vega-lite"), import("vega-interpreter")]).then(
    ([vega, vl, interpreter]) => {
      useChartFontMetrics(vega);
      return { vega, vl, expr: closureExpressions(vega, interpreter.expressionInterpreter) };
    },
    (cause) => {
      engine = undefined;
      throw new MlflowError(`equity chart: cannot load vega, vega-lite or vega-interpreter: ${message(cause)}`, {
        errorCode: "CHART_RENDER_FAILED",
        cause,
      });
    },
  );
  return engine;
}

function loadResvg(wasm: InitChartOptions["wasm"]): Promise<ResvgModule> {
  const previous = resvgModule;
  if (previous && wasm === undefined) return previous;
  // A module passed in rescues an earlier attempt that had none (workerd before initChart).
  const attempt: Promise<ResvgModule> = (previous ? previous.catch(() => initResvg(wasm)) : initResvg(wasm)).catch(
    (cause: unknown) => {
      if (resvgModule === attempt) resvgModule = undefined;
      if (cause instanceof MlflowError) throw cause;
      throw new MlflowError(`equity chart: cannot initialise resvg's WebAssembly: ${message(cause)}`, {
        errorCode: "CHART_WASM_UNAVAILABLE",
        cause,
      });
    },
  );
  resvgModule = attempt;
  return attempt;
}

async function initResvg(wasm: InitChartOptions["wasm"]): Promise<ResvgModule> {
  const [resvg, source] = await Promise.all([import("@resvg/resvg-wasm"), wasm ?? resvgWasm()]);
  try {
    await resvg.initWasm(source);
  } catch (cause) {
    // Another library in this process may have initialised the same package already.
    if (!/already initiali[sz]ed/i.test(message(cause))) throw cause;
  }
  chartFont();
  return resvg;
}

/** One throw-away render per process (per kind: with or without PNG) to get the code compiled. */
function warmUp(png: boolean): Promise<void> {
  let done = warmUps.get(png);
  if (!done) {
    const n = 48;
    const timestampNs = new BigInt64Array(n);
    const equity = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      timestampNs[i] = 1_704_067_200_000_000_000n + BigInt(i) * 3_600_000_000_000n;
      equity[i] = 100 + 10 * Math.sin(i / 5) + i / 2;
    }
    done = renderEquityChart({ timestampNs, equity }, { png, title: "warm-up" }).then(
      () => {},
      (cause: unknown) => {
        warmUps.delete(png);
        throw cause;
      },
    );
    warmUps.set(png, done);
  }
  return done;
}

/** The compiled and parsed template for a spec object, or for the built-in spec at a size and colours. */
function template(
  engine: Engine,
  spec: VegaLiteSpec | undefined,
  width: number,
  height: number,
  colors: EquityChartSpecOptions = {},
): Promise<Template> {
  if (spec) {
    let found = customTemplates.get(spec);
    if (!found) {
      found = compileTemplate(engine, spec, () => customTemplates.delete(spec));
      customTemplates.set(spec, found);
    }
    return found;
  }
  const key = JSON.stringify([width, height, colors.equityColor, colors.drawdownColor]);
  let found = templates.get(key);
  if (!found) {
    const options = { width, height, equityColor: colors.equityColor, drawdownColor: colors.drawdownColor };
    found = compileTemplate(engine, equityChartSpec(options), () => templates.delete(key));
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value!);
    templates.set(key, found);
  }
  return found;
}

/** Vega-Lite -> Vega -> parsed dataflow description; the costly part of a first render, done once. */
function compileTemplate(engine: Engine, spec: VegaLiteSpec, forget: () => void): Promise<Template> {
  return Promise.resolve().then(() => {
    const vegaSpec: VegaSpec = engine.vl.compile(spec as TopLevelSpec, { logger: engine.vega.logger(engine.vega.Error) }).spec;
    // With autosize "none" Vega sizes the view from width and height, but Vega-Lite
    // forwards only the width of a concat spec.
    const height = (spec as { height?: unknown }).height;
    if (vegaSpec.height === undefined && typeof height === "number") vegaSpec.height = height;
    return {
      runtime: engine.vega.parse(vegaSpec, undefined, { ast: true }),
      signals: new Set((vegaSpec.signals ?? []).map((s) => s.name)),
      data: new Set((vegaSpec.data ?? []).map((d) => d.name)),
    };
  }).catch((cause: unknown) => {
    forget();
    throw new MlflowError(`equity chart: the Vega-Lite spec does not compile: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  });
}

async function toSvg(
  engine: Engine,
  tpl: Template,
  data: Record<string, readonly object[]>,
  signals: Record<string, string | number>,
): Promise<string> {
  if (!tpl.data.has(EQUITY_DATA)) {
    throw new MlflowValidationError("spec", `must read its points from the named data set "${EQUITY_DATA}"`);
  }
  const { vega } = engine;
  const view: View = new vega.View(tpl.runtime, { renderer: "none", expr: engine.expr, logLevel: vega.Error });
  try {
    // A restyled spec may leave out any of the inputs but the points.
    for (const [name, value] of Object.entries(signals)) if (tpl.signals.has(name)) view.signal(name, value);
    for (const [name, rows] of Object.entries(data)) if (tpl.data.has(name)) view.data(name, rows as object[]);
    await view.runAsync();
    return roundSvgNumbers(await view.toSVG());
  } finally {
    view.finalize();
  }
}

// Engines disagree in the last bits of some of Vega's scale arithmetic (Node 20's
// V8 against Deno's, Bun's and workerd's), which showed up as 141.3875735273611
// against 141.38757352736064 in a coordinate. Thousandths of a pixel are plenty;
// rounding to them gives every runtime the same SVG (and a smaller one).
const NUMERIC_ATTRIBUTE = / (d|transform|x|y|x1|x2|y1|y2|dx|dy|width|height|stroke-width)="([^"]*)"/g;
const LONG_DECIMAL = /-?\d*\.\d{4,}(?:e[-+]?\d+)?/gi;

function roundSvgNumbers(svg: string): string {
  const round = (n: string): string => String(Math.round(Number(n) * 1000) / 1000);
  // Only inside tags: text content (a title, say) is left as written.
  return svg.replace(/<[^<>]+>/g, (tag) =>
    tag.replace(NUMERIC_ATTRIBUTE, (_, name: string, value: string) => ` ${name}="${value.replace(LONG_DECIMAL, round)}"`));
}

function chartFont(): Uint8Array {
  fontBytes ??= Uint8Array.from(atob(CHART_FONT_WOFF2_BASE64), (c) => c.charCodeAt(0));
  return fontBytes;
}

function rasterize(resvg: ResvgModule, svg: string, scale: number): Uint8Array {
  const renderer = new resvg.Resvg(svg, {
    font: { fontBuffers: [chartFont()], defaultFontFamily: CHART_FONT_FAMILY, sansSerifFamily: CHART_FONT_FAMILY },
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
  });
  try {
    const image = renderer.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    renderer.free();
  }
}

// ---------------------------------------------------------------------------
// Text widths: Vega lays out labels with the advances of the font resvg draws,
// the same on every runtime (no canvas, no 0.8 em guess).

interface TextItem {
  font?: string;
  fontSize?: number | string;
  limit?: number;
}

interface TextMetrics {
  width: (item: TextItem, text: unknown) => number;
}

let chartAdvances: Map<number, number> | undefined;

function useChartFontMetrics(vega: VegaModule): void {
  const metrics = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  const fallback = metrics.width;
  const advances = chartAdvances ??= advanceTable();
  const missing = advances.get(0x3f)!; // "?", roughly an average glyph
  const family = CHART_FONT_FAMILY.toLowerCase();
  metrics.width = (item, text) => {
    const font = item.font?.toLowerCase();
    // Only text drawn with the bundled font (or the generic family resvg maps to it).
    if (font !== undefined && font !== family && font !== "sans-serif") return fallback(item, text);
    const size = item.fontSize == null ? 11 : +item.fontSize || 0;
    const value = text == null ? "" : String(text).trim();
    let units = 0;
    for (const ch of value) units += advances.get(ch.codePointAt(0)!) ?? missing;
    const width = (units * size) / CHART_FONT_UNITS_PER_EM;
    // Vega asks for the width after truncation to `limit`.
    return item.limit !== undefined && item.limit > 0 && width > item.limit ? item.limit : width;
  };
}

function advanceTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (let i = 0; i < CHART_FONT_ADVANCES.length; i += 2) table.set(CHART_FONT_ADVANCES[i]!, CHART_FONT_ADVANCES[i + 1]!);
  return table;
}
