/**
 * The REST implementation of {@link TrackingStore}: an MLflow tracking server
 * (self-hosted or managed) reached with `fetch`.
 *
 * @module
 */
import { type ArtifactRepository, type ArtifactStoreKind, openArtifactRepository } from "./artifact_repository.ts";
import { proxyKind } from "./artifact_stores/kinds.ts";
import { type BatchLimits, MLFLOW_BATCH_LIMITS, planBatches } from "./batch.ts";
import { MlflowError } from "./errors.ts";
import { type CallLimits, HttpClient, type HttpClientOptions, type LateAnswer } from "./http.ts";
import { logInputsBody } from "./rest_inputs.ts";
import { restRunReader } from "./rest_search.ts";
import type {
  Artifact,
  CallOptions,
  CreateRunRequest,
  DatasetInput,
  ExperimentRef,
  KeyValue,
  LogBatchRequest,
  RunInfo,
  RunStatus,
  StoredArtifact,
  TrackingStore,
} from "./store.ts";

/** Options of {@link createRestStore}. */
export interface RestStoreOptions extends HttpClientOptions {
  /** Lower limits for servers with smaller caps. */
  batchLimits?: Partial<BatchLimits>;
  /** Check every upload against `artifacts/list` (one request per folder); default true. */
  verifyArtifacts?: boolean;
  /** Environment artifact stores read credentials from; default none. */
  env?: Record<string, string | undefined>;
  /** Artifact store kinds, tried in order on a run's `artifact_uri`; default the server's proxy alone. */
  artifactStores?: readonly ArtifactStoreKind[];
}

interface RunAnswer {
  run: {
    info: { run_id: string; experiment_id: string; run_name?: string; artifact_uri: string; start_time?: number };
  };
}

/** Most of a `runs/create` budget kept back for cleaning up after a create that failed. */
const CLEANUP_RESERVE_MS = 5_000;

// Late answers are waited for until `until`, then dropped, so nothing outlives the call.
async function settleLate(late: readonly LateAnswer[], until: number): Promise<void> {
  if (late.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, until - Date.now()))));
  await Promise.race([Promise.allSettled(late.map((l) => l.answer)), waited]);
  clearTimeout(timer);
  for (const l of late) l.stop();
}

/** What is known of a `runs/create` call that met an ambiguous failure. */
interface DuplicateCheck {
  /** Attempts that timed out but went on. */
  late: LateAnswer[];
  /** Runs carrying the call's create token. */
  search: (limits: CallOptions & Partial<CallLimits>, max: number) => Promise<RunAnswer["run"][]>;
}

interface ExperimentAnswer {
  experiment: { experiment_id: string; lifecycle_stage?: string };
}

/** Tag that lets a retried `runs/create` find the run a lost answer had created. */
export const CREATE_TOKEN_TAG = "flox.create_token";

/** Tag set on a run a late-committed `runs/create` made twice, naming the run kept; the twin is then deleted. */
export const DUPLICATE_OF_TAG = "flox.duplicate_of";

// Experiment ids by tracking URI and name: a process logging many runs looks each name up once.
const experimentIds = new Map<string, Map<string, string>>();

const toRunInfo = (answer: RunAnswer): RunInfo => ({
  runId: answer.run.info.run_id,
  experimentId: answer.run.info.experiment_id,
  runName: answer.run.info.run_name ?? "",
  artifactUri: answer.run.info.artifact_uri,
  startTime: Number(answer.run.info.start_time ?? 0),
});

/**
 * Creates a store that logs to an MLflow tracking server over REST.
 *
 * @param options Server URL, fetch, auth, retries and batch limits.
 * @returns The store.
 * @example A store for a local server
 * ```ts
 * import { createRestStore } from "./rest_store.ts";
 * import { DEFAULT_RETRY } from "./http.ts";
 * const store = createRestStore({ baseUrl: "http://127.0.0.1:5000", fetch, retry: DEFAULT_RETRY });
 * if (store.location !== "http://127.0.0.1:5000") throw new Error();
 * ```
 */
export function createRestStore(options: RestStoreOptions): TrackingStore {
  const http = new HttpClient(options);
  const limits: BatchLimits = { ...MLFLOW_BATCH_LIMITS, ...options.batchLimits };
  const base = options.baseUrl;
  let cache = experimentIds.get(base);
  if (!cache) experimentIds.set(base, cache = new Map());
  const names = cache;
  // Runs whose creation met an ambiguous failure, checked for a twin when they end.
  const duplicateChecks = new Map<string, DuplicateCheck>();
  // One repository per run, opened on first use (it may read credentials).
  const repositories = new Map<string, Promise<ArtifactRepository>>();
  const kinds = options.artifactStores ?? [proxyKind];
  const repository = (run: RunInfo): Promise<ArtifactRepository> => {
    let opened = repositories.get(run.runId);
    if (opened === undefined) {
      opened = openArtifactRepository(kinds, { run, http, fetch: options.fetch, env: options.env ?? {}, retry: options.retry });
      opened.catch(() => repositories.delete(run.runId));
      repositories.set(run.runId, opened);
    }
    return opened;
  };

  const experimentByName = async (name: string, call: CallOptions): Promise<string | undefined> => {
    try {
      const answer = await http.json<ExperimentAnswer>("GET", "mlflow/experiments/get-by-name", { experiment_name: name }, call);
      if (answer.experiment.lifecycle_stage === "deleted") {
        throw new MlflowError(
          `experiment '${name}' is deleted on ${base}; restore it (mlflow experiments restore) or choose another name`,
          { errorCode: "INVALID_STATE", endpoint: "GET /api/2.0/mlflow/experiments/get-by-name" },
        );
      }
      return answer.experiment.experiment_id;
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw err;
    }
  };

  // Every run a create token found other than `keep` is an empty twin: say whose,
  // end it and delete it (MLflow keeps deleted runs restorable).
  const removeTwins = async (
    check: DuplicateCheck,
    keep: string | undefined,
    endTime: number,
    deadline: number,
  ): Promise<void> => {
    // A server that answers late (a slow database) is waited for, but never past the call's deadline.
    await settleLate(check.late, deadline);
    for (const twin of await check.search({ deadline }, 50)) {
      const id = twin.info.run_id;
      if (id === keep) continue;
      if (keep !== undefined) {
        await http.json("POST", "mlflow/runs/log-batch", { run_id: id, tags: [{ key: DUPLICATE_OF_TAG, value: keep }] });
      }
      await http.json("POST", "mlflow/runs/update", { run_id: id, status: "KILLED", end_time: endTime });
      await http.json("POST", "mlflow/runs/delete", { run_id: id });
    }
  };

  const reader = restRunReader(http);

  return {
    location: base,
    batchLimits: limits,
    verifyArtifacts: options.verifyArtifacts ?? true,
    getRun: reader.getRun,
    searchRuns: reader.searchRuns,
    searchRunsPage: reader.searchRunsPage,
    getExperiment: reader.getExperiment,
    metricHistory: reader.metricHistory,
    listArtifacts: reader.listArtifacts,
    downloadArtifact: reader.downloadArtifact,

    async resolveExperiment(ref: ExperimentRef, call: CallOptions = {}): Promise<string> {
      if (ref.id !== undefined) return ref.id;
      if (ref.name === undefined) return "0";
      const known = names.get(ref.name);
      if (known !== undefined) return known;
      let id = await experimentByName(ref.name, call);
      if (id === undefined) {
        try {
          id = (await http.json<{ experiment_id: string }>("POST", "mlflow/experiments/create", { name: ref.name }, call)).experiment_id;
        } catch (err) {
          // Another process created it between our lookup and create: use theirs.
          if (!(err instanceof MlflowError && err.errorCode === "RESOURCE_ALREADY_EXISTS")) throw err;
          id = await experimentByName(ref.name, call);
          if (id === undefined) throw err;
        }
      }
      names.set(ref.name, id);
      return id;
    },

    async runExperiment(runId: string, call: CallOptions = {}): Promise<string | undefined> {
      try {
        const { run } = await http.json<RunAnswer & { run: { info: { lifecycle_stage?: string } } }>(
          "GET",
          "mlflow/runs/get",
          { run_id: runId },
          call,
        );
        return run.info.lifecycle_stage === "deleted" ? undefined : run.info.experiment_id;
      } catch (err) {
        if (err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
        throw err;
      }
    },

    async createRun(request: CreateRunRequest, call: CallOptions = {}): Promise<RunInfo> {
      const token = crypto.randomUUID();
      const tags: KeyValue[] = [...request.tags, { key: CREATE_TOKEN_TAG, value: token }];
      const late: LateAnswer[] = [];
      // The create gives up early enough to leave time, inside the budget, for cleaning up after itself.
      const deadline = Date.now() + options.retry.budgetMs;
      const reserve = Math.min(options.retry.timeoutMs, options.retry.budgetMs / 4, CLEANUP_RESERVE_MS);
      let ambiguous = false;
      const searchToken = async (limits: CallOptions & Partial<CallLimits>, max: number) =>
        (await http.json<{ runs?: RunAnswer["run"][] }>("POST", "mlflow/runs/search", {
          experiment_ids: [request.experimentId],
          filter: `tags.\`${CREATE_TOKEN_TAG}\` = '${token}'`,
          max_results: max,
        }, limits)).runs ?? [];
      const creating = http.json<RunAnswer>(
        "POST",
        "mlflow/runs/create",
        {
          experiment_id: request.experimentId,
          run_name: request.runName,
          start_time: request.startTime,
          user_id: request.userId,
          tags,
        },
        {
          ...call,
          deadline: deadline - reserve,
          onceOnly: true,
          // A retry after a lost answer must not make a second run: look for the first one.
          beforeRetry: async (limits: CallLimits) => {
            ambiguous = true;
            const [found] = await searchToken(limits, 1);
            return found ? { run: found } : undefined;
          },
          onLateAnswer: (answer: LateAnswer) => {
            ambiguous = true;
            late.push(answer);
          },
        },
      );
      let answer: RunAnswer;
      try {
        answer = await creating;
      } catch (err) {
        // Gave up, yet an attempt may have created the run: no run of this call may stay behind.
        // (Not after an abort, which must settle at once.)
        if (ambiguous && !call.signal?.aborted) {
          await removeTwins({ late, search: searchToken }, undefined, Date.now(), deadline).catch(() => undefined);
        }
        throw err;
      }
      const info = toRunInfo(answer);
      // An attempt that may have committed after we stopped waiting can leave a
      // second run; it is looked for when this run ends, after late answers are in.
      if (ambiguous) duplicateChecks.set(info.runId, { late, search: searchToken });
      return info;
    },

    async logBatch(runId: string, batch: LogBatchRequest, call: CallOptions = {}): Promise<void> {
      for (const part of planBatches(batch, limits)) {
        const body: Record<string, unknown> = { run_id: runId };
        if (part.metrics.length) body.metrics = part.metrics;
        if (part.params.length) body.params = part.params;
        if (part.tags.length) body.tags = part.tags;
        await http.json("POST", "mlflow/runs/log-batch", body, call);
      }
    },

    async logInputs(runId: string, inputs: readonly DatasetInput[], call: CallOptions = {}): Promise<void> {
      // One request: MLflow takes up to 1000 datasets in one (checked with the option).
      if (inputs.length > 0) await http.json("POST", "mlflow/runs/log-inputs", logInputsBody(runId, inputs), call);
    },

    async uploadArtifact(run: RunInfo, artifact: Artifact, call: CallOptions = {}): Promise<StoredArtifact> {
      return await (await repository(run)).upload(artifact, call);
    },

    async artifactSizes(run: RunInfo, dir: string, call: CallOptions = {}): Promise<Map<string, number>> {
      return await (await repository(run)).sizes(dir, call);
    },

    async finishRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
      repositories.delete(runId);
      await http.json("POST", "mlflow/runs/update", { run_id: runId, status, end_time: endTime });
      const check = duplicateChecks.get(runId);
      if (check === undefined) return;
      duplicateChecks.delete(runId);
      await removeTwins(check, runId, endTime, Date.now() + options.retry.budgetMs);
    },
  };
}
