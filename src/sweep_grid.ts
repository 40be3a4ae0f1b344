/**
 * Grids: FLOX `GridSearch` output (or `{params, stats}` cells) logged as a
 * parent run with one child per cell, and the cell planning the fan-out path
 * ({@link logCells}) shares.
 *
 * @module
 */
import type { BacktestData } from "./backtest.ts";
import { MlflowValidationError } from "./errors.ts";
import { type Assert, type ExactKeys } from "./option_keys.ts";
import { type StatsNaming, statsToEntries, stringifyValue, toKeyValues } from "./stats.ts";
import {
  checkedStats,
  checkSweepOptions,
  inCell,
  runSweep,
  statsObject,
  SWEEP_KEYS,
  type SweepFailure,
  type SweepOptions,
  type SweepPlan,
} from "./sweep_run.ts";
import {
  type BestPick,
  CELL_INDEX_TAG,
  checkBestKeys,
  DEFAULT_PICK_METRICS,
  type GridBest,
  gridParams,
  gridSummary,
  type SummaryCell,
} from "./sweep_summary.ts";
import { gridPictures, type PictureCell } from "./sweep_pictures.ts";
import { checkSweepPictures } from "./sweep_pictures_options.ts";
import { checkKey, checkParams, clipText, codePointLength, describeValue, LIMITS } from "./validation.ts";

/**
 * One grid cell: FLOX Node `GridSearch.run()` output (`{index, params:
 * number[], stats}`, params in axis order) or `{params, stats}` with named
 * params, optionally with the cell's own equity curve, trades and report.
 */
export interface GridCell extends Omit<BacktestData, "params" | "stats" | "statsNaming" | "onWarning"> {
  /** FLOX's cell number. `logGrid` tells cells apart by their position in `results`; `logCells` tags the child with it as the cell's global index (`flox.cell_index`). */
  index?: number;
  /** Values in `axes` order (FLOX), or an object of param names to values. */
  params?: readonly unknown[] | object;
  /** The cell's stats, any backtester's (typed interfaces such as FLOX's `FoldStats` welcome). */
  stats?: object;
}

/** Options of {@link logGrid}. */
export interface LogGridOptions extends SweepOptions {
  /** The cells, e.g. FLOX `GridSearch.run()` output. Child run ids come back in this order. */
  results: readonly GridCell[];
  /** Param names for positional `params`, in the order of `GridSearch.addAxis` calls. */
  axes?: readonly string[];
  /**
   * The stat that picks the best cell, by its name in the cell's stats or
   * its logged key. Default `sharpeRatio`, else `sharpe_ratio`, whichever a
   * cell has; with neither, no best cell is picked.
   */
  metric?: string;
  /** Whether the best cell has the largest (`"max"`, default) or smallest value of `metric`. */
  direction?: "max" | "min";
}

/** What {@link logGrid} returns. */
export interface LogGridResult {
  /** The parent run holding the grid's summary. */
  parentRunId: string;
  /** One per cell, in the order of `results`; `undefined` where a failed cell's run could not be created. */
  childRunIds: Array<string | undefined>;
  /** The best logged cell, or `undefined` when no logged cell has a finite value of the metric. */
  best: GridBest | undefined;
  /** Cells that failed, by position. Empty when every cell was logged. */
  failed: SweepFailure[];
}

/**
 * Logs a parameter sweep as a parent run with one child run per cell.
 *
 * Children are named from their params (`fast=10,slow=30`; `cell-<i>` without
 * params), carry the params, the stats (metrics, or tags when not finite), the
 * tag `flox.cell_index` (position in `results`) and any equity curve, trades
 * or report of the cell, and are linked to the parent by `mlflow.parentRunId`.
 * At most `concurrency` children are logged at once.
 *
 * The parent gets the tag `flox.sweep` = `grid`, the sweep's `params`, and
 * after the cells one summary `log-batch`:
 *
 * | kind   | key                         | value                                                        |
 * |--------|-----------------------------|--------------------------------------------------------------|
 * | param  | `sweep.cells`               | number of cells                                              |
 * | param  | `sweep.axes`                | axis names as JSON, when `axes` is given                     |
 * | param  | `sweep.metric`, `sweep.direction` | how the best cell was picked                           |
 * | param  | `best.<param>`              | each param of the best cell                                  |
 * | metric | `best.<stat>`               | each finite stat of the best cell (non-finite ones as tags)  |
 * | tag    | `best_run_id`               | the best cell's child run id                                 |
 * | tag    | `failed_cells`              | positions of failed cells, comma-separated; only when any failed |
 *
 * The best cell is picked among the cells that were logged. A cell that fails
 * does not stop the others: it is listed in `failed` (its run, if created,
 * ends FAILED) and the parent still ends FINISHED, unless `failFast` is set.
 * Aborting `signal` stops starting cells, ends the parent and the open
 * children KILLED and rejects.
 *
 * Params and stats of every cell are checked before the first request;
 * equity curves, trades and reports are read when their cell is logged, so
 * memory stays bounded by `concurrency`, not by the grid.
 *
 * @param options Where to log, the parent run, the cells and how to log them.
 * @returns The parent and child run ids, the best cell and the failed cells.
 * @throws {MlflowValidationError} Before any request, on bad options or a bad cell's params or stats (the field names the cell, e.g. `results[3].params`).
 * @throws {MlflowError} When the parent cannot be created or summarised; with `failFast`, the first failed cell's error; code `ABORTED` when `signal` aborts.
 * @example Log FLOX GridSearch output
 * ```ts
 * import { logGrid } from "./sweep.ts";
 * const results = [
 *   { index: 0, params: [10, 30], stats: { sharpeRatio: 1.1, returnPct: 4.2 } },
 *   { index: 1, params: [10, 50], stats: { sharpeRatio: 1.6, returnPct: 6.8 } },
 * ];
 * const grid = await logGrid({
 *   trackingUri: await Deno.makeTempDir(), env: {},
 *   experiment: "sma-grid", runName: "sma-grid", axes: ["fast", "slow"], results,
 *   onProgress: (done, total) => console.log(`${done}/${total}`),
 * });
 * if (grid.best?.runName !== "fast=10,slow=50" || grid.childRunIds.length !== 2) throw new Error();
 * ```
 */
export async function logGrid(options: LogGridOptions): Promise<LogGridResult> {
  const concurrency = checkSweepOptions(options, GRID_KEYS);
  const results = options.results;
  if (!Array.isArray(results) || results.length === 0) {
    throw new MlflowValidationError("results", "must be a non-empty array of grid cells ({params, stats} or FLOX GridSearch.run() output)");
  }
  const axes = checkAxes(options.axes);
  const direction = options.direction ?? "max";
  if (direction !== "max" && direction !== "min") {
    throw new MlflowValidationError("direction", `is ${describeValue(direction)}; pass "max" or "min"`);
  }
  if (options.metric !== undefined && (typeof options.metric !== "string" || options.metric === "")) {
    throw new MlflowValidationError("metric", "must be the name of a stat, e.g. \"sharpeRatio\"");
  }
  const naming = options.statsNaming;
  const candidates = options.metric !== undefined ? [options.metric] : DEFAULT_PICK_METRICS;
  const planned = planGrid(results, "results", axes, naming, candidates);
  const chosen = planned.present.indexOf(true);
  if (options.metric !== undefined && chosen < 0) {
    throw new MlflowValidationError("metric", `'${options.metric}' is not a stat of any cell; pass the name of one of the cells' stats`);
  }
  const pick: BestPick = { metric: chosen < 0 ? undefined : candidates[chosen]!, direction };
  const metricValues = chosen < 0 ? undefined : planned.values[chosen]!;
  const runNames = planned.named.map((params, i) => cellRunName(params, i));
  const staticParams = gridParams(options.params, results.length, axes, pick);
  checkBestKeys(planned.paramKeys, staticParams, "results[].params");

  let best: GridBest | undefined;
  const plan: SweepPlan = {
    kind: "grid",
    field: "results",
    failedTag: "failed_cells",
    total: results.length,
    runName: (i) => runNames[i]!,
    childTags: (i) => ({ [CELL_INDEX_TAG]: i }),
    data: (i) => cellData(results[i]!, planned.named[i]!, options),
    summarize(runIdOf, timestamp) {
      const cells: SummaryCell[] = [];
      for (let i = 0; i < results.length; i++) {
        const runId = runIdOf(i);
        if (runId === undefined) continue;
        cells.push({
          index: i,
          runId,
          runName: runNames[i]!,
          params: planned.named[i]!,
          value: metricValues?.[i] ?? NaN,
          bestEntries: (time) => {
            const stats = statsObject(results[i]!.stats);
            return stats ? statsToEntries(stats, { timestamp: time, prefix: "best.", ...(naming ? { naming } : {}) }) : { metrics: [], tags: [] };
          },
        });
      }
      const summary = gridSummary(cells, staticParams, pick, timestamp);
      best = summary.best;
      return summary.batch;
    },
  };
  const setting = checkSweepPictures(options.pictures);
  if (setting) {
    plan.pictures = {
      setting,
      make: (childRunId, logged, title, chosen) =>
        gridPictures({
          cells: results.map((cell, i) => pictureCell(cell, i, childRunId(i), runNames[i]!, logged(i), planned.named[i]!, naming)),
          axes,
          metric: pick.metric,
          direction,
          title,
        }, chosen),
    };
  }
  const outcome = await runSweep(options, plan, concurrency);
  return { ...outcome, best };
}

// A cell as the pictures see it: its stats as its child holds them, its curve read only if it is among the best.
function pictureCell(
  cell: GridCell,
  index: number,
  runId: string | undefined,
  runName: string,
  logged: boolean,
  params: Record<string, unknown>,
  naming: StatsNaming | undefined,
): PictureCell {
  const stats = statsObject(cell.stats);
  const entries = stats ? statsToEntries(stats, { timestamp: 0, ...(naming ? { naming } : {}) }) : { metrics: [], tags: [] };
  return {
    index,
    runId,
    runName,
    status: logged ? "FINISHED" : "FAILED",
    params,
    stats: [...entries.metrics.map(({ key, value }) => ({ key, value })), ...entries.tags],
    ...(stats ? { raw: stats } : {}),
    ...(cell.equityCurve !== undefined ? { curve: () => cell.equityCurve } : {}),
  };
}

/** Cells read and checked before any request: named params, and each cell's values of the candidate stats. */
export interface PlannedGrid {
  /** Each cell's params, named. */
  named: Record<string, unknown>[];
  /** Every param key of any cell. */
  paramKeys: Set<string>;
  /** Per candidate stat, each cell's value (NaN when absent or not finite). */
  values: Float64Array[];
  /** Per candidate stat, whether any cell has it. */
  present: boolean[];
}

/**
 * Reads and checks every cell's params and stats, naming the cell in errors.
 *
 * @param cells The cells.
 * @param field `results` or `cells`, for errors.
 * @param axes Names of positional params.
 * @param naming How stat keys are named.
 * @param candidates Stats whose values are wanted (for the best cell).
 * @returns Named params and the candidates' values.
 * @throws {MlflowValidationError} On a bad cell, e.g. `results[3].params`.
 */
export function planGrid(
  cells: readonly GridCell[],
  field: string,
  axes: readonly string[] | undefined,
  naming: StatsNaming | undefined,
  candidates: readonly string[],
): PlannedGrid {
  const values = candidates.map(() => new Float64Array(cells.length));
  const present = candidates.map(() => false);
  const named: Record<string, unknown>[] = new Array(cells.length);
  const paramKeys = new Set<string>();
  for (let i = 0; i < cells.length; i++) {
    inCell(field, i, () => {
      const cell = cells[i];
      if (typeof cell !== "object" || cell === null) {
        throw new MlflowValidationError("", "must be an object with params and stats");
      }
      const params = namedParams(cell.params, axes);
      checkParams(toKeyValues(params), "params");
      for (const key of Object.keys(params)) paramKeys.add(key);
      named[i] = params;
      const stats = statsObject(cell.stats);
      const entries = stats === undefined ? { metrics: [], tags: [] } : checkedStats(stats, naming);
      candidates.forEach((name, c) => {
        const value = stats === undefined ? undefined : statValue(stats, entries, name);
        if (value !== undefined) present[c] = true;
        values[c]![i] = value ?? NaN;
      });
    });
  }
  return { named, paramKeys, values, present };
}

/**
 * What a cell's child logs: only the cell's backtest fields (FLOX's `index` names the child, it is not logged as data).
 *
 * @param cell The cell.
 * @param params Its params, named.
 * @param options The sweep's defaults for charts, the equity metric, stat naming and warnings.
 * @returns The child's backtest.
 */
export function cellData(
  cell: GridCell,
  params: Record<string, unknown>,
  options: Pick<SweepOptions, "chart" | "equityMetric" | "statsNaming" | "onWarning">,
): BacktestData {
  return {
    equityCurve: cell.equityCurve,
    trades: cell.trades,
    htmlReport: cell.htmlReport,
    artifacts: cell.artifacts,
    symbolNames: cell.symbolNames,
    params,
    stats: statsObject(cell.stats),
    chart: cell.chart ?? options.chart ?? false,
    equityMetric: cell.equityMetric ?? options.equityMetric,
    statsNaming: options.statsNaming,
    onWarning: options.onWarning,
  };
}

const GRID_KEYS = [...SWEEP_KEYS, "results", "axes", "metric", "direction"] as const;
type _GridKeysMatch = Assert<ExactKeys<typeof GRID_KEYS, LogGridOptions>>;

/**
 * Checks `axes`: distinct, legal param names.
 *
 * @param axes The option.
 * @returns The axes, or `undefined`.
 */
export function checkAxes(axes: readonly string[] | undefined): readonly string[] | undefined {
  if (axes === undefined) return undefined;
  if (!Array.isArray(axes) || axes.length === 0) {
    throw new MlflowValidationError("axes", "must be a non-empty array of param names, one per GridSearch axis");
  }
  const seen = new Set<string>();
  for (const name of axes) {
    if (typeof name !== "string") throw new MlflowValidationError("axes", "must hold param names (strings)");
    checkKey(name, "axes");
    if (seen.has(name)) throw new MlflowValidationError(`axes[${JSON.stringify(name)}]`, "is given twice; axis names must differ");
    seen.add(name);
  }
  return axes;
}

/**
 * A cell's params by name: positional FLOX params named by `axes`, or the object as given.
 *
 * @param params The cell's `params`.
 * @param axes The axis names.
 * @returns Names to values.
 */
export function namedParams(params: unknown, axes: readonly string[] | undefined): Record<string, unknown> {
  if (params === undefined) return {};
  if (Array.isArray(params)) {
    if (axes === undefined) {
      throw new MlflowValidationError(
        "params",
        'is a list of values (FLOX GridSearch output); pass axes with one name per value, e.g. axes: ["fast", "slow"]',
      );
    }
    if (params.length !== axes.length) {
      throw new MlflowValidationError("params", `has ${params.length} values but axes names ${axes.length}; pass one axis name per value`);
    }
    return Object.fromEntries(axes.map((name, k) => [name, params[k]]));
  }
  if (typeof params !== "object" || params === null) {
    throw new MlflowValidationError("params", "must be an array of values in axes order or an object of names to values");
  }
  return params as Record<string, unknown>;
}

/**
 * A child's name from its params (`fast=10,slow=30`), or `cell-<number>` without params.
 *
 * @param params The cell's params, named.
 * @param number The cell's position or global index.
 * @returns The run name, clipped to MLflow's limit.
 */
export function cellRunName(params: Record<string, unknown>, number: number): string {
  const name = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${stringifyValue(v)}`)
    .join(",");
  if (name === "") return `cell-${number}`;
  return codePointLength(name) <= LIMITS.runNameLength ? name : `${clipText(name, LIMITS.runNameLength - 1)}…`;
}

// Users name the metric as their backtester does (`Sharpe Ratio`) or as it is logged (`sharpe_ratio`): accept both.
function statValue(stats: Record<string, unknown>, entries: ReturnType<typeof statsToEntries>, name: string): number | undefined {
  if (Object.hasOwn(stats, name)) {
    const raw = stats[name];
    if (typeof raw === "number") return raw;
    if (typeof raw === "bigint") return Number(raw);
  }
  const metric = entries.metrics.find((m) => m.key === name);
  if (metric) return metric.value;
  // Present but not finite (a NaN Sharpe ratio): the stat exists, the cell just cannot win.
  return entries.tags.some((t) => t.key === name) || Object.hasOwn(stats, name) ? NaN : undefined;
}
