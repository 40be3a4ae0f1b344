/**
 * Any Vega-Lite spec to SVG and PNG with the equity chart's pipeline: the same
 * Vega engine and font metrics ({@link loadVega}), the same coordinate
 * rounding, the same resvg WebAssembly and PNG encoder, so a chart comes out
 * the same on Node, Deno, Bun and workerd. Specs are compiled with
 * `vega-lite` (loaded on first use) and the parsed dataflow is kept per spec
 * text, so re-rendering one spec with new data skips the compile.
 *
 * @module
 */
import type { Runtime, Spec as VegaSpec, View } from "vega";
import type { TopLevelSpec } from "vega-lite";
import { loadResvg, rasterize } from "./chart_raster.ts";
import type { VegaLiteSpec } from "./chart_spec.ts";
import { loadVega, roundSvgNumbers, type VegaEngine } from "./chart_vega.ts";
import { MlflowError } from "./errors.ts";

/** Options of {@link renderVegaLite}. */
export interface RenderVegaLiteOptions {
  /** Rows per named data set of the spec (`data: {name: "cells"}`); sets the spec lacks are skipped. */
  data?: Record<string, readonly object[]>;
  /** Also rasterise to PNG (default true). */
  png?: boolean;
  /** PNG pixels per CSS pixel (default 1). */
  scale?: number;
}

/** What {@link renderVegaLite} produces. */
export interface RenderedChart {
  /** The SVG document. */
  svg: string;
  /** The PNG file, unless `png: false`. */
  png?: Uint8Array;
}

interface Parsed {
  runtime: Runtime;
  data: ReadonlySet<string>;
}

const MAX_PARSED = 16;
const parsed = new Map<string, Promise<Parsed>>();
let vegaLite: Promise<typeof import("vega-lite")> | undefined;

/**
 * Renders a Vega-Lite spec with named data to SVG and PNG.
 *
 * @param spec The Vega-Lite spec (JSON-serialisable; its text is the cache key).
 * @param options Data sets, PNG switch and scale.
 * @returns The SVG and the PNG.
 * @throws {MlflowError} `CHART_RENDER_FAILED` when the spec does not compile or Vega or resvg fail;
 *   `CHART_WASM_UNAVAILABLE` when resvg's WebAssembly cannot be loaded.
 * @example A bar chart
 * ```ts
 * import { renderVegaLite } from "./chart_render.ts";
 * const spec = { data: { name: "rows" }, mark: "bar", encoding: { x: { field: "k", type: "nominal" }, y: { field: "v", type: "quantitative" } } };
 * const chart = await renderVegaLite(spec, { data: { rows: [{ k: "a", v: 1 }, { k: "b", v: 2 }] } });
 * if (!chart.svg.startsWith("<svg") || chart.png === undefined) throw new Error();
 * ```
 */
export async function renderVegaLite(spec: VegaLiteSpec, options: RenderVegaLiteOptions = {}): Promise<RenderedChart> {
  const wantPng = options.png !== false;
  const engineReady = loadVega();
  const resvgReady = wantPng ? loadResvg(undefined) : undefined;
  engineReady.catch(() => {});
  resvgReady?.catch(() => {});
  const engine = await engineReady;
  const tpl = await template(engine, spec);
  let svg: string;
  const { vega } = engine;
  try {
    const view: View = new vega.View(tpl.runtime, { renderer: "none", expr: engine.expr, logLevel: vega.Error });
    try {
      for (const [name, rows] of Object.entries(options.data ?? {})) if (tpl.data.has(name)) view.data(name, rows as object[]);
      await view.runAsync();
      svg = roundSvgNumbers(await view.toSVG());
    } finally {
      view.finalize();
    }
  } catch (cause) {
    throw new MlflowError(`chart: Vega could not render the chart: ${message(cause)}`, { errorCode: "CHART_RENDER_FAILED", cause });
  }
  if (!resvgReady) return { svg };
  const resvg = await resvgReady;
  try {
    return { svg, png: await rasterize(resvg, svg, options.scale ?? 1) };
  } catch (cause) {
    throw new MlflowError(`chart: resvg could not rasterize the SVG: ${message(cause)}`, { errorCode: "CHART_RENDER_FAILED", cause });
  }
}

/**
 * Starts loading what {@link renderVegaLite} needs (Vega, `vega-lite`, resvg), so
 * it overlaps with other work; failures are left for the render to report.
 *
 * @example Start early
 * ```ts
 * import { preloadVegaLite } from "./chart_render.ts";
 * preloadVegaLite();
 * ```
 */
export function preloadVegaLite(): void {
  loadVega().catch(() => {});
  loadVegaLite().catch(() => {});
  loadResvg(undefined).catch(() => {});
}

function template(engine: VegaEngine, spec: VegaLiteSpec): Promise<Parsed> {
  let key: string;
  try {
    key = JSON.stringify(spec);
  } catch (cause) {
    return Promise.reject(new MlflowError(`chart: the spec is not JSON: ${message(cause)}`, { errorCode: "CHART_RENDER_FAILED", cause }));
  }
  let found = parsed.get(key);
  if (!found) {
    found = compile(engine, spec).catch((cause: unknown) => {
      parsed.delete(key);
      throw cause;
    });
    if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, found);
  }
  return found;
}

async function compile(engine: VegaEngine, spec: VegaLiteSpec): Promise<Parsed> {
  const vl = await loadVegaLite();
  try {
    const vegaSpec: VegaSpec = vl.compile(spec as TopLevelSpec, { logger: engine.vega.logger(engine.vega.Error) }).spec;
    return {
      runtime: engine.vega.parse(vegaSpec, undefined, { ast: true }),
      data: new Set((vegaSpec.data ?? []).map((d) => d.name)),
    };
  } catch (cause) {
    throw new MlflowError(`chart: the Vega-Lite spec does not compile: ${message(cause)}`, { errorCode: "CHART_RENDER_FAILED", cause });
  }
}

function loadVegaLite(): Promise<typeof import("vega-lite")> {
  vegaLite ??= import("vega-lite").catch((cause: unknown) => {
    vegaLite = undefined;
    throw new MlflowError(`chart: cannot load vega-lite: ${message(cause)}`, { errorCode: "CHART_RENDER_FAILED", cause });
  });
  return vegaLite;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
