/**
 * The artifact store kinds a REST connection knows, each told by its URI test
 * and loaded through `#clouds` on the first run that uses it: the edge and
 * workerd builds keep every store in a chunk of its own, and a runtime parses
 * a cloud's code only when a run's `artifact_uri` is in that cloud (the Node
 * build imports them with the module, `runtime/clouds_eager.ts`).
 *
 * @module
 */
import { cloudCode } from "#clouds";
import { type ArtifactStoreKind, lazyArtifactStore } from "../artifact_repository.ts";
import type { AwsOptions } from "../aws/options.ts";
import type { GcpOptions } from "../gcp/options.ts";
import { bucketLocation, isAzureUri, isDbfsUri, isProxiedUri } from "./uris.ts";

/** What the bucket stores take from the connection. */
export interface ServerKindOptions {
  /** AWS credentials and region for `s3://` artifacts instead of the environment's. */
  aws?: AwsOptions;
  /** The region of `s3://` buckets when none is configured (a SageMaker ARN's). */
  s3Region?: string;
  /** The service account for `gs://` artifacts instead of `GOOGLE_APPLICATION_CREDENTIALS`. */
  gcp?: GcpOptions;
}

/**
 * The tracking server's artifact proxy (`mlflow-artifacts:` and `http(s):`
 * run URIs), `./proxy.ts` loaded on first use.
 *
 * @example It takes proxied URIs
 * ```ts
 * import { proxyKind } from "./kinds.ts";
 * if (!proxyKind.accepts("mlflow-artifacts:/1/r/artifacts") || proxyKind.accepts("s3://b/p")) throw new Error();
 * ```
 */
export const proxyKind: ArtifactStoreKind = lazyArtifactStore(
  "mlflow-artifacts",
  isProxiedUri,
  async () => (await cloudCode.proxyStore()).proxyArtifacts,
);

/**
 * Databricks run artifacts (`dbfs:` run URIs), `./databricks.ts` loaded on first use.
 *
 * @example It takes DBFS URIs
 * ```ts
 * import { databricksKind } from "./kinds.ts";
 * if (!databricksKind.accepts("dbfs:/databricks/mlflow-tracking/1/r/artifacts")) throw new Error();
 * ```
 */
export const databricksKind: ArtifactStoreKind = lazyArtifactStore(
  "databricks",
  isDbfsUri,
  async () => (await cloudCode.databricksStore()).databricksArtifacts,
);

/**
 * Every kind a tracking server's runs may name, in the order they are tried:
 * the proxy, Databricks (a workspace named by its https:// URL hands out
 * `dbfs:` run URIs), S3, Azure Blob and Google Cloud Storage.
 *
 * @param options Credentials and the default S3 region.
 * @returns The kinds; each loads its code on the first run it opens.
 * @example An S3 run is taken by the S3 kind
 * ```ts
 * import { serverKinds } from "./kinds.ts";
 * const kinds = serverKinds({});
 * if (kinds.find((k) => k.accepts("s3://bucket/1/r/artifacts"))?.name !== "s3") throw new Error();
 * ```
 */
export function serverKinds(options: ServerKindOptions): ArtifactStoreKind[] {
  const { aws, s3Region, gcp } = options;
  return [
    proxyKind,
    databricksKind,
    lazyArtifactStore("s3", (uri) => bucketLocation("s3", uri) !== undefined, async () =>
      (await cloudCode.s3Store()).s3Artifacts({ ...(aws !== undefined ? { aws } : {}), ...(s3Region !== undefined ? { defaultRegion: s3Region } : {}) })),
    lazyArtifactStore("azure", isAzureUri, async () => (await cloudCode.azureStore()).azureArtifacts()),
    lazyArtifactStore("gcs", (uri) => bucketLocation("gs", uri) !== undefined, async () =>
      (await cloudCode.gcsStore()).gcsArtifacts(gcp !== undefined ? { gcp } : {})),
  ];
}
