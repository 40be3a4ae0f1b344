/**
 * Reading runs back, on both stores, for what comes after a sweep:
 * {@link getRun}, {@link searchRuns} (MLflow filter strings, ordering,
 * paging), {@link getMetricHistory}, {@link listArtifacts},
 * {@link downloadArtifact}, and {@link bestChild}, the params of a grid's
 * best cell in one call. Filters and order clauses are checked here, before
 * any request, with the rules of MLflow's `SearchUtils`.
 *
 * @module
 */
import { connect, type ConnectionOptions, experimentRef } from "./config.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { defaultExperiment } from "./fluent_state.ts";
import { parseFilter, parseOrderBy } from "./file_store_filter.ts";
import { checkOptionKeys, CONNECTION_KEYS } from "./option_keys.ts";
import type { ArtifactEntry, CallOptions, Metric, RunInfo, RunPage, StoredRun, TrackingStore } from "./store.ts";
import { checkRunId, checkSignal, checkString, describeValue } from "./validation.ts";

/** Where to read from, and a signal. */
export interface ReadOptions extends ConnectionOptions {
  /** Stops the reads, including a request in flight. */
  signal?: AbortSignal;
}

/** What {@link searchRuns} looks for. */
export interface SearchRunsOptions extends ReadOptions {
  /** Experiment name(s) to search; with `experimentIds`, both are searched. Default: the {@link setExperiment} one, the environment's, else Default. */
  experiment?: string | readonly string[];
  /** Experiment id(s) to search. */
  experimentIds?: readonly string[];
  /** An MLflow filter, e.g. `metrics.sharpe > 1 and params.fast = '10'` (clauses joined by AND). */
  filter?: string;
  /** MLflow order clauses, e.g. `["metrics.sharpe DESC"]`; default newest first. */
  orderBy?: readonly string[];
  /** Runs per page, 1 to 50,000; default 1,000 (MLflow's default). */
  maxResults?: number;
  /** The `nextPageToken` of the previous page. */
  pageToken?: string;
}

/** What {@link bestChild} picks from. */
export interface BestChildOptions extends ReadOptions {
  /** The grid's parent run. */
  parentRunId: string;
  /** The metric to rank children by. */
  metric: string;
  /** `max` (default) or `min`. */
  direction?: "max" | "min";
}

/** The best child of a grid. */
export interface BestChild {
  /** The child run, read back whole. */
  run: StoredRun;
  /** Its params: the cell. */
  params: Record<string, string>;
  /** Its value of the metric. */
  value: number;
}

const READ_KEYS = [...CONNECTION_KEYS, "signal"] as const;
const SEARCH_KEYS = [...READ_KEYS, "experiment", "experimentIds", "filter", "orderBy", "maxResults", "pageToken"] as const;
const BEST_KEYS = [...READ_KEYS, "parentRunId", "metric", "direction"] as const;
/** MLflow's `SEARCH_MAX_RESULTS_THRESHOLD`. */
const MAX_RESULTS = 50_000;

function open(options: ReadOptions, known: readonly string[]): { store: TrackingStore; env: Record<string, string | undefined>; call: CallOptions } {
  checkOptionKeys(options, known, "options");
  checkSignal(options.signal, "signal");
  const { store, env } = connect(options);
  return { store, env, call: options.signal === undefined ? {} : { signal: options.signal } };
}

async function mustGetRun(store: TrackingStore, runId: string, field: string, call: CallOptions): Promise<StoredRun> {
  const run = await store.getRun(runId, call);
  if (run === undefined) {
    throw new MlflowError(`run '${runId}' does not exist (or is deleted) in ${store.location}; check the ${field}`, {
      errorCode: "RESOURCE_DOES_NOT_EXIST",
    });
  }
  return run;
}

const infoOf = (run: StoredRun): RunInfo => ({
  runId: run.runId,
  experimentId: run.experimentId,
  runName: run.runName,
  artifactUri: run.artifactUri,
  startTime: run.startTime,
});

/**
 * Reads one run back: its info, the latest value of each metric, params and tags.
 *
 * @param runId The run id.
 * @param options Where to read from.
 * @returns The run.
 * @throws {MlflowValidationError} On a malformed id, before any request.
 * @throws {MlflowError} `RESOURCE_DOES_NOT_EXIST` when no active run has the id.
 * @example Read back what was logged
 * ```ts
 * import { getRun } from "./read_back.ts";
 * import { logBacktest } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const runId = await logBacktest({ trackingUri, env: {}, stats: { sharpe: 1.4 }, params: { fast: 10 } });
 * const run = await getRun(runId, { trackingUri, env: {} });
 * if (run.metrics.sharpe !== 1.4 || run.params.fast !== "10") throw new Error();
 * ```
 */
export async function getRun(runId: string, options: ReadOptions = {}): Promise<StoredRun> {
  checkRunId(runId, "runId");
  const { store, call } = open(options, READ_KEYS);
  return await mustGetRun(store, runId, "runId", call);
}

async function experimentIdsOf(store: TrackingStore, env: Record<string, string | undefined>, options: SearchRunsOptions, call: CallOptions): Promise<string[]> {
  const { experiment, experimentIds } = options;
  const names = experiment === undefined ? [] : typeof experiment === "string" ? [experiment] : experiment;
  if (!Array.isArray(names)) throw new MlflowValidationError("experiment", `must be a name or a list of names, got ${describeValue(experiment)}`);
  if (experimentIds !== undefined && !Array.isArray(experimentIds)) {
    throw new MlflowValidationError("experimentIds", `must be a list of ids such as ["0"], got ${describeValue(experimentIds)}`);
  }
  const refs = [
    ...names.map((name: unknown) => experimentRef({ experiment: name }, {})),
    ...(experimentIds ?? []).map((id: unknown) => experimentRef({ experimentId: id }, {})),
  ];
  if (refs.length === 0) refs.push(defaultExperiment() ?? experimentRef({}, env));
  const ids: string[] = [];
  for (const ref of refs) {
    if (ref.id !== undefined) ids.push(ref.id);
    else if (ref.name === undefined) ids.push("0");
    else {
      const found = await store.getExperiment(ref, call);
      // Searching never creates: an experiment that does not exist has no runs.
      if (found !== undefined) ids.push(found.experimentId);
    }
  }
  return [...new Set(ids)];
}

/**
 * One page of runs matching an MLflow filter, in the order asked, as
 * `MlflowClient.search_runs`: pass `nextPageToken` back for the next page.
 * On the file store the filter is evaluated here, with MLflow's rules for
 * `metrics.`, `params.`, `tags.` and attribute comparisons (`=`, `!=`, `<`,
 * `<=`, `>`, `>=`, `LIKE`, `ILIKE`, `IN`, `IS NULL`) joined by `AND`.
 *
 * @param options Experiments, filter, order, page size and token, and where to read from.
 * @returns The page and the token of the next one.
 * @throws {MlflowValidationError} On a filter or order clause MLflow would refuse, before any request.
 * @example The best runs first, two per page
 * ```ts
 * import { searchRuns } from "./read_back.ts";
 * import { logBacktest } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * for (const fast of [5, 10, 20]) {
 *   await logBacktest({ trackingUri, env: {}, experiment: "sma", params: { fast }, stats: { sharpe: fast / 10 } });
 * }
 * const first = await searchRuns({ trackingUri, env: {}, experiment: "sma", filter: "metrics.sharpe > 0.6", orderBy: ["metrics.sharpe DESC"], maxResults: 1 });
 * if (first.runs[0]!.params.fast !== "20" || first.nextPageToken === undefined) throw new Error();
 * const second = await searchRuns({ trackingUri, env: {}, experiment: "sma", filter: "metrics.sharpe > 0.6", orderBy: ["metrics.sharpe DESC"], maxResults: 1, pageToken: first.nextPageToken });
 * if (second.runs[0]!.params.fast !== "10" || second.nextPageToken !== undefined) throw new Error();
 * ```
 */
export async function searchRuns(options: SearchRunsOptions = {}): Promise<RunPage> {
  checkOptionKeys(options, SEARCH_KEYS, "options");
  const filter = options.filter ?? "";
  parseFilter(filter, "filter");
  const orderBy = options.orderBy ?? [];
  parseOrderBy(orderBy, "orderBy");
  const maxResults = options.maxResults ?? 1000;
  if (typeof maxResults !== "number" || !Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_RESULTS) {
    throw new MlflowValidationError("maxResults", `must be a whole number from 1 to ${MAX_RESULTS}, got ${describeValue(maxResults)}`);
  }
  if (options.pageToken !== undefined) checkString(options.pageToken, "pageToken", "the nextPageToken of the previous page");
  const { store, env, call } = open(options, SEARCH_KEYS);
  const experimentIds = await experimentIdsOf(store, env, options, call);
  if (experimentIds.length === 0) return { runs: [] };
  return await store.searchRunsPage({
    experimentIds,
    filter,
    orderBy: [...orderBy],
    maxResults,
    ...(options.pageToken !== undefined ? { pageToken: options.pageToken } : {}),
  }, call);
}

/**
 * Every logged point of one metric of a run, as `MlflowClient.get_metric_history`.
 *
 * @param runId The run id.
 * @param key The metric name.
 * @param options Where to read from.
 * @returns The points (value, step, timestamp); `[]` for a metric never logged.
 * @throws {MlflowValidationError} On a malformed id or key, before any request.
 * @throws {MlflowError} `RESOURCE_DOES_NOT_EXIST` when no run has the id.
 * @example An equity curve logged point by point
 * ```ts
 * import { getMetricHistory } from "./read_back.ts";
 * import { startRun } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const run = await startRun({ trackingUri, env: {} });
 * for (const [step, equity] of [10_000, 10_050, 9_990].entries()) await run.logMetric("equity", equity, { step });
 * await run.end();
 * const points = await getMetricHistory(run.runId, "equity", { trackingUri, env: {} });
 * if (points.map((p) => p.value).join() !== "10000,10050,9990") throw new Error();
 * ```
 */
export async function getMetricHistory(runId: string, key: string, options: ReadOptions = {}): Promise<Metric[]> {
  checkRunId(runId, "runId");
  checkString(key, "key", "a metric name");
  const { store, call } = open(options, READ_KEYS);
  const points = await store.metricHistory(runId, key, call);
  return points.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
}

function artifactDir(path: unknown, field: string): string {
  if (path === undefined) return "";
  checkString(path, field, "a path inside the run's artifacts");
  const clean = path.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  if (clean.startsWith("/") || clean.includes("\\") || clean.includes("\0") || (clean !== "" && clean.split("/").some((s) => s === "" || s === "." || s === ".."))) {
    throw new MlflowValidationError(field, `${JSON.stringify(path)} must be relative, with '/' separators and no '.' or '..' segments`);
  }
  return clean;
}

/**
 * The files and folders directly inside a folder of a run's artifacts, as
 * `MlflowClient.list_artifacts`.
 *
 * @param runId The run id.
 * @param path The folder inside the run's artifacts; default the root.
 * @param options Where to read from.
 * @returns The entries, sorted by path (paths from the artifact root).
 * @throws {MlflowValidationError} On a malformed id or an unsafe path, before any request.
 * @throws {MlflowError} `RESOURCE_DOES_NOT_EXIST` when no run has the id.
 * @example What a backtest wrote
 * ```ts
 * import { listArtifacts } from "./read_back.ts";
 * import { startRun } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const run = await startRun({ trackingUri, env: {} });
 * await run.logText("hello", "notes/a.txt");
 * await run.end();
 * const [notes] = await listArtifacts(run.runId, undefined, { trackingUri, env: {} });
 * if (notes!.path !== "notes" || !notes!.isDir) throw new Error();
 * ```
 */
export async function listArtifacts(runId: string, path?: string, options: ReadOptions = {}): Promise<ArtifactEntry[]> {
  checkRunId(runId, "runId");
  const dir = artifactDir(path, "path");
  const { store, call } = open(options, READ_KEYS);
  const run = await mustGetRun(store, runId, "runId", call);
  return await store.listArtifacts(infoOf(run), dir, call);
}

/**
 * The bytes of one artifact file of a run (held in memory).
 *
 * @param runId The run id.
 * @param path The file's path inside the run's artifacts.
 * @param options Where to read from.
 * @returns The bytes.
 * @throws {MlflowValidationError} On a malformed id or an unsafe path, before any request.
 * @throws {MlflowError} `RESOURCE_DOES_NOT_EXIST` when the run or the file does not exist.
 * @example Read a note back
 * ```ts
 * import { downloadArtifact } from "./read_back.ts";
 * import { startRun } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const run = await startRun({ trackingUri, env: {} });
 * await run.logText("hello", "notes/a.txt");
 * await run.end();
 * const bytes = await downloadArtifact(run.runId, "notes/a.txt", { trackingUri, env: {} });
 * if (new TextDecoder().decode(bytes) !== "hello") throw new Error();
 * ```
 */
export async function downloadArtifact(runId: string, path: string, options: ReadOptions = {}): Promise<Uint8Array> {
  checkRunId(runId, "runId");
  const file = artifactDir(path, "path");
  if (file === "") throw new MlflowValidationError("path", "names no file; pass the file's path inside the run's artifacts");
  const { store, call } = open(options, READ_KEYS);
  const run = await mustGetRun(store, runId, "runId", call);
  return await store.downloadArtifact(infoOf(run), file, call);
}

/**
 * The best FINISHED child of a grid's parent run by one metric, with its
 * params: "which cell won" in one call. Children whose metric is missing or
 * NaN are left out; ties go to the child that started first.
 *
 * @param options The parent, the metric, `max` or `min`, and where to read from.
 * @returns The best child, or `undefined` when no finished child has the metric.
 * @throws {MlflowValidationError} On bad options, before any request.
 * @throws {MlflowError} `RESOURCE_DOES_NOT_EXIST` when the parent does not exist.
 * @example The params of the best cell
 * ```ts
 * import { bestChild } from "./read_back.ts";
 * import { logGrid } from "./sweep.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const grid = await logGrid({ trackingUri, env: {}, runName: "grid", axes: ["fast"],
 *   results: [{ params: [5], stats: { sharpe: 0.4 } }, { params: [10], stats: { sharpe: 1.1 } }] });
 * const best = await bestChild({ trackingUri, env: {}, parentRunId: grid.parentRunId, metric: "sharpe" });
 * if (best?.params.fast !== "10" || best.value !== 1.1) throw new Error();
 * ```
 */
export async function bestChild(options: BestChildOptions): Promise<BestChild | undefined> {
  if (typeof options !== "object" || options === null) {
    throw new MlflowValidationError("options", "must be { parentRunId, metric, direction? } with where to read from");
  }
  checkOptionKeys(options, BEST_KEYS, "options");
  checkRunId(options.parentRunId, "parentRunId");
  checkString(options.metric, "metric", "a metric name");
  const direction = options.direction ?? "max";
  if (direction !== "max" && direction !== "min") {
    throw new MlflowValidationError("direction", `must be "max" or "min", got ${describeValue(direction)}`);
  }
  const { store, call } = open(options, BEST_KEYS);
  const parent = await mustGetRun(store, options.parentRunId, "parentRunId", call);
  const children = await store.searchRuns({ experimentIds: [parent.experimentId], parentRunId: parent.runId }, call);
  let best: StoredRun | undefined;
  for (const child of children) {
    const value = child.metrics[options.metric];
    if (child.status !== "FINISHED" || value === undefined || Number.isNaN(value)) continue;
    const current = best?.metrics[options.metric];
    const better = current === undefined || (direction === "max" ? value > current : value < current) ||
      (value === current && (child.startTime < best!.startTime || (child.startTime === best!.startTime && child.runId < best!.runId)));
    if (better) best = child;
  }
  return best === undefined ? undefined : { run: best, params: best.params, value: best.metrics[options.metric]! };
}
