/**
 * Runs whose artifacts live straight in Google Cloud Storage: `gs://` run
 * URIs, which a server started with `--no-serve-artifacts
 * --default-artifact-root gs://<bucket>/<path>` hands out. Each file is one
 * sized media upload (`uploadType=media`, doc:
 * cloud.google.com/storage/docs/json_api/v1/objects/insert) named
 * `<run URI path>/<artifact path>`, as MLflow's `GCSArtifactRepository`
 * writes it, with a service account's OAuth token (`gcp/*`); the uploads are
 * checked with the objects list (`prefix`, `delimiter=/`, `pageToken`; doc:
 * cloud.google.com/storage/docs/json_api/v1/objects/list).
 * `STORAGE_EMULATOR_HOST` replaces `https://storage.googleapis.com`, as in
 * Google's client libraries.
 *
 * @module
 */
import { sizedBody } from "../artifact_body.ts";
import { type ArtifactRepository, type ArtifactRepositoryContext, type ArtifactStoreKind, listingPrefix, sendStored } from "../artifact_repository.ts";
import { MlflowValidationError } from "../errors.ts";
import type { GcpOptions } from "../gcp/options.ts";
import { loadServiceAccount } from "../gcp/service_account.ts";
import { googleAuthorization } from "../gcp/token.ts";
import { type AuthorizationProvider, HttpClient } from "../http.ts";
import type { Artifact, CallOptions, StoredArtifact } from "../store.ts";
import { bucketLocation } from "./uris.ts";

/** Options of {@link gcsArtifacts}. */
export interface GcsArtifactOptions {
  /** The service account instead of `GOOGLE_APPLICATION_CREDENTIALS`. */
  gcp?: GcpOptions;
  /** Largest objects-list page asked for (`maxResults`); default the service's 1000. */
  listPageSize?: number;
}

interface ListAnswer {
  items?: { name: string; size?: string | number }[];
  nextPageToken?: string;
}

/**
 * The storage service's base URL: `STORAGE_EMULATOR_HOST` (with or without
 * a scheme; `http` when none) or `https://storage.googleapis.com`.
 *
 * @param env The connection's environment.
 * @returns The base URL, without a trailing slash.
 * @throws {MlflowValidationError} When `STORAGE_EMULATOR_HOST` is not a host or URL.
 * @example
 * ```ts
 * import { gcsBaseUrl } from "./gcs.ts";
 * if (gcsBaseUrl({ STORAGE_EMULATOR_HOST: "127.0.0.1:4443" }) !== "http://127.0.0.1:4443") throw new Error();
 * if (gcsBaseUrl({}) !== "https://storage.googleapis.com") throw new Error();
 * ```
 */
export function gcsBaseUrl(env: Record<string, unknown>): string {
  const raw = typeof env.STORAGE_EMULATOR_HOST === "string" ? env.STORAGE_EMULATOR_HOST.trim() : "";
  if (raw === "") return "https://storage.googleapis.com";
  try {
    const url = new URL(/^https?:\/\//.test(raw) ? raw : `http://${raw}`);
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    throw new MlflowValidationError("STORAGE_EMULATOR_HOST", "is not a host or URL; set it to e.g. 127.0.0.1:4443, or unset it");
  }
}

/**
 * Runs with `gs://` artifact URIs.
 *
 * @param options The service account instead of the environment's, and the page size.
 * @returns The artifact store kind.
 * @example The kind takes gs:// URIs only
 * ```ts
 * import { gcsArtifacts } from "./gcs.ts";
 * const gcs = gcsArtifacts();
 * if (!gcs.accepts("gs://bucket/mlflow/1/r/artifacts") || gcs.accepts("s3://b/p")) throw new Error();
 * ```
 */
export function gcsArtifacts(options: GcsArtifactOptions = {}): ArtifactStoreKind {
  // One token per service account for every run of the connection (a sweep's cells share it).
  const authorizations = new Map<string, AuthorizationProvider>();
  return {
    name: "gcs",
    accepts: (uri: string): boolean => bucketLocation("gs", uri) !== undefined,
    open: async ({ run, fetch, env, retry }: ArtifactRepositoryContext): Promise<ArtifactRepository> => {
      const { bucket, root } = bucketLocation("gs", run.artifactUri) ?? { bucket: "", root: "" };
      const base = gcsBaseUrl(env);
      const account = await loadServiceAccount(env, options.gcp, `writing the artifacts of run ${run.runId} to ${run.artifactUri}`);
      const key = JSON.stringify([account.source, account.clientEmail, account.privateKeyId ?? "", account.tokenUri]);
      let authorize = authorizations.get(key);
      if (authorize === undefined) authorizations.set(key, authorize = googleAuthorization(account, fetch, retry));
      const http = new HttpClient({ baseUrl: base, fetch, retry, authorize });
      const bucketPath = `/storage/v1/b/${encodeURIComponent(bucket)}/o`;
      const nameOf = (artifactPath: string): string => (root === "" ? artifactPath : `${root}/${artifactPath}`);
      return {
        async upload(artifact: Artifact, call: CallOptions): Promise<StoredArtifact> {
          const body = await sizedBody(artifact.body, artifact.path, call.signal);
          const url = `${base}/upload${bucketPath}?uploadType=media&name=${encodeURIComponent(nameOf(artifact.path))}`;
          const endpoint = `POST /upload${bucketPath} (${artifact.path})`;
          const put = () => http.send("POST", url, endpoint, () => body.open(), artifact.contentType, () => undefined, { ...call, upload: true });
          return await sendStored(artifact.path, body, put);
        },

        async sizes(dir: string, call: CallOptions): Promise<Map<string, number>> {
          const prefix = listingPrefix(root, dir);
          const sizes = new Map<string, number>();
          let pageToken: string | undefined;
          do {
            const query = [
              `prefix=${encodeURIComponent(prefix)}`,
              "delimiter=%2F",
              ...(options.listPageSize !== undefined ? [`maxResults=${options.listPageSize}`] : []),
              ...(pageToken ? [`pageToken=${encodeURIComponent(pageToken)}`] : []),
            ].join("&");
            const page = await http.send<ListAnswer>("GET", `${base}${bucketPath}?${query}`, `GET ${bucketPath} (objects list)`, () => undefined, "",
              (text) => JSON.parse(text) as ListAnswer, call);
            for (const item of page.items ?? []) {
              if (item.name.startsWith(prefix)) sizes.set(item.name.slice(prefix.length), Number(item.size ?? 0));
            }
            pageToken = page.nextPageToken || undefined;
          } while (pageToken);
          return sizes;
        },
      };
    },
  };
}
