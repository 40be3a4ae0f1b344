/**
 * Pictures of a sweep on its parent run, rendered with the equity chart's
 * WebAssembly pipeline ({@link renderVegaLite}):
 *
 * - grids: `sweep_heatmap.png` (the metric over two axes; with more axes the
 *   others are held at the best cell's values), `best_cells_equity.png` (the
 *   best cells' equity curves overlaid, where cells carry curves) and
 *   `grid_results.csv` (every cell's index, run, status, params and stats);
 * - walk-forward: `walk_forward.png` (train against test per fold) and
 *   `walk_forward_results.csv`.
 *
 * A picture that cannot be drawn is left out and its reason tagged on the
 * parent (`flox.chart_error`); it never fails the sweep.
 *
 * @module
 */
import { CHART_ERROR_TAG } from "./backtest.ts";
import { renderVegaLite } from "./chart_render.ts";
import type { VegaLiteSpec } from "./chart_spec.ts";
import { csvStream, type Table } from "./csv.ts";
import { downsampleEquity } from "./downsample.ts";
import type { EquityCurveInput, NormalizedEquity } from "./equity.ts";
import { normalizeEquity } from "./equity.ts";
import { CHART_FONT_FAMILY } from "./font_data.ts";
import { stringifyValue } from "./stats.ts";
import type { Artifact } from "./store.ts";
import { type OverlayStyle, type PictureSetting, type PictureStyle, pictureStyle, type SweepPicturesOptions } from "./sweep_pictures_options.ts";
import { preloadVegaLite } from "./chart_render.ts";
import { loadVega, type VegaEngine } from "./chart_vega.ts";
import { clipText, LIMITS } from "./validation.ts";

export {
  checkSweepPictures,
  type OverlayStyle,
  type PictureSetting,
  type PictureStyle,
  type SweepPictures,
  type SweepPicturesOptions,
} from "./sweep_pictures_options.ts";

/** A stat as a child holds it: a metric (number) or, when not finite, a tag (text). */
export interface PictureStat {
  /** The key as logged, e.g. `sharpe_ratio` or `test.sharpeRatio`. */
  key: string;
  /** The value. */
  value: number | string;
}

/** One cell (or fold) as the pictures see it. */
export interface PictureCell {
  /** Position in `results`/`folds`, or the cell's global index. */
  index: number;
  /** The child run, when it was created. */
  runId: string | undefined;
  /** The child's name. */
  runName: string;
  /** Whether the child was logged whole. */
  status: "FINISHED" | "FAILED";
  /** Params, named. */
  params: Record<string, unknown>;
  /** Stats as logged. */
  stats: readonly PictureStat[];
  /** The stats as the cell gave them, so a stat can be named as the backtester spells it. */
  raw?: Record<string, unknown>;
  /** The cell's equity curve, read only when it is among the best. */
  curve?: () => EquityCurveInput | NormalizedEquity | undefined;
}

/** A grid, for {@link gridPictures}. */
export interface GridPictureInput {
  /** Every cell, in index order. */
  cells: readonly PictureCell[];
  /** The sweep's axes, when named. */
  axes: readonly string[] | undefined;
  /** The sweep's pick metric. */
  metric: string | undefined;
  /** Larger or smaller is better. */
  direction: "max" | "min";
  /** Title, the parent's name. */
  title: string;
}

/** Pictures and tables made for a parent, and the reasons of those that could not be. */
export interface PictureOutcome {
  /** The files to upload. */
  artifacts: Artifact[];
  /** Why a picture is missing, one line each. */
  errors: string[];
}

/** Artifact names the pictures use. */
export const PICTURE_FILES = {
  heatmap: "sweep_heatmap.png",
  overlay: "best_cells_equity.png",
  gridCsv: "grid_results.csv",
  walkForward: "walk_forward.png",
  walkForwardCsv: "walk_forward_results.csv",
} as const;

const DEFAULT_TOP = 5;
const CELL_PX = 56;
const MISSING_COLOR = "#d9d9d9";

/**
 * The value of a stat on a cell, by logged key or by the name the cell gave it; NaN when not finite.
 *
 * @param cell The cell.
 * @param name The stat.
 * @returns The value, or `undefined` when the cell has no such stat.
 */
export function cellStat(cell: PictureCell, name: string): number | undefined {
  const logged = cell.stats.find((s) => s.key === name);
  if (logged) return typeof logged.value === "number" ? logged.value : NaN;
  const raw = cell.raw?.[name];
  if (raw === undefined) return undefined;
  return typeof raw === "number" && Number.isFinite(raw) ? raw : NaN;
}

// The table of every cell: index, run_id, status, each param (the axes first), each stat by logged key.
function resultsTable(cells: readonly PictureCell[], firstColumn: string, paramOrder: readonly string[]): Table {
  const params: string[] = [...paramOrder];
  const stats: string[] = [];
  const seenParams = new Set(params);
  const seenStats = new Set<string>();
  for (const cell of cells) {
    for (const key of Object.keys(cell.params)) if (!seenParams.has(key)) (seenParams.add(key), params.push(key));
    for (const { key } of cell.stats) if (!seenStats.has(key)) (seenStats.add(key), stats.push(key));
  }
  const statIndex = cells.map((cell) => new Map(cell.stats.map((s) => [s.key, s.value])));
  return {
    columns: [firstColumn, "run_id", "status", ...params, ...stats],
    length: cells.length,
    row(i) {
      const cell = cells[i]!;
      const values = statIndex[i]!;
      return [
        cell.index,
        cell.runId ?? "",
        cell.status,
        ...params.map((key) => (cell.params[key] === undefined ? undefined : stringifyValue(cell.params[key]))),
        ...stats.map((key) => values.get(key)),
      ];
    },
  };
}

/**
 * A grid's pictures and `grid_results.csv`. Never throws: a picture that cannot be drawn is reported in `errors`.
 *
 * @param input The cells and how the best cell was picked.
 * @param options The `pictures` option.
 * @returns The artifacts and the reasons of missing pictures.
 * @example A 2 x 2 grid
 * ```ts
 * import { gridPictures } from "./sweep_pictures.ts";
 * const cells = [[1, 10, 0.5], [1, 20, 1.2], [2, 10, -0.3], [2, 20, 0.9]].map(([a, b, s], i) => ({
 *   index: i, runId: `r${i}`, runName: `a=${a},b=${b}`, status: "FINISHED" as const, params: { a, b }, stats: [{ key: "sharpe", value: s! }],
 * }));
 * const out = await gridPictures({ cells, axes: ["a", "b"], metric: "sharpe", direction: "max", title: "grid" }, {});
 * if (out.errors.length || out.artifacts.map((a) => a.path).join() !== "grid_results.csv,sweep_heatmap.png") throw new Error(out.errors.join());
 * ```
 */
export async function gridPictures(input: GridPictureInput, options: SweepPicturesOptions): Promise<PictureOutcome> {
  const artifacts: Artifact[] = [];
  const errors: string[] = [];
  const paramKeys = orderedKeys(input.cells.map((c) => c.params), input.axes ?? []);
  if (options.csv !== false) {
    artifacts.push({ path: PICTURE_FILES.gridCsv, body: csvStream(resultsTable(input.cells, "index", input.axes ?? [])), contentType: "text/csv" });
  }
  const metric = options.metric ?? input.metric;
  if (metric === undefined) {
    if (pictureStyle(options.heatmap) || pictureStyle(options.overlay)) {
      errors.push("sweep pictures: no metric to picture; pass metric (or pictures.metric) naming one of the cells' stats");
    }
    return { artifacts, errors };
  }
  const values = input.cells.map((c) => (c.status === "FINISHED" ? cellStat(c, metric) ?? NaN : NaN));
  const better = (a: number, b: number): boolean => (input.direction === "max" ? a > b : a < b);
  const ranked = input.cells
    .map((_, i) => i)
    .filter((i) => !Number.isNaN(values[i]!))
    .sort((a, b) => (better(values[a]!, values[b]!) ? -1 : better(values[b]!, values[a]!) ? 1 : a - b));
  const jobs: Promise<void>[] = [];
  const heatmap = pictureStyle(options.heatmap);
  if (heatmap) {
    jobs.push(attempt(PICTURE_FILES.heatmap, errors, async () => {
      const spec = heatmapSpec((await loadVega()).vega, input, values, ranked[0], paramKeys, metric, options, heatmap);
      return spec && render(spec, options, heatmap);
    }, artifacts));
  }
  const overlay = pictureStyle<OverlayStyle>(options.overlay);
  if (overlay && ranked.length > 0) {
    jobs.push(attempt(PICTURE_FILES.overlay, errors, async () => {
      const spec = overlaySpec(input, values, ranked, metric, overlay);
      return spec && render(spec, options, overlay);
    }, artifacts));
  }
  await Promise.all(jobs);
  artifacts.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { artifacts, errors };
}

/** A walk-forward, for {@link walkForwardPictures}. */
export interface WalkForwardPictureInput {
  /** Every fold, in order; stats keyed `train.<stat>` and `test.<stat>`. */
  folds: readonly PictureCell[];
  /** Title, the parent's name. */
  title: string;
}

/**
 * A walk-forward's `walk_forward.png` and `walk_forward_results.csv`. Never throws.
 *
 * @param input The folds.
 * @param options The `pictures` option.
 * @returns The artifacts and the reasons of missing pictures.
 * @example Two folds
 * ```ts
 * import { walkForwardPictures } from "./sweep_pictures.ts";
 * const folds = [[1.2, 0.4], [0.8, 0.6]].map(([train, test], i) => ({
 *   index: i, runId: `r${i}`, runName: `fold-${i}`, status: "FINISHED" as const, params: { fold_index: i },
 *   stats: [{ key: "train.sharpe", value: train! }, { key: "test.sharpe", value: test! }],
 * }));
 * const out = await walkForwardPictures({ folds, title: "wf" }, {});
 * if (out.errors.length || out.artifacts.length !== 2) throw new Error(out.errors.join());
 * ```
 */
export async function walkForwardPictures(input: WalkForwardPictureInput, options: SweepPicturesOptions): Promise<PictureOutcome> {
  const artifacts: Artifact[] = [];
  const errors: string[] = [];
  if (options.csv !== false) {
    artifacts.push({ path: PICTURE_FILES.walkForwardCsv, body: csvStream(resultsTable(input.folds, "fold", [])), contentType: "text/csv" });
  }
  const style = pictureStyle(options.walkForward);
  if (style) {
    await attempt(PICTURE_FILES.walkForward, errors, async () => {
      const spec = walkForwardSpec(input, options.metric, style);
      return spec && render(spec, options, style);
    }, artifacts);
  }
  artifacts.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { artifacts, errors };
}

/** Tag on a parent whose charts were left out by the default, saying why. */
export const PICTURES_SKIPPED_TAG = "flox.pictures_skipped";

// What the charts of one sweep cost, as measured in this process; before the
// first, estimates (a warm render of a heatmap and an overlay, or a fresh
// process's loading of Vega, vega-lite and resvg plus its first renders).
const WARM_ESTIMATE_MS = 250;
const COLD_ESTIMATE_MS = 1500;
let measuredMs: number | undefined;
let engineLoaded = false;

/**
 * Starts loading the chart engine for a sweep whose pictures were asked for,
 * so the loading overlaps with logging the children.
 *
 * @param setting The checked `pictures` option.
 */
export function preparePictures(setting: PictureSetting | undefined): void {
  // Left to the default, the loading would cost the sweep whether or not the pictures are drawn.
  if (setting === undefined || setting.auto || engineLoaded) return;
  const { options } = setting;
  if (options.heatmap === false && options.overlay === false && options.walkForward === false) return;
  preloadVegaLite();
  loadVega().then(() => (engineLoaded = true), () => {});
}

/**
 * Whether a parent gets its pictures, by the `pictures` setting: asked for
 * (`true` or an object), always; left to the default, only when their expected
 * cost (the last measured in this process, else an estimate) is at most a
 * tenth of the time the sweep took, and otherwise none, with the reason.
 *
 * @param setting The checked option.
 * @param sweepMs How long the sweep took so far.
 * @returns The options to draw with, or why nothing is drawn.
 * @example A 20 ms sweep does not wait for pictures by default
 * ```ts
 * import { picturesFor } from "./sweep_pictures.ts";
 * const decision = picturesFor({ options: {}, auto: true }, 20);
 * if (!("skipped" in decision)) throw new Error();
 * ```
 */
export function picturesFor(setting: PictureSetting, sweepMs: number): { options: SweepPicturesOptions } | { skipped: string } {
  if (!setting.auto) return { options: setting.options };
  const expected = measuredMs ?? (engineLoaded ? WARM_ESTIMATE_MS : COLD_ESTIMATE_MS);
  if (expected <= sweepMs / 10) return { options: setting.options };
  return {
    skipped: `pictures left out: they would take about ${Math.round(expected)} ms, over 10% of the sweep's ${Math.round(sweepMs)} ms; ` +
      "pass pictures: true to draw them always",
  };
}

/**
 * Makes and uploads a parent's pictures, timing them for later default
 * decisions. Never throws.
 *
 * @param options What to draw.
 * @param make Makes the pictures with the options.
 * @param upload Stores the files on the parent.
 * @param tag Sets tags on the parent.
 * @param warn Where warnings go.
 * @param runId The parent, for warnings.
 * @returns When done.
 */
export async function parentPictures(
  options: SweepPicturesOptions,
  make: (options: SweepPicturesOptions) => Promise<PictureOutcome>,
  upload: (artifacts: Artifact[]) => Promise<void>,
  tag: (key: string, value: string) => Promise<void>,
  warn: (message: string) => void,
  runId: string,
): Promise<void> {
  const started = performance.now();
  const made = Promise.resolve().then(() => make(options)).then((outcome) => {
    if (outcome.artifacts.some((a) => a.contentType === "image/png")) {
      measuredMs = performance.now() - started;
      engineLoaded = true;
    }
    return outcome;
  });
  await deliverPictures(made, upload, tag, warn, runId);
}

/**
 * Uploads a parent's pictures, tagging `flox.chart_error` with the reasons of
 * those that could not be drawn or stored. Never throws: a warning says what
 * went wrong.
 *
 * @param outcome The pictures.
 * @param upload Stores the files on the parent.
 * @param tag Sets a tag on the parent.
 * @param warn Where warnings go.
 * @param runId The parent, for warnings.
 * @returns When done.
 */
export async function deliverPictures(
  outcome: Promise<PictureOutcome>,
  upload: (artifacts: Artifact[]) => Promise<void>,
  tag: (key: string, value: string) => Promise<void>,
  warn: (message: string) => void,
  runId: string,
): Promise<void> {
  let errors: string[];
  try {
    const made = await outcome;
    errors = [...made.errors];
    try {
      if (made.artifacts.length > 0) await upload(made.artifacts);
    } catch (err) {
      errors.push(`sweep pictures could not be stored: ${message(err)}`);
    }
  } catch (err) {
    errors = [`sweep pictures: ${message(err)}`];
  }
  if (errors.length === 0) return;
  const reason = errors.join("; ");
  warn(`flox-mlflow: sweep ${runId}: ${reason}`);
  try {
    await tag(CHART_ERROR_TAG, clipText(reason, LIMITS.tagValueLength));
  } catch (err) {
    warn(`flox-mlflow: sweep ${runId}: could not tag ${CHART_ERROR_TAG}: ${message(err)}`);
  }
}

async function attempt(
  path: string,
  errors: string[],
  make: () => Promise<Uint8Array | undefined>,
  artifacts: Artifact[],
): Promise<void> {
  try {
    const png = await make();
    if (png) artifacts.push({ path, body: png, contentType: "image/png" });
  } catch (err) {
    errors.push(`${path} was not rendered: ${message(err)}`);
  }
}

async function render(spec: VegaLiteSpec, options: SweepPicturesOptions, style: PictureStyle): Promise<Uint8Array> {
  const final = style.restyle ? style.restyle(spec) : spec;
  const { data, ...rest } = final as { data?: { name?: string; values?: object[] } };
  // The rows travel as a named data set, so the compiled spec (kept per text) does not hold them.
  const rows = data?.values;
  const named = rows ? { ...rest, data: { name: "rows" } } : final;
  const chart = await renderVegaLite(named, { ...(rows ? { data: { rows } } : {}), scale: options.scale ?? 1 });
  return chart.png!;
}

const CONFIG = {
  font: CHART_FONT_FAMILY,
  background: "white",
  padding: 12,
  view: { stroke: null },
  title: { fontSize: 15, fontWeight: "normal", subtitleFontSize: 11, subtitleColor: "#555", anchor: "start", offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", labelColor: "#333", titleColor: "#333" },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 12 },
};

interface AxisValues {
  labels: string[];
}

// Axis values in numeric order when every value is a number (as logged, text
// included: "10" < "9" as text), else in the order the cells give them.
function axisValues(values: readonly unknown[]): AxisValues {
  const seen = new Map<string, unknown>();
  for (const v of values) {
    if (v === undefined) continue;
    const label = stringifyValue(v);
    if (!seen.has(label)) seen.set(label, v);
  }
  const labels = [...seen.keys()];
  const numeric = labels.every((l) => l.trim() !== "" && Number.isFinite(Number(l)));
  if (numeric) labels.sort((a, b) => Number(a) - Number(b));
  return { labels };
}

function heatmapSpec(
  vega: VegaEngine["vega"],
  input: GridPictureInput,
  values: readonly number[],
  bestPos: number | undefined,
  paramKeys: readonly string[],
  metric: string,
  options: SweepPicturesOptions,
  style: PictureStyle,
): VegaLiteSpec | undefined {
  const chosen = options.axes ?? paramKeys.slice(0, 2);
  if (chosen.length === 0) throw new Error("the cells have no params to lay out; pass params per cell");
  for (const axis of chosen) {
    if (!paramKeys.includes(axis)) throw new Error(`pictures.axes names '${axis}', which no cell has; pass two of ${paramKeys.join(", ")}`);
  }
  const [xKey, yKey] = chosen as [string, string | undefined];
  const others = paramKeys.filter((k) => k !== xKey && k !== yKey);
  const anchor = input.cells[bestPos ?? 0]!;
  const label = (v: unknown): string | undefined => (v === undefined ? undefined : stringifyValue(v));
  const held = others.map((k) => [k, label(anchor.params[k])] as const);
  const cells = input.cells
    .map((cell, i) => ({ cell, value: values[i]!, pos: i }))
    .filter(({ cell }) => held.every(([k, v]) => label(cell.params[k]) === v));
  const xs = axisValues(cells.map(({ cell }) => cell.params[xKey]));
  const ys = axisValues(yKey === undefined ? [] : cells.map(({ cell }) => cell.params[yKey]));
  const rows: object[] = [];
  const at = new Set<string>();
  for (const { cell, value, pos } of cells) {
    const x = label(cell.params[xKey]);
    const y = yKey === undefined ? "" : label(cell.params[yKey]);
    if (x === undefined || y === undefined || at.has(`${x}\u0000${y}`)) continue;
    at.add(`${x}\u0000${y}`);
    const ok = !Number.isNaN(value);
    rows.push({ x, y, value: ok ? value : null, text: ok ? formatValue(value) : "n/a", best: pos === bestPos, missing: !ok });
  }
  const nx = Math.max(1, xs.labels.length);
  const ny = Math.max(1, ys.labels.length);
  const showText = nx <= 24 && ny <= 30;
  const width = style.width ?? Math.min(1400, Math.max(240, nx * CELL_PX));
  const height = style.height ?? Math.min(1000, Math.max(yKey === undefined ? 60 : 200, ny * Math.round(CELL_PX * 0.7)));
  const held_ = held.map(([k, v]) => `${k}=${v ?? "-"}`).join(", ");
  const subtitle = [
    `${metric} (${input.direction === "max" ? "higher" : "lower"} is better), ${rows.filter((r) => !(r as { missing: boolean }).missing).length} of ${rows.length} cells with a value${rows.some((r) => (r as { missing: boolean }).missing) ? "; grey: n/a (failed or not finite)" : ""}`,
    ...(held.length > 0 ? [`other axes held at the best cell's values: ${held_}`] : []),
    ...(bestPos !== undefined ? [`outlined: best cell ${input.cells[bestPos]!.runName}`] : []),
  ];
  const x = { field: "x", type: "ordinal", sort: xs.labels, title: xKey, axis: { labelAngle: 0, labelOverlap: true } };
  const y = yKey === undefined
    ? { field: "y", type: "ordinal", title: null, axis: null }
    : { field: "y", type: "ordinal", sort: [...ys.labels].reverse(), title: yKey };
  const domain = rows.filter((r) => !(r as { missing: boolean }).missing).map((r) => (r as { value: number }).value);
  // The default scheme is centred on 0 when values lie on both sides of it.
  const diverging = style.scheme === undefined && domain.some((v) => v < 0) && domain.some((v) => v > 0);
  // Labels on dark colours of the scheme are drawn white.
  const lo = Math.min(...domain);
  const hi = Math.max(...domain);
  const position = (v: number): number =>
    diverging ? (v < 0 ? 0.5 - 0.5 * (v / lo) : 0.5 + 0.5 * (v / hi)) : hi === lo ? 0.5 : (v - lo) / (hi - lo);
  const colorAt = schemeColors(vega, style.scheme ?? "redyellowgreen");
  for (const r of rows as { value: number | null; dark?: boolean }[]) {
    if (r.value === null) continue;
    const t = input.direction === "min" ? 1 - position(r.value) : position(r.value);
    r.dark = colorAt ? luminance(colorAt(t)) < 0.2 : false;
  }
  const scale = {
    scheme: style.scheme ?? "redyellowgreen",
    reverse: input.direction === "min",
    ...(diverging ? { domainMid: 0 } : {}),
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: CONFIG,
    title: { text: style.title ?? `${input.title}: ${metric}`, subtitle },
    width,
    height,
    data: { values: rows },
    encoding: { x, y },
    layer: [
      { transform: [{ filter: "datum.missing" }], mark: { type: "rect", color: MISSING_COLOR } },
      {
        transform: [{ filter: "!datum.missing" }],
        mark: { type: "rect" },
        encoding: { color: { field: "value", type: "quantitative", title: metric, scale, legend: { gradientLength: Math.min(height, 240) } } },
      },
      { transform: [{ filter: "datum.best" }], mark: { type: "rect", fill: null, stroke: "#111", strokeWidth: 2.5 } },
      ...(showText
        ? [{
          mark: { type: "text", fontSize: 11 },
          encoding: {
            text: { field: "text", type: "nominal" },
            color: { condition: { test: "datum.dark", value: "white" }, value: "#111" },
          },
        }]
        : []),
    ],
  };
}

function overlaySpec(
  input: GridPictureInput,
  values: readonly number[],
  ranked: readonly number[],
  metric: string,
  style: OverlayStyle,
): VegaLiteSpec | undefined {
  const top = style.top ?? DEFAULT_TOP;
  const rows: object[] = [];
  const order: string[] = [];
  for (const pos of ranked) {
    if (order.length >= top) break;
    const cell = input.cells[pos]!;
    const curveInput = cell.curve?.();
    if (curveInput === undefined) continue;
    const curve: NormalizedEquity = "timeMs" in curveInput ? curveInput : normalizeEquity(curveInput);
    if (curve.length === 0) continue;
    const picked = downsampleEquity(curve.equity, curve.drawdownPct, 400).indices;
    const series = `#${order.length + 1} ${clipText(cell.runName, 60)} (${formatValue(values[pos]!)})`;
    order.push(series);
    for (const i of picked) rows.push({ series, t: curve.timeMs[i]!, equity: curve.equity[i]! });
  }
  if (order.length === 0) return undefined;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: CONFIG,
    title: {
      text: style.title ?? `${input.title}: best ${order.length} cells by ${metric}`,
      subtitle: `equity curves of the ${order.length} cells with the ${input.direction === "max" ? "highest" : "lowest"} ${metric}`,
    },
    width: style.width ?? 800,
    height: style.height ?? 380,
    data: { values: rows },
    mark: { type: "line", strokeWidth: 1.6, interpolate: "linear" },
    encoding: {
      x: { field: "t", type: "temporal", title: null, axis: { format: "%Y-%m-%d", labelOverlap: true, grid: false }, scale: { type: "utc" } },
      y: { field: "equity", type: "quantitative", title: "equity", scale: { zero: false } },
      color: {
        field: "series",
        type: "nominal",
        sort: order,
        title: `cell (${metric})`,
        scale: { scheme: style.scheme ?? "tableau10" },
        legend: { orient: "bottom", columns: 1, symbolType: "stroke" },
      },
    },
  };
}

function walkForwardSpec(input: WalkForwardPictureInput, metric: string | undefined, style: PictureStyle): VegaLiteSpec | undefined {
  const stats = metric !== undefined ? [metric] : commonStats(input.folds).slice(0, 4);
  if (stats.length === 0) throw new Error("the folds have no stat in both train and test stats; pass trainStats and testStats");
  const folds = axisValues(input.folds.map((f) => f.index)).labels;
  const rows: object[] = [];
  for (const fold of input.folds) {
    for (const stat of stats) {
      for (const window of ["train", "test"] as const) {
        const value = fold.status === "FINISHED" ? cellStat(fold, `${window}.${stat}`) : undefined;
        if (value === undefined || Number.isNaN(value)) continue;
        rows.push({ fold: String(fold.index), window, stat, value });
      }
    }
  }
  if (metric !== undefined && rows.length === 0) throw new Error(`pictures.metric '${metric}' is in no fold's train or test stats`);
  const panelHeight = style.height ?? 160;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: CONFIG,
    title: { text: style.title ?? `${input.title}: train vs test per fold`, subtitle: `${input.folds.length} folds; ${stats.join(", ")}` },
    data: { values: rows },
    facet: { row: { field: "stat", type: "nominal", sort: stats, title: null, header: { labelAngle: 0, labelAlign: "left", labelAnchor: "start", labelOrient: "top" } } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: style.width ?? Math.min(1400, Math.max(420, folds.length * 48)),
      height: panelHeight,
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            x: { field: "fold", type: "ordinal", sort: folds, title: "fold", axis: { labelAngle: 0 } },
            xOffset: { field: "window", type: "nominal", sort: ["train", "test"] },
            y: { field: "value", type: "quantitative", title: null },
            color: { field: "window", type: "nominal", sort: ["train", "test"], title: null, scale: { range: style.scheme ? undefined : ["#9ab7d3", "#1f5fa6"], ...(style.scheme ? { scheme: style.scheme } : {}) }, legend: { orient: "top" } },
          },
        },
        { mark: { type: "rule", color: "#666" }, encoding: { y: { datum: 0 } } },
      ],
    },
  };
}

// Stats both windows have, by their key after `train.`/`test.`, Sharpe-like first.
function commonStats(folds: readonly PictureCell[]): string[] {
  const train = new Set<string>();
  const test = new Set<string>();
  const order: string[] = [];
  for (const fold of folds) {
    for (const { key } of fold.stats) {
      const m = /^(train|test)\.(.+)$/.exec(key);
      if (!m) continue;
      (m[1] === "train" ? train : test).add(m[2]!);
      if (!order.includes(m[2]!)) order.push(m[2]!);
    }
  }
  const both = order.filter((k) => train.has(k) && test.has(k));
  const sharpe = both.filter((k) => /sharpe/i.test(k));
  return [...sharpe, ...both.filter((k) => !sharpe.includes(k))];
}

// A scheme's colour at t in [0, 1], from Vega's registry (an interpolator or a list of colours).
function schemeColors(vega: VegaEngine["vega"], name: string): ((t: number) => string) | undefined {
  const scheme = vega.scheme(name) as unknown;
  if (typeof scheme === "function") return (t) => String((scheme as (t: number) => unknown)(t));
  if (Array.isArray(scheme) && scheme.length > 0) return (t) => String(scheme[Math.min(scheme.length - 1, Math.floor(t * scheme.length))]);
  return undefined;
}

// Relative luminance (0 black to 1 white) of "#rrggbb" or "rgb(r, g, b)"; 1 when unreadable.
function luminance(color: string): number {
  let rgb: number[] | undefined;
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) rgb = [0, 2, 4].map((i) => parseInt(hex[1]!.slice(i, i + 2), 16));
  const fn = /^rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/i.exec(color);
  if (fn) rgb = [Number(fn[1]), Number(fn[2]), Number(fn[3])];
  if (!rgb) return 1;
  const [r, g, b] = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function orderedKeys(records: readonly Record<string, unknown>[], first: readonly string[]): string[] {
  const keys = [...first];
  const seen = new Set(keys);
  for (const r of records) for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), keys.push(k));
  return keys;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
