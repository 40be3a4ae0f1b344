/**
 * Reading runs back from a tracking server: `runs/get` for one run and
 * `runs/search` for many, paged until the last page. The REST store's
 * {@link TrackingStore.getRun} and {@link TrackingStore.searchRuns}.
 *
 * @module
 */
import { artifactUrl } from "./artifact_stores/uris.ts";
import { MlflowError } from "./errors.ts";
import { datasetInputsFromRest, type RestDatasetInput } from "./rest_inputs.ts";
import type { HttpClient } from "./http.ts";
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

/** Runs per `runs/search` page; MLflow's SQL store takes up to 50,000, its docs advise 1,000. */
export const SEARCH_PAGE_SIZE = 1000;

/** A run as `runs/get` and `runs/search` answer it (transcripts 36 and 46). */
interface RestRun {
  info: {
    run_id: string;
    experiment_id: string;
    run_name?: string;
    status?: RunStatus;
    start_time?: number | string;
    end_time?: number | string;
    artifact_uri?: string;
    lifecycle_stage?: string;
  };
  // Empty lists are left out of the answer (transcript 63: a run without metrics has no `metrics`).
  data?: {
    metrics?: { key: string; value: number | string; timestamp?: number | string; step?: number | string }[];
    params?: { key: string; value?: string }[];
    tags?: { key: string; value?: string }[];
  };
  inputs?: { dataset_inputs?: RestDatasetInput[] };
}

/** Points per `metrics/get-history` page; MLflow's own client asks 25,000 (`get_metric_history`). */
const HISTORY_PAGE_SIZE = 25_000;

interface RestMetric {
  key: string;
  value: number | string;
  timestamp?: number | string;
  step?: number | string;
}

interface RestExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage?: string;
}

interface ListAnswer {
  files?: { path: string; is_dir?: boolean; file_size?: number | string }[];
  next_page_token?: string;
}

// The server writes NaN and ±Infinity as the strings "NaN", "Infinity" and "-Infinity" (transcript 36).
const toNumber = (value: number | string): number => (typeof value === "number" ? value : Number(value));

function toStoredRun(run: RestRun): StoredRun {
  const { info, data = {}, inputs } = run;
  const stored: StoredRun = {
    runId: info.run_id,
    experimentId: info.experiment_id,
    runName: info.run_name ?? "",
    status: info.status ?? "RUNNING",
    startTime: Number(info.start_time ?? 0),
    artifactUri: info.artifact_uri ?? "",
    // runs/get and runs/search hold the latest value of each metric, one entry per key.
    metrics: Object.fromEntries((data.metrics ?? []).map((m) => [m.key, toNumber(m.value)])),
    params: Object.fromEntries((data.params ?? []).map((p) => [p.key, p.value ?? ""])),
    tags: Object.fromEntries((data.tags ?? []).map((t) => [t.key, t.value ?? ""])),
  };
  if (info.end_time !== undefined && info.end_time !== null) stored.endTime = Number(info.end_time);
  // Transcript 60: `inputs.dataset_inputs` appears once a dataset was logged.
  const datasetInputs = datasetInputsFromRest(inputs);
  if (datasetInputs.length > 0) stored.datasetInputs = datasetInputs;
  return stored;
}

// A filter string literal: MLflow reads '' inside single quotes as one quote.
const quoted = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/**
 * The read side of the REST store.
 *
 * @param http The store's client (retries, budget, auth).
 * @returns `getRun` and `searchRuns` as the store offers them.
 * @example Read one run back
 * ```ts
 * import { restRunReader } from "./rest_search.ts";
 * import { DEFAULT_RETRY, HttpClient } from "./http.ts";
 * const reader = restRunReader(new HttpClient({ baseUrl: "http://127.0.0.1:5000", fetch, retry: DEFAULT_RETRY }));
 * if (typeof reader.searchRuns !== "function") throw new Error();
 * ```
 */
export function restRunReader(
  http: HttpClient,
): Pick<TrackingStore, "getRun" | "searchRuns" | "searchRunsPage" | "getExperiment" | "metricHistory" | "listArtifacts" | "downloadArtifact"> {
  const missing = (err: unknown): boolean => err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST";
  return {
    // The filter and order_by pass through as they are: the caller has checked them.
    async searchRunsPage(query: RunQuery, call: CallOptions = {}): Promise<RunPage> {
      const page = await http.json<{ runs?: RestRun[]; next_page_token?: string }>("POST", "mlflow/runs/search", {
        experiment_ids: query.experimentIds,
        filter: query.filter,
        max_results: query.maxResults,
        ...(query.orderBy.length > 0 ? { order_by: query.orderBy } : {}),
        ...(query.pageToken !== undefined ? { page_token: query.pageToken } : {}),
      }, call);
      const runs = (page.runs ?? []).map(toStoredRun);
      // The SQL store gives a token only when a further row exists (transcripts 63 and 64).
      return runs.length > 0 && page.next_page_token ? { runs, nextPageToken: page.next_page_token } : { runs };
    },

    async getExperiment(ref: ExperimentRef, call: CallOptions = {}): Promise<StoredExperiment | undefined> {
      try {
        const { experiment } = ref.id !== undefined
          ? await http.json<{ experiment: RestExperiment }>("GET", "mlflow/experiments/get", { experiment_id: ref.id }, call)
          : await http.json<{ experiment: RestExperiment }>("GET", "mlflow/experiments/get-by-name", { experiment_name: ref.name }, call);
        return { experimentId: experiment.experiment_id, name: experiment.name, lifecycleStage: experiment.lifecycle_stage ?? "active" };
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },

    // Without max_results the server answers no points at all (transcript 37); with it, pages of that many (38).
    async metricHistory(runId: string, key: string, call: CallOptions = {}): Promise<Metric[]> {
      const points: Metric[] = [];
      let pageToken: string | undefined;
      do {
        const page = await http.json<{ metrics?: RestMetric[]; next_page_token?: string }>("GET", "mlflow/metrics/get-history", {
          run_id: runId,
          metric_key: key,
          max_results: HISTORY_PAGE_SIZE,
          ...(pageToken !== undefined ? { page_token: pageToken } : {}),
        }, call);
        for (const m of page.metrics ?? []) {
          points.push({ key: m.key, value: toNumber(m.value), timestamp: Number(m.timestamp ?? 0), step: Number(m.step ?? 0) });
        }
        pageToken = (page.metrics ?? []).length > 0 && page.next_page_token ? page.next_page_token : undefined;
      } while (pageToken !== undefined);
      return points;
    },

    // artifacts/list answers paths from the run's root and leaves out file_size for an empty file (transcripts 31, 32, 56).
    async listArtifacts(run: RunInfo, dir: string, call: CallOptions = {}): Promise<ArtifactEntry[]> {
      const entries: ArtifactEntry[] = [];
      let pageToken: string | undefined;
      do {
        const page = await http.json<ListAnswer>("GET", "mlflow/artifacts/list", {
          run_id: run.runId,
          ...(dir === "" ? {} : { path: dir }),
          ...(pageToken ? { page_token: pageToken } : {}),
        }, call);
        for (const f of page.files ?? []) {
          entries.push(f.is_dir ? { path: f.path, isDir: true } : { path: f.path, isDir: false, size: Number(f.file_size ?? 0) });
        }
        pageToken = page.files?.length ? page.next_page_token : undefined;
      } while (pageToken);
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    // The proxied GET of mlflow-artifacts/artifacts/<root>/<path> (transcript 34).
    async downloadArtifact(run: RunInfo, path: string, call: CallOptions = {}): Promise<Uint8Array> {
      const url = artifactUrl(http.baseUrl, run, path);
      const text = await http.send("GET", url, `GET ${new URL(url).pathname}`, () => undefined, "application/octet-stream", (t) => t, {
        ...call,
        binary: true,
      });
      return Uint8Array.from(text, (c) => c.charCodeAt(0));
    },

    async getRun(runId: string, call: CallOptions = {}): Promise<StoredRun | undefined> {
      try {
        const { run } = await http.json<{ run: RestRun }>("GET", "mlflow/runs/get", { run_id: runId }, call);
        return run.info.lifecycle_stage === "deleted" ? undefined : toStoredRun(run);
      } catch (err) {
        if (err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
        throw err;
      }
    },

    async searchRuns(search: RunSearch, call: CallOptions = {}): Promise<StoredRun[]> {
      const filter = search.parentRunId === undefined ? "" : `tags.mlflow.parentRunId = ${quoted(search.parentRunId)}`;
      // Pages are offsets into the server's ordering; a run created meanwhile can shift one
      // into the next page, so a run seen twice is kept once.
      const byId = new Map<string, StoredRun>();
      let pageToken: string | undefined;
      do {
        const page = await http.json<{ runs?: RestRun[]; next_page_token?: string }>("POST", "mlflow/runs/search", {
          experiment_ids: search.experimentIds,
          filter,
          max_results: SEARCH_PAGE_SIZE,
          // The SQL store gives a token only when a further row exists (transcripts 63 and 64).
          ...(pageToken !== undefined ? { page_token: pageToken } : {}),
        }, call);
        for (const run of page.runs ?? []) byId.set(run.info.run_id, toStoredRun(run));
        pageToken = (page.runs ?? []).length > 0 && page.next_page_token ? page.next_page_token : undefined;
      } while (pageToken !== undefined);
      return [...byId.values()];
    },
  };
}
