/**
 * Walk-forward folds: FLOX `WalkForwardRunner` output logged as a parent run
 * with one child per fold and the folds' means on the parent.
 *
 * @module
 */
import type { BacktestData } from "./backtest.ts";
import { MlflowValidationError } from "./errors.ts";
import { type Assert, type ExactKeys } from "./option_keys.ts";
import { type StatsNaming, statsToEntries, toKeyValues } from "./stats.ts";
import type { Metric } from "./store.ts";
import {
  checkedStats,
  checkSweepOptions,
  inCell,
  runSweep,
  SWEEP_KEYS,
  type SweepFailure,
  type SweepOptions,
  type SweepPlan,
  sweepParams,
} from "./sweep_run.ts";
import { type PictureCell, walkForwardPictures } from "./sweep_pictures.ts";
import { checkSweepPictures } from "./sweep_pictures_options.ts";
import { nanosToIso, type TimeInput, toNanoseconds } from "./time.ts";
import { checkParams, recordEntries } from "./validation.ts";

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
        artifacts: fold.artifacts,
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
  const setting = checkSweepPictures(options.pictures);
  if (setting) {
    plan.pictures = {
      setting,
      make: (childRunId, logged, title, chosen) => {
        const cells: PictureCell[] = planned.map((fold, i) => {
          const { metrics, tags } = statsToEntries(fold.stats as Record<string, unknown>, { timestamp: 0, ...(naming ? { naming } : {}) });
          const foldIndex = fold.params.foldIndex ?? fold.params.fold_index ?? i;
          return {
            index: typeof foldIndex === "number" ? foldIndex : i,
            runId: childRunId(i),
            runName: fold.runName,
            status: logged(i) ? "FINISHED" : "FAILED",
            params: fold.params,
            stats: [...metrics.map(({ key, value }) => ({ key, value })), ...tags],
          };
        });
        return walkForwardPictures({ folds: cells, title }, chosen);
      },
    };
  }
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

const WALK_FORWARD_KEYS = [...SWEEP_KEYS, "folds"] as const;
type _WalkForwardKeysMatch = Assert<ExactKeys<typeof WALK_FORWARD_KEYS, LogWalkForwardOptions>>;
