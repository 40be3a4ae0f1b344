/**
 * The chart's Vega side: loads Vega (once per process), keeps the parsed
 * templates of the built-in chart (per size and colours, from the Vega spec
 * compiled ahead of time in `chart_vega_spec.ts`) and of custom Vega-Lite
 * specs (compiled on first use; only then is `vega-lite` loaded), and renders
 * a template with data to SVG.
 *
 * @module
 */
import type { Runtime, Spec as VegaSpec, View } from "vega";
import type { TopLevelSpec } from "vega-lite";
import { type ChartLayout, EQUITY_DATA, type VegaLiteSpec } from "./chart_spec.ts";
import { useChartFontMetrics } from "./chart_text.ts";
import { equityVegaSpec } from "./chart_vega_spec.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { closureExpressions, type ExpressionHooks } from "./vega_expressions.ts";

type VegaModule = typeof import("vega");
type VegaLiteModule = typeof import("vega-lite");

/** Vega, set up for the chart: its text measured with the chart's font, expressions without code generation. */
export interface VegaEngine {
  /** The `vega` module. */
  vega: VegaModule;
  /** Expression hooks for every view. */
  expr: ExpressionHooks;
}

/** A parsed chart: what a `View` is built from, and the names it reads. */
export interface ChartTemplate {
  /** The parsed dataflow. */
  runtime: Runtime;
  /** Names of the spec's signals (params). */
  signals: ReadonlySet<string>;
  /** Names of the spec's data sets. */
  data: ReadonlySet<string>;
}

let engine: Promise<VegaEngine> | undefined;
let vegaLite: Promise<VegaLiteModule> | undefined;
const templates = new Map<string, Promise<ChartTemplate>>();
const customTemplates = new WeakMap<VegaLiteSpec, Promise<ChartTemplate>>();
const MAX_TEMPLATES = 8;

/**
 * Loads Vega and `vega-interpreter` once per process (a failed load is retried
 * on the next call).
 *
 * @returns The engine.
 * @throws {MlflowError} `CHART_RENDER_FAILED` when a module cannot be loaded.
 * @example Load once, get the same engine
 * ```ts
 * import { loadVega } from "./chart_vega.ts";
 * if ((await loadVega()) !== (await loadVega())) throw new Error();
 * ```
 */
export function loadVega(): Promise<VegaEngine> {
  engine ??= Promise.all([import("vega"), import("vega-interpreter")]).then(
    ([vega, interpreter]) => {
      useChartFontMetrics(vega);
      return { vega, expr: closureExpressions(vega, interpreter.expressionInterpreter) };
    },
    (cause) => {
      engine = undefined;
      throw new MlflowError(`equity chart: cannot load vega or vega-interpreter: ${message(cause)}`, {
        errorCode: "CHART_RENDER_FAILED",
        cause,
      });
    },
  );
  return engine;
}

/**
 * The parsed template of a custom Vega-Lite spec object (compiled once per
 * object, loading `vega-lite` on first use), or of the built-in chart at a
 * layout (parsed once per layout, the last few kept).
 *
 * @param engine From {@link loadVega}.
 * @param spec A custom spec, or undefined for the built-in chart.
 * @param layout The built-in chart's sizes and colours.
 * @returns The template.
 * @throws {MlflowError} `CHART_RENDER_FAILED` when the spec does not compile.
 * @example The built-in chart, parsed once
 * ```ts
 * import { chartLayout } from "./chart_spec.ts";
 * import { chartTemplate, loadVega } from "./chart_vega.ts";
 * const engine = await loadVega();
 * const a = await chartTemplate(engine, undefined, chartLayout({}));
 * if (a !== await chartTemplate(engine, undefined, chartLayout({})) || !a.data.has("equity")) throw new Error();
 * ```
 */
export function chartTemplate(engine: VegaEngine, spec: VegaLiteSpec | undefined, layout: ChartLayout): Promise<ChartTemplate> {
  if (spec) {
    let found = customTemplates.get(spec);
    if (!found) {
      found = compileCustom(engine, spec, () => customTemplates.delete(spec));
      customTemplates.set(spec, found);
    }
    return found;
  }
  const key = JSON.stringify([layout.width, layout.height, layout.equityColor, layout.drawdownColor]);
  let found = templates.get(key);
  if (!found) {
    found = Promise.resolve().then(() => parse(engine, equityVegaSpec(layout))).catch((cause: unknown) => {
      templates.delete(key);
      throw new MlflowError(`equity chart: Vega cannot parse the chart: ${message(cause)}`, { errorCode: "CHART_RENDER_FAILED", cause });
    });
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value!);
    templates.set(key, found);
  }
  return found;
}

function parse(engine: VegaEngine, vegaSpec: VegaSpec): ChartTemplate {
  return {
    runtime: engine.vega.parse(vegaSpec, undefined, { ast: true }),
    signals: new Set((vegaSpec.signals ?? []).map((s) => s.name)),
    data: new Set((vegaSpec.data ?? []).map((d) => d.name)),
  };
}

/** Vega-Lite -> Vega -> parsed dataflow description, for a spec the caller restyled. */
async function compileCustom(engine: VegaEngine, spec: VegaLiteSpec, forget: () => void): Promise<ChartTemplate> {
  try {
    const vl = await loadVegaLite();
    const vegaSpec: VegaSpec = vl.compile(spec as TopLevelSpec, { logger: engine.vega.logger(engine.vega.Error) }).spec;
    // With autosize "none" Vega sizes the view from width and height, but Vega-Lite
    // forwards only the width of a concat spec.
    const height = (spec as { height?: unknown }).height;
    if (vegaSpec.height === undefined && typeof height === "number") vegaSpec.height = height;
    return parse(engine, vegaSpec);
  } catch (cause) {
    forget();
    if (cause instanceof MlflowError) throw cause;
    throw new MlflowError(`equity chart: the Vega-Lite spec does not compile: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  }
}

function loadVegaLite(): Promise<VegaLiteModule> {
  vegaLite ??= import("vega-lite").catch((cause: unknown) => {
    vegaLite = undefined;
    throw new MlflowError(`equity chart: cannot load vega-lite for the custom spec: ${message(cause)}`, {
      errorCode: "CHART_RENDER_FAILED",
      cause,
    });
  });
  return vegaLite;
}

/**
 * Runs a template with data and params and returns the SVG, its coordinates
 * rounded so every runtime writes the same text.
 *
 * @param engine From {@link loadVega}.
 * @param tpl From {@link chartTemplate}.
 * @param data Rows per data set; sets the template lacks are skipped.
 * @param signals Values per signal; signals the template lacks are skipped.
 * @returns The SVG document.
 * @throws {MlflowValidationError} When the template has no `equity` data set.
 * @example An empty chart
 * ```ts
 * import { chartLayout } from "./chart_spec.ts";
 * import { chartSvg, chartTemplate, loadVega } from "./chart_vega.ts";
 * const engine = await loadVega();
 * const svg = await chartSvg(engine, await chartTemplate(engine, undefined, chartLayout({})), { equity: [] }, { chartTitle: "empty" });
 * if (!svg.includes("empty")) throw new Error();
 * ```
 */
export async function chartSvg(
  engine: VegaEngine,
  tpl: ChartTemplate,
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

/**
 * Rounds an SVG's coordinates to thousandths of a pixel, so every runtime writes the same text.
 *
 * @param svg The SVG document from Vega.
 * @returns The SVG with numeric attributes rounded; text content as written.
 * @example A long coordinate
 * ```ts
 * import { roundSvgNumbers } from "./chart_vega.ts";
 * if (roundSvgNumbers('<rect x="1.23456789"/>') !== '<rect x="1.235"/>') throw new Error();
 * ```
 */
export function roundSvgNumbers(svg: string): string {
  const round = (n: string): string => String(Math.round(Number(n) * 1000) / 1000);
  // Only inside tags: text content (a title, say) is left as written.
  return svg.replace(/<[^<>]+>/g, (tag) =>
    tag.replace(NUMERIC_ATTRIBUTE, (_, name: string, value: string) => ` ${name}="${value.replace(LONG_DECIMAL, round)}"`));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
