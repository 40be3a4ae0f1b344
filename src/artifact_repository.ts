/**
 * Where a REST run's artifacts are written. The tracking server decides the
 * protocol through the run's `artifact_uri` (MLflow's own client dispatches
 * the same way): `mlflow-artifacts:` goes through the server's proxy, a
 * bucket URI straight to the bucket. Each kind of store is its own module in
 * `artifact_stores/`, behind this one interface, so the backtest logic and
 * the REST store never change per cloud.
 *
 * @module
 */
import { MlflowError } from "./errors.ts";
import type { HttpClient, RetryOptions } from "./http.ts";
import type { SizedBody } from "./artifact_body.ts";
import { lazyModule } from "./lazy_module.ts";
import type { Artifact, CallOptions, RunInfo, StoredArtifact } from "./store.ts";

/** The artifact side of one run: uploads and the listing that checks them. */
export interface ArtifactRepository {
  /** Stores one artifact under the run's artifact root; the caller releases the result. */
  upload(artifact: Artifact, call: CallOptions): Promise<StoredArtifact>;
  /**
   * Sizes of the files directly inside `dir` of the run's artifacts, by file
   * name (`""` is the root). A file listed without a size has 0 bytes.
   */
  sizes(dir: string, call: CallOptions): Promise<Map<string, number>>;
}

/** What an artifact store module is given to open a run's repository. */
export interface ArtifactRepositoryContext {
  /** The run, with its `artifactUri`. */
  readonly run: RunInfo;
  /** The tracking server's client: its base URL, auth and retries. */
  readonly http: HttpClient;
  /** The `fetch` to reach a bucket or signed URL with (no tracking auth added). */
  readonly fetch: typeof fetch;
  /** Environment to read credentials from (the connection's `env`). */
  readonly env: Record<string, string | undefined>;
  /** The connection's retry settings, for requests that do not go through `http`. */
  readonly retry: Required<RetryOptions>;
}

/** One kind of artifact store: which URIs it takes and how to open a run's repository. */
export interface ArtifactStoreKind {
  /** A short name for errors, e.g. `s3`. */
  readonly name: string;
  /** Whether this kind writes the given `artifact_uri`. */
  accepts(artifactUri: string): boolean;
  /** Opens the run's repository; may read credentials. */
  open(context: ArtifactRepositoryContext): ArtifactRepository | Promise<ArtifactRepository>;
}

/**
 * A kind whose URI test is at hand and whose code is loaded on the first
 * `open`, once for every run after it (state the kind keeps, such as a cached
 * token, is shared as with the kind itself).
 *
 * @param name The kind's short name.
 * @param accepts Which `artifact_uri`s it takes, without loading its code.
 * @param load Imports the code and makes the kind.
 * @returns The kind.
 * @throws {MlflowError} `INTERNAL_ERROR` from `open` when the code cannot be loaded.
 * @example A kind loaded on the first run that needs it
 * ```ts
 * import { lazyArtifactStore } from "./artifact_repository.ts";
 * const proxy = lazyArtifactStore("mlflow-artifacts", (uri) => uri.startsWith("mlflow-artifacts:"),
 *   async () => (await import("./artifact_stores/proxy.ts")).proxyArtifacts);
 * if (!proxy.accepts("mlflow-artifacts:/1/r/artifacts")) throw new Error();
 * ```
 */
export function lazyArtifactStore(
  name: string,
  accepts: (artifactUri: string) => boolean,
  load: () => Promise<ArtifactStoreKind>,
): ArtifactStoreKind {
  const kind = lazyModule(`the ${name} artifact store`, load);
  return { name, accepts, open: async (context) => await (await kind()).open(context) };
}

/**
 * Opens the repository of a run with the first kind that accepts its
 * `artifact_uri`.
 *
 * @param kinds The kinds this store knows, in order.
 * @param context The run and connection.
 * @returns The run's repository.
 * @throws {MlflowError} `UNSUPPORTED_ARTIFACT_STORE` when no kind accepts the URI.
 * @example A run whose artifacts no kind takes
 * ```ts
 * import { openArtifactRepository } from "./artifact_repository.ts";
 * import { HttpClient, DEFAULT_RETRY } from "./http.ts";
 * const http = new HttpClient({ baseUrl: "http://h:5000", fetch, retry: DEFAULT_RETRY });
 * const run = { runId: "r", experimentId: "1", runName: "", startTime: 0, artifactUri: "ftp://x/y" };
 * try {
 *   await openArtifactRepository([], { run, http, fetch, env: {}, retry: DEFAULT_RETRY });
 *   throw new Error("accepted");
 * } catch (err) {
 *   if ((err as { errorCode?: string }).errorCode !== "UNSUPPORTED_ARTIFACT_STORE") throw err;
 * }
 * ```
 */
export async function openArtifactRepository(
  kinds: readonly ArtifactStoreKind[],
  context: ArtifactRepositoryContext,
): Promise<ArtifactRepository> {
  const uri = context.run.artifactUri;
  const kind = kinds.find((k) => k.accepts(uri));
  if (kind !== undefined) return await kind.open(context);
  throw new MlflowError(
    `run ${context.run.runId} stores artifacts at '${uri}', which this module cannot write with fetch. ` +
      "Start the MLflow server with artifact serving (`mlflow server --serve-artifacts`, the default, " +
      "with --artifacts-destination pointing at that store) and log to an experiment created on it, " +
      "so runs get mlflow-artifacts:/ URIs",
    { errorCode: "UNSUPPORTED_ARTIFACT_STORE" },
  );
}

/**
 * Sends a sized body once with `put` and reports it as stored: the same
 * `put` is the resend, and the body is released by the caller, or here at
 * once when the first send fails.
 *
 * @param path The artifact path.
 * @param body The sized body `put` sends.
 * @param put Sends the body (again, when called again).
 * @returns What was stored, for the size check.
 * @throws The first send's error, after the body is released.
 * @example A send that succeeds
 * ```ts
 * import { sendStored } from "./artifact_repository.ts";
 * import { sizedBody } from "./artifact_body.ts";
 * const body = await sizedBody("a,b\n", "x.csv");
 * const stored = await sendStored("x.csv", body, async () => {});
 * if (stored.size !== 4) throw new Error(String(stored.size));
 * await stored.release();
 * ```
 */
export async function sendStored(path: string, body: SizedBody, put: () => Promise<unknown>): Promise<StoredArtifact> {
  try {
    await put();
  } catch (err) {
    await body.release();
    throw err;
  }
  return { path, size: body.size, resend: async () => void (await put()), release: () => body.release() };
}

/**
 * The object-name prefix that lists the files directly inside `dir` of a
 * run whose artifacts live under `root` in a bucket (`""` is the run's root).
 *
 * @param root The run's artifact root inside the bucket, without slashes at either end.
 * @param dir A folder inside the run's artifacts.
 * @returns The prefix, ending in `/` unless both are empty.
 * @example A folder of a run
 * ```ts
 * import { listingPrefix } from "./artifact_repository.ts";
 * if (listingPrefix("mlflow/1/r/artifacts", "plots") !== "mlflow/1/r/artifacts/plots/") throw new Error();
 * if (listingPrefix("", "") !== "") throw new Error();
 * ```
 */
export function listingPrefix(root: string, dir: string): string {
  return `${[root, dir].filter((p) => p !== "").join("/")}/`.replace(/^\/$/, "");
}
