/**
 * One backtest as MLflow entities: every input is read and checked here,
 * before any request, into metrics, params, tags and artifacts.
 *
 * @module
 */
import { type EquityCurveInput, type NormalizedEquity, normalizeEquity } from "./equity.ts";
import type { Dataset } from "./dataset_inputs.ts";
import { MlflowValidationError } from "./errors.ts";
import { openLocalFile } from "#fs";
import { BUFFER_LIMIT_BYTES } from "#spill";
import { planBatches, type BatchLimits } from "./batch.ts";
import { checkChartOptions, type EquityChartOptions, renderEquityChart } from "./chart.ts";
import { csvStream, equityTable, type Table } from "./csv.ts";
import { downsampleEquity, MIN_DOWNSAMPLE_POINTS } from "./downsample.ts";
import { checkStatsNaming, type StatsNaming, statsToEntries, toKeyValues } from "./stats.ts";
import type { Artifact, LogBatchRequest, Metric } from "./store.ts";
import { checkSymbolNames, type TradesInput, type TradesOptions, tradesTable } from "./trades.ts";
import { checkCallback, checkMetrics, checkParams, checkTags, describeValue } from "./validation.ts";

/** Artifact data with its file name, for runtimes without a file system or data in memory. */
export interface NamedData {
  /** File name, and optional folders, inside the run's artifacts, e.g. `report.html`. */
  name: string;
  /** The file's content: bytes, text (written as UTF-8), a Blob or a stream read once. */
  data: Uint8Array | string | Blob | ReadableStream<Uint8Array>;
  /** MIME type; guessed from the name when absent. */
  contentType?: string;
}

/** What a finished backtest hands to the logger. Every field is optional. */
export interface BacktestData {
  /** Backtest statistics: finite numbers become metrics, the rest tags (see the README's table). */
  stats?: object;
  /** The equity curve, as FLOX Python rows or FLOX Node columns; logged as `equity_curve.csv`. */
  equityCurve?: EquityCurveInput;
  /** Trades, as rows or columns; logged as `trades.csv`. */
  trades?: TradesInput;
  /** Strategy parameters; logged as MLflow params. */
  params?: object;
  /** An HTML report: a file path (runtimes with a file system) or named data. */
  htmlReport?: string | NamedData;
  /**
   * Other files to log with the backtest (a config, a notebook, a log), each
   * at the root of the run's artifacts under its own name: file paths
   * (runtimes with a file system) or named data. Checked with the rest before
   * the first request: a missing file, or two files of one name, creates no run.
   */
  artifacts?: readonly (string | NamedData)[];
  /** How stat keys are named in MLflow; default as given. */
  statsNaming?: StatsNaming;
  /** Trade symbol ids to names. */
  symbolNames?: TradesOptions["symbolNames"];
  /**
   * The equity chart (`equity_curve.png` and `.svg`): `false` skips it, an
   * object restyles it. Default on when there is an equity curve.
   */
  chart?: boolean | EquityChartOptions;
  /**
   * Also log the equity as the metric `equity` (step = bar index, timestamp =
   * bar time), downsampled to at most this many points, so the MLflow UI can
   * overlay curves of several runs. Default: 500 points when that costs at
   * most one extra `log-batch` request; `false` never.
   */
  equityMetric?: boolean | number;
  /** Where warnings go (a chart that failed to render); default `console.warn`. */
  onWarning?: (message: string) => void;
  /**
   * The bars the backtest ran on, logged as the run's dataset input
   * (`runs/log-inputs`); build it with `describeBars`. A list logs several.
   */
  dataset?: Dataset | readonly Dataset[];
}

/** A backtest turned into what the store writes. */
export interface PreparedBacktest {
  batch: LogBatchRequest;
  artifacts: Artifact[];
  equity?: NormalizedEquity;
  /** Chart options, when a chart is wanted. */
  chart?: EquityChartOptions;
}

/**
 * Artifact paths this module writes itself. A user artifact of the same path
 * would overwrite one or be overwritten, so it is refused.
 */
export const GENERATED_ARTIFACTS: Readonly<Record<string, string>> = {
  "equity_curve.csv": "the equity curve's CSV",
  "equity_curve.png": "the equity chart",
  "equity_curve.svg": "the equity chart's SVG",
  "trades.csv": "the trades CSV",
};

/** Tag set on a run whose chart could not be rendered, holding the reason. */
export const CHART_ERROR_TAG = "flox.chart_error";

const DEFAULT_EQUITY_METRIC_POINTS = 500;

const CONTENT_TYPES: Record<string, string> = {
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  json: "application/json",
  png: "image/png",
  svg: "image/svg+xml",
  txt: "text/plain",
  yaml: "text/yaml",
  yml: "text/yaml",
  md: "text/markdown",
  pdf: "application/pdf",
};

/**
 * A MIME type for an artifact name, from its extension.
 *
 * @param name The file name.
 * @returns The MIME type, `application/octet-stream` when unknown.
 * @example A CSV file name
 * ```ts
 * import { contentTypeOf } from "./backtest.ts";
 * if (contentTypeOf("trades.csv") !== "text/csv") throw new Error();
 * ```
 */
export function contentTypeOf(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) || "application/octet-stream";
}

/**
 * Reads and checks a backtest. Throws before anything is sent when an input
 * is wrong.
 *
 * @param data The backtest.
 * @param timestamp The metric timestamp for stats, in ms.
 * @returns The batch and the artifacts.
 * @throws {MlflowValidationError} Naming the field that is wrong.
 * @example Stats and params into one batch
 * ```ts
 * import { prepareBacktest } from "./backtest.ts";
 * const prepared = await prepareBacktest({ stats: { sharpe_ratio: 1.1 }, params: { fast: 10 } }, 0);
 * if (prepared.batch.metrics.length !== 1 || prepared.batch.params[0]!.value !== "10") throw new Error();
 * ```
 */
export async function prepareBacktest(
  data: BacktestData,
  timestamp: number,
  limits?: BatchLimits,
): Promise<PreparedBacktest> {
  checkStatsNaming(data.statsNaming, "statsNaming");
  checkEquityMetric(data.equityMetric);
  checkCallback(data.onWarning, "onWarning", "(message: string) => void");
  checkSymbolNames(data.symbolNames, "symbolNames");
  if (data.chart !== undefined && typeof data.chart !== "boolean") checkChartOptions(data.chart, "chart.", "chart");
  const stats = data.stats === undefined
    ? { metrics: [], tags: [] }
    : statsToEntries(data.stats, { timestamp, ...(data.statsNaming ? { naming: data.statsNaming } : {}) });
  const params = toKeyValues(data.params, "params");
  checkParams(params, "params");
  checkTags(stats.tags, "stats");
  checkMetrics(stats.metrics, "stats");
  const artifacts: Artifact[] = [];
  let equity: NormalizedEquity | undefined;
  if (data.equityCurve !== undefined) {
    equity = normalizeEquity(data.equityCurve);
    artifacts.push(csvArtifact("equity_curve.csv", equityTable(equity), "equityCurve"));
  }
  if (data.trades !== undefined) {
    const table = tradesTable(data.trades, data.symbolNames ? { symbolNames: data.symbolNames } : {});
    artifacts.push(csvArtifact("trades.csv", table, "trades"));
  }
  if (data.htmlReport !== undefined) artifacts.push(await artifactFrom(data.htmlReport, undefined, "htmlReport"));
  if (data.artifacts !== undefined) artifacts.push(...await extraArtifacts(data.artifacts, artifacts));
  const batch: LogBatchRequest = { metrics: stats.metrics, params, tags: stats.tags };
  if (equity && data.equityMetric !== false) addEquityMetric(batch, equity, data.equityMetric, limits);
  const chart = equity && data.chart !== false ? (typeof data.chart === "object" ? data.chart : {}) : undefined;
  return { batch, artifacts, ...(equity ? { equity } : {}), ...(chart ? { chart } : {}) };
}

// The files of `artifacts`, after those already taken (the report): every name once.
async function extraArtifacts(sources: unknown, taken: readonly Artifact[]): Promise<Artifact[]> {
  if (!Array.isArray(sources)) {
    throw new MlflowValidationError("artifacts", `must be a list of file paths or {name, data}, got ${describeValue(sources)}`);
  }
  const names = new Set(taken.map((a) => a.path));
  const extra: Artifact[] = [];
  for (const [i, source] of sources.entries()) {
    const artifact = await artifactFrom(source as string | NamedData, undefined, `artifacts[${i}]`);
    if (names.has(artifact.path)) {
      throw new MlflowValidationError(`artifacts[${i}]`, `is named '${artifact.path}', as another file of this backtest (htmlReport or artifacts); rename one`);
    }
    names.add(artifact.path);
    extra.push(artifact);
  }
  return extra;
}

// Where uploads are staged in memory up to a cap (edge runtimes), a table whose
// CSV cannot fit is refused before the run exists: every row takes at least one
// byte per column (its separators and line end).
function csvArtifact(path: string, table: Table, field: string): Artifact {
  const leastBytes = table.length * Math.max(1, table.columns.length);
  if (leastBytes > BUFFER_LIMIT_BYTES) {
    throw new MlflowValidationError(
      field,
      `makes a ${path} of at least ${(leastBytes / 2 ** 20).toFixed(0)} MiB, over the ${BUFFER_LIMIT_BYTES / 2 ** 20} MiB ` +
        "this runtime can hold to upload; log it from Node, Bun or Deno, or pass fewer rows",
    );
  }
  return { path, body: csvStream(table), contentType: "text/csv" };
}

/**
 * Throws unless `setting` is a valid `equityMetric`: `true`, `false`,
 * `undefined` or a whole number of points. Checked whether or not there is a
 * curve: `equityMetric: "yes"` is a mistake either way.
 *
 * @param setting What the caller passed.
 * @throws {MlflowValidationError} Naming `equityMetric`.
 * @example A point budget for the equity metric
 * ```ts
 * import { checkEquityMetric } from "./backtest.ts";
 * checkEquityMetric(1000);
 * ```
 */
export function checkEquityMetric(setting: unknown): void {
  if (setting === undefined || typeof setting === "boolean") return;
  if (typeof setting !== "number" || !Number.isInteger(setting) || setting < MIN_DOWNSAMPLE_POINTS) {
    throw new MlflowValidationError(
      "equityMetric",
      `must be true, false or a whole number of points of ${MIN_DOWNSAMPLE_POINTS} or more, got ${describeValue(setting)}`,
    );
  }
}

function addEquityMetric(
  batch: LogBatchRequest,
  equity: NormalizedEquity,
  setting: true | number | undefined,
  limits: BatchLimits | undefined,
): void {
  const maxPoints = typeof setting === "number" ? setting : DEFAULT_EQUITY_METRIC_POINTS;
  let picked: Uint32Array;
  try {
    picked = downsampleEquity(equity.equity, equity.drawdownPct, maxPoints).indices;
  } catch {
    // A curve that cannot be drawn (empty, NaN) cannot be a metric either; the chart step reports it.
    return;
  }
  const points: Metric[] = [];
  for (const i of picked) {
    const timestamp = equity.timeMs[i]!;
    if (timestamp < 0) return; // MLflow needs times at or after 1970.
    points.push({ key: "equity", value: equity.equity[i]!, timestamp, step: i });
  }
  if (setting === undefined && limits !== undefined) {
    const without = planBatches(batch, limits).length;
    const withHistory = planBatches({ ...batch, metrics: [...batch.metrics, ...points] }, limits).length;
    if (withHistory > Math.max(1, without) + 1) return;
  }
  batch.metrics.push(...points);
}

/**
 * Renders the equity chart into `equity_curve.png` and `equity_curve.svg`
 * artifacts. Never throws: a failed render resolves to its reason, so the
 * run keeps everything else.
 *
 * @param prepared The prepared backtest (with its curve and chart options).
 * @param title The chart title, usually the run name.
 * @returns The artifacts, or the reason the chart could not be drawn.
 * @example Render a short curve into artifacts
 * ```ts
 * import { prepareBacktest, renderChartArtifacts } from "./backtest.ts";
 * const prepared = await prepareBacktest({
 *   equityCurve: { timestampNs: BigInt64Array.of(1700000000000000000n, 1700000060000000000n), equity: Float64Array.of(1, 2) },
 * }, 0);
 * const chart = await renderChartArtifacts(prepared, "demo");
 * if (!("artifacts" in chart) || chart.artifacts.length !== 2) throw new Error();
 * ```
 */
export async function renderChartArtifacts(
  prepared: PreparedBacktest,
  title: string,
): Promise<{ artifacts: Artifact[] } | { error: string }> {
  if (!prepared.equity || !prepared.chart) return { artifacts: [] };
  try {
    const result = await renderEquityChart(prepared.equity, { title, ...prepared.chart });
    const artifacts: Artifact[] = [{ path: "equity_curve.svg", body: result.svg, contentType: "image/svg+xml" }];
    if (result.png) artifacts.unshift({ path: "equity_curve.png", body: result.png, contentType: "image/png" });
    return { artifacts };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Builds an artifact from a file path, named data, a `File`, or bare data
 * with its artifact path.
 *
 * @param source The file path or data.
 * @param artifactPath For a path, `File` or named data: the folder inside the run's artifacts. For bare data: the full artifact path with the file name.
 * @param field The option name, for errors.
 * @returns The artifact.
 * @throws {MlflowValidationError} When the path is unsafe, the file is missing or bare data has no name.
 * @example Named data
 * ```ts
 * import { artifactFrom } from "./backtest.ts";
 * const a = await artifactFrom({ name: "report.html", data: "<html></html>" }, "reports", "htmlReport");
 * if (a.path !== "reports/report.html" || a.contentType !== "text/html") throw new Error();
 * ```
 */
export async function artifactFrom(
  source: string | NamedData | Uint8Array | Blob | ReadableStream<Uint8Array>,
  artifactPath: string | undefined,
  field: string,
): Promise<Artifact> {
  if (artifactPath !== undefined && typeof artifactPath !== "string") {
    throw new MlflowValidationError("artifactPath", `must be a path inside the run's artifacts (a string), got ${describeValue(artifactPath)}`);
  }
  const join = (dir: string | undefined, name: string) => userPath(dir ? `${dir.replace(/\/+$/, "")}/${name}` : name, field);
  if (typeof source === "string") {
    const file = await openLocalFile(source, field);
    const path = join(artifactPath, file.name);
    return { path, body: file, contentType: contentTypeOf(path) };
  }
  if (typeof File !== "undefined" && source instanceof File) {
    const path = join(artifactPath, source.name);
    return { path, body: source, contentType: source.type || contentTypeOf(path) };
  }
  if (isNamedData(source)) {
    if (!isArtifactData(source.data)) {
      throw new MlflowValidationError(`${field}.data`, `must be a string, a Uint8Array, a Blob or a ReadableStream, got ${describeValue(source.data)}`);
    }
    if (source.contentType !== undefined && typeof source.contentType !== "string") {
      throw new MlflowValidationError(`${field}.contentType`, `must be a MIME type string, got ${describeValue(source.contentType)}`);
    }
    const path = join(artifactPath, source.name);
    return { path, body: source.data, contentType: source.contentType ?? contentTypeOf(path) };
  }
  if (!isArtifactData(source)) {
    throw new MlflowValidationError(
      field,
      `must be a file path, a File, {name, data}, or a Uint8Array, Blob or ReadableStream with artifactPath naming the file; got ${describeValue(source)}`,
    );
  }
  if (artifactPath === undefined) {
    throw new MlflowValidationError(field, "is data without a name; pass artifactPath with the file name, e.g. 'report.html'");
  }
  const path = userPath(artifactPath, field);
  return { path, body: source, contentType: contentTypeOf(path) };
}

function userPath(path: string, field: string): string {
  const clean = checkArtifactPath(path, field);
  const generated = GENERATED_ARTIFACTS[clean];
  if (generated !== undefined) {
    throw new MlflowValidationError(
      field,
      `'${clean}' is the artifact path of ${generated}, which flox-mlflow writes itself; rename the file or put it in a folder (artifactPath)`,
    );
  }
  return clean;
}

// What artifact_body.ts can size; anything else would only be refused there, after the run exists.
function isArtifactData(value: unknown): boolean {
  return typeof value === "string" || value instanceof Uint8Array || (typeof Blob !== "undefined" && value instanceof Blob) ||
    value instanceof ReadableStream;
}

function isNamedData(value: unknown): value is NamedData {
  return typeof value === "object" && value !== null && typeof (value as NamedData).name === "string" &&
    "data" in value;
}

/**
 * Checks that an artifact path stays inside the run's artifact folder.
 *
 * @param path The relative path, `/`-separated.
 * @param field The option name, for errors.
 * @returns The path without leading `./`.
 * @throws {MlflowValidationError} On absolute paths, `..` segments, backslashes or NUL bytes.
 * @example A leading ./ is dropped
 * ```ts
 * import { checkArtifactPath } from "./backtest.ts";
 * if (checkArtifactPath("./plots/a.png", "artifactPath") !== "plots/a.png") throw new Error();
 * ```
 */
export function checkArtifactPath(path: string, field: string): string {
  const clean = path.replace(/^(\.\/)+/, "");
  const segments = clean.split("/");
  if (
    clean === "" || clean.startsWith("/") || /^[a-zA-Z]:/.test(clean) || clean.includes("\\") ||
    clean.includes("\0") || segments.some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new MlflowValidationError(
      field,
      `artifact path ${JSON.stringify(path)} must be relative, with '/' separators, no '.' or '..' segments and no NUL bytes`,
    );
  }
  return clean;
}

/**
 * Checks a tags object the user passes and turns it into pairs.
 *
 * @param tags The tags.
 * @param field The option name.
 * @returns The pairs.
 * @throws {MlflowValidationError} On a bad key or an over-long value.
 * @example Tags from an object
 * ```ts
 * import { userTags } from "./backtest.ts";
 * if (userTags({ data: "btc" }, "tags")[0]!.value !== "btc") throw new Error();
 * ```
 */
export function userTags(tags: unknown, field: string): ReturnType<typeof toKeyValues> {
  const pairs = toKeyValues(tags, field);
  checkTags(pairs, field);
  return pairs;
}
