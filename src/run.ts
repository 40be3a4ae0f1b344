/**
 * Runs: open one (or resume one by id), log into it, close it as FINISHED,
 * FAILED or KILLED. Nested runs find their parent through async context, or
 * the active-run stack (see `fluent_state.ts`).
 *
 * @module
 */
import { hasFileSystem, sourceName, userName } from "#env";
import { fileSystem, openLocalFile } from "#fs";
import {
  artifactFrom,
  type BacktestData,
  checkArtifactPath,
  contentTypeOf,
  type NamedData,
  CHART_ERROR_TAG,
  type PreparedBacktest,
  prepareBacktest,
  renderChartArtifacts,
  userTags,
} from "./backtest.ts";
import { type ConnectionOptions, connect, envValue, experimentRef } from "./config.ts";
import { type StagedArtifacts, stageArtifacts } from "./artifact_body.ts";
import { deliverArtifacts } from "./artifact_delivery.ts";
import { type Dataset, datasetInputs } from "./dataset_inputs.ts";
import { dictText } from "./dict_text.ts";
import {
  currentActiveRun,
  defaultExperiment,
  envRunIdUsed,
  markEnvRunIdUsed,
  pushActiveRun,
  removeActiveRun,
  runScope as current,
} from "./fluent_state.ts";
import { processGitTags } from "./git_source.ts";
import { type Assert, BACKTEST_KEYS, checkOptionKeys, type ExactKeys, RUN_KEYS } from "./option_keys.ts";
import { abortedError, MlflowError, MlflowValidationError } from "./errors.ts";
import { toKeyValues } from "./stats.ts";
import type { Artifact, CallOptions, DatasetInput, KeyValue, Metric, RunInfo, RunStatus, TrackingStore } from "./store.ts";
import { nanosToMillis, type TimeInput, toNanoseconds } from "./time.ts";
import {
  checkBoolean,
  checkCallback,
  checkString,
  checkDescription,
  checkMetrics,
  checkParams,
  checkRunId,
  checkRunName,
  checkSignal,
  clipText,
  describeValue,
  LIMITS,
  recordEntries,
} from "./validation.ts";

/** Options for opening a run. */
export interface RunOptions extends ConnectionOptions {
  /** Run name; MLflow-style random name when absent. */
  runName?: string;
  /** Experiment name, created when missing. */
  experiment?: string;
  /** Experiment id (must exist). */
  experimentId?: string;
  /** Run tags. */
  tags?: object;
  /** Markdown description, stored as `mlflow.note.content`. */
  description?: string;
  /** Make the run a child of the run this call is made inside. */
  nested?: boolean;
  /** Make the run a child of this run id. */
  parentRunId?: string;
  /** Aborting ends the run as KILLED. */
  signal?: AbortSignal;
  /**
   * Log into this existing run instead of creating one, as
   * `mlflow.start_run(run_id=...)`. Without it, the first top-level run of
   * the process resumes `MLFLOW_RUN_ID` from the environment when that is set.
   * A deleted run is refused; an ended one unless `reopen` is true.
   */
  runId?: string;
  /** With `runId` (or `MLFLOW_RUN_ID`): reopen a run that has ended, setting it RUNNING again. */
  reopen?: boolean;
  /**
   * Data the run uses, logged as its dataset input (`runs/log-inputs`) as
   * soon as the run is open; build it with `describeBars`. A list logs several.
   */
  dataset?: Dataset | readonly Dataset[];
}

type _RunKeysMatch = Assert<ExactKeys<typeof RUN_KEYS, RunOptions>>;
type _BacktestKeysMatch = Assert<ExactKeys<typeof BACKTEST_KEYS, BacktestData>>;
const LOG_BACKTEST_KEYS: readonly string[] = [...RUN_KEYS, ...BACKTEST_KEYS];

/** Anything {@link MlflowRun.logArtifact} uploads. */
export type ArtifactSource = string | NamedData | Uint8Array | Blob | ReadableStream<Uint8Array>;

/** Options of {@link MlflowRun.logMetrics}. */
export interface MetricOptions {
  /** Step of every value; default 0. */
  step?: number;
  /** Time of every value (ms number, ns BigInt, ISO string or Date); default now. */
  timestamp?: TimeInput;
}

// What child runs and logBacktest need from a run, kept off its public surface.
const internals = new WeakMap<MlflowRun, { store: TrackingStore; info: RunInfo; call: CallOptions }>();

/**
 * An open MLflow run. Get one from {@link startRun} or inside
 * {@link logToMlflow}. Works with `await using`: leaving the scope ends the
 * run as FINISHED unless it was ended already.
 *
 * @example Log into a run on the file store
 * ```ts
 * import { startRun } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await using run = await startRun({ trackingUri: dir, runName: "doc", env: {} });
 * await run.logParams({ fast: 10 });
 * ```
 */
export class MlflowRun implements AsyncDisposable {
  /** The run id. */
  readonly runId: string;
  /** The experiment id. */
  readonly experimentId: string;
  /** The run name. */
  readonly runName: string;
  /** Where the run's artifacts live. */
  readonly artifactUri: string;
  readonly #store: TrackingStore;
  readonly #info: RunInfo;
  readonly #call: CallOptions;
  #status: RunStatus = "RUNNING";

  /**
   * Wraps a run a store has created. Users get runs from {@link startRun},
   * {@link logToMlflow} or a parent's `startChild`.
   *
   * @param store The store the run lives in.
   * @param info The run as the store created it.
   * @param signal Aborting it stops every write of the run, in flight or later.
   */
  constructor(store: TrackingStore, info: RunInfo, signal?: AbortSignal) {
    this.#store = store;
    this.#info = info;
    this.#call = signal === undefined ? {} : { signal };
    this.runId = info.runId;
    this.experimentId = info.experimentId;
    this.runName = info.runName;
    this.artifactUri = info.artifactUri;
    internals.set(this, { store, info, call: this.#call });
  }

  /** `RUNNING` until {@link MlflowRun.end}. */
  get status(): RunStatus {
    return this.#status;
  }

  /**
   * Logs params (stringified: `0.0004` stays `"0.0004"`).
   *
   * @param params Names to values.
   * @returns When they are stored.
   * @throws {MlflowValidationError} On a bad key or an over-long value, before any request.
   * @throws {MlflowError} When MLflow refuses them (a param already logged with another value).
   */
  async logParams(params: object): Promise<void> {
    const pairs = toKeyValues(params, "params");
    checkParams(pairs, "params");
    await this.#store.logBatch(this.runId, { metrics: [], params: pairs, tags: [] }, this.#call);
  }

  /**
   * Sets tags (overwriting earlier values).
   *
   * @param tags Names to values.
   * @returns When they are stored.
   * @throws {MlflowValidationError} On a bad key or an over-long value, before any request.
   */
  async logTags(tags: object): Promise<void> {
    await this.#store.logBatch(this.runId, { metrics: [], params: [], tags: userTags(tags, "tags") }, this.#call);
  }

  /**
   * Logs metric values (NaN and ±Infinity included, as MLflow stores them).
   *
   * @param metrics Names to numbers.
   * @param options Step and timestamp.
   * @returns When they are stored.
   * @throws {MlflowValidationError} On a bad key or a non-number, before any request.
   */
  async logMetrics(metrics: Record<string, number>, options: MetricOptions = {}): Promise<void> {
    const entries = recordEntries(metrics, "metrics", "metric names to numbers");
    checkOptionKeys(options, ["step", "timestamp"] satisfies (keyof MetricOptions)[], "options");
    const step = options.step ?? 0;
    if (typeof step !== "number" || !Number.isSafeInteger(step)) {
      throw new MlflowValidationError("step", `must be a whole number, got ${describeValue(step)}`);
    }
    const timestamp = options.timestamp === undefined
      ? Date.now()
      : nanosToMillis(toNanoseconds(options.timestamp, "timestamp"));
    const points: Metric[] = entries.map(([key, value]) => ({ key, value: value as number, timestamp, step }));
    checkMetrics(points, "metrics");
    await this.#store.logBatch(this.runId, { metrics: points, params: [], tags: [] }, this.#call);
  }

  /**
   * Logs one metric value, as `mlflow.log_metric`.
   *
   * @param key The metric name.
   * @param value The value; NaN and ±Infinity included.
   * @param options Step and timestamp.
   * @returns When it is stored.
   * @throws {MlflowValidationError} On a bad key or a non-number, before any request.
   * @example One point per bar
   * ```ts
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.logMetric("equity", 10_100, { step: 1 });
   * ```
   */
  async logMetric(key: string, value: number, options: MetricOptions = {}): Promise<void> {
    checkString(key, "key", "a metric name");
    await this.logMetrics({ [key]: value }, options);
  }

  /**
   * Logs one param, as `mlflow.log_param`.
   *
   * @param key The param name.
   * @param value The value (stringified).
   * @returns When it is stored.
   * @throws {MlflowValidationError} On a bad key or an over-long value, before any request.
   * @example A param
   * ```ts
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.logParam("fast", 10);
   * ```
   */
  async logParam(key: string, value: unknown): Promise<void> {
    checkString(key, "key", "a param name");
    await this.logParams({ [key]: value });
  }

  /**
   * Sets one tag, as `mlflow.set_tag`.
   *
   * @param key The tag name.
   * @param value The value (stringified).
   * @returns When it is stored.
   * @throws {MlflowValidationError} On a bad key or an over-long value, before any request.
   * @example A tag
   * ```ts
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.setTag("symbol", "BTCUSDT");
   * ```
   */
  async setTag(key: string, value: unknown): Promise<void> {
    checkString(key, "key", "a tag name");
    await this.logTags({ [key]: value });
  }

  /**
   * Writes text as an artifact file, as `mlflow.log_text`.
   *
   * @param text The text (written as UTF-8).
   * @param artifactFile Its path inside the run's artifacts, e.g. `notes/summary.md`.
   * @returns When it is stored and checked.
   * @throws {MlflowValidationError} On a non-string or an unsafe path, before any request.
   * @example A note
   * ```ts
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.logText("entry on the 10/30 cross", "notes/why.txt");
   * ```
   */
  async logText(text: string, artifactFile: string): Promise<void> {
    checkString(text, "text", "the text to write");
    await this.#logBytes(new TextEncoder().encode(text), artifactFile, "artifactFile");
  }

  /**
   * Writes an object as a JSON artifact (2-space indent), or YAML when the
   * path ends in `.yaml` or `.yml`, as `mlflow.log_dict` does.
   *
   * @param dictionary The object.
   * @param artifactFile Its path inside the run's artifacts, e.g. `config.json`.
   * @returns When it is stored and checked.
   * @throws {MlflowValidationError} On a value JSON cannot hold (NaN, a cycle, a BigInt...) or an unsafe path, before any request.
   * @example The strategy's settings as YAML
   * ```ts
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.logDict({ fast: 10, slow: 30, symbols: ["BTC", "ETH"] }, "config.yaml");
   * ```
   */
  async logDict(dictionary: object, artifactFile: string): Promise<void> {
    const path = checkArtifactPath(checkedPath(artifactFile, "artifactFile"), "artifactFile");
    await this.#logBytes(new TextEncoder().encode(dictText(dictionary, path, "dictionary")), path, "artifactFile");
  }

  /**
   * Writes a PNG image as an artifact, as `mlflow.log_image` does for an image.
   *
   * @param png The PNG file's bytes.
   * @param artifactFile Its path inside the run's artifacts, e.g. `plots/heatmap.png`.
   * @returns When it is stored and checked.
   * @throws {MlflowValidationError} When the bytes are not a PNG or the path is unsafe, before any request.
   * @example A 1x1 PNG
   * ```ts
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * const png = Uint8Array.from(atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="), (c) => c.charCodeAt(0));
   * await run.logImage(png, "plots/dot.png");
   * ```
   */
  async logImage(png: Uint8Array, artifactFile: string): Promise<void> {
    if (!(png instanceof Uint8Array) || PNG_SIGNATURE.some((byte, i) => png[i] !== byte)) {
      throw new MlflowValidationError("png", "must be the bytes of a PNG file (they start with \\x89PNG); encode other images as PNG first");
    }
    await this.#logBytes(png, artifactFile, "artifactFile", "image/png");
  }

  /**
   * Uploads every file of a local folder, subfolders included, as
   * `mlflow.log_artifacts`. Needs a file system: on the edge it fails with
   * a {@link MlflowValidationError} naming `folder`.
   *
   * @param folder The local folder.
   * @param artifactPath Folder inside the run's artifacts to put them in; default the root.
   * @returns When every file is stored and checked.
   * @throws {MlflowValidationError} When the folder is missing, not a folder, or the runtime has no file system, before any upload.
   * @example A folder of reports
   * ```ts
   * import { startRun } from "./run.ts";
   * const reports = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${reports}/summary.html`, "<p>ok</p>");
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.logArtifacts(reports, "reports");
   * ```
   */
  async logArtifacts(folder: string, artifactPath?: string): Promise<void> {
    checkString(folder, "folder", "a local folder path");
    const prefix = artifactPath === undefined ? "" : `${checkArtifactPath(checkedPath(artifactPath, "artifactPath"), "artifactPath")}/`;
    if (!hasFileSystem) {
      throw new MlflowValidationError("folder", "is a local folder, but this runtime has no file system; log each file's data with logArtifact(data, path)");
    }
    const info = await fileSystem.pathInfo(folder);
    if (info === undefined || !info.isDirectory) {
      throw new MlflowValidationError("folder", `'${folder}' ${info === undefined ? "does not exist" : "is not a folder"}; pass a folder, or use logArtifact for one file`);
    }
    const artifacts: Artifact[] = [];
    const walk = async (dir: string, relative: string): Promise<void> => {
      for (const entry of await fileSystem.listDirectory(dir)) {
        const path = fileSystem.join(dir, entry.name);
        if (entry.isDirectory) {
          await walk(path, `${relative}${entry.name}/`);
          continue;
        }
        const file = await openLocalFile(path, "folder");
        const target = checkArtifactPath(`${prefix}${relative}${entry.name}`, "folder");
        artifacts.push({ path: target, body: file, contentType: contentTypeOf(target) });
      }
    };
    await walk(folder, "");
    await deliverArtifacts(this.#store, this.#info, artifacts, this.#call);
  }

  async #logBytes(bytes: Uint8Array, artifactFile: string, field: string, contentType?: string): Promise<void> {
    const path = checkArtifactPath(checkedPath(artifactFile, field), field);
    await deliverArtifacts(this.#store, this.#info, [{ path, body: bytes, contentType: contentType ?? contentTypeOf(path) }], this.#call);
  }

  /**
   * Logs the data the run used as its dataset input, as `mlflow.log_input`:
   * one `runs/log-inputs` request. MLflow's UI shows it in the Datasets
   * column; runs with the same dataset name and digest saw the same data.
   *
   * @param dataset What `describeBars` returned, or a list of them.
   * @returns When it is stored.
   * @throws {MlflowValidationError} On a field missing or over MLflow's limits, before any request.
   * @example The bars of a backtest
   * ```ts
   * import { describeBars } from "./dataset.ts";
   * import { startRun } from "./run.ts";
   * await using run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
   * await run.logInput(await describeBars({ ts: [1704067200000], close: [42000] }, { name: "btc-1m" }));
   * ```
   */
  async logInput(dataset: Dataset | readonly Dataset[]): Promise<void> {
    if (dataset === undefined) throw new MlflowValidationError("dataset", "is required; pass what describeBars returned");
    await this.#store.logInputs(this.runId, datasetInputs(dataset, "dataset"), this.#call);
  }

  /**
   * Logs a backtest into this run: stats, params, the equity curve and trades
   * as CSV, the HTML report. Everything is checked before the first request.
   *
   * @param data The backtest.
   * @returns When everything is stored.
   * @throws {MlflowValidationError} On bad input, before any request.
   * @throws {MlflowError} When MLflow refuses a write.
   */
  async logBacktest(data: BacktestData): Promise<void> {
    checkOptionKeys(data, BACKTEST_KEYS, "backtest");
    const inputs = datasetInputs(data.dataset, "dataset");
    const prepared = await prepareBacktest(data, Date.now(), this.#store.batchLimits);
    const writes = inputs.length > 0 ? [this.#store.logInputs(this.runId, inputs, this.#call)] : [];
    writes.push(writeBacktest(this.#store, this.#info, prepared, stageArtifacts(prepared.artifacts, this.#call.signal), this.runName, data.onWarning, this.#call));
    await settleAll(writes);
  }

  /**
   * Uploads an artifact: a file path (runtimes with a file system), a `File`,
   * `{name, data}`, or bytes / a string / a Blob / a ReadableStream with
   * `artifactPath` naming the file.
   *
   * @param source What to upload.
   * @param artifactPath Folder inside the run's artifacts (for paths, Files and named data), or the full artifact path (for bare data).
   * @returns When it is stored.
   * @throws {MlflowValidationError} On an unsafe path or a missing file, before any request.
   */
  async logArtifact(source: ArtifactSource, artifactPath?: string): Promise<void> {
    const artifact = await artifactFrom(source, artifactPath, "logArtifact");
    await deliverArtifacts(this.#store, this.#info, [artifact], this.#call);
  }

  /**
   * Ends the run. A second call does nothing.
   *
   * @param status `FINISHED` (default), `FAILED` or `KILLED`.
   * @returns When the status is stored.
   * @throws {MlflowError} When the store cannot record it.
   */
  async end(status: "FINISHED" | "FAILED" | "KILLED" = "FINISHED"): Promise<void> {
    if (status !== "FINISHED" && status !== "FAILED" && status !== "KILLED") {
      throw new MlflowValidationError("status", `must be "FINISHED", "FAILED" or "KILLED", got ${describeValue(status)}`);
    }
    if (this.#status !== "RUNNING") return;
    // The run counts as ended only once the store has recorded it, so a refused
    // finish can be tried again (or ended FAILED) by the caller.
    await this.#store.finishRun(this.runId, status, Date.now());
    this.#status = status;
    removeActiveRun(this);
  }

  /**
   * Opens a child run of this run (tag `mlflow.parentRunId`), in this run's
   * store and experiment unless the options say otherwise. Works on every
   * runtime, edge included, where `nested: true` cannot find its parent.
   *
   * @param options The child's name, tags, experiment, signal.
   * @returns The open child; end it with `end()`.
   * @throws {MlflowValidationError} On bad options, before any request.
   * @example A child opened from its parent
   * ```ts
   * import { startRun } from "./run.ts";
   * const parent = await startRun({ trackingUri: await Deno.makeTempDir(), runName: "grid", env: {} });
   * const child = await parent.startChild({ runName: "cell-1" });
   * await child.logMetrics({ sharpe: 1.2 });
   * await child.end();
   * await parent.end();
   * ```
   */
  async startChild(options: Omit<RunOptions, "nested" | "parentRunId"> = {}): Promise<MlflowRun> {
    return openRun(planRun({ ...options, parentRunId: this.runId }, RUN_KEYS, this));
  }

  /**
   * Opens a child run of this run, calls `fn(child)` and ends the child:
   * FINISHED, FAILED when `fn` throws, KILLED when the signal aborts, as
   * {@link logToMlflow} does.
   *
   * @param options The child's name, tags, experiment, signal.
   * @param fn The child's work.
   * @returns What `fn` returns.
   * @throws {MlflowValidationError} On bad options, before any request.
   * @throws {MlflowError} When MLflow fails or `fn` throws.
   * @example One child per cell, without async context
   * ```ts
   * import { logToMlflow } from "./run.ts";
   * await logToMlflow({ trackingUri: await Deno.makeTempDir(), runName: "grid", env: {} }, async (parent) => {
   *   for (const fast of [5, 10]) {
   *     await parent.logChild({ runName: `fast-${fast}` }, (child) => child.logBacktest({ params: { fast }, stats: { sharpe: fast / 10 } }));
   *   }
   * });
   * ```
   */
  async logChild<T>(options: Omit<RunOptions, "nested" | "parentRunId">, fn: (child: MlflowRun) => T | Promise<T>): Promise<T> {
    checkCallback(fn, "fn", "(child) => result");
    const child = await this.startChild(options);
    return runInside(child, options.signal, fn);
  }

  /** Ends the run as FINISHED when an `await using` scope exits. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }
}

// Stats and params go in one batch at once. The backtest's CSVs are staged
// first (`staging`, started by the caller), then the chart is drawn while the
// artifacts upload a few at a time: the largest uploads travel while the chart
// is drawn, and its files follow when it is done.
async function writeBacktest(
  store: TrackingStore,
  info: RunInfo,
  prepared: PreparedBacktest,
  staging: Promise<StagedArtifacts>,
  title: string,
  onWarning: ((message: string) => void) | undefined,
  call: CallOptions,
): Promise<void> {
  const { batch } = prepared;
  const writes: Promise<void>[] = [];
  if (batch.metrics.length || batch.params.length || batch.tags.length) writes.push(store.logBatch(info.runId, batch, call));
  writes.push((async () => {
    const staged = await staging;
    try {
      const chart = renderChartArtifacts(prepared, title);
      async function* artifacts(): AsyncGenerator<Artifact> {
        yield* staged.artifacts;
        const result = await chart;
        if ("artifacts" in result) {
          yield* result.artifacts;
          return;
        }
        (onWarning ?? console.warn)(`flox-mlflow: run ${info.runId}: the equity chart was not rendered: ${result.error}`);
        const reason = clipText(result.error, LIMITS.tagValueLength);
        await store.logBatch(info.runId, { metrics: [], params: [], tags: [{ key: CHART_ERROR_TAG, value: reason }] }, call);
      }
      await deliverArtifacts(store, info, artifacts(), call);
    } finally {
      await staged.release();
    }
  })());
  await settleAll(writes);
}

// Waits for every write, so none is cut off mid-way, then reports the first failure.
async function settleAll(writes: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

let cachedOsUser: string | null | undefined;
// The OS user cannot change while the process runs; a sweep of many runs asks once.
function osUser(): string | undefined {
  if (cachedOsUser === undefined) cachedOsUser = userName() ?? null;
  return cachedOsUser ?? undefined;
}

const ADJECTIVES = ["amber", "brisk", "calm", "deft", "eager", "fleet", "grand", "keen", "lucid", "nimble", "quiet", "rapid", "sharp", "steady", "swift", "vivid"];
const NOUNS = ["bull", "bear", "candle", "delta", "hedge", "ledger", "margin", "order", "pivot", "quote", "spread", "tick", "trend", "wick", "yield", "zenith"];

function randomRunName(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint16Array(3));
  return `${ADJECTIVES[a! % ADJECTIVES.length]}-${NOUNS[b! % NOUNS.length]}-${c! % 1000}`;
}

/**
 * Opens a run and returns its handle. End it with `run.end()`, or use
 * `await using`. {@link logToMlflow} is the safer form: it ends the run as
 * FAILED when the work throws.
 *
 * @param options Where to log, run name, experiment, tags, nesting.
 * @returns The open run.
 * @throws {MlflowValidationError} On bad options, before any request.
 * @throws {MlflowError} When MLflow cannot create the run.
 * @example Open, log and end a run by hand
 * ```ts
 * import { startRun } from "./run.ts";
 * const run = await startRun({ trackingUri: await Deno.makeTempDir(), runName: "manual", env: {} });
 * await run.logMetrics({ sharpe: 1.3 });
 * await run.end();
 * ```
 */
export async function startRun(options: RunOptions = {}): Promise<MlflowRun> {
  const run = await openRun(planRun(options, RUN_KEYS));
  pushActiveRun(run);
  return run;
}

/** Everything needed to create a run, resolved and checked without any request. */
interface RunPlan {
  store: TrackingStore;
  env: Record<string, string | undefined>;
  runName: string;
  user: string;
  tags: KeyValue[];
  /** The tags the caller gave (with the description), all a resumed run gets. */
  userTags: KeyValue[];
  /** The run to resume, and the option or variable that named it. */
  resume: { runId: string; field: string } | undefined;
  /** The enclosing run whose experiment a nested run shares, when it shares its store too. */
  inheritFrom: MlflowRun | undefined;
  /** Datasets logged as soon as the run is open. */
  inputs: DatasetInput[];
  options: RunOptions;
}

function planRun(callOptions: RunOptions, known: readonly string[], parent?: MlflowRun): RunPlan {
  checkOptionKeys(callOptions, known, "options");
  let options = callOptions;
  // Types first: a number where a name belongs, or a signal that is not one, would
  // otherwise fail deep inside a request, or after the run exists.
  checkSignal(options.signal, "signal");
  checkBoolean(options.nested, "nested");
  if (options.runName !== undefined) checkRunName(options.runName, "runName");
  if (options.parentRunId !== undefined) checkRunId(options.parentRunId, "parentRunId");
  if (options.description !== undefined) checkDescription(options.description, "description");
  checkBoolean(options.reopen, "reopen");
  const inputs = datasetInputs(options.dataset, "dataset");
  if (options.runId !== undefined) {
    checkRunId(options.runId, "runId");
    const clash = options.nested ? "nested" : options.parentRunId !== undefined ? "parentRunId" : options.runName !== undefined ? "runName" : parent ? "startChild" : undefined;
    if (clash !== undefined) {
      throw new MlflowValidationError("runId", `cannot be combined with ${clash}: a resumed run keeps its own name and parent`);
    }
  }
  if (options.signal?.aborted) {
    throw new MlflowError("the signal was already aborted; no run was created", { errorCode: "ABORTED", cause: options.signal.reason });
  }
  // Inside a logToMlflow/logChild callback its run is the parent (exact under concurrency);
  // elsewhere the newest run startRun opened and nobody ended, as MLflow's run stack.
  const enclosing = parent ?? (options.nested ? current.get() ?? currentActiveRun() : undefined);
  if (options.nested && options.parentRunId === undefined && enclosing === undefined) {
    throw new MlflowValidationError(
      "nested",
      current.tracks
        ? "is true but no run is active; open the parent first (startRun or logToMlflow) or pass parentRunId"
        : "is true, but this runtime has no AsyncLocalStorage to tell which open run is the parent; " +
          "pass parentRunId, or open the child from its parent: parent.startChild(options) or parent.logChild(options, fn)",
    );
  }
  const parentRunId = options.parentRunId ?? enclosing?.runId;
  const topLevel = parentRunId === undefined && enclosing === undefined;
  const fallback = defaultExperiment();
  if (fallback !== undefined && topLevel && options.runId === undefined && options.experiment === undefined && options.experimentId === undefined) {
    options = fallback.name !== undefined ? { ...options, experiment: fallback.name } : { ...options, experimentId: fallback.id! };
  }
  // A child logs where its parent logs unless the call says otherwise.
  const inherit = enclosing !== undefined && options.trackingUri === undefined && options.env === undefined;
  const connection = inherit ? undefined : connect(options);
  const store = connection?.store ?? internals.get(enclosing!)!.store;
  const env = connection?.env ?? {};
  // Read now only to check it: the experiment is resolved when the run is opened.
  experimentRef(options, env);
  let resume: RunPlan["resume"];
  if (options.runId !== undefined) resume = { runId: options.runId, field: "runId" };
  else if (topLevel) {
    const fromEnv = envValue(env, "MLFLOW_RUN_ID");
    if (fromEnv && !envRunIdUsed(fromEnv)) {
      checkRunId(fromEnv, "MLFLOW_RUN_ID");
      resume = { runId: fromEnv, field: "MLFLOW_RUN_ID" };
    }
  }
  if (options.reopen && resume === undefined) {
    throw new MlflowValidationError("reopen", "is set but no run is resumed; pass runId (or set MLFLOW_RUN_ID) with it");
  }

  const runName = options.runName ?? randomRunName();
  const tags: KeyValue[] = userTags(options.tags, "tags");
  if (options.description !== undefined) {
    if (tags.some((t) => t.key === "mlflow.note.content")) {
      throw new MlflowValidationError("description", "and a tag 'mlflow.note.content' are both given; pass only one");
    }
    tags.push({ key: "mlflow.note.content", value: options.description });
  }
  const user = envValue(env, "MLFLOW_TRACKING_USERNAME") || osUser() || "unknown";
  const system: KeyValue[] = [
    { key: "mlflow.user", value: user },
    { key: "mlflow.source.name", value: sourceName() ?? "flox-mlflow" },
    { key: "mlflow.source.type", value: "LOCAL" },
  ];
  if (parentRunId !== undefined) system.push({ key: "mlflow.parentRunId", value: parentRunId });
  const userGiven = [...tags];
  const tagKeys = new Set(tags.map((t) => t.key));
  const sharesExperiment = inherit && options.experiment === undefined && options.experimentId === undefined;
  // Taken once the plan is sound, before any request, so of many runs started at once only
  // the first resumes it; MLflow likewise removes the variable before it looks the run up.
  if (resume?.field === "MLFLOW_RUN_ID") markEnvRunIdUsed(resume.runId);
  return {
    store,
    env,
    runName,
    user,
    tags: [...system.filter((t) => !tagKeys.has(t.key)), ...tags],
    userTags: userGiven,
    resume,
    inheritFrom: sharesExperiment ? enclosing : undefined,
    inputs,
    options,
  };
}

// A child named by parentRunId alone goes into its parent's experiment, as
// MLflow's client does; the lookup also refuses a parent that does not exist,
// before an orphan is created.
async function parentExperiment(plan: RunPlan, call: CallOptions): Promise<string | undefined> {
  const { parentRunId, experiment, experimentId } = plan.options;
  if (parentRunId === undefined || experiment !== undefined || experimentId !== undefined) return undefined;
  const found = await plan.store.runExperiment(parentRunId, call);
  if (found === undefined) {
    throw new MlflowValidationError(
      "parentRunId",
      `run '${parentRunId}' does not exist (or is deleted) in ${plan.store.location}; pass the id of a run of this tracking server`,
    );
  }
  return found;
}

// A run resumed by id: it must exist and be active, in the experiment the call names
// if it names one, and RUNNING unless `reopen` says to set it RUNNING again.
async function resumeRun(plan: RunPlan, resume: NonNullable<RunPlan["resume"]>, call: CallOptions): Promise<MlflowRun> {
  const { store, options } = plan;
  const stored = await store.getRun(resume.runId, call);
  if (stored === undefined) {
    throw new MlflowValidationError(resume.field, `run '${resume.runId}' does not exist (or is deleted) in ${store.location}; pass the id of an active run`);
  }
  if (options.experiment !== undefined || options.experimentId !== undefined) {
    const ref = experimentRef(options, plan.env);
    const named = ref.id ?? (await store.getExperiment(ref, call))?.experimentId;
    if (named !== stored.experimentId) {
      throw new MlflowValidationError(
        options.experiment !== undefined ? "experiment" : "experimentId",
        `names another experiment than run '${resume.runId}' is in (id ${stored.experimentId}); leave it out to resume the run`,
      );
    }
  }
  if (stored.status !== "RUNNING") {
    if (!options.reopen) {
      throw new MlflowValidationError(
        resume.field,
        `run '${resume.runId}' has ended (${stored.status}); pass reopen: true to log into it again, which sets it RUNNING until it ends`,
      );
    }
    // mlflow.start_run(run_id=...) sets the run RUNNING again, keeping its end time.
    await store.finishRun(resume.runId, "RUNNING", stored.endTime ?? Date.now());
  }
  if (plan.userTags.length > 0) await store.logBatch(resume.runId, { metrics: [], params: [], tags: plan.userTags }, call);
  const { runId, experimentId, runName, artifactUri, startTime } = stored;
  return new MlflowRun(store, { runId, experimentId, runName, artifactUri, startTime }, options.signal);
}

async function openRun(plan: RunPlan): Promise<MlflowRun> {
  const run = await createOrResume(plan);
  if (plan.inputs.length > 0) {
    const { store, info, call } = internals.get(run)!;
    try {
      await store.logInputs(info.runId, plan.inputs, call);
    } catch (err) {
      // The run exists; it is ended FAILED rather than left RUNNING without its data.
      await run.end(plan.options.signal?.aborted ? "KILLED" : "FAILED").catch(() => undefined);
      throw err;
    }
  }
  return run;
}

async function createOrResume(plan: RunPlan): Promise<MlflowRun> {
  const { signal } = plan.options;
  const call: CallOptions = signal === undefined ? {} : { signal };
  if (plan.resume !== undefined) return resumeRun(plan, plan.resume, call);
  // Git source tags where a checkout is found; the caller's own tags win.
  const given = new Set(plan.tags.map((t) => t.key));
  // Looking for a checkout reads files; the experiment is asked for meanwhile.
  const [gitTags, experimentId] = await Promise.all([
    processGitTags(),
    (async () =>
      plan.inheritFrom?.experimentId ?? await parentExperiment(plan, call) ??
        await plan.store.resolveExperiment(experimentRef(plan.options, plan.env), call))(),
  ]);
  const git = gitTags.filter((t) => !given.has(t.key));
  const info = await plan.store.createRun({
    experimentId,
    runName: plan.runName,
    startTime: Date.now(),
    userId: plan.user,
    tags: [...plan.tags, ...git],
  }, call);
  return new MlflowRun(plan.store, info, signal);
}

/**
 * Opens a run, calls `fn(run)`, and ends the run: FINISHED when `fn`
 * returns, FAILED when it throws (the error is rethrown), KILLED when
 * `options.signal` aborts. Runs opened inside `fn` with `nested: true`
 * become its children.
 *
 * @param options Where to log, run name, experiment, tags, nesting, signal.
 * @param fn The work to log.
 * @returns What `fn` returns.
 * @throws {MlflowValidationError} On bad options, before any request.
 * @throws {MlflowError} When MLflow fails, or with code `ABORTED` when the signal fires.
 * @example A grid as a parent run with nested children
 * ```ts
 * import { logToMlflow } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * await logToMlflow({ trackingUri, runName: "grid", env: {} }, async () => {
 *   for (const fast of [5, 10]) {
 *     await logToMlflow({ runName: `fast-${fast}`, nested: true }, (child) =>
 *       child.logBacktest({ params: { fast }, stats: { sharpe_ratio: fast / 10 } }));
 *   }
 * });
 * ```
 */
export async function logToMlflow<T>(options: RunOptions, fn: (run: MlflowRun) => T | Promise<T>): Promise<T> {
  checkCallback(fn, "fn", "(run) => result");
  const run = await startRun(options);
  return runInside(run, options.signal, fn);
}

async function runInside<T>(run: MlflowRun, signal: AbortSignal | undefined, fn: (run: MlflowRun) => T | Promise<T>): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(abortedError(signal, (reason) => `run ${run.runId} was aborted (${reason}) and ended as KILLED`));
    // The signal may have fired while the run was being created.
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    const result = await Promise.race([current.run(run, () => Promise.resolve().then(() => fn(run))), aborted]);
    await run.end("FINISHED");
    return result;
  } catch (err) {
    const status = signal?.aborted ? "KILLED" : "FAILED";
    try {
      await run.end(status);
    } catch (endErr) {
      console.warn(`flox-mlflow: run ${run.runId} could not be marked ${status}: ${(endErr as Error).message}`);
    }
    throw err;
  } finally {
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function checkedPath(path: unknown, field: string): string {
  checkString(path, field, "a path inside the run's artifacts, e.g. 'notes/summary.txt'");
  return path;
}

/** Options of {@link logBacktest}: where to log and the backtest itself. */
export interface LogBacktestOptions extends RunOptions, BacktestData {}

/**
 * Logs one backtest as one MLflow run and returns its id: create, one
 * `log-batch` for stats and params, concurrent artifact uploads, finish.
 * All input is checked before the first request.
 *
 * @param options Where to log and what.
 * @returns The run id.
 * @throws {MlflowValidationError} On bad input, before any request.
 * @throws {MlflowError} When MLflow fails; the run is then ended as FAILED.
 * @example Log one backtest into a temporary file store
 * ```ts
 * import { logBacktest } from "./run.ts";
 * const runId = await logBacktest({
 *   trackingUri: await Deno.makeTempDir(), env: {},
 *   stats: { sharpe_ratio: 1.4, total_trades: 12 },
 *   params: { fast: 10, slow: 30 },
 *   runName: "sma",
 * });
 * if (runId.length !== 32) throw new Error();
 * ```
 */
export async function logBacktest(options: LogBacktestOptions): Promise<string> {
  // Everything is read and checked before the run exists, so bad input creates nothing.
  const plan = planRun(options, LOG_BACKTEST_KEYS);
  const prepared = await prepareBacktest(options, Date.now(), plan.store.batchLimits);
  // The CSVs are CPU work and creating the run waits on the server: overlap them.
  const opening = openRun(plan);
  const staging = stageArtifacts(prepared.artifacts, options.signal);
  // A staging failure is reported inside the run (ending it FAILED), once it exists.
  staging.catch(() => {});
  let run: MlflowRun;
  try {
    run = await opening;
  } catch (error) {
    await staging.then((staged) => staged.release(), () => undefined);
    throw error;
  }
  const { store, info, call } = internals.get(run)!;
  return runInside(run, options.signal, async () => {
    await writeBacktest(store, info, prepared, staging, plan.runName, options.onWarning, call);
    return run.runId;
  });
}
