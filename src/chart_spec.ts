/**
 * The equity chart's Vega-Lite spec ({@link equityChartSpec}, for restyling)
 * and the layout arithmetic behind it, which the precompiled Vega spec
 * (`chart_vega_spec.ts`) shares.
 *
 * @module
 */
import type { Config as VegaLiteConfig, TopLevelSpec } from "vega-lite";
import { checkChartOptions, pixelSize } from "./chart_options.ts";
import { CHART_FONT_FAMILY } from "./font_data.ts";

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

/** Default width of the image in CSS pixels. */
export const DEFAULT_WIDTH = 1200;
/** Default height of the image in CSS pixels. */
export const DEFAULT_HEIGHT = 640;
/** Default colour of the equity line. */
export const DEFAULT_EQUITY_COLOR = "#1f5fa6";
/** Default colour of the drawdown area and marks. */
export const DEFAULT_DRAWDOWN_COLOR = "#d62728";
/** Title of a chart given none. */
export const DEFAULT_TITLE = "Equity curve";
/** Name of the data set holding the chart's points (`{time, equity, drawdown}`). */
export const EQUITY_DATA = "equity";
/** Name of the data set holding the drawdown outline (`{time, drawdown}`). */
export const DRAWDOWN_DATA = "drawdown";
/** Name of the data set holding the max drawdown (zero or one row). */
export const MAX_DRAWDOWN_DATA = "maxDrawdown";
/** Name of the title param. */
export const TITLE_SIGNAL = "chartTitle";
/** Name of the subtitle param. */
export const SUBTITLE_SIGNAL = "chartSubtitle";
/** Name of the param holding last minus first time, ms. */
export const SPAN_SIGNAL = "chartTimeSpan";

// The plots sit inside fixed margins (Vega autosize "none"), so the image is
// exactly width x height whatever the labels say: the left margin holds the
// y-axis title and labels (truncated to fit), the top one the title and subtitle,
// the bottom one the time axis.
const Y_AXIS_EXTENT = 56;
const MARGIN = { left: 8 + 22 + Y_AXIS_EXTENT, top: 62, right: 16, bottom: 46 };
const PANEL_GAP = 18;

/** Sizes and colours of the built-in chart, as its specs use them. */
export interface ChartLayout {
  /** Width of the whole image. */
  width: number;
  /** Height of the whole image. */
  height: number;
  /** Width of both plots. */
  plotWidth: number;
  /** Height of both plots and the gap between them. */
  plotHeight: number;
  /** Height of the equity plot. */
  equityHeight: number;
  /** Height of the drawdown plot. */
  drawdownHeight: number;
  /** Colour of the equity line. */
  equityColor: string;
  /** Colour of the drawdown area and marks. */
  drawdownColor: string;
}

/**
 * The sizes and colours the built-in chart is drawn with, from its options.
 *
 * @param options Image size and colours.
 * @returns The layout.
 * @throws {MlflowValidationError} When `width` or `height` is not a sensible pixel size.
 * @example Default layout
 * ```ts
 * import { chartLayout } from "./chart_spec.ts";
 * const layout = chartLayout({});
 * if (layout.width !== 1200 || layout.equityHeight + layout.drawdownHeight >= layout.plotHeight) throw new Error();
 * ```
 */
export function chartLayout(options: EquityChartSpecOptions): ChartLayout {
  const width = pixelSize(options.width, DEFAULT_WIDTH, "width", 300);
  const height = pixelSize(options.height, DEFAULT_HEIGHT, "height", 240);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const plots = plotHeight - PANEL_GAP;
  const drawdownHeight = Math.round(plots * 0.3);
  return {
    width,
    height,
    plotWidth,
    plotHeight,
    equityHeight: plots - drawdownHeight,
    drawdownHeight,
    equityColor: options.equityColor ?? DEFAULT_EQUITY_COLOR,
    drawdownColor: options.drawdownColor ?? DEFAULT_DRAWDOWN_COLOR,
  };
}

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
 * import { equityChartSpec } from "./chart_spec.ts";
 * const spec = equityChartSpec({ width: 900, equityColor: "#2ca02c" });
 * const top = (spec as { vconcat: { layer: { mark: { strokeWidth?: number } }[] }[] }).vconcat[0]!;
 * top.layer[1]!.mark.strokeWidth = 3;
 * // await renderEquityChart(curve, { spec });
 * ```
 */
export function equityChartSpec(options: EquityChartSpecOptions = {}): VegaLiteSpec {
  checkChartOptions(options, "", "options");
  const { plotWidth, plotHeight, equityHeight, drawdownHeight, equityColor, drawdownColor } = chartLayout(options);
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
        height: equityHeight,
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
