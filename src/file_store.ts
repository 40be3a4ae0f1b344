/**
 * A {@link TrackingStore} that writes MLflow's own `./mlruns` layout, byte for
 * byte where MLflow readers care: `meta.yaml` files as PyYAML (libyaml)
 * `safe_dump` writes them, metric lines with Python float formatting, params
 * and tags as raw values. Safe for many runs in parallel, in one process or
 * several: every `meta.yaml` is replaced through a temporary file and a
 * rename, params appear whole through a hard link, and new experiment names
 * are created under a lock file so two processes agree on one experiment.
 *
 * All file-system access goes through the `#fs` runtime entry, so edge builds
 * carry none of it.
 *
 * @module
 */
import { ownerAlive, processOwner } from "#env";
import { fileSystem, fileUrlToPath, type LocalFile, pathToFileUrl, resolvePath } from "#fs";
import { abortedError, MlflowError, MlflowValidationError } from "./errors.ts";
import { DATASETS_FOLDER, datasetId, dumpInputMeta, INPUTS_FOLDER, inputId } from "./file_store_inputs.ts";
import { fileRunReader } from "./file_store_search.ts";
import { parseFlatYaml, type YamlValue, yamlString } from "./flat_yaml.ts";
import { dumpYaml } from "./flat_yaml_dump.ts";
import type {
  Artifact,
  ArtifactBody,
  ArtifactEntry,
  CallOptions,
  CreateRunRequest,
  DatasetInput,
  ExperimentRef,
  KeyValue,
  LogBatchRequest,
  Metric,
  RunInfo,
  RunPage,
  RunQuery,
  RunSearch,
  RunStatus,
  StoredArtifact,
  StoredExperiment,
  StoredRun,
  TrackingStore,
} from "./store.ts";
import { codePointLength, keyProblem, LIMITS } from "./validation.ts";

// ---------------------------------------------------------------------------
// Tracking URI selection

/** Bare words MLflow maps to Databricks stores although they carry no `:`. */
const DATABRICKS_WORDS = new Set(["databricks", "databricks-uc", "uc"]);

/**
 * Tells whether a tracking URI selects the file store and, if so, where its
 * root folder is. `file:` URIs and plain paths select it; any other scheme
 * (`http(s)://`, `databricks`, `sqlite:`, ...) does not. A one-letter scheme
 * is a Windows drive (`C:\mlruns`), hence a path.
 *
 * @param uri The tracking URI: `file:./mlruns`, `file:///abs/mlruns`, `./mlruns`, `/abs/mlruns`.
 * @returns The absolute root folder, or `undefined` when the URI selects another store.
 * @throws {MlflowError} For a `file:` URI naming a remote host or holding a bad %-escape.
 * @example Choose a store from a tracking URI
 * ```ts
 * import { parseFileUri } from "./file_store.ts";
 * parseFileUri("file:./mlruns"); // "/home/me/project/mlruns"
 * parseFileUri("http://127.0.0.1:5000"); // undefined
 * ```
 */
export function parseFileUri(uri: string): string | undefined {
  const trimmed = uri.trim();
  if (trimmed === "" || DATABRICKS_WORDS.has(trimmed.toLowerCase())) return undefined;
  if (/^file:/i.test(trimmed)) return fileUrlToPath(trimmed);
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(trimmed)) return undefined;
  return resolvePath(trimmed);
}

// ---------------------------------------------------------------------------
// Limits and validation (MLflow `mlflow/utils/validation.py`)

const RUN_NAME_TAG = "mlflow.runName";
const RUN_ID = /^[a-zA-Z0-9][\w\-]{0,255}$/;
const EXPERIMENT_ID = /^[a-zA-Z0-9][\w\-]{0,63}$/;
const STATUS_CODES: Record<RunStatus, number> = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };

function describe(value: string): string {
  return JSON.stringify(value);
}

/** Keys become file paths, so MLflow's key rules (see `validation.ts`) also keep every write inside the run folder. */
function validateKey(kind: "metrics" | "params" | "tags", key: unknown): string {
  if (typeof key !== "string") {
    throw new MlflowValidationError(`${kind}.key`, `a key must be a string, got ${typeof key}`);
  }
  const problem = keyProblem(key);
  if (problem) throw new MlflowValidationError(`${kind}.${key}`, `key ${describe(key)} ${problem}`);
  return key;
}

function validateIdentifier(field: string, value: unknown, pattern: RegExp, what: string): string {
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new MlflowValidationError(
      field,
      `${describe(String(value))} is not a valid ${what}; it must match ${pattern.source} (no '/', '..' or other path characters)`,
    );
  }
  return value;
}

function validateTime(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new MlflowValidationError(field, `must be a whole number of milliseconds since the epoch (>= 0), got ${String(value)}`);
  }
  return value;
}

function validateStep(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new MlflowValidationError(field, `must be a whole number, got ${String(value)}`);
  }
  return value;
}

/** Truncates to a number of code points, as the MLflow server does since 2.11. */
function truncate(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const points = Array.from(value);
  return points.length <= limit ? value : points.slice(0, limit).join("");
}

function validateValue(kind: "params" | "tags", key: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new MlflowValidationError(`${kind}.${key}`, `the value must be a string, got ${typeof value}`);
  }
  return truncate(value, kind === "params" ? LIMITS.paramValueLength : LIMITS.tagValueLength);
}

function validateTags(tags: readonly KeyValue[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const tag of tags) {
    const key = validateKey("tags", tag.key);
    // Last one wins within a batch, as on the server.
    out.set(key, validateValue("tags", key, tag.value));
  }
  return out;
}

/** Artifact paths: `/`-separated relative parts, none empty, `.` or `..`, no NUL or backslash. */
function artifactSegments(path: unknown): string[] {
  if (typeof path !== "string" || path === "") {
    throw new MlflowValidationError("artifact.path", "must be a non-empty relative path such as 'equity.csv' or 'plots/a.png'");
  }
  const problem = path.includes("\0")
    ? "contains a NUL byte"
    : path.includes("\\")
    ? "contains a backslash; use '/' to separate folders"
    : path.startsWith("/") || /^[A-Za-z]:/.test(path)
    ? "is absolute"
    : path.split("/").some((s) => s === "" || s === "." || s === "..")
    ? "has an empty, '.' or '..' part"
    : undefined;
  if (problem !== undefined) {
    throw new MlflowValidationError(
      "artifact.path",
      `${describe(path)} ${problem}; artifact paths must stay inside the run's artifacts folder`,
    );
  }
  return path.split("/");
}

// ---------------------------------------------------------------------------
// Python number formatting

/**
 * Python's `str(float)`: shortest round-trip digits, fixed notation when the
 * decimal exponent is in [-4, 16), otherwise `1e-07` / `1.5e+16` style.
 */
function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissa = "", exponent = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const point = Number(exponent) + 1;
  if (point > 16 || point < -3) {
    const exp = point - 1;
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : "";
    return `${sign}${digits[0]}${fraction}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

// ---------------------------------------------------------------------------
// Small helpers

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An 18-digit integer with a non-zero first digit, the shape of MLflow's `_generate_unique_integer_id`. */
function newExperimentId(): string {
  const digits = crypto.getRandomValues(new Uint8Array(18));
  let id = String(1 + (digits[0]! % 9));
  for (let i = 1; i < 18; i++) id += String(digits[i]! % 10);
  return id;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` over `items` with at most `limit` in flight, so wide batches do not exhaust file handles. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// What a file store write reads. A bare ReadableStream is read once; every other body can be read again.
function bodyStream(body: ArtifactBody): ReadableStream<Uint8Array> | Uint8Array | string {
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (typeof body === "function") return body();
  if (body instanceof ReadableStream) return body;
  if (typeof Blob !== "undefined" && body instanceof Blob) return body.stream();
  if (typeof body === "object" && body !== null && typeof (body as LocalFile).open === "function") return (body as LocalFile).open();
  throw new MlflowValidationError(
    "artifact.body",
    "must be a Uint8Array, a string, a Blob, a ReadableStream or a function returning a ReadableStream",
  );
}

// The file store's writes are short; a signal is checked before each.
function notAborted(call: CallOptions, operation: string): void {
  const { signal } = call;
  if (signal?.aborted) throw abortedError(signal, (reason) => `file store: ${operation} was aborted (${reason})`);
}

// ---------------------------------------------------------------------------
// The store

const META = "meta.yaml";
const TRASH = ".trash";
/** Root folders MLflow never treats as experiments. */
const NOT_EXPERIMENTS = new Set([TRASH, "models"]);
/** A lock older than this belongs to a process that died while creating an experiment. */
const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_LIMIT_MS = 60_000;
const PARALLEL_FILES = 16;
/** Experiment folders this process has cleared of temporaries left by killed writers. */
const sweptExperiments = new Map<string, Promise<void>>();

/**
 * Opens the MLflow file store rooted at `root`. Nothing is touched until the
 * first call; then the root, `.trash/` and the Default experiment `0` are
 * created when missing.
 *
 * @param root A `file:` URI (`file:./mlruns`, `file:///abs/mlruns`) or a plain folder path.
 * @param options Whether artifact sizes are checked after writing.
 * @returns A store whose `location` is the absolute root folder.
 * @throws {MlflowValidationError} When `root` is a URI of another store (`http://`, `databricks`, ...).
 * @throws {MlflowError} For a `file:` URI naming a remote host or holding a bad %-escape. On a runtime
 *   without a file system the store's first call rejects, saying to use an MLflow server.
 * @example Log one run into a file store folder
 * ```ts
 * import { createFileStore } from "./file_store.ts";
 * const store = createFileStore(await Deno.makeTempDir());
 * const experimentId = await store.resolveExperiment({ name: "sma-crossover" });
 * const run = await store.createRun({ experimentId, runName: "fast=10", startTime: Date.now(), userId: "me", tags: [] });
 * await store.logBatch(run.runId, { metrics: [{ key: "sharpe", value: 1.42, timestamp: Date.now(), step: 0 }], params: [{ key: "fast", value: "10" }], tags: [] });
 * await store.finishRun(run.runId, "FINISHED", Date.now());
 * ```
 */
export function createFileStore(root: string, options: FileStoreOptions = {}): TrackingStore {
  const rootPath = parseFileUri(root);
  if (rootPath === undefined) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(root.trim())?.[1] ?? root.trim();
    throw new MlflowValidationError(
      "trackingUri",
      `a '${scheme}' tracking URI selects another kind of store (a server or database), not the file store; pass a file: URI (file:./mlruns) or a folder path`,
    );
  }
  return new FileStore(rootPath, options.verifyArtifacts ?? true);
}

/** Options of {@link createFileStore}. */
export interface FileStoreOptions {
  /** Compare each artifact's size on disk with the bytes written; default true. */
  verifyArtifacts?: boolean;
}

class FileStore implements TrackingStore {
  readonly location: string;
  private readonly rootUri: string;
  private ready: Promise<void> | undefined;
  private readonly experimentIds = new Map<string, string>();
  private readonly pendingExperiments = new Map<string, Promise<string>>();
  /** Run id to run folder, for runs this store created or found. */
  private readonly runDirs = new Map<string, string>();
  private readonly runQueues = new Map<string, Promise<unknown>>();

  private readonly reader: ReturnType<typeof fileRunReader>;

  constructor(rootPath: string, readonly verifyArtifacts: boolean) {
    this.location = rootPath;
    this.rootUri = pathToFileUrl(rootPath);
    this.reader = fileRunReader(rootPath);
  }

  async getRun(runId: string, call: CallOptions = {}): Promise<StoredRun | undefined> {
    notAborted(call, "reading the run");
    return await this.reader.getRun(runId, call);
  }

  async searchRuns(search: RunSearch, call: CallOptions = {}): Promise<StoredRun[]> {
    notAborted(call, "searching runs");
    return await this.reader.searchRuns(search, call);
  }

  async searchRunsPage(query: RunQuery, call: CallOptions = {}): Promise<RunPage> {
    notAborted(call, "searching runs");
    return await this.reader.searchRunsPage(query, call);
  }

  async getExperiment(ref: ExperimentRef, call: CallOptions = {}): Promise<StoredExperiment | undefined> {
    notAborted(call, "reading the experiment");
    return await this.reader.getExperiment(ref, call);
  }

  async metricHistory(runId: string, key: string, call: CallOptions = {}): Promise<Metric[]> {
    notAborted(call, "reading the metric history");
    return await this.reader.metricHistory(runId, key, call);
  }

  async listArtifacts(run: RunInfo, dir: string, call: CallOptions = {}): Promise<ArtifactEntry[]> {
    notAborted(call, "listing the artifacts");
    return await this.reader.listArtifacts(run, dir, call);
  }

  async downloadArtifact(run: RunInfo, path: string, call: CallOptions = {}): Promise<Uint8Array> {
    notAborted(call, "reading the artifact");
    return await this.reader.downloadArtifact(run, path, call);
  }

  private path(...segments: string[]): string {
    return fileSystem.join(this.location, ...segments);
  }

  private init(): Promise<void> {
    this.ready ??= this.createRoot().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async createRoot(): Promise<void> {
    const existing = await fileSystem.pathInfo(this.location);
    if (existing !== undefined && !existing.isDirectory) {
      throw new MlflowError(`file store root '${this.location}' is a file; point trackingUri at a folder`, {
        errorCode: "FILE_STORE_ERROR",
        endpoint: "file-store init",
      });
    }
    await fileSystem.makeDirectory(this.location, true);
    await fileSystem.removeOrphans(this.location).catch(() => 0);
    await fileSystem.makeDirectory(this.path(TRASH), false);
    const defaultDir = this.path("0");
    await fileSystem.makeDirectory(defaultDir, false);
    if ((await fileSystem.pathInfo(fileSystem.join(defaultDir, META))) === undefined) {
      await this.writeExperimentMeta("0", "Default");
    }
  }

  private async writeExperimentMeta(id: string, name: string): Promise<void> {
    const now = Date.now();
    const meta = new Map<string, YamlValue>([
      ["artifact_location", `${this.rootUri}/${id}`],
      ["creation_time", now],
      ["experiment_id", id],
      ["last_update_time", now],
      ["lifecycle_stage", "active"],
      ["name", name],
      ["trace_location", null],
      ["workspace", "default"],
    ]);
    const dir = this.path(id);
    await fileSystem.writeAtomic(fileSystem.join(dir, META), dumpYaml(meta), dir);
  }

  /** The experiment's name and stage, or `undefined` when `<root>/<id>` holds no valid experiment. */
  private async readExperiment(id: string): Promise<{ name: string; active: boolean } | undefined> {
    const text = await fileSystem.readText(this.path(id, META));
    if (text === undefined) return undefined;
    const meta = parseFlatYaml(text);
    const name = yamlString(meta, "name");
    // MLflow ignores an experiment whose recorded id differs from its folder name.
    if (name === undefined || yamlString(meta, "experiment_id") !== id) return undefined;
    return { name, active: (yamlString(meta, "lifecycle_stage") ?? "active") === "active" };
  }

  /** Reads every active experiment's name, refreshing the cache. */
  private async scanExperiments(): Promise<Map<string, string>> {
    const entries = await fileSystem.listDirectory(this.location);
    const ids = entries
      .filter((e) => e.isDirectory && !NOT_EXPERIMENTS.has(e.name) && EXPERIMENT_ID.test(e.name))
      .map((e) => e.name);
    const byName = new Map<string, string>();
    await eachLimited(ids, PARALLEL_FILES, async (id) => {
      const experiment = await this.readExperiment(id).catch(() => undefined);
      if (experiment?.active && !byName.has(experiment.name)) byName.set(experiment.name, id);
    });
    for (const [name, id] of byName) this.experimentIds.set(name, id);
    return byName;
  }

  async resolveExperiment(ref: ExperimentRef, call: CallOptions = {}): Promise<string> {
    notAborted(call, "resolving the experiment");
    await this.init();
    if (ref.id !== undefined) {
      const id = validateIdentifier("experiment.id", ref.id, EXPERIMENT_ID, "experiment id");
      const experiment = await this.readExperiment(id);
      if (experiment === undefined || !experiment.active) {
        throw new MlflowError(
          `experiment id '${id}' does not exist${experiment ? " (it is deleted)" : ""} in ${this.location}; pass an existing id or an experiment name`,
          { errorCode: "RESOURCE_DOES_NOT_EXIST", endpoint: "file-store resolveExperiment" },
        );
      }
      if (ref.name !== undefined && ref.name !== experiment.name) {
        throw new MlflowValidationError(
          "experiment",
          `id '${id}' is the experiment ${describe(experiment.name)}, not ${describe(ref.name)}; pass only one of name and id`,
        );
      }
      return id;
    }
    if (ref.name === undefined) return "0";
    const name = ref.name;
    if (typeof name !== "string" || name.length === 0 || codePointLength(name) > LIMITS.experimentNameLength) {
      throw new MlflowValidationError(
        "experiment.name",
        `must be a string of 1 to ${LIMITS.experimentNameLength} characters`,
      );
    }
    const cached = this.experimentIds.get(name);
    if (cached !== undefined) {
      const experiment = await this.readExperiment(cached);
      if (experiment?.active && experiment.name === name) return cached;
      this.experimentIds.delete(name);
    }
    let pending = this.pendingExperiments.get(name);
    if (pending === undefined) {
      pending = this.findOrCreateExperiment(name).finally(() => this.pendingExperiments.delete(name));
      this.pendingExperiments.set(name, pending);
    }
    return pending;
  }

  private async findOrCreateExperiment(name: string): Promise<string> {
    const found = (await this.scanExperiments()).get(name);
    if (found !== undefined) return found;
    const lockPath = this.path(`.experiment-${await sha256Hex(name)}.lock`);
    const token = await this.acquireLock(lockPath);
    try {
      // Another process may have created it while this one waited for the lock.
      const raced = (await this.scanExperiments()).get(name);
      if (raced !== undefined) return raced;
      let id = newExperimentId();
      while (!(await fileSystem.makeDirectory(this.path(id), false))) id = newExperimentId();
      await this.writeExperimentMeta(id, name);
      this.experimentIds.set(name, id);
      return id;
    } finally {
      if ((await fileSystem.readText(lockPath).catch(() => undefined)) === token) await fileSystem.remove(lockPath);
    }
  }

  /**
   * Takes the name's lock file. A lock whose writer is known to be gone (a
   * process on this host that was killed) is broken at once; one whose writer
   * cannot be checked, once stale.
   */
  private async acquireLock(lockPath: string): Promise<string> {
    const token = `${Date.now()} ${randomHex(8)} ${processOwner() ?? "unknown"}`;
    const started = Date.now();
    for (let attempt = 0;; attempt++) {
      if (await fileSystem.createExclusive(lockPath, token, this.location)) return token;
      const owner = (await fileSystem.readText(lockPath).catch(() => undefined))?.split(" ")[2];
      const info = await fileSystem.pathInfo(lockPath);
      if (
        info !== undefined &&
        ((owner !== undefined && ownerAlive(owner) === false) || Date.now() - info.modifiedMs > STALE_LOCK_MS)
      ) {
        await fileSystem.remove(lockPath);
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_LIMIT_MS) {
        throw new MlflowError(
          `timed out waiting for the lock '${lockPath}' held by another process creating the same experiment; delete the file if no such process is running`,
          { errorCode: "FILE_STORE_ERROR", endpoint: "file-store resolveExperiment" },
        );
      }
      await sleep(Math.min(100, 5 * (attempt + 1)) + Math.random() * 10);
    }
  }

  async runExperiment(runId: string, call: CallOptions = {}): Promise<string | undefined> {
    notAborted(call, "looking up the run");
    if (typeof runId !== "string" || !RUN_ID.test(runId)) return undefined;
    try {
      const dir = await this.locateRun(runId);
      return yamlString(parseFlatYaml((await fileSystem.readText(fileSystem.join(dir, META))) ?? ""), "experiment_id");
    } catch (err) {
      if (err instanceof MlflowError && (err.errorCode === "RESOURCE_DOES_NOT_EXIST" || err.errorCode === "INVALID_PARAMETER_VALUE")) {
        return undefined;
      }
      throw err;
    }
  }

  async createRun(request: CreateRunRequest, call: CallOptions = {}): Promise<RunInfo> {
    notAborted(call, "creating the run");
    await this.init();
    const experimentId = validateIdentifier("experimentId", request.experimentId, EXPERIMENT_ID, "experiment id");
    const startTime = validateTime("startTime", request.startTime);
    const tags = validateTags(request.tags);
    if (typeof request.runName !== "string") {
      throw new MlflowValidationError("runName", `must be a string, got ${typeof request.runName}`);
    }
    const tagName = tags.get(RUN_NAME_TAG);
    if (request.runName !== "" && tagName !== undefined && tagName !== request.runName) {
      throw new MlflowValidationError(
        "runName",
        `${describe(request.runName)} differs from the '${RUN_NAME_TAG}' tag ${describe(tagName)}; set only one of them`,
      );
    }
    const experiment = await this.readExperiment(experimentId);
    if (experiment === undefined || !experiment.active) {
      throw new MlflowError(
        `cannot create a run in experiment '${experimentId}': it ${experiment ? "is deleted" : "does not exist"} in ${this.location}`,
        { errorCode: experiment ? "INVALID_STATE" : "RESOURCE_DOES_NOT_EXIST", endpoint: "file-store createRun" },
      );
    }
    await this.sweepExperiment(experimentId);
    const runId = crypto.randomUUID().replaceAll("-", "");
    const runName = request.runName || tagName || `run-${runId.slice(0, 8)}`;
    tags.set(RUN_NAME_TAG, runName);
    const dir = this.path(experimentId, runId);
    const artifactUri = `${this.rootUri}/${experimentId}/${runId}/artifacts`;
    await fileSystem.makeDirectory(dir, false);
    for (const sub of ["metrics", "params", "artifacts", "tags"]) {
      await fileSystem.makeDirectory(fileSystem.join(dir, sub), false);
    }
    await this.writeTags(dir, tags);
    // meta.yaml comes last: readers skip a run folder until it is there.
    const meta = new Map<string, YamlValue>([
      ["artifact_uri", artifactUri],
      ["deleted_time", null],
      ["end_time", null],
      ["entry_point_name", ""],
      ["experiment_id", experimentId],
      ["lifecycle_stage", "active"],
      ["run_id", runId],
      ["run_name", runName],
      ["run_uuid", runId],
      ["source_name", ""],
      ["source_type", 4],
      ["source_version", ""],
      ["start_time", startTime],
      ["status", STATUS_CODES.RUNNING],
      ["tags", []],
      ["user_id", String(request.userId)],
    ]);
    await fileSystem.writeAtomic(fileSystem.join(dir, META), dumpYaml(meta), dir);
    this.runDirs.set(runId, dir);
    return { runId, experimentId, runName, artifactUri, startTime };
  }

  private async writeTags(runDir: string, tags: ReadonlyMap<string, string>): Promise<void> {
    await eachLimited([...tags], PARALLEL_FILES, async ([key, value]) => {
      const path = await this.keyPath(runDir, "tags", key);
      await fileSystem.writeAtomic(path, value, runDir);
    });
  }

  /** The file for a validated key, creating the folders a `/` in it implies. */
  private async keyPath(runDir: string, kind: "metrics" | "params" | "tags", key: string): Promise<string> {
    const segments = key.split("/");
    if (segments.length > 1) {
      await fileSystem.makeDirectory(fileSystem.join(runDir, kind, ...segments.slice(0, -1)), true);
    }
    return fileSystem.join(runDir, kind, ...segments);
  }

  /** Finds a run folder, first in this store's memory, then among the active experiments on disk. */
  private async locateRun(runId: string): Promise<string> {
    const known = this.runDirs.get(runId);
    if (known !== undefined) return known;
    await this.init();
    const entries = await fileSystem.listDirectory(this.location);
    for (const entry of entries) {
      if (!entry.isDirectory || NOT_EXPERIMENTS.has(entry.name) || !EXPERIMENT_ID.test(entry.name)) continue;
      const dir = this.path(entry.name, runId);
      const text = await fileSystem.readText(fileSystem.join(dir, META));
      if (text === undefined) continue;
      const meta = parseFlatYaml(text);
      if (yamlString(meta, "experiment_id") !== entry.name) continue;
      if ((yamlString(meta, "lifecycle_stage") ?? "active") !== "active") {
        throw new MlflowError(`run '${runId}' is deleted; it must be in the 'active' state to log to it`, {
          errorCode: "INVALID_PARAMETER_VALUE",
          endpoint: "file-store",
        });
      }
      this.runDirs.set(runId, dir);
      return dir;
    }
    throw new MlflowError(`run '${runId}' not found in ${this.location}; create it with this store first`, {
      errorCode: "RESOURCE_DOES_NOT_EXIST",
      endpoint: "file-store",
    });
  }

  /** Serialises the writes of one run inside this process (param checks, meta.yaml rewrites). */
  private withRun<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.runQueues.get(runId) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const settled = result.catch(() => undefined);
    this.runQueues.set(runId, settled);
    void settled.then(() => {
      if (this.runQueues.get(runId) === settled) this.runQueues.delete(runId);
    });
    return result;
  }

  async logBatch(runId: string, batch: LogBatchRequest, call: CallOptions = {}): Promise<void> {
    notAborted(call, "logging to the run");
    validateIdentifier("runId", runId, RUN_ID, "run id");
    const metricsByKey = new Map<string, Metric[]>();
    for (const metric of batch.metrics) {
      const key = validateKey("metrics", metric.key);
      if (typeof metric.value !== "number") {
        throw new MlflowValidationError(`metrics.${key}`, `value must be a number (NaN and ±Infinity allowed), got ${typeof metric.value}`);
      }
      validateTime(`metrics.${key}.timestamp`, metric.timestamp);
      validateStep(`metrics.${key}.step`, metric.step);
      const list = metricsByKey.get(key);
      if (list) list.push(metric);
      else metricsByKey.set(key, [metric]);
    }
    const params = new Map<string, string>();
    for (const param of batch.params) {
      const key = validateKey("params", param.key);
      if (params.has(key)) {
        throw new MlflowValidationError(
          `params.${key}`,
          "was given twice in one batch; MLflow accepts one value per param key",
        );
      }
      params.set(key, validateValue("params", key, param.value));
    }
    const tags = validateTags(batch.tags);
    const runDir = await this.locateRun(runId);
    await this.withRun(runId, async () => {
      await this.writeParams(runId, runDir, params);
      await eachLimited([...metricsByKey], PARALLEL_FILES, async ([key, metrics]) => {
        const lines = metrics.map((m) => `${m.timestamp} ${pythonFloat(m.value)} ${m.step}\n`).join("");
        await fileSystem.append(await this.keyPath(runDir, "metrics", key), lines);
      });
      await this.writeTags(runDir, tags);
      const runName = tags.get(RUN_NAME_TAG);
      if (runName !== undefined) await this.updateMeta(runId, runDir, (meta) => meta.set("run_name", runName));
    });
  }

  // As MLflow's FileStore.log_inputs: the dataset once per experiment, the link once per run;
  // what is there already is kept.
  async logInputs(runId: string, inputs: readonly DatasetInput[], call: CallOptions = {}): Promise<void> {
    notAborted(call, "logging the run's inputs");
    validateIdentifier("runId", runId, RUN_ID, "run id");
    if (inputs.length === 0) return;
    const runDir = await this.locateRun(runId);
    const experimentDir = fileSystem.join(runDir, "..");
    await this.withRun(runId, async () => {
      for (const { dataset, tags } of inputs) {
        const id = datasetId(dataset.name, dataset.digest);
        const datasetDir = fileSystem.join(experimentDir, DATASETS_FOLDER, id);
        await fileSystem.makeDirectory(datasetDir, true);
        const datasetMeta = new Map<string, YamlValue>([
          ["digest", dataset.digest],
          ["name", dataset.name],
          ["profile", dataset.profile ?? null],
          ["schema", dataset.schema ?? null],
          ["source", dataset.source],
          ["source_type", dataset.sourceType],
        ]);
        await fileSystem.createExclusive(fileSystem.join(datasetDir, META), dumpYaml(datasetMeta), datasetDir);
        const inputDir = fileSystem.join(runDir, INPUTS_FOLDER, inputId(id, runId));
        await fileSystem.makeDirectory(inputDir, true);
        // MLflow writes the dataset id as destination_id too (layout addendum); kept byte for byte.
        const inputMeta = new Map<string, string>([
          ["destination_id", id],
          ["destination_type", "RUN"],
          ["source_id", id],
          ["source_type", "DATASET"],
        ]);
        await fileSystem.createExclusive(fileSystem.join(inputDir, META), dumpInputMeta(inputMeta, tags), inputDir);
      }
    });
  }

  private async writeParams(runId: string, runDir: string, params: ReadonlyMap<string, string>): Promise<void> {
    const conflict = (key: string, old: string, value: string): MlflowError =>
      new MlflowError(
        `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${value}'. Log the new value under another key or in a new run.`,
        { errorCode: "INVALID_PARAMETER_VALUE", endpoint: "file-store logBatch" },
      );
    const fresh: [string, string, string][] = [];
    // Check every param before writing any, so a rejected batch writes nothing.
    for (const [key, value] of params) {
      const path = await this.keyPath(runDir, "params", key);
      const existing = await fileSystem.readText(path);
      if (existing === undefined) fresh.push([key, value, path]);
      else if (existing !== value) throw conflict(key, existing, value);
    }
    await eachLimited(fresh, PARALLEL_FILES, async ([key, value, path]) => {
      if (await fileSystem.createExclusive(path, value, runDir)) return;
      const existing = (await fileSystem.readText(path)) ?? "";
      if (existing !== value) throw conflict(key, existing, value);
    });
  }

  private async updateMeta(
    runId: string,
    runDir: string,
    change: (meta: Map<string, YamlValue>) => void,
  ): Promise<void> {
    const metaPath = fileSystem.join(runDir, META);
    const text = await fileSystem.readText(metaPath);
    if (text === undefined) {
      throw new MlflowError(`run '${runId}' has no meta.yaml in ${runDir}; the run folder is damaged`, {
        errorCode: "INVALID_STATE",
        endpoint: "file-store",
      });
    }
    const meta = parseFlatYaml(text);
    if ((yamlString(meta, "lifecycle_stage") ?? "active") !== "active") {
      throw new MlflowError(`run '${runId}' is deleted; it must be in the 'active' state to change it`, {
        errorCode: "INVALID_PARAMETER_VALUE",
        endpoint: "file-store",
      });
    }
    change(meta);
    meta.set("run_uuid", yamlString(meta, "run_id") ?? runId);
    await fileSystem.writeAtomic(metaPath, dumpYaml(meta), runDir);
  }

  async uploadArtifact(run: RunInfo, artifact: Artifact, call: CallOptions = {}): Promise<StoredArtifact> {
    notAborted(call, "writing the artifact");
    const segments = artifactSegments(artifact.path);
    const artifactRoot = this.artifactRoot(run);
    const runDir = fileSystem.join(artifactRoot, "..");
    if (segments.length > 1) await fileSystem.makeDirectory(fileSystem.join(artifactRoot, ...segments.slice(0, -1)), true);
    else await fileSystem.makeDirectory(artifactRoot, true);
    const target = fileSystem.join(artifactRoot, ...segments);
    const write = async (): Promise<number> => {
      const body = bodyStream(artifact.body);
      if (typeof body !== "string" && !(body instanceof Uint8Array)) {
        // A long stream (a 10M-row CSV) stops at the next chunk when the signal fires.
        const checked = call.signal === undefined ? body : body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              notAborted(call, `writing the artifact '${artifact.path}'`);
              controller.enqueue(chunk);
            },
          }),
        );
        return await fileSystem.writeStreamAtomic(target, checked, runDir);
      }
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
      await fileSystem.writeAtomic(target, bytes, runDir);
      return bytes.byteLength;
    };
    const size = await write();
    const once = artifact.body instanceof ReadableStream;
    return {
      path: artifact.path,
      size,
      resend: async () => {
        if (once) {
          throw new MlflowError(
            `artifact '${artifact.path}' is short on disk and its ReadableStream cannot be read again; pass a function returning a new stream`,
            { errorCode: "ARTIFACT_INCOMPLETE", endpoint: "file-store write" },
          );
        }
        await write();
      },
      release: () => Promise.resolve(),
    };
  }

  async artifactSizes(run: RunInfo, dir: string, call: CallOptions = {}): Promise<Map<string, number>> {
    notAborted(call, "listing the artifacts");
    const folder = fileSystem.join(this.artifactRoot(run), ...(dir === "" ? [] : artifactSegments(dir)));
    const sizes = new Map<string, number>();
    await eachLimited(await fileSystem.listDirectory(folder), PARALLEL_FILES, async (entry) => {
      if (entry.isDirectory) return;
      const info = await fileSystem.pathInfo(fileSystem.join(folder, entry.name));
      if (info !== undefined) sizes.set(entry.name, info.size);
    });
    return sizes;
  }

  // The first run a process creates in an experiment removes what writers killed
  // mid-write (kill -9) left in it: half-written artifacts and meta files. Once
  // per process, not per store: each logBacktest opens a store of its own.
  private sweepExperiment(experimentId: string): Promise<void> {
    const dir = this.path(experimentId);
    let sweep = sweptExperiments.get(dir);
    if (sweep === undefined) {
      sweep = (async () => {
        await fileSystem.removeOrphans(dir);
        const runs = (await fileSystem.listDirectory(dir)).filter((e) => e.isDirectory && RUN_ID.test(e.name));
        await eachLimited(runs, PARALLEL_FILES, async (run) => {
          await fileSystem.removeOrphans(fileSystem.join(dir, run.name));
        });
      })().catch(() => undefined);
      sweptExperiments.set(dir, sweep);
    }
    return sweep;
  }

  private artifactRoot(run: RunInfo): string {
    if (typeof run.artifactUri !== "string" || !/^file:/i.test(run.artifactUri)) {
      throw new MlflowValidationError(
        "run.artifactUri",
        `${describe(String(run.artifactUri))} is not a file: URI; upload artifacts of this run through the store that created it`,
      );
    }
    return fileUrlToPath(run.artifactUri);
  }

  async finishRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
    validateIdentifier("runId", runId, RUN_ID, "run id");
    const code = STATUS_CODES[status];
    if (code === undefined) {
      throw new MlflowValidationError("status", `must be one of ${Object.keys(STATUS_CODES).join(", ")}, got ${String(status)}`);
    }
    validateTime("endTime", endTime);
    const runDir = await this.locateRun(runId);
    await this.withRun(runId, () =>
      this.updateMeta(runId, runDir, (meta) => {
        meta.set("status", code);
        meta.set("end_time", endTime);
        // MLflow's _overwrite_run_info writes deleted_time only when the run is deleted.
        if (meta.get("deleted_time") === null) meta.delete("deleted_time");
      }));
  }
}
