/**
 * A grid's summary on its parent run: the best cell's params and stats, the
 * sweep's own params, the failed cells. One builder serves {@link logGrid}
 * (from the cells it has just logged) and {@link summarizeSweep} (from the
 * children any number of processes logged under one parent).
 *
 * @module
 */
import { deliverArtifacts } from "./artifact_delivery.ts";
import { type ConnectionOptions, connect } from "./config.ts";
import { gridPictures, parentPictures, type PictureCell } from "./sweep_pictures.ts";
import { checkSweepPictures, type SweepPictures } from "./sweep_pictures_options.ts";
import { MlflowValidationError } from "./errors.ts";
import { type Assert, checkOptionKeys, CONNECTION_KEYS, type ExactKeys } from "./option_keys.ts";
import { stringifyValue, toKeyValues } from "./stats.ts";
import type { CallOptions, KeyValue, LogBatchRequest, Metric, StoredRun } from "./store.ts";
import {
  checkBoolean,
  checkKey,
  checkMetrics,
  checkParams,
  checkRunId,
  checkSignal,
  checkTags,
  describeValue,
  LIMITS,
} from "./validation.ts";

/** The best cell of a grid, as summarised on the parent run. */
export interface GridBest {
  /** Position in `results` ({@link logGrid}), or the cell's global index `flox.cell_index` ({@link summarizeSweep}). */
  index: number;
  /** The cell's child run id. */
  runId: string;
  /** The cell's child run name, e.g. `fast=10,slow=50`. */
  runName: string;
  /** The cell's params, named (as logged, text, when read back from the children). */
  params: Record<string, unknown>;
  /** The stat the cell was picked by. */
  metric: string;
  /** The cell's value of `metric`. */
  value: number;
}

/** Tag holding a grid cell's number; {@link summarizeSweep} reads it back from every child. */
export const CELL_INDEX_TAG = "flox.cell_index";

/**
 * A list of cell positions for a tag, which holds at most 8000 characters: a
 * sweep where thousands of cells failed says how many it left out.
 *
 * @param positions Sorted positions.
 * @returns `3,17,…(+120 more)`.
 */
export function positionList(positions: readonly number[]): string {
  const full = positions.join(",");
  if (full.length <= LIMITS.tagValueLength) return full;
  const cut = full.lastIndexOf(",", LIMITS.tagValueLength - 24);
  const shown = full.slice(0, cut);
  const rest = positions.length - shown.split(",").length;
  return `${shown},…(+${rest} more)`;
}

/**
 * Checks a parent's summary as MLflow will, before it is sent.
 *
 * @param batch The summary.
 * @throws {MlflowValidationError} On a key or value MLflow would refuse.
 */
export function checkSummary(batch: LogBatchRequest): void {
  checkParams(batch.params, "params");
  checkTags(batch.tags, "summary");
  checkMetrics(batch.metrics, "summary");
}

/** How a grid's best cell is picked. */
export interface BestPick {
  /** The stat, or `undefined` when no cell has one of the default stats: then no best cell. */
  metric: string | undefined;
  /** Largest or smallest value wins. */
  direction: "max" | "min";
}

/**
 * The params a grid's parent holds, however its cells were logged: the user's,
 * the cell count, the axes, the pick.
 *
 * @param user The sweep's `params`.
 * @param cells The number of cells.
 * @param axes The axis names, when given.
 * @param pick How the best cell is picked.
 * @returns The params, checked.
 */
export function gridParams(
  user: Record<string, unknown> | undefined,
  cells: number,
  axes: readonly string[] | undefined,
  pick: BestPick,
): KeyValue[] {
  const own: [string, unknown][] = [
    ["sweep.cells", cells],
    ...(axes ? [["sweep.axes", axes] as [string, unknown]] : []),
    ...(pick.metric !== undefined ? [["sweep.metric", pick.metric], ["sweep.direction", pick.direction]] as [string, unknown][] : []),
  ];
  const params = [...toKeyValues(user), ...own.map(([key, value]) => ({ key, value: stringifyValue(value) }))];
  checkParams(params, "params");
  return params;
}

/**
 * Refuses a cell param whose `best.<key>` the parent already holds as one of the sweep's params.
 *
 * @param paramKeys Every cell param key.
 * @param staticParams The parent's params.
 * @param field Where cell params come from, for the error.
 * @throws {MlflowValidationError} On a collision.
 */
export function checkBestKeys(paramKeys: Iterable<string>, staticParams: readonly KeyValue[], field: string): void {
  for (const key of paramKeys) {
    const bestKey = `best.${key}`;
    checkKey(bestKey, field);
    if (staticParams.some((p) => p.key === bestKey)) {
      throw new MlflowValidationError(
        `params[${JSON.stringify(bestKey)}]`,
        `collides with the best cell's param '${key}', which the parent logs as '${bestKey}'; rename it`,
      );
    }
  }
}

/** A logged cell, as the summary sees it. */
export interface SummaryCell {
  /** Position or global index, as {@link GridBest.index} reports it. */
  index: number;
  /** The child run. */
  runId: string;
  /** The child run's name. */
  runName: string;
  /** The cell's params, named. */
  params: Record<string, unknown>;
  /** The cell's value of the pick's metric; NaN when it has none or it is not finite. */
  value: number;
  /** The cell's stats as the parent holds them for the best cell: `best.<stat>` metrics and tags. */
  bestEntries(timestamp: number): { metrics: Metric[]; tags: KeyValue[] };
}

/**
 * The parent's one summary `log-batch`: its params, and the best cell's
 * params (`best.<param>`), stats (`best.<stat>`) and run id (`best_run_id`).
 * Ties go to the first cell given.
 *
 * @param cells The logged cells, in order.
 * @param staticParams From {@link gridParams}.
 * @param pick How the best cell is picked.
 * @param timestamp Time of the metrics.
 * @returns The batch and the best cell.
 */
export function gridSummary(
  cells: readonly SummaryCell[],
  staticParams: readonly KeyValue[],
  pick: BestPick,
  timestamp: number,
): { batch: LogBatchRequest; best: GridBest | undefined } {
  const batch: LogBatchRequest = { metrics: [], params: [...staticParams], tags: [] };
  let chosen: SummaryCell | undefined;
  if (pick.metric !== undefined) {
    for (const cell of cells) {
      if (Number.isNaN(cell.value)) continue;
      if (chosen === undefined || (pick.direction === "max" ? cell.value > chosen.value : cell.value < chosen.value)) chosen = cell;
    }
  }
  if (chosen === undefined) return { batch, best: undefined };
  const best: GridBest = {
    index: chosen.index,
    runId: chosen.runId,
    runName: chosen.runName,
    params: chosen.params,
    metric: pick.metric!,
    value: chosen.value,
  };
  for (const { key, value } of toKeyValues(best.params)) batch.params.push({ key: `best.${key}`, value });
  const entries = chosen.bestEntries(timestamp);
  batch.metrics.push(...entries.metrics);
  batch.tags.push(...entries.tags);
  batch.tags.push({ key: "best_run_id", value: best.runId });
  return { batch, best };
}

/** The stats a best cell is picked by when the call names none, the first any cell has. */
export const DEFAULT_PICK_METRICS = ["sharpeRatio", "sharpe_ratio"] as const;

/** Options of {@link summarizeSweep}. */
export interface SummarizeSweepOptions extends ConnectionOptions {
  /** The parent the cells were logged under (with {@link logCells}). */
  parentRunId: string;
  /**
   * The stat that picks the best cell, as the children hold it (a metric, or a
   * tag when not finite). Default `sharpeRatio`, else `sharpe_ratio`, whichever
   * a child has; with neither, no best cell is picked.
   */
  metric?: string;
  /** Whether the best cell has the largest (`"max"`, default) or smallest value of `metric`. */
  direction?: "max" | "min";
  /**
   * How many cells the sweep has (indices `0` to `cells - 1`). An index with
   * no finished child then counts as failed even when no worker got to it.
   * Default: the indices found among the children.
   */
  cells?: number;
  /** Param names of the grid's axes, logged as `sweep.axes`. */
  axes?: readonly string[];
  /** Params of the whole sweep (data set, fee, symbol), logged on the parent. */
  params?: Record<string, unknown>;
  /** End the parent FINISHED once the summary is written (when it is still RUNNING); default `false`. */
  end?: boolean;
  /** Stops the call, including a request in flight, with an `ABORTED` error. */
  signal?: AbortSignal;
  /**
   * `sweep_heatmap.png` and `grid_results.csv` on the parent, from the children
   * (no equity overlay: the curves are not read back), styled as the sweeps'
   * `pictures` option. Default off: `true` or an object draws them.
   */
  pictures?: SweepPictures;
}

/** What {@link summarizeSweep} found and wrote. */
export interface SweepSummary {
  /** The parent. */
  parentRunId: string;
  /** The best finished cell, or `undefined` when no finished cell has a finite value of the metric. */
  best: GridBest | undefined;
  /** The sweep's cell count, as logged in `sweep.cells`. */
  cells: number;
  /** Cell indices with a FINISHED child, ascending. */
  logged: number[];
  /** Cell indices without one (failed, killed, still running or never logged), ascending; the parent's `failed_cells`. */
  failed: number[];
  /** Of `failed`, the indices whose only children are still RUNNING (a worker still at it, or one that died). */
  running: number[];
  /** Further FINISHED children of an index already counted (the earliest is kept); none when each cell was logged once. */
  duplicates: string[];
}

const SUMMARIZE_KEYS = [...CONNECTION_KEYS, "parentRunId", "metric", "direction", "cells", "axes", "params", "end", "signal", "pictures"] as const;
type _SummarizeKeysMatch = Assert<ExactKeys<typeof SUMMARIZE_KEYS, SummarizeSweepOptions>>;

/** The metric the `equity` history of a cell's equity curve is logged as: not a stat. */
const EQUITY_METRIC = "equity";

// The best cell's stats, from what its child holds: every metric but the equity
// history, and every tag but the system (`mlflow.*`) and library (`flox.*`) ones;
// non-finite stats are tags on the child, as the cell's own summary logs them.
function childBestEntries(child: StoredRun, timestamp: number): { metrics: Metric[]; tags: KeyValue[] } {
  const metrics: Metric[] = Object.entries(child.metrics)
    .filter(([key]) => key !== EQUITY_METRIC)
    .map(([key, value]) => ({ key: `best.${key}`, value, timestamp, step: 0 }));
  const tags: KeyValue[] = Object.entries(child.tags)
    .filter(([key]) => !key.startsWith("mlflow.") && !key.startsWith("flox."))
    .map(([key, value]) => ({ key: `best.${key}`, value }));
  return { metrics, tags };
}

// A stat's value on a child: its metric, or NaN when it is there only as a tag (a NaN Sharpe ratio).
function childValue(child: StoredRun, name: string): number | undefined {
  if (Object.hasOwn(child.metrics, name)) return child.metrics[name];
  return Object.hasOwn(child.tags, name) ? NaN : undefined;
}

function sortedParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function checkSummarizeOptions(options: SummarizeSweepOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new MlflowValidationError("options", "must be an object with parentRunId");
  }
  checkOptionKeys(options, SUMMARIZE_KEYS, "options");
  checkRunId(options.parentRunId, "parentRunId");
  if (options.metric !== undefined && (typeof options.metric !== "string" || options.metric === "")) {
    throw new MlflowValidationError("metric", "must be the name of a stat the children hold, e.g. \"sharpeRatio\"");
  }
  const direction = options.direction ?? "max";
  if (direction !== "max" && direction !== "min") {
    throw new MlflowValidationError("direction", `is ${describeValue(direction)}; pass "max" or "min"`);
  }
  if (options.cells !== undefined && (!Number.isSafeInteger(options.cells) || options.cells < 1)) {
    throw new MlflowValidationError("cells", `is ${describeValue(options.cells)}; pass the sweep's number of cells (1 or more)`);
  }
  if (options.axes !== undefined) {
    if (!Array.isArray(options.axes) || options.axes.some((a) => typeof a !== "string")) {
      throw new MlflowValidationError("axes", "must be an array of param names");
    }
  }
  checkBoolean(options.end, "end");
  checkSignal(options.signal, "signal");
  checkSweepPictures(options.pictures);
}

/**
 * Summarises a parent from its children: reads every child of `parentRunId`
 * (whichever process logged it, e.g. workers of {@link logCells}), picks the
 * best finished cell, and writes on the parent what {@link logGrid} writes on
 * its own: `sweep.cells`, `sweep.axes`, `sweep.metric`, `sweep.direction`,
 * the sweep's `params`, `best.<param>`, `best.<stat>`, `best_run_id`, and
 * `failed_cells` when cells have no finished child; plus the tag
 * `flox.sweep` = `grid`. The parent stays RUNNING unless `end` is set.
 *
 * Cells are told apart by their children's `flox.cell_index` tag; children
 * without it are not cells and are left out. A cell counts as logged when it
 * has a FINISHED child; a second FINISHED child of the same index is reported
 * in `duplicates` and not counted. Call it once the workers are done: the
 * summary's params cannot change afterwards (MLflow keeps params immutable).
 * Reads cost one `runs/get` and one `runs/search` per 1,000 children (the file
 * store reads `./mlruns`); the summary is one `log-batch`.
 *
 * @param options The parent, how to pick the best cell, and where to log.
 * @returns What was found and written.
 * @throws {MlflowValidationError} On bad options before any request; when the parent does not exist; when
 *   `metric` is named but no finished child holds it, or a cell param collides with the sweep's params (nothing is written then).
 * @throws {MlflowError} When the store fails.
 * @example Workers log cells under one parent, then one call summarises it
 * ```ts
 * import { startRun } from "./run.ts";
 * import { logCells } from "./sweep_cells.ts";
 * import { summarizeSweep } from "./sweep_summary.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const parent = await startRun({ trackingUri, env: {}, runName: "sma-grid" });
 * // In each worker process, its share of the cells, with their global index:
 * await logCells({ trackingUri, env: {}, parentRunId: parent.runId, cells: [{ index: 0, params: { fast: 5 }, stats: { sharpeRatio: 0.9 } }] });
 * await logCells({ trackingUri, env: {}, parentRunId: parent.runId, cells: [{ index: 1, params: { fast: 10 }, stats: { sharpeRatio: 1.4 } }] });
 * const summary = await summarizeSweep({ trackingUri, env: {}, parentRunId: parent.runId, cells: 2, end: true });
 * if (summary.best?.index !== 1 || summary.failed.length !== 0) throw new Error();
 * ```
 */
export async function summarizeSweep(options: SummarizeSweepOptions): Promise<SweepSummary> {
  checkSummarizeOptions(options);
  const { parentRunId } = options;
  const direction = options.direction ?? "max";
  const { store } = connect(options);
  const call: CallOptions = options.signal === undefined ? {} : { signal: options.signal };
  const parent = await store.getRun(parentRunId, call);
  if (parent === undefined) {
    throw new MlflowValidationError(
      "parentRunId",
      `run '${parentRunId}' does not exist (or is deleted) in ${store.location}; pass the id of the sweep's parent run`,
    );
  }
  const children = await store.searchRuns({ experimentIds: [parent.experimentId], parentRunId }, call);

  // Per index, its children; the earliest FINISHED one is the cell.
  const byIndex = new Map<number, StoredRun[]>();
  for (const child of children) {
    const raw = child.tags[CELL_INDEX_TAG];
    const index = raw === undefined || !/^\d+$/.test(raw) ? undefined : Number(raw);
    if (index === undefined || !Number.isSafeInteger(index)) continue;
    const list = byIndex.get(index) ?? [];
    list.push(child);
    byIndex.set(index, list);
  }
  const indices = new Set(byIndex.keys());
  for (let i = 0; i < (options.cells ?? 0); i++) indices.add(i);
  const cellCount = options.cells ?? indices.size;
  const logged = new Map<number, StoredRun>();
  const failed: number[] = [];
  const running: number[] = [];
  const duplicates: string[] = [];
  for (const index of [...indices].sort((a, b) => a - b)) {
    const list = (byIndex.get(index) ?? []).sort((a, b) => a.startTime - b.startTime || (a.runId < b.runId ? -1 : 1));
    const finished = list.filter((c) => c.status === "FINISHED");
    if (finished.length > 0) {
      logged.set(index, finished[0]!);
      duplicates.push(...finished.slice(1).map((c) => c.runId));
      continue;
    }
    failed.push(index);
    if (list.length > 0 && list.every((c) => c.status === "RUNNING")) running.push(index);
  }

  const candidates = options.metric !== undefined ? [options.metric] : DEFAULT_PICK_METRICS;
  const metric = candidates.find((name) => [...logged.values()].some((c) => childValue(c, name) !== undefined));
  if (options.metric !== undefined && metric === undefined) {
    throw new MlflowValidationError(
      "metric",
      `'${options.metric}' is held by none of the ${logged.size} finished children of ${parentRunId}; pass a stat they hold (as logged, e.g. sharpe_ratio)`,
    );
  }
  const pick: BestPick = { metric, direction };
  const staticParams = gridParams(options.params, cellCount, options.axes, pick);
  const paramKeys = new Set<string>();
  for (const child of logged.values()) for (const key of Object.keys(child.params)) paramKeys.add(key);
  checkBestKeys(paramKeys, staticParams, "children's params");

  const cells: SummaryCell[] = [...logged].map(([index, child]) => ({
    index,
    runId: child.runId,
    runName: child.runName,
    params: child.params,
    value: metric === undefined ? NaN : childValue(child, metric) ?? NaN,
    bestEntries: (timestamp) => childBestEntries(child, timestamp),
  }));
  const { batch, best } = gridSummary(cells, staticParams, pick, Date.now());
  batch.tags.push({ key: "flox.sweep", value: "grid" });
  if (failed.length > 0) batch.tags.push({ key: "failed_cells", value: positionList(failed) });
  checkSummary(batch);
  await store.logBatch(parentRunId, batch, call);
  // Off unless asked for: the summary is otherwise one log-batch.
  const setting = options.pictures === undefined ? undefined : checkSweepPictures(options.pictures);
  if (setting) {
    const cells: PictureCell[] = [...indices].sort((a, b) => a - b).map((index) => {
      const child = logged.get(index) ?? byIndex.get(index)?.at(-1);
      const entries = child ? childBestEntries(child, 0) : { metrics: [], tags: [] };
      const unprefix = (key: string): string => key.slice("best.".length);
      const stats = [
        ...entries.metrics.map(({ key, value }) => ({ key: unprefix(key), value })),
        ...entries.tags.map(({ key, value }) => ({ key: unprefix(key), value })),
      ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return {
        index,
        runId: child?.runId,
        runName: child?.runName ?? `cell-${index}`,
        status: logged.has(index) ? "FINISHED" : "FAILED",
        params: child ? sortedParams(child.params) : {},
        stats,
      };
    });
    await parentPictures(
      { ...setting.options, overlay: false },
      (chosen) => gridPictures({ cells, axes: options.axes, metric, direction, title: parent.runName }, chosen),
      (artifacts) => deliverArtifacts(store, parent, artifacts, call),
      (key, value) => store.logBatch(parentRunId, { metrics: [], params: [], tags: [{ key, value }] }, call),
      console.warn,
      parentRunId,
    );
  }
  if (options.end && parent.status === "RUNNING") await store.finishRun(parentRunId, "FINISHED", Date.now());
  return { parentRunId, best, cells: cellCount, logged: [...logged.keys()], failed, running, duplicates };
}
