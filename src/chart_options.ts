/**
 * The chart's options and their checks: known keys, types and ranges, tested
 * before anything is drawn or sent.
 *
 * @module
 */
import type { EquityChartSpecOptions, VegaLiteSpec } from "./chart_spec.ts";
import { MIN_DOWNSAMPLE_POINTS } from "./downsample.ts";
import { MlflowValidationError } from "./errors.ts";
import { checkOptionKeys, CHART_KEYS } from "./option_keys.ts";
import { checkBoolean, describeValue } from "./validation.ts";

/** Options of `renderEquityChart`. */
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
   * A restyled Vega-Lite spec, usually `equityChartSpec`'s output edited.
   * It reads the data sets `equity`, `drawdown` and `maxDrawdown` and the params `chartTitle`,
   * `chartSubtitle` and `chartTimeSpan` described there. Its own sizes and colours apply (the
   * `width`, `height` and colour options only shape the built-in spec). Compiled once per spec
   * object: pass a new object after changing one.
   */
  spec?: VegaLiteSpec;
}

/**
 * A width or height option: the fallback when absent, else a whole number of
 * pixels from `min` to 8000.
 *
 * @param value The option's value.
 * @param fallback What an absent option means.
 * @param field The option's name, for the error.
 * @param min The smallest size the chart can be laid out in.
 * @returns The size in pixels.
 * @throws {MlflowValidationError} Naming the field when the value is not such a size.
 * @example Default and given sizes
 * ```ts
 * import { pixelSize } from "./chart_options.ts";
 * if (pixelSize(undefined, 1200, "width", 300) !== 1200 || pixelSize(900, 1200, "width", 300) !== 900) throw new Error();
 * ```
 */
export function pixelSize(value: number | undefined, fallback: number, field: string, min: number): number {
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
 * import { checkChartOptions } from "./chart_options.ts";
 * checkChartOptions({ width: 900, png: false }, "chart.", "chart");
 * ```
 */
export function checkChartOptions(options: unknown, prefix: string, field: string): EquityChartOptions {
  const checked = checkOptionKeys(options, CHART_KEYS, field) as EquityChartOptions;
  pixelSize(checked.width, 0, `${prefix}width`, 300);
  pixelSize(checked.height, 0, `${prefix}height`, 240);
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
