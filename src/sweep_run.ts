/**
 * What every sweep shares: its options, how children are logged a few at a
 * time under a parent (each one create, one `log-batch`, one finish, plus its
 * artifacts), how a failed child is reported, and the parent's life around
 * them (created, summarised, ended).
 *
 * @module
 */
import { type BacktestData, checkEquityMetric } from "./backtest.ts";
import { checkChartOptions } from "./chart.ts";
import { type ConnectionOptions, connect } from "./config.ts";
import { abortedError, MlflowError, MlflowValidationError } from "./errors.ts";
import { checkOptionKeys, CONNECTION_KEYS, RUN_KEYS } from "./option_keys.ts";
import { logToMlflow, type MlflowRun, type RunOptions, startRun } from "./run.ts";
import { checkStatsNaming, type StatsEntries, type StatsNaming, statsToEntries, stringifyValue, toKeyValues } from "./stats.ts";
import { deliverArtifacts } from "./artifact_delivery.ts";
import type { KeyValue, LogBatchRequest, RunInfo } from "./store.ts";
import { parentPictures, type PictureOutcome, picturesFor, PICTURES_SKIPPED_TAG, preparePictures } from "./sweep_pictures.ts";
import { checkSweepPictures, type PictureSetting, type SweepPictures, type SweepPicturesOptions } from "./sweep_pictures_options.ts";
import { checkSummary, positionList } from "./sweep_summary.ts";
import { checkBoolean, checkCallback, checkMetrics, checkParams, checkSignal, checkTags, describeValue } from "./validation.ts";

/** What `logGrid` and `logWalkForward` share: where to log, the parent run, and how to log the children. */
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
  /**
   * Pictures and a results CSV on the parent (`sweep_heatmap.png`,
   * `best_cells_equity.png`, `grid_results.csv`; `walk_forward.png`,
   * `walk_forward_results.csv`): `false` for none, `true` or an object of
   * styles for all; default: all of them when they cost at most 10% of the
   * sweep's time, else none (the parent's tag `flox.pictures_skipped` says
   * why). A chart that fails is tagged `flox.chart_error` and never fails
   * the sweep.
   */
  pictures?: SweepPictures;
}

/** A cell or fold that could not be logged. */
export interface SweepFailure {
  /** Position in `results`, `folds` or `cells`. */
  index: number;
  /** The cell's global index (`flox.cell_index`), for cells logged with `logCells`. */
  cellIndex?: number;
  /** The child run's name. */
  runName: string;
  /** The child run, when it was created (it then ended FAILED or KILLED). */
  runId: string | undefined;
  /** Why. Validation errors name the cell, e.g. `results[3].equityCurve.timestampNs`. */
  error: Error;
}

/** Children logged at once unless `concurrency` says otherwise. */
export const DEFAULT_CONCURRENCY = 8;

/** How a sweep's children are logged; built and checked before any request. */
export interface ChildPlan {
  /** `results`, `folds` or `cells`, for error fields. */
  field: string;
  /** How many children. */
  total: number;
  /** Child `i`'s run name. */
  runName(i: number): string;
  /** Child `i`'s own tags (its cell index). */
  childTags(i: number): Record<string, unknown>;
  /** What child `i` logs; called when it is logged, so its curves are read then. */
  data(i: number): BacktestData;
}

/** How one sweep is turned into a parent and its children; built and checked before any request. */
export interface SweepPlan extends ChildPlan {
  /** The parent's `flox.sweep` tag. */
  kind: "grid" | "walk_forward";
  /** Tag on the parent listing failed positions. */
  failedTag: string;
  /** The parent's one `log-batch`, from the cells that were logged (`runIdOf` is `undefined` for the others). */
  summarize(runIdOf: (i: number) => string | undefined, timestamp: number): LogBatchRequest;
  /** The parent's pictures, when on: made after the summary from every child (`childRunIds`) and which were logged whole. */
  pictures?: {
    setting: PictureSetting;
    make(childRunId: (i: number) => string | undefined, logged: (i: number) => boolean, title: string, options: SweepPicturesOptions): Promise<PictureOutcome>;
  };
}

/** What a sweep returns whatever its kind. */
export interface SweepOutcome {
  /** The parent. */
  parentRunId: string;
  /** One per child, in plan order; `undefined` where the run could not be created. */
  childRunIds: Array<string | undefined>;
  /** Failed children, by position. */
  failed: SweepFailure[];
}

/** Option keys every sweep takes. */
export const SWEEP_KEYS = [
  ...RUN_KEYS.filter((key) => key !== "nested"),
  "params",
  "concurrency",
  "statsNaming",
  "chart",
  "equityMetric",
  "failFast",
  "onProgress",
  "onWarning",
  "pictures",
] as const;

/**
 * Checks a sweep's options (and unknown keys) before any request.
 *
 * @param options The call's options.
 * @param known The call's option keys.
 * @returns The concurrency.
 */
export function checkSweepOptions(options: SweepOptions, known: readonly string[]): number {
  if (typeof options === "object" && options !== null && (options as RunOptions).nested !== undefined) {
    throw new MlflowValidationError("nested", "is not supported by sweeps; pass parentRunId to put the sweep under another run");
  }
  const concurrency = checkChildOptions(options, known);
  // The parent's tags are spread into an object: a string would become one tag per character.
  checkTags(toKeyValues(options.tags, "tags"), "tags");
  checkSweepPictures(options.pictures);
  return concurrency;
}

/** The options a sweep's children are logged with, as {@link checkSweepOptions} and `logCells` check them. */
export type ChildOptions = Pick<
  SweepOptions,
  "concurrency" | "onProgress" | "onWarning" | "statsNaming" | "equityMetric" | "chart" | "failFast" | "signal"
>;

/**
 * Checks the options of how children are logged (and unknown keys).
 *
 * @param options The call's options.
 * @param known The call's option keys.
 * @returns The concurrency.
 */
export function checkChildOptions(options: ChildOptions, known: readonly string[]): number {
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
  return concurrency;
}

/**
 * A cell's stats as an object, or `undefined` when absent or null.
 *
 * @param stats The cell's `stats`.
 * @returns The stats.
 */
export function statsObject(stats: unknown): Record<string, unknown> | undefined {
  if (stats === undefined || stats === null) return undefined;
  if (typeof stats !== "object" || Array.isArray(stats)) {
    throw new MlflowValidationError("stats", "must be an object of stat names to values");
  }
  return stats as Record<string, unknown>;
}

/**
 * A cell's stats as the child's `log-batch` will hold them, checked as it will be,
 * so a bad stat stops the sweep before its first request.
 *
 * @param stats The cell's stats.
 * @param naming How stat keys are named.
 * @returns The metrics and tags.
 */
export function checkedStats(stats: object, naming: StatsNaming | undefined): StatsEntries {
  const entries = statsToEntries(stats as Record<string, unknown>, { timestamp: 0, ...(naming ? { naming } : {}) });
  checkMetrics(entries.metrics, "stats");
  checkTags(entries.tags, "stats");
  return entries;
}

/**
 * The parent's params: the user's and the sweep's own, checked.
 *
 * @param user The sweep's `params`.
 * @param own The sweep's own params (`sweep.cells`, …).
 * @returns The params.
 */
export function sweepParams(user: Record<string, unknown> | undefined, own: [string, unknown][]): KeyValue[] {
  const params = [...toKeyValues(user), ...own.map(([key, value]) => ({ key, value: stringifyValue(value) }))];
  checkParams(params, "params");
  return params;
}

/**
 * Runs a check of one cell, naming the cell in its error: a field like `params`
 * alone would not say which of hundreds of cells is wrong.
 *
 * @param field `results`, `folds` or `cells`.
 * @param position The cell's position.
 * @param check The check.
 */
export function inCell(field: string, position: number, check: () => void): void {
  try {
    check();
  } catch (err) {
    throw cellError(err, `${field}[${position}]`);
  }
}

/**
 * A cell's error, its field prefixed with the cell (`results[3].params`).
 *
 * @param err What the cell threw.
 * @param cell The cell, e.g. `results[3]`.
 * @returns An error.
 */
export function cellError(err: unknown, cell: string): Error {
  if (err instanceof MlflowValidationError) {
    const problem = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    const field = err.field === "" ? cell : err.field.startsWith("[") ? `${cell}${err.field}` : `${cell}.${err.field}`;
    return new MlflowValidationError(field, problem);
  }
  return err instanceof Error ? err : new MlflowError(String(err), { cause: err });
}

/**
 * The connection part of a call's options.
 *
 * @param options The call's options.
 * @returns Only the connection keys.
 */
export function connectionOf(options: ConnectionOptions): ConnectionOptions {
  const connection: Record<string, unknown> = {};
  for (const key of CONNECTION_KEYS) if (options[key] !== undefined) connection[key] = options[key];
  return connection as ConnectionOptions;
}

/**
 * Ends a parent, warning instead of throwing when the store refuses.
 *
 * @param run The parent.
 * @param status FAILED or KILLED.
 * @param warn Where the warning goes.
 */
export async function endQuietly(run: MlflowRun, status: "FAILED" | "KILLED", warn: (message: string) => void): Promise<void> {
  try {
    await run.end(status);
  } catch (err) {
    warn(`flox-mlflow: sweep parent ${run.runId} could not be marked ${status}: ${(err as Error).message}`);
  }
}

/** How logging the children went. */
export interface ChildrenOutcome {
  /** One per child, in plan order; `undefined` where the run could not be created. */
  childRunIds: Array<string | undefined>;
  /** 1 where the child was logged whole. */
  logged: Uint8Array;
  /** Failed children, by position. */
  failed: SweepFailure[];
  /** The first child that failed, in time. */
  firstFailure: SweepFailure | undefined;
}

/** Where and how the children are logged: the run options every child shares. */
export interface ChildContext {
  /** Options of every child: connection, experiment, parent, signal. */
  base: RunOptions;
  /** Children logged at once. */
  concurrency: number;
  /** Start no child after one failed. */
  failFast: boolean | undefined;
  /** Aborting stops starting children; open ones end KILLED. */
  signal: AbortSignal | undefined;
  /** Called after each child settles. */
  onProgress: ((done: number, total: number) => void) | undefined;
  /** Where warnings go. */
  warn: (message: string) => void;
  /** A failure's extra fields (the cell's global index). */
  describe?: (i: number) => Partial<SweepFailure>;
}

/**
 * Logs the plan's children, `concurrency` at a time: each one run created,
 * logged and ended (FAILED when its logging failed, KILLED on abort). A child
 * that fails is reported, not thrown; with `failFast` no further child starts.
 *
 * @param plan The children.
 * @param context Where and how.
 * @returns The child run ids and the failures.
 */
export async function logChildren(plan: ChildPlan, context: ChildContext): Promise<ChildrenOutcome> {
  const { signal } = context;
  const childRunIds: Array<string | undefined> = new Array(plan.total).fill(undefined);
  const logged = new Uint8Array(plan.total);
  const failed: SweepFailure[] = [];
  let firstFailure: SweepFailure | undefined;
  let done = 0;
  let next = 0;
  let stop = false;

  const logCell = async (i: number): Promise<void> => {
    const runName = plan.runName(i);
    try {
      await logToMlflow({ ...context.base, runName, tags: plan.childTags(i) }, async (run) => {
        childRunIds[i] = run.runId;
        // The signal may have fired while the run was being created, before logToMlflow listened for it.
        if (signal?.aborted) throw abortedError(signal, (reason) => `child run ${run.runId} was aborted (${reason})`);
        await run.logBacktest(plan.data(i));
      });
      logged[i] = 1;
    } catch (err) {
      const failure: SweepFailure = {
        index: i,
        ...context.describe?.(i),
        runName,
        runId: childRunIds[i],
        error: cellError(err, `${plan.field}[${i}]`),
      };
      failed.push(failure);
      firstFailure ??= failure;
      if (context.failFast) stop = true;
    }
    done++;
    if (context.onProgress) {
      try {
        context.onProgress(done, plan.total);
      } catch (err) {
        context.warn(`flox-mlflow: onProgress threw and was ignored: ${(err as Error).message}`);
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (!stop && next < plan.total && !signal?.aborted) await logCell(next++);
  };
  await Promise.all(Array.from({ length: Math.min(context.concurrency, plan.total) }, worker));
  failed.sort((a, b) => a.index - b.index);
  return { childRunIds, logged, failed, firstFailure };
}

/**
 * Logs a whole sweep: the parent, its children, the parent's summary, the
 * parent's end (FINISHED; FAILED with `failFast` after a failure or when the
 * summary fails; KILLED on abort).
 *
 * @param options The sweep's options.
 * @param plan The parent's summary and the children.
 * @param concurrency Children at once.
 * @returns The parent, the children and the failures.
 */
export async function runSweep(options: SweepOptions, plan: SweepPlan, concurrency: number): Promise<SweepOutcome> {
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
    ...(options.dataset !== undefined ? { dataset: options.dataset } : {}),
    ...(signal !== undefined ? { signal } : {}),
    tags: { "flox.sweep": plan.kind, ...options.tags },
  });
  const pictures = plan.pictures;
  preparePictures(pictures?.setting);
  const started = performance.now();
  try {
    const { childRunIds, logged, failed, firstFailure } = await logChildren(plan, {
      base: { ...connection, experimentId: parent.experimentId, parentRunId: parent.runId, ...(signal !== undefined ? { signal } : {}) },
      concurrency,
      failFast: options.failFast,
      signal,
      onProgress: options.onProgress,
      warn,
    });
    if (signal?.aborted) {
      await endQuietly(parent, "KILLED", warn);
      throw abortedError(
        signal,
        (reason) => `sweep ${parent.runId} was aborted (${reason}); the parent and its open children were ended as KILLED`,
      );
    }
    const batch = plan.summarize((i) => (logged[i] ? childRunIds[i] : undefined), Date.now());
    if (failed.length > 0) batch.tags.push({ key: plan.failedTag, value: positionList(failed.map((f) => f.index)) });
    // Decided now, so pictures left out by the default cost no request: the reason rides with the summary.
    const decision = pictures ? picturesFor(pictures.setting, performance.now() - started) : undefined;
    if (decision && "skipped" in decision) batch.tags.push({ key: PICTURES_SKIPPED_TAG, value: decision.skipped });
    checkSummary(batch);
    await store.logBatch(parent.runId, batch);
    if (pictures && decision && "options" in decision) {
      const info: RunInfo = { runId: parent.runId, experimentId: parent.experimentId, runName: parent.runName, artifactUri: parent.artifactUri, startTime: 0 };
      const call = signal !== undefined ? { signal } : {};
      await parentPictures(
        decision.options,
        (chosen) => pictures.make((i) => childRunIds[i], (i) => logged[i] === 1, parent.runName, chosen),
        (artifacts) => deliverArtifacts(store, info, artifacts, call),
        (key, value) => store.logBatch(parent.runId, { metrics: [], params: [], tags: [{ key, value }] }, call),
        warn,
        parent.runId,
      );
    }
    if (options.failFast && firstFailure) {
      await parent.end("FAILED");
      throw firstFailure.error;
    }
    await parent.end("FINISHED");
    return { parentRunId: parent.runId, childRunIds, failed };
  } catch (err) {
    await endQuietly(parent, signal?.aborted ? "KILLED" : "FAILED", warn);
    throw err;
  }
}
