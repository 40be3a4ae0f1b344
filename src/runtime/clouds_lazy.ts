/**
 * The code of each cloud's artifact store, sign-in and request signing,
 * imported when a run first needs it (`#clouds` everywhere but the Node
 * build): the edge and workerd builds keep each in a chunk of its own, and a
 * runtime importing the sources reads a cloud's files only for a run in that
 * cloud.
 *
 * @module
 */

/** Loaders of the code that only some tracking and artifact URIs need. */
export interface CloudCode {
  /** The tracking server's artifact proxy (`mlflow-artifacts:`). */
  proxyStore(): Promise<typeof import("../artifact_stores/proxy.ts")>;
  /** Databricks run artifacts (`dbfs:`). */
  databricksStore(): Promise<typeof import("../artifact_stores/databricks.ts")>;
  /** `s3://` artifacts. */
  s3Store(): Promise<typeof import("../artifact_stores/s3.ts")>;
  /** `wasbs://` artifacts. */
  azureStore(): Promise<typeof import("../artifact_stores/azure.ts")>;
  /** `gs://` artifacts. */
  gcsStore(): Promise<typeof import("../artifact_stores/gcs.ts")>;
  /** A Databricks workspace's settings (environment, `~/.databrickscfg`). */
  databricksSettings(): Promise<typeof import("../databricks/settings.ts")>;
  /** Signing in to a Databricks workspace (token, OAuth). */
  databricksAuth(): Promise<typeof import("../databricks/auth.ts")>;
  /** AWS SigV4. */
  sigV4(): Promise<typeof import("../aws/sigv4.ts")>;
  /** Reading AWS credentials and region. */
  awsCredentials(): Promise<typeof import("../aws/credentials.ts")>;
}

/**
 * Each loader an `import()`.
 *
 * @example Load the S3 store
 * ```ts
 * import { cloudCode } from "./clouds_lazy.ts";
 * const { s3Artifacts } = await cloudCode.s3Store();
 * if (!s3Artifacts().accepts("s3://bucket/1/r/artifacts")) throw new Error();
 * ```
 */
export const cloudCode: CloudCode = {
  proxyStore: () => import("../artifact_stores/proxy.ts"),
  databricksStore: () => import("../artifact_stores/databricks.ts"),
  s3Store: () => import("../artifact_stores/s3.ts"),
  azureStore: () => import("../artifact_stores/azure.ts"),
  gcsStore: () => import("../artifact_stores/gcs.ts"),
  databricksSettings: () => import("../databricks/settings.ts"),
  databricksAuth: () => import("../databricks/auth.ts"),
  sigV4: () => import("../aws/sigv4.ts"),
  awsCredentials: () => import("../aws/credentials.ts"),
};
