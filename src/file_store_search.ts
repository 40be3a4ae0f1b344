/**
 * Reading runs back from an `./mlruns` folder, whoever wrote them (this
 * process, another one, or MLflow itself): the file store's
 * {@link TrackingStore.getRun} and {@link TrackingStore.searchRuns}. A run
 * folder counts once its `meta.yaml` is there (the store writes it last);
 * deleted runs are left out, as MLflow's `ACTIVE_ONLY` view does.
 *
 * @module
 */
import { fileSystem, fileUrlToPath, openLocalFile } from "#fs";
import { concatBytes } from "./bytes.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { paginate, parseFilter, parseOrderBy, runMatches, sortRuns } from "./file_store_filter.ts";
import { readRunInputs } from "./file_store_inputs.ts";
import { parseFlatYaml, yamlString } from "./flat_yaml.ts";
import type {
  ArtifactEntry,
  CallOptions,
  ExperimentRef,
  Metric,
  RunInfo,
  RunPage,
  RunQuery,
  RunSearch,
  RunStatus,
  StoredExperiment,
  StoredRun,
  TrackingStore,
} from "./store.ts";

const META = "meta.yaml";
/** Root folders MLflow never treats as experiments. */
const NOT_EXPERIMENTS = new Set([".trash", "models"]);
const STATUS_NAMES: Record<number, RunStatus> = { 1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED" };
const PARALLEL_READS = 16;
const PARENT_TAG = "mlflow.parentRunId";

// Python's str(float) spells the special values nan, inf and -inf.
const SPECIAL: Record<string, number> = { nan: NaN, inf: Infinity, "-inf": -Infinity };
const floatOf = (text: string): number => SPECIAL[text] ?? Number(text);

async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, items.length) }, worker));
}

/** Every file below `dir`, by its key: the path below `dir` with `/` separators (a key `a/b` is the file `b` in folder `a`). */
async function keyFiles(dir: string, prefix = ""): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const entry of await fileSystem.listDirectory(dir)) {
    const path = fileSystem.join(dir, entry.name);
    if (entry.isDirectory) out.push(...await keyFiles(path, `${prefix}${entry.name}/`));
    else out.push([`${prefix}${entry.name}`, path]);
  }
  return out;
}

async function readValues(dir: string): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  await eachLimited(await keyFiles(dir), async ([key, path]) => {
    const text = await fileSystem.readText(path);
    if (text !== undefined) values[key] = text;
  });
  return values;
}

// The run's value of a metric is its largest point by (step, timestamp, value), as
// MLflow's FileStore._get_metric_from_file picks it (mlflow/store/tracking/file_store.py).
function latestValue(text: string): number | undefined {
  let best: [number, number, number] | undefined;
  for (const line of text.split("\n")) {
    const [timestamp, value, step = "0"] = line.trim().split(" ");
    if (timestamp === undefined || timestamp === "" || value === undefined) continue;
    const point: [number, number, number] = [Number(step), Number(timestamp), floatOf(value)];
    if (best === undefined || point[0] > best[0] || (point[0] === best[0] && (point[1] > best[1] || (point[1] === best[1] && point[2] > best[2])))) {
      best = point;
    }
  }
  return best?.[2];
}

/** Every point of a metric file: `timestamp value step` per line, as MLflow's FileStore writes it. */
function parsePoints(key: string, text: string): Metric[] {
  const points: Metric[] = [];
  for (const line of text.split("\n")) {
    const [timestamp, value, step = "0"] = line.trim().split(" ");
    if (timestamp === undefined || timestamp === "" || value === undefined) continue;
    points.push({ key, value: floatOf(value), timestamp: Number(timestamp), step: Number(step) });
  }
  return points;
}

// A path inside a run's artifacts, checked so a read never leaves the run's folder.
function artifactSegments(path: string, field: string): string[] {
  const segments = path === "" ? [] : path.replace(/\/+$/, "").split("/");
  if (path.startsWith("/") || path.includes("\\") || path.includes("\0") || segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new MlflowValidationError(field, `artifact path ${JSON.stringify(path)} must be relative, with '/' separators and no '.' or '..' segments`);
  }
  return segments;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/** A run folder read whole, or `undefined` while it has no `meta.yaml`, when it is deleted or not the run it claims. */
async function readRun(runDir: string, experimentId: string, runId: string): Promise<StoredRun | undefined> {
  const text = await fileSystem.readText(fileSystem.join(runDir, META));
  if (text === undefined) return undefined;
  const meta = parseFlatYaml(text);
  if (yamlString(meta, "experiment_id") !== experimentId || (yamlString(meta, "run_id") ?? runId) !== runId) return undefined;
  if ((yamlString(meta, "lifecycle_stage") ?? "active") !== "active") return undefined;
  const [rawMetrics, params, tags] = await Promise.all([
    keyFiles(fileSystem.join(runDir, "metrics")),
    readValues(fileSystem.join(runDir, "params")),
    readValues(fileSystem.join(runDir, "tags")),
  ]);
  const metrics: Record<string, number> = {};
  await eachLimited(rawMetrics, async ([key, path]) => {
    const value = latestValue((await fileSystem.readText(path)) ?? "");
    if (value !== undefined) metrics[key] = value;
  });
  const endTime = meta.get("end_time");
  const datasetInputs = await readRunInputs(runDir, fileSystem.join(runDir, ".."));
  return {
    runId,
    experimentId,
    runName: yamlString(meta, "run_name") ?? tags["mlflow.runName"] ?? "",
    status: STATUS_NAMES[Number(meta.get("status"))] ?? "RUNNING",
    startTime: Number(meta.get("start_time") ?? 0),
    ...(typeof endTime === "number" ? { endTime } : {}),
    artifactUri: yamlString(meta, "artifact_uri") ?? "",
    metrics,
    params,
    tags,
    ...(datasetInputs.length > 0 ? { datasetInputs } : {}),
  };
}

/**
 * The read side of the file store rooted at `root`.
 *
 * @param root The store's absolute root folder.
 * @returns `getRun` and `searchRuns` as the store offers them.
 * @example Find the children of a run
 * ```ts
 * import { fileRunReader } from "./file_store_search.ts";
 * const reader = fileRunReader(await Deno.makeTempDir());
 * const children = await reader.searchRuns({ experimentIds: ["0"], parentRunId: "0123456789abcdef0123456789abcdef" });
 * if (children.length !== 0) throw new Error();
 * ```
 */
export function fileRunReader(
  root: string,
): Pick<TrackingStore, "getRun" | "searchRuns" | "searchRunsPage" | "getExperiment" | "metricHistory" | "listArtifacts" | "downloadArtifact"> {
  const experimentDir = (id: string): string | undefined =>
    NOT_EXPERIMENTS.has(id) || id.includes("/") || id.includes("\\") || id.startsWith(".") ? undefined : fileSystem.join(root, id);
  const readExperiment = async (id: string): Promise<StoredExperiment | undefined> => {
    const dir = experimentDir(id);
    const text = dir === undefined ? undefined : await fileSystem.readText(fileSystem.join(dir, META));
    if (text === undefined) return undefined;
    const meta = parseFlatYaml(text);
    const name = yamlString(meta, "name");
    // MLflow ignores an experiment whose recorded id differs from its folder name.
    if (name === undefined || yamlString(meta, "experiment_id") !== id) return undefined;
    return { experimentId: id, name, lifecycleStage: yamlString(meta, "lifecycle_stage") ?? "active" };
  };
  const artifactPath = (run: RunInfo, path: string, field: string): string => {
    if (!/^file:/i.test(run.artifactUri)) {
      throw new MlflowValidationError("run", `artifacts at '${run.artifactUri}' are not in a local folder; read them through the store that wrote them`);
    }
    return fileSystem.join(fileUrlToPath(run.artifactUri), ...artifactSegments(path, field));
  };
  const reader = {
    // Every run of the experiments is read, filtered, sorted and cut into pages, as MLflow's FileStore.search_runs does.
    async searchRunsPage(query: RunQuery, call: CallOptions = {}): Promise<RunPage> {
      const clauses = parseFilter(query.filter, "filter");
      const orderBy = parseOrderBy(query.orderBy, "orderBy");
      const all = await reader.searchRuns({ experimentIds: query.experimentIds }, call);
      const { page, nextPageToken } = paginate(sortRuns(all.filter((run) => runMatches(run, clauses)), orderBy), query.pageToken, query.maxResults);
      return nextPageToken === undefined ? { runs: page } : { runs: page, nextPageToken };
    },

    async getExperiment(ref: ExperimentRef, _call: CallOptions = {}): Promise<StoredExperiment | undefined> {
      if (ref.id !== undefined) return await readExperiment(ref.id);
      let found: StoredExperiment | undefined;
      for (const entry of await fileSystem.listDirectory(root)) {
        if (!entry.isDirectory || experimentDir(entry.name) === undefined) continue;
        const experiment = await readExperiment(entry.name);
        // An active experiment of the name wins over a deleted one.
        if (experiment?.name === ref.name && (found === undefined || experiment!.lifecycleStage === "active")) found = experiment;
      }
      return found;
    },

    async metricHistory(runId: string, key: string, call: CallOptions = {}): Promise<Metric[]> {
      const run = await reader.getRun(runId, call);
      if (run === undefined) {
        throw new MlflowError(`run '${runId}' does not exist (or is deleted) in ${root}`, { errorCode: "RESOURCE_DOES_NOT_EXIST", endpoint: "file-store metricHistory" });
      }
      const segments = key.split("/");
      if (segments.some((s) => s === "" || s === "." || s === "..")) return [];
      const text = await fileSystem.readText(fileSystem.join(root, run.experimentId, runId, "metrics", ...segments));
      return parsePoints(key, text ?? "");
    },

    async listArtifacts(run: RunInfo, dir: string, _call: CallOptions = {}): Promise<ArtifactEntry[]> {
      const folder = artifactPath(run, dir, "path");
      const prefix = dir === "" ? "" : `${dir.replace(/\/+$/, "")}/`;
      const entries: ArtifactEntry[] = [];
      for (const entry of await fileSystem.listDirectory(folder)) {
        const path = `${prefix}${entry.name}`;
        if (entry.isDirectory) entries.push({ path, isDir: true });
        else entries.push({ path, isDir: false, size: (await fileSystem.pathInfo(fileSystem.join(folder, entry.name)))?.size ?? 0 });
      }
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async downloadArtifact(run: RunInfo, path: string, _call: CallOptions = {}): Promise<Uint8Array> {
      const file = await openLocalFile(artifactPath(run, path, "path"), "path").catch((err: unknown) => {
        if (err instanceof MlflowValidationError) {
          throw new MlflowError(`artifact '${path}' of run ${run.runId} does not exist (or is a folder)`, {
            errorCode: "RESOURCE_DOES_NOT_EXIST",
            endpoint: "file-store downloadArtifact",
          });
        }
        throw err;
      });
      return await readAll(file.open());
    },

    async getRun(runId: string, _call: CallOptions = {}): Promise<StoredRun | undefined> {
      if (typeof runId !== "string" || !/^[a-zA-Z0-9][\w-]{0,255}$/.test(runId)) return undefined;
      for (const entry of await fileSystem.listDirectory(root)) {
        const dir = entry.isDirectory ? experimentDir(entry.name) : undefined;
        if (dir === undefined) continue;
        const run = await readRun(fileSystem.join(dir, runId), entry.name, runId);
        if (run !== undefined) return run;
      }
      return undefined;
    },

    async searchRuns(search: RunSearch, _call: CallOptions = {}): Promise<StoredRun[]> {
      const found: StoredRun[] = [];
      for (const experimentId of new Set(search.experimentIds)) {
        const dir = experimentDir(experimentId);
        if (dir === undefined) continue;
        const folders = (await fileSystem.listDirectory(dir)).filter((e) => e.isDirectory);
        await eachLimited(folders, async ({ name }) => {
          const runDir = fileSystem.join(dir, name);
          // The parent tag is one small file: read it before the rest of the run.
          if (search.parentRunId !== undefined) {
            const parent = await fileSystem.readText(fileSystem.join(runDir, "tags", PARENT_TAG));
            if (parent !== search.parentRunId) return;
          }
          const run = await readRun(runDir, experimentId, name);
          if (run !== undefined) found.push(run);
        });
      }
      return found;
    },
  };
  return reader;
}
