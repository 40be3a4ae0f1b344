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
import { cloudCode } from "#clouds";
import { databricksKind } from "../artifact_stores/kinds.ts";
import { type BatchLimits, MLFLOW_BATCH_LIMITS } from "../batch.ts";
import { MlflowError } from "../errors.ts";
import { type HeadersProvider, HttpClient, type RetryOptions } from "../http.ts";
import { lazyModule } from "../lazy_module.ts";
import { createRestStore } from "../rest_store.ts";
import type { CallOptions, ExperimentRef, TrackingStore } from "../store.ts";
import { parentFolder, workspaceExperimentPath } from "./experiment_path.ts";

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

// Reading the workspace's settings and signing in, loaded with the first call.
const signIn = lazyModule("the Databricks sign-in", () => Promise.all([cloudCode.databricksSettings(), cloudCode.databricksAuth()]));

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
        const [{ resolveDatabricksSettings }, { databricksAuthorization }] = await signIn();
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
          artifactStores: [databricksKind],
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

  const resolveExperiment = async (ref: ExperimentRef, call: CallOptions = {}): Promise<string> => {
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
  };

  // Every other operation is the REST store's, once the workspace is resolved. The names are
  // taken from a REST store that never sends anything, so an operation the store contract
  // gains is delegated too.
  const template = createRestStore({ baseUrl: "https://databricks.invalid", fetch: options.fetch, retry: options.retry });
  const store: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (typeof value !== "function") continue;
    store[key] = async (...args: unknown[]): Promise<unknown> => {
      const rest = (await open()).rest as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return await rest[key]!(...args);
    };
  }
  Object.defineProperty(store, "location", { get: () => location, enumerable: true });
  Object.assign(store, {
    batchLimits: { ...MLFLOW_BATCH_LIMITS, ...options.batchLimits },
    verifyArtifacts: options.verifyArtifacts ?? true,
    resolveExperiment,
  });
  return store as unknown as TrackingStore;
}
