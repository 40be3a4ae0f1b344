/**
 * The store for `databricks` tracking URIs: MLflow's REST API on the
 * workspace (`{host}/api/2.0/mlflow/…`, the same paths and JSON as a
 * self-hosted server), signed in with a personal access token or a service
 * principal's OAuth token. The workspace and credentials are resolved on the
 * first call (reading `~/.databrickscfg` may be needed), experiment names are
 * checked to be workspace paths before any request, a missing parent folder
 * is created with `workspace/mkdirs`, and run artifacts go through the
 * workspace's signed URLs.
 *
 * @module
 */
import { databricksArtifacts } from "../artifact_stores/databricks.ts";
import { type BatchLimits, MLFLOW_BATCH_LIMITS } from "../batch.ts";
import { MlflowError } from "../errors.ts";
import { type HeadersProvider, HttpClient, type RetryOptions } from "../http.ts";
import { createRestStore } from "../rest_store.ts";
import type { CallOptions, ExperimentRef, TrackingStore } from "../store.ts";
import { databricksAuthorization } from "./auth.ts";
import { parentFolder, workspaceExperimentPath } from "./experiment_path.ts";
import { resolveDatabricksSettings } from "./settings.ts";

/** What {@link createDatabricksStore} needs. */
export interface DatabricksStoreOptions {
  /** The profile the tracking URI names (`databricks://<profile>`). */
  profile?: string;
  /** Environment with `DATABRICKS_*` (and `HOME` for the configuration file). */
  env: Record<string, string | undefined>;
  /** The `fetch` for workspace requests and signed URLs. */
  fetch: typeof fetch;
  /** Extra headers for every workspace request. */
  headers?: HeadersProvider;
  /** Retry and timeout settings. */
  retry: Required<RetryOptions>;
  /** Lower `log-batch` limits. */
  batchLimits?: Partial<BatchLimits>;
  /** Check uploads against `artifacts/list`; default true. */
  verifyArtifacts?: boolean;
}

interface Opened {
  rest: TrackingStore;
  http: HttpClient;
}

// Databricks' answer to an experiment whose folder is missing (databricks-demos/dbdemos#155).
const MISSING_PARENT = /parent (directory|folder).*does not exist/i;

/**
 * Creates the store of a Databricks workspace. Nothing is read or sent until
 * the first call.
 *
 * @param options Profile, environment, fetch, headers, retries.
 * @returns The store.
 * @example A store from the environment (no request is made here)
 * ```ts
 * import { createDatabricksStore } from "./store.ts";
 * import { DEFAULT_RETRY } from "../http.ts";
 * const store = createDatabricksStore({
 *   env: { DATABRICKS_HOST: "https://x.cloud.databricks.com", DATABRICKS_TOKEN: "dapi1" },
 *   fetch, retry: DEFAULT_RETRY,
 * });
 * if (store.location !== "databricks") throw new Error(store.location);
 * await store.resolveExperiment({ name: "bare-name" }).then(() => { throw new Error("accepted"); }, () => undefined);
 * ```
 */
export function createDatabricksStore(options: DatabricksStoreOptions): TrackingStore {
  let location = options.profile !== undefined ? `databricks://${options.profile}` : "databricks";
  let opening: Promise<Opened> | undefined;
  const open = (): Promise<Opened> => {
    if (opening === undefined) {
      opening = (async () => {
        const settings = await resolveDatabricksSettings(options.profile, options.env);
        const authorize = databricksAuthorization(settings, options.fetch, options.retry);
        const client = {
          baseUrl: settings.host,
          fetch: options.fetch,
          authorize,
          ...(options.headers !== undefined ? { headers: options.headers } : {}),
          retry: options.retry,
        };
        const rest = createRestStore({
          ...client,
          env: options.env,
          artifactStores: [databricksArtifacts],
          ...(options.batchLimits !== undefined ? { batchLimits: options.batchLimits } : {}),
          ...(options.verifyArtifacts !== undefined ? { verifyArtifacts: options.verifyArtifacts } : {}),
        });
        location = `${location} (${settings.host})`;
        return { rest, http: new HttpClient(client) };
      })();
      // A setting fixed after a failure (a file written, a variable set) is read on the next call.
      opening.catch(() => (opening = undefined));
    }
    return opening;
  };

  return {
    get location(): string {
      return location;
    },
    batchLimits: { ...MLFLOW_BATCH_LIMITS, ...options.batchLimits },
    verifyArtifacts: options.verifyArtifacts ?? true,

    async resolveExperiment(ref: ExperimentRef, call: CallOptions = {}): Promise<string> {
      // Checked before any request, the configuration file included.
      const name = ref.name === undefined ? undefined : workspaceExperimentPath(ref.name, "experiment");
      const { rest, http } = await open();
      if (name === undefined) return await rest.resolveExperiment(ref, call);
      try {
        return await rest.resolveExperiment({ name }, call);
      } catch (err) {
        if (!(err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST" && MISSING_PARENT.test(err.message))) throw err;
        await http.json("POST", "workspace/mkdirs", { path: parentFolder(name) }, call);
        return await rest.resolveExperiment({ name }, call);
      }
    },
    runExperiment: async (runId, call) => (await open()).rest.runExperiment(runId, call),
    createRun: async (request, call) => (await open()).rest.createRun(request, call),
    logBatch: async (runId, batch, call) => (await open()).rest.logBatch(runId, batch, call),
    uploadArtifact: async (run, artifact, call) => (await open()).rest.uploadArtifact(run, artifact, call),
    artifactSizes: async (run, dir, call) => (await open()).rest.artifactSizes(run, dir, call),
    finishRun: async (runId, status, endTime) => (await open()).rest.finishRun(runId, status, endTime),
  };
}
