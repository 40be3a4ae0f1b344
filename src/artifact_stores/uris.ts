/**
 * Which artifact store kind takes a run's `artifact_uri`, told from the URI
 * alone, and where a proxied artifact is reached. Kept apart from the
 * stores' code, which is loaded only for a run that uses it
 * (`artifact_stores/kinds.ts`).
 *
 * @module
 */
import { MlflowError } from "../errors.ts";
import type { RunInfo } from "../store.ts";

const PROXIED = /^mlflow-artifacts:(\/\/([^/]*))?(\/.*)?$/;
const HTTP = /^https?:\/\//;
const BUCKET = { s3: /^s3:\/\/([^/]+)(\/.*)?$/, gs: /^gs:\/\/([^/]+)(\/.*)?$/ } as const;

const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/");

/**
 * Whether a run's artifacts go through the tracking server: `mlflow-artifacts:`
 * and `http(s):` artifact URIs.
 *
 * @param uri The run's `artifact_uri`.
 * @returns Whether the proxy store takes it.
 * @example A proxied URI and a bucket
 * ```ts
 * import { isProxiedUri } from "./uris.ts";
 * if (!isProxiedUri("mlflow-artifacts:/1/r/artifacts") || isProxiedUri("s3://bucket/1/r/artifacts")) throw new Error();
 * ```
 */
export function isProxiedUri(uri: string): boolean {
  return PROXIED.test(uri) || HTTP.test(uri);
}

/**
 * Whether an artifact URI is in DBFS (`dbfs:`), which the Databricks store
 * takes, every one of them, so a DBFS path it cannot write gets a Databricks
 * answer rather than the proxy's.
 *
 * @param uri The run's `artifact_uri`.
 * @returns Whether it starts with `dbfs:`.
 * @example A Databricks run
 * ```ts
 * import { isDbfsUri } from "./uris.ts";
 * if (!isDbfsUri("dbfs:/databricks/mlflow-tracking/1/r/artifacts") || isDbfsUri("s3://b/p")) throw new Error();
 * ```
 */
export function isDbfsUri(uri: string): boolean {
  return /^dbfs:/i.test(uri);
}

/**
 * Whether an artifact URI is in Azure Blob storage: `wasbs://`, and
 * `abfss://` (ADLS Gen2), which the Azure store takes to refuse it clearly.
 *
 * @param uri The run's `artifact_uri`.
 * @returns Whether the Azure store takes it.
 * @example A container and a bucket
 * ```ts
 * import { isAzureUri } from "./uris.ts";
 * if (!isAzureUri("wasbs://c@acct.blob.core.windows.net/1/r/artifacts") || isAzureUri("s3://b/p")) throw new Error();
 * ```
 */
export function isAzureUri(uri: string): boolean {
  return uri.startsWith("wasbs://") || uri.startsWith("abfss://");
}

/**
 * The bucket and the run's folder in it of an `s3://` or `gs://` artifact URI.
 *
 * @param scheme `s3` or `gs`.
 * @param uri The run's `artifact_uri`.
 * @returns The bucket and the folder (without slashes at either end), or `undefined` for a URI of another scheme.
 * @example A run's folder in an S3 bucket
 * ```ts
 * import { bucketLocation } from "./uris.ts";
 * const where = bucketLocation("s3", "s3://bucket/mlflow/1/r/artifacts/");
 * if (where?.bucket !== "bucket" || where.root !== "mlflow/1/r/artifacts") throw new Error();
 * if (bucketLocation("gs", "s3://bucket/p") !== undefined) throw new Error();
 * ```
 */
export function bucketLocation(scheme: "s3" | "gs", uri: string): { bucket: string; root: string } | undefined {
  const match = BUCKET[scheme].exec(uri);
  if (match === null) return undefined;
  return { bucket: match[1]!, root: (match[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

/**
 * The URL an artifact is uploaded to, derived from the run's `artifact_uri`
 * as MLflow's own client does: `mlflow-artifacts:` URIs go through the
 * server's artifact proxy, `http(s):` URIs are used as they are.
 *
 * @param trackingUri The tracking server, without credentials.
 * @param run The run.
 * @param path The artifact path inside the run.
 * @returns The upload URL.
 * @throws {MlflowError} `UNSUPPORTED_ARTIFACT_STORE` for a URI that is neither.
 * @example The proxied upload URL of a run's file
 * ```ts
 * import { artifactUrl } from "./uris.ts";
 * const url = artifactUrl("http://h:5000", { runId: "r", experimentId: "1", runName: "", startTime: 0,
 *   artifactUri: "mlflow-artifacts:/1/r/artifacts" }, "equity_curve.csv");
 * if (url !== "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/equity_curve.csv") throw new Error(url);
 * ```
 */
export function artifactUrl(trackingUri: string, run: RunInfo, path: string): string {
  const uri = run.artifactUri;
  const proxied = PROXIED.exec(uri);
  if (proxied) {
    const tracking = new URL(trackingUri);
    const host = proxied[2] || tracking.host;
    const prefix = tracking.pathname.replace(/\/+$/, "");
    const root = (proxied[3] ?? "").replace(/^\/+|\/+$/g, "");
    return `${tracking.protocol}//${host}${prefix}/api/2.0/mlflow-artifacts/artifacts/${encodePath(root)}/${encodePath(path)}`;
  }
  if (HTTP.test(uri)) return `${uri.replace(/\/+$/, "")}/${encodePath(path)}`;
  throw new MlflowError(`run ${run.runId} stores artifacts at '${uri}', which is not a proxied (mlflow-artifacts:) URI`, {
    errorCode: "UNSUPPORTED_ARTIFACT_STORE",
  });
}
