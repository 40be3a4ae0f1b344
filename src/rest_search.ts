/**
 * Reading runs back from a tracking server: `runs/get` for one run and
 * `runs/search` for many, paged until the last page. The REST store's
 * {@link TrackingStore.getRun} and {@link TrackingStore.searchRuns}.
 *
 * @module
 */
import { MlflowError } from "./errors.ts";
import type { HttpClient } from "./http.ts";
import type { CallOptions, RunSearch, RunStatus, StoredRun, TrackingStore } from "./store.ts";

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
}

// The server writes NaN and ±Infinity as the strings "NaN", "Infinity" and "-Infinity" (transcript 36).
const toNumber = (value: number | string): number => (typeof value === "number" ? value : Number(value));

function toStoredRun(run: RestRun): StoredRun {
  const { info, data = {} } = run;
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
export function restRunReader(http: HttpClient): Pick<TrackingStore, "getRun" | "searchRuns"> {
  return {
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
