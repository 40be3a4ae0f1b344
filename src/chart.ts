/**
 * The equity chart: equity over time above drawdown below, rendered
 * Vega -> SVG -> PNG (resvg-wasm, then the runtime's native deflate) with the
 * same SVG and the same pixels on Node, Deno, Bun and workerd.
 *
 * - Curves of any length are thinned first ({@link downsampleEquity}), so Vega
 *   only sees a few thousand points.
 * - The built-in chart's Vega-Lite spec is compiled to Vega ahead of time
 *   (`chart_vega_spec.ts`); `vega-lite` is loaded only for a custom `spec`.
 * - Vega runs without code generation (workerd forbids it): expressions are
 *   turned into closures once per view instead of being interpreted per datum.
 * - The template is parsed once per size; the WebAssembly, font and Vega setup
 *   start with {@link initChart}, which callers can start early so it overlaps
 *   with network requests.
 *
 * The parts: the spec and layout (`chart_spec.ts`), option checks
 * (`chart_options.ts`), data sets (`chart_data.ts`), Vega (`chart_vega.ts`),
 * text widths (`chart_text.ts`), rasterising (`chart_raster.ts`, `png.ts`).
 *
 * @module
 */
import { type ChartData, chartData, isNormalized } from "./chart_data.ts";
import { checkChartOptions, type EquityChartOptions } from "./chart_options.ts";
import { loadResvg, rasterize } from "./chart_raster.ts";
import {
  chartLayout,
  DEFAULT_TITLE,
  DRAWDOWN_DATA,
  EQUITY_DATA,
  MAX_DRAWDOWN_DATA,
  SPAN_SIGNAL,
  SUBTITLE_SIGNAL,
  TITLE_SIGNAL,
} from "./chart_spec.ts";
import { chartSvg, chartTemplate, loadVega } from "./chart_vega.ts";
import type { downsampleEquity } from "./downsample.ts";
import { type EquityCurveInput, type NormalizedEquity, normalizeEquity } from "./equity.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { checkBoolean } from "./validation.ts";
import { checkOptionKeys } from "./option_keys.ts";

export type { NormalizedEquity } from "./equity.ts";
export { checkChartOptions, type EquityChartOptions } from "./chart_options.ts";
export { equityChartSpec, type EquityChartSpecOptions, type VegaLiteSpec } from "./chart_spec.ts";

const DEFAULT_MAX_POINTS = 2000;

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
    loadVega().then((engine) => chartTemplate(engine, undefined, chartLayout({}))),
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
  const layout = chartLayout(options);
  const scale = options.scale ?? 1;
  const title = options.title ?? DEFAULT_TITLE;
  const wantPng = options.png !== false;
  // Start loading while the curve is being prepared.
  const engineReady = loadVega();
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
  const data: ChartData = chartData(equity, options.maxPoints ?? DEFAULT_MAX_POINTS);

  const engine = await engineReady;
  const tpl = await chartTemplate(engine, options.spec, layout);
  let svg: string;
  try {
    svg = await chartSvg(engine, tpl, { [EQUITY_DATA]: data.rows, [DRAWDOWN_DATA]: data.drawdown, [MAX_DRAWDOWN_DATA]: data.maxDrawdown }, {
      [TITLE_SIGNAL]: title,
      [SUBTITLE_SIGNAL]: data.subtitle,
      [SPAN_SIGNAL]: data.timeSpan,
    });
  } catch (cause) {
    if (cause instanceof MlflowError) throw cause;
    throw new MlflowError(`equity chart: Vega could not render the chart: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  }
  if (!resvgReady) return { svg, points: data.rows.length };
  const resvg = await resvgReady;
  try {
    return { svg, png: await rasterize(resvg, svg, scale), points: data.rows.length };
  } catch (cause) {
    throw new MlflowError(`equity chart: resvg could not rasterize the SVG: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  }
}

const warmUps = new Map<boolean, Promise<void>>();

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

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
