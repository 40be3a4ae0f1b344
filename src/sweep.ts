/**
 * Parameter sweeps and walk-forward folds: one parent run with one child run
 * per grid cell or fold, linked by `mlflow.parentRunId`, logged a few cells
 * at a time. Every cell costs three requests (create, one `log-batch`,
 * finish) plus its artifact uploads; the parent costs three more (create,
 * one summary `log-batch`, finish).
 *
 * @module
 */
import { type BacktestData, checkEquityMetric } from "./backtest.ts";
import { checkChartOptions } from "./chart.ts";
import { type ConnectionOptions, connect } from "./config.ts";
import { abortedError, MlflowError, MlflowValidationError } from "./errors.ts";
import { type Assert, checkOptionKeys, CONNECTION_KEYS, type ExactKeys, RUN_KEYS } from "./option_keys.ts";
import { logToMlflow, type MlflowRun, type RunOptions, startRun } from "./run.ts";
import { checkStatsNaming, type StatsNaming, statsToEntries, stringifyValue, toKeyValues } from "./stats.ts";
import type { KeyValue, LogBatchRequest, Metric } from "./store.ts";
import { nanosToIso, type TimeInput, toNanoseconds } from "./time.ts";
import {
  checkBoolean,
  checkCallback,
  checkKey,
  checkMetrics,
  checkParams,
  checkSignal,
  checkTags,
  clipText,
  codePointLength,
  describeValue,
  LIMITS,
  recordEntries,
} from "./validation.ts";

/** What {@link logGrid} and {@link logWalkForward} share: where to log, the parent run, and how to log the children. */
export interface SweepOptions extends Omit<RunOptions, "nested"> {
  /** Params of the whole sweep (data set, fee, symbol), logged on the parent only. */
  params?: Record<string, unknown>;
  /** Children logged at once; default 8. */
  concurrency?: number;
  /** How stat keys are named in MLflow, for children and the parent's summary; default as given. */
  statsNaming?: StatsNaming;
  /**
   * Equity charts for cells with an equity curve. Default `false` in sweeps:
   * hundreds of charts cost more than the rest of the sweep. A cell's own
   * `chart` wins.
   */
  chart?: BacktestData["chart"];
  /** The `equity` metric history of cells with an equity curve (see {@link BacktestData}); a cell's own setting wins. */
  equityMetric?: BacktestData["equityMetric"];
  /**
   * Stop at the first cell that fails and reject with its error; the parent
   * ends FAILED. Default `false`: every cell is tried and failures are
   * reported in the result.
   */
  failFast?: boolean;
  /** Called after each cell is logged or has failed, with the number settled so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Where warnings go (a chart that failed to render, an `onProgress` that threw); default `console.warn`. */
  onWarning?: (message: string) => void;
}

/**
 * One grid cell: FLOX Node `GridSearch.run()` output (`{index, params:
 * number[], stats}`, params in axis order) or `{params, stats}` with named
 * params, optionally with the cell's own equity curve, trades and report.
 */
export interface GridCell extends Omit<BacktestData, "params" | "stats" | "statsNaming" | "onWarning"> {
  /** FLOX's cell number. Informational: cells are identified by their position in `results`. */
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

/** A cell or fold that could not be logged. */
export interface SweepFailure {
  /** Position in `results` or `folds`. */
  index: number;
  /** The child run's name. */
  runName: string;
  /** The child run, when it was created (it then ended FAILED or KILLED). */
  runId: string | undefined;
  /** Why. Validation errors name the cell, e.g. `results[3].equityCurve.timestampNs`. */
  error: Error;
}

/** The best cell of a grid, as summarised on the parent run. */
export interface GridBest {
  /** Position in `results`. */
  index: number;
  /** The cell's child run id. */
  runId: string;
  /** The cell's child run name, e.g. `fast=10,slow=50`. */
  runName: string;
  /** The cell's params, named. */
  params: Record<string, unknown>;
  /** The stat the cell was picked by. */
  metric: string;
  /** The cell's value of `metric`. */
  value: number;
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
 * One walk-forward fold: FLOX Node `WalkForwardRunner.runCsv` output
 * (camelCase) or the same fields in snake_case (FLOX Python), with optional
 * params chosen for the fold and the fold's test-period equity and trades.
 */
export interface WalkForwardFold extends Omit<BacktestData, "params" | "stats" | "statsNaming" | "onWarning"> {
  /** The fold's number, logged as a param and used in the run name `fold-<index>`; default its position in `folds`. */
  foldIndex?: number;
  /** Same as `foldIndex`, as FLOX Python spells it. */
  fold_index?: number;
  /** Bar index where the training window starts; logged as a param. */
  trainStartBar?: number;
  /** Same as `trainStartBar`, as FLOX Python spells it. */
  train_start_bar?: number;
  /** Bar index where the training window ends; logged as a param. */
  trainEndBar?: number;
  /** Same as `trainEndBar`, as FLOX Python spells it. */
  train_end_bar?: number;
  /** Bar index where the test window starts; logged as a param. */
  testStartBar?: number;
  /** Same as `testStartBar`, as FLOX Python spells it. */
  test_start_bar?: number;
  /** Bar index where the test window ends; logged as a param. */
  testEndBar?: number;
  /** Same as `testEndBar`, as FLOX Python spells it. */
  test_end_bar?: number;
  /** Start of the training window, in nanoseconds when a number or BigInt; logged as tags (nanoseconds and ISO-8601). */
  trainStartNs?: TimeInput;
  /** Same as `trainStartNs`, as FLOX Python spells it. */
  train_start_ns?: TimeInput;
  /** End of the training window, in nanoseconds when a number or BigInt; logged as tags (nanoseconds and ISO-8601). */
  trainEndNs?: TimeInput;
  /** Same as `trainEndNs`, as FLOX Python spells it. */
  train_end_ns?: TimeInput;
  /** Start of the test window, in nanoseconds when a number or BigInt; logged as tags (nanoseconds and ISO-8601). */
  testStartNs?: TimeInput;
  /** Same as `testStartNs`, as FLOX Python spells it. */
  test_start_ns?: TimeInput;
  /** End of the test window, in nanoseconds when a number or BigInt; logged as tags (nanoseconds and ISO-8601). */
  testEndNs?: TimeInput;
  /** Same as `testEndNs`, as FLOX Python spells it. */
  test_end_ns?: TimeInput;
  /** Stats of the training window; logged as `train.<stat>` metrics (tags when not finite). */
  trainStats?: object;
  /** Same as `trainStats`, as FLOX Python spells it. */
  train_stats?: object;
  /** Stats of the test window; logged as `test.<stat>` metrics (tags when not finite). */
  testStats?: object;
  /** Same as `testStats`, as FLOX Python spells it. */
  test_stats?: object;
  /** Params used in this fold (e.g. chosen on its training window). */
  params?: object;
}

/** Options of {@link logWalkForward}. */
export interface LogWalkForwardOptions extends SweepOptions {
  /** The folds, e.g. FLOX `WalkForwardRunner.runCsv` output. Child run ids come back in this order. */
  folds: readonly WalkForwardFold[];
}

/** What {@link logWalkForward} returns. */
export interface LogWalkForwardResult {
  /** The parent run holding the folds' means. */
  parentRunId: string;
  /** One per fold, in the order of `folds`; `undefined` where a failed fold's run could not be created. */
  childRunIds: Array<string | undefined>;
  /** The parent's metrics: `train.mean.<stat>` and `test.mean.<stat>` over the logged folds. */
  means: Record<string, number>;
  /** Folds that failed, by position. Empty when every fold was logged. */
  failed: SweepFailure[];
}

const DEFAULT_CONCURRENCY = 8;

/** How one sweep is turned into runs; built and checked before any request. */
interface SweepPlan {
  kind: "grid" | "walk_forward";
  /** `results` or `folds`, for error fields. */
  field: string;
  /** Tag on the parent listing failed positions. */
  failedTag: string;
  total: number;
  runName(i: number): string;
  childTags(i: number): Record<string, unknown>;
  data(i: number): BacktestData;
  /** The parent's one `log-batch`, from the cells that were logged (`runIdOf` is `undefined` for the others). */
  summarize(runIdOf: (i: number) => string | undefined, timestamp: number): LogBatchRequest;
}

interface SweepOutcome {
  parentRunId: string;
  childRunIds: Array<string | undefined>;
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
  const candidates = options.metric !== undefined ? [options.metric] : ["sharpeRatio", "sharpe_ratio"];
  const values = candidates.map(() => new Float64Array(results.length));
  const present = candidates.map(() => false);
  const named: Record<string, unknown>[] = new Array(results.length);
  const runNames: string[] = new Array(results.length);
  const paramKeys = new Set<string>();

  for (let i = 0; i < results.length; i++) {
    inCell("results", i, () => {
      const cell = results[i];
      if (typeof cell !== "object" || cell === null) {
        throw new MlflowValidationError("", "must be an object with params and stats");
      }
      const params = namedParams(cell.params, axes);
      checkParams(toKeyValues(params), "params");
      for (const key of Object.keys(params)) paramKeys.add(key);
      named[i] = params;
      runNames[i] = cellRunName(params, i);
      const stats = statsObject(cell.stats);
      const entries = stats === undefined ? { metrics: [], tags: [] } : checkedStats(stats, naming);
      candidates.forEach((name, c) => {
        const value = stats === undefined ? undefined : statValue(stats, entries, name);
        if (value !== undefined) present[c] = true;
        values[c]![i] = value ?? NaN;
      });
    });
  }
  const chosen = present.indexOf(true);
  if (options.metric !== undefined && chosen < 0) {
    throw new MlflowValidationError("metric", `'${options.metric}' is not a stat of any cell; pass the name of one of the cells' stats`);
  }
  const metric = chosen < 0 ? undefined : candidates[chosen]!;
  const metricValues = chosen < 0 ? undefined : values[chosen]!;

  const staticParams = sweepParams(options.params, [
    ["sweep.cells", results.length],
    ...(axes ? [["sweep.axes", axes] as [string, unknown]] : []),
    ...(metric !== undefined ? [["sweep.metric", metric], ["sweep.direction", direction]] as [string, unknown][] : []),
  ]);
  for (const key of paramKeys) {
    const bestKey = `best.${key}`;
    checkKey(bestKey, "results[].params");
    if (staticParams.some((p) => p.key === bestKey)) {
      throw new MlflowValidationError(
        `params[${JSON.stringify(bestKey)}]`,
        `collides with the best cell's param '${key}', which the parent logs as '${bestKey}'; rename it`,
      );
    }
  }

  let best: GridBest | undefined;
  const plan: SweepPlan = {
    kind: "grid",
    field: "results",
    failedTag: "failed_cells",
    total: results.length,
    runName: (i) => runNames[i]!,
    childTags: (i) => ({ "flox.cell_index": i }),
    data: (i) => {
      const cell = results[i]!;
      // A cell is FLOX's output: only its backtest fields are logged (its index names the child).
      return {
        equityCurve: cell.equityCurve,
        trades: cell.trades,
        htmlReport: cell.htmlReport,
        symbolNames: cell.symbolNames,
        params: named[i]!,
        stats: statsObject(cell.stats),
        chart: cell.chart ?? options.chart ?? false,
        equityMetric: cell.equityMetric ?? options.equityMetric,
        statsNaming: naming,
        onWarning: options.onWarning,
      };
    },
    summarize(runIdOf, timestamp) {
      const batch: LogBatchRequest = { metrics: [], params: [...staticParams], tags: [] };
      let bestIndex = -1;
      if (metricValues) {
        for (let i = 0; i < results.length; i++) {
          const value = metricValues[i]!;
          if (runIdOf(i) === undefined || Number.isNaN(value)) continue;
          const current = metricValues[bestIndex] ?? NaN;
          if (bestIndex < 0 || (direction === "max" ? value > current : value < current)) bestIndex = i;
        }
      }
      if (bestIndex < 0) return batch;
      const runId = runIdOf(bestIndex)!;
      best = {
        index: bestIndex,
        runId,
        runName: runNames[bestIndex]!,
        params: named[bestIndex]!,
        metric: metric!,
        value: metricValues![bestIndex]!,
      };
      for (const { key, value } of toKeyValues(best.params)) batch.params.push({ key: `best.${key}`, value });
      const stats = statsObject(results[bestIndex]!.stats);
      if (stats) {
        const entries = statsToEntries(stats, { timestamp, prefix: "best.", ...(naming ? { naming } : {}) });
        batch.metrics.push(...entries.metrics);
        batch.tags.push(...entries.tags);
      }
      batch.tags.push({ key: "best_run_id", value: runId });
      return batch;
    },
  };
  const outcome = await runSweep(options, plan, concurrency);
  return { ...outcome, best };
}

/**
 * Logs walk-forward folds as a parent run with one child run per fold.
 *
 * Each child is named `fold-<index>` (zero-padded so folds sort in order)
 * and carries the train and test stats as `train.<stat>` and `test.<stat>`
 * metrics (tags when not finite), the fold index and bar bounds as params
 * (`fold_index`, `train_start_bar`, …), the time bounds as tags with the
 * exact nanoseconds (`train_start_ns`, …) and an ISO-8601 twin
 * (`train_start_iso`, …), the fold's own `params`, and any equity curve,
 * trades or report of the fold. Bound keys are camelCase (`trainStartBar`,
 * `trainStartNs`, `trainStartIso`) when the folds are (FLOX Node) or when
 * `statsNaming` is `"camelCase"`, snake_case otherwise.
 *
 * The parent gets the tag `flox.sweep` = `walk_forward`, the sweep's
 * `params`, the param `sweep.folds`, the metrics `train.mean.<stat>` and
 * `test.mean.<stat>` (the mean of each finite stat over the logged folds)
 * and, when folds failed, the tag `failed_folds` with their positions.
 * Failures, `failFast`, `signal` and `concurrency` work as in {@link logGrid}.
 *
 * @param options Where to log, the parent run, the folds and how to log them.
 * @returns The parent and child run ids, the means and the failed folds.
 * @throws {MlflowValidationError} Before any request, on bad options or a bad fold's params, stats or bounds (the field names the fold, e.g. `folds[2].trainStartNs`).
 * @throws {MlflowError} When the parent cannot be created or summarised; with `failFast`, the first failed fold's error; code `ABORTED` when `signal` aborts.
 * @example Log FLOX WalkForwardRunner output
 * ```ts
 * import { logWalkForward } from "./sweep.ts";
 * const stats = (sharpeRatio: number) => ({ sharpeRatio, netPnl: 100 * sharpeRatio });
 * const folds = [0, 1].map((foldIndex) => ({
 *   foldIndex, trainStartBar: 0, trainEndBar: 1000 + 500 * foldIndex,
 *   testStartBar: 1000 + 500 * foldIndex, testEndBar: 1500 + 500 * foldIndex,
 *   trainStartNs: 1704067200000000000n, trainEndNs: 1704127200000000000n,
 *   testStartNs: 1704127200000000000n, testEndNs: 1704157200000000000n,
 *   trainStats: stats(1.5), testStats: stats(0.5 + foldIndex),
 * }));
 * const wf = await logWalkForward({ trackingUri: await Deno.makeTempDir(), env: {}, runName: "wf", folds });
 * if (wf.means["test.mean.sharpeRatio"] !== 1) throw new Error();
 * ```
 */
export async function logWalkForward(options: LogWalkForwardOptions): Promise<LogWalkForwardResult> {
  const concurrency = checkSweepOptions(options, WALK_FORWARD_KEYS);
  const folds = options.folds;
  if (!Array.isArray(folds) || folds.length === 0) {
    throw new MlflowValidationError("folds", "must be a non-empty array of folds (FLOX WalkForwardRunner.runCsv output)");
  }
  const naming = options.statsNaming;
  const width = String(folds.length - 1).length;
  const planned: { runName: string; params: Record<string, unknown>; tags: Record<string, string>; stats: object }[] =
    new Array(folds.length);
  for (let i = 0; i < folds.length; i++) {
    inCell("folds", i, () => {
      const fold = folds[i];
      if (typeof fold !== "object" || fold === null) {
        throw new MlflowValidationError("", "must be an object with train and test stats and bounds");
      }
      planned[i] = planFold(fold as unknown as Record<string, unknown>, i, width, naming);
      checkParams(toKeyValues(planned[i]!.params, "params"), "params");
      checkedStats(planned[i]!.stats, naming);
    });
  }
  const staticParams = sweepParams(options.params, [["sweep.folds", folds.length]]);
  const means: Record<string, number> = {};
  const plan: SweepPlan = {
    kind: "walk_forward",
    field: "folds",
    failedTag: "failed_folds",
    total: folds.length,
    runName: (i) => planned[i]!.runName,
    childTags: (i) => planned[i]!.tags,
    data: (i) => {
      const fold = folds[i]!;
      return {
        equityCurve: fold.equityCurve,
        trades: fold.trades,
        htmlReport: fold.htmlReport,
        symbolNames: fold.symbolNames,
        params: planned[i]!.params,
        stats: planned[i]!.stats as Record<string, unknown>,
        chart: fold.chart ?? options.chart ?? false,
        equityMetric: fold.equityMetric ?? options.equityMetric,
        statsNaming: naming,
        onWarning: options.onWarning,
      };
    },
    summarize(runIdOf, timestamp) {
      const sums = new Map<string, { sum: number; count: number }>();
      for (let i = 0; i < folds.length; i++) {
        if (runIdOf(i) === undefined) continue;
        const { metrics } = statsToEntries(planned[i]!.stats as Record<string, unknown>, { timestamp, ...(naming ? { naming } : {}) });
        for (const { key, value } of metrics) {
          const meanKey = key.replace(/^(train|test)\./, "$1.mean.");
          const acc = sums.get(meanKey) ?? { sum: 0, count: 0 };
          acc.sum += value;
          acc.count++;
          sums.set(meanKey, acc);
        }
      }
      const metrics: Metric[] = [];
      for (const [key, { sum, count }] of sums) {
        means[key] = sum / count;
        metrics.push({ key, value: sum / count, timestamp, step: 0 });
      }
      return { metrics, params: [...staticParams], tags: [] };
    },
  };
  const outcome = await runSweep(options, plan, concurrency);
  return { ...outcome, means };
}

// FLOX Node spells fold fields in camelCase, FLOX Python in snake_case: [camel, snake].
const FOLD_BARS = [
  ["trainStartBar", "train_start_bar"],
  ["trainEndBar", "train_end_bar"],
  ["testStartBar", "test_start_bar"],
  ["testEndBar", "test_end_bar"],
] as const;
const FOLD_TIMES = [
  ["trainStartNs", "train_start_ns"],
  ["trainEndNs", "train_end_ns"],
  ["testStartNs", "test_start_ns"],
  ["testEndNs", "test_end_ns"],
] as const;

function planFold(
  fold: Record<string, unknown>,
  position: number,
  width: number,
  naming: StatsNaming | undefined,
): { runName: string; params: Record<string, unknown>; tags: Record<string, string>; stats: object } {
  const camelInput = ["foldIndex", "trainStats", "testStats", "trainStartBar", "trainStartNs"].some((k) => k in fold);
  const camel = naming === "camelCase" || (naming !== "snake_case" && camelInput);
  const read = (names: readonly [string, string]): unknown => fold[names[0]] ?? fold[names[1]];
  const key = (names: readonly [string, string]): string => names[camel ? 0 : 1];

  const indexValue = read(["foldIndex", "fold_index"]);
  if (indexValue !== undefined && (typeof indexValue !== "number" || !Number.isInteger(indexValue) || indexValue < 0)) {
    throw new MlflowValidationError(camelInput ? "foldIndex" : "fold_index", "must be a whole number of 0 or more");
  }
  const foldIndex = (indexValue as number | undefined) ?? position;
  const own = fold.params;
  const params: Record<string, unknown> = Object.fromEntries(
    own === undefined ? [] : recordEntries(own, "params", "param names to values"),
  );
  const bounds: Record<string, unknown> = { [key(["foldIndex", "fold_index"])]: foldIndex };
  for (const names of FOLD_BARS) {
    const value = read(names);
    if (value !== undefined) bounds[key(names)] = value;
  }
  for (const boundKey of Object.keys(bounds)) {
    if (boundKey in params) {
      throw new MlflowValidationError(`params[${JSON.stringify(boundKey)}]`, "is also a fold bound logged as a param; rename it");
    }
  }
  Object.assign(params, bounds);

  const tags: Record<string, string> = {};
  for (const names of FOLD_TIMES) {
    const value = read(names);
    if (value === undefined) continue;
    const field = names[0] in fold ? names[0] : names[1];
    const ns = toNanoseconds(value, field, "ns");
    tags[key(names)] = ns.toString();
    tags[key(names).replace(/Ns$/, "Iso").replace(/_ns$/, "_iso")] = nanosToIso(ns);
  }
  const stats: Record<string, unknown> = {};
  const train = read(["trainStats", "train_stats"]);
  const test = read(["testStats", "test_stats"]);
  if (train !== undefined) stats.train = train;
  if (test !== undefined) stats.test = test;
  return { runName: `fold-${String(foldIndex).padStart(width, "0")}`, params, tags, stats };
}

const SWEEP_KEYS = [
  ...RUN_KEYS.filter((key) => key !== "nested"),
  "params",
  "concurrency",
  "statsNaming",
  "chart",
  "equityMetric",
  "failFast",
  "onProgress",
  "onWarning",
] as const;
const GRID_KEYS = [...SWEEP_KEYS, "results", "axes", "metric", "direction"] as const;
const WALK_FORWARD_KEYS = [...SWEEP_KEYS, "folds"] as const;
type _GridKeysMatch = Assert<ExactKeys<typeof GRID_KEYS, LogGridOptions>>;
type _WalkForwardKeysMatch = Assert<ExactKeys<typeof WALK_FORWARD_KEYS, LogWalkForwardOptions>>;

function checkSweepOptions(options: SweepOptions, known: readonly string[]): number {
  if (typeof options === "object" && options !== null && (options as RunOptions).nested !== undefined) {
    throw new MlflowValidationError("nested", "is not supported by sweeps; pass parentRunId to put the sweep under another run");
  }
  checkOptionKeys(options, known, "options");
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new MlflowValidationError("concurrency", `is ${describeValue(concurrency)}; pass a whole number of 1 or more`);
  }
  checkCallback(options.onProgress, "onProgress", "(done, total) => void");
  checkCallback(options.onWarning, "onWarning", "(message: string) => void");
  checkStatsNaming(options.statsNaming, "statsNaming");
  checkEquityMetric(options.equityMetric);
  if (options.chart !== undefined && typeof options.chart !== "boolean") checkChartOptions(options.chart, "chart.", "chart");
  checkBoolean(options.failFast, "failFast");
  checkSignal(options.signal, "signal");
  // The parent's tags are spread into an object: a string would become one tag per character.
  checkTags(toKeyValues(options.tags, "tags"), "tags");
  return concurrency;
}

function checkAxes(axes: readonly string[] | undefined): readonly string[] | undefined {
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

function namedParams(params: unknown, axes: readonly string[] | undefined): Record<string, unknown> {
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

function cellRunName(params: Record<string, unknown>, position: number): string {
  const name = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${stringifyValue(v)}`)
    .join(",");
  if (name === "") return `cell-${position}`;
  return codePointLength(name) <= LIMITS.runNameLength ? name : `${clipText(name, LIMITS.runNameLength - 1)}…`;
}

function statsObject(stats: unknown): Record<string, unknown> | undefined {
  if (stats === undefined || stats === null) return undefined;
  if (typeof stats !== "object" || Array.isArray(stats)) {
    throw new MlflowValidationError("stats", "must be an object of stat names to values");
  }
  return stats as Record<string, unknown>;
}

// Checked as the child's log-batch will be, so a bad stat stops the sweep before its first request.
function checkedStats(stats: object, naming: StatsNaming | undefined): ReturnType<typeof statsToEntries> {
  const entries = statsToEntries(stats as Record<string, unknown>, { timestamp: 0, ...(naming ? { naming } : {}) });
  checkMetrics(entries.metrics, "stats");
  checkTags(entries.tags, "stats");
  return entries;
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

function sweepParams(user: Record<string, unknown> | undefined, own: [string, unknown][]): KeyValue[] {
  const params = [...toKeyValues(user), ...own.map(([key, value]) => ({ key, value: stringifyValue(value) }))];
  checkParams(params, "params");
  return params;
}

// A field like `params` alone would not say which of hundreds of cells is wrong.
function inCell(field: string, position: number, check: () => void): void {
  try {
    check();
  } catch (err) {
    throw cellError(err, `${field}[${position}]`);
  }
}

function cellError(err: unknown, cell: string): Error {
  if (err instanceof MlflowValidationError) {
    const problem = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    const field = err.field === "" ? cell : err.field.startsWith("[") ? `${cell}${err.field}` : `${cell}.${err.field}`;
    return new MlflowValidationError(field, problem);
  }
  return err instanceof Error ? err : new MlflowError(String(err), { cause: err });
}

function connectionOf(options: ConnectionOptions): ConnectionOptions {
  const connection: Record<string, unknown> = {};
  for (const key of CONNECTION_KEYS) if (options[key] !== undefined) connection[key] = options[key];
  return connection as ConnectionOptions;
}

// A tag holds at most 8000 characters; a sweep where thousands of cells failed says how many it left out.
function positionList(failed: readonly SweepFailure[]): string {
  const full = failed.map((f) => f.index).join(",");
  if (full.length <= LIMITS.tagValueLength) return full;
  const cut = full.lastIndexOf(",", LIMITS.tagValueLength - 24);
  const shown = full.slice(0, cut);
  const rest = failed.length - shown.split(",").length;
  return `${shown},…(+${rest} more)`;
}

async function endQuietly(run: MlflowRun, status: "FAILED" | "KILLED", warn: (message: string) => void): Promise<void> {
  try {
    await run.end(status);
  } catch (err) {
    warn(`flox-mlflow: sweep parent ${run.runId} could not be marked ${status}: ${(err as Error).message}`);
  }
}

async function runSweep(options: SweepOptions, plan: SweepPlan, concurrency: number): Promise<SweepOutcome> {
  const warn = options.onWarning ?? console.warn;
  const signal = options.signal;
  const connection = connectionOf(options);
  // MlflowRun sends params, metrics and tags in separate requests; the summary sends them in one, to the same store.
  const { store } = connect(connection);
  const parent = await startRun({
    ...connection,
    ...(options.runName !== undefined ? { runName: options.runName } : {}),
    ...(options.experiment !== undefined ? { experiment: options.experiment } : {}),
    ...(options.experimentId !== undefined ? { experimentId: options.experimentId } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.parentRunId !== undefined ? { parentRunId: options.parentRunId } : {}),
    ...(signal !== undefined ? { signal } : {}),
    tags: { "flox.sweep": plan.kind, ...options.tags },
  });
  const childRunIds: Array<string | undefined> = new Array(plan.total).fill(undefined);
  const logged = new Uint8Array(plan.total);
  const failed: SweepFailure[] = [];
  let firstFailure: SweepFailure | undefined;
  let done = 0;
  let next = 0;
  let stop = false;
  const childBase: RunOptions = {
    ...connection,
    experimentId: parent.experimentId,
    parentRunId: parent.runId,
    ...(signal !== undefined ? { signal } : {}),
  };

  const logCell = async (i: number): Promise<void> => {
    const runName = plan.runName(i);
    try {
      await logToMlflow({ ...childBase, runName, tags: plan.childTags(i) }, async (run) => {
        childRunIds[i] = run.runId;
        // The signal may have fired while the run was being created, before logToMlflow listened for it.
        if (signal?.aborted) throw abortedError(signal, (reason) => `child run ${run.runId} was aborted (${reason})`);
        await run.logBacktest(plan.data(i));
      });
      logged[i] = 1;
    } catch (err) {
      const failure: SweepFailure = { index: i, runName, runId: childRunIds[i], error: cellError(err, `${plan.field}[${i}]`) };
      failed.push(failure);
      firstFailure ??= failure;
      if (options.failFast) stop = true;
    }
    done++;
    if (options.onProgress) {
      try {
        options.onProgress(done, plan.total);
      } catch (err) {
        warn(`flox-mlflow: onProgress threw and was ignored: ${(err as Error).message}`);
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (!stop && next < plan.total && !signal?.aborted) await logCell(next++);
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, plan.total) }, worker));
    if (signal?.aborted) {
      await endQuietly(parent, "KILLED", warn);
      throw abortedError(
        signal,
        (reason) => `sweep ${parent.runId} was aborted (${reason}); the parent and its open children were ended as KILLED`,
      );
    }
    failed.sort((a, b) => a.index - b.index);
    const batch = plan.summarize((i) => (logged[i] ? childRunIds[i] : undefined), Date.now());
    if (failed.length > 0) batch.tags.push({ key: plan.failedTag, value: positionList(failed) });
    checkParams(batch.params, "params");
    checkTags(batch.tags, "summary");
    checkMetrics(batch.metrics, "summary");
    await store.logBatch(parent.runId, batch);
    if (options.failFast && firstFailure) {
      await parent.end("FAILED");
      throw firstFailure.error;
    }
    await parent.end("FINISHED");
  } catch (err) {
    await endQuietly(parent, signal?.aborted ? "KILLED" : "FAILED", warn);
    throw err;
  }
  return { parentRunId: parent.runId, childRunIds, failed };
}
