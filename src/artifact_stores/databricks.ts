/**
 * Artifacts of Databricks runs (`dbfs:/databricks/mlflow-tracking/<exp>/<run>/artifacts`):
 * the workspace hands out signed URLs of its cloud storage through
 * `mlflow/artifacts/credentials-for-write` (MLflow's `DatabricksArtifactRepository`,
 * mlflow/store/artifact/databricks_artifact_repo.py), one request for the
 * paths of concurrent uploads, following `next_page_token`. Each file is then
 * written by the credential's `type`: one sized `PUT` with exactly the
 * returned headers for `AWS_PRESIGNED_URL` and `GCP_SIGNED_URL`, Put Blob
 * (`x-ms-blob-type: BlockBlob`) for `AZURE_SAS_URI`. A signed URL refused
 * with 401 or 403 (expired) is replaced by fresh credentials for that path
 * and the upload tried once more, as MLflow does. Uploads are checked with
 * `mlflow/artifacts/list`, which Databricks answers for these runs.
 *
 * Files of `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` (500 MiB) and more go
 * in parts: the workspace's multipart upload on S3 (`../databricks/multipart.ts`),
 * blocks on Azure (`../databricks/azure_blocks.ts`). Not done: ADLS Gen2
 * (`AZURE_ADLS_GEN2_SAS_URI`).
 *
 * @module
 */
import { sizedBody } from "../artifact_body.ts";
import { type ArtifactRepository, type ArtifactRepositoryContext, type ArtifactStoreKind, sendStored } from "../artifact_repository.ts";
import { uploadBlocks } from "../databricks/azure_blocks.ts";
import { multipartLimits, uploadMultipart } from "../databricks/multipart.ts";
import { type ArtifactCredential, isRefusal, signedRequests } from "../databricks/signed_url.ts";
import { MlflowError } from "../errors.ts";
import type { HttpClient } from "../http.ts";
import type { Artifact, CallOptions, StoredArtifact } from "../store.ts";
import { proxyArtifacts } from "./proxy.ts";
import { isDbfsUri } from "./uris.ts";

interface CredentialsAnswer {
  credential_infos?: ArtifactCredential[];
  next_page_token?: string;
}

const RUN_ARTIFACTS = /^dbfs:\/databricks\/mlflow-tracking\//;

/** Paths per `credentials-for-write` request (`_MAX_CREDENTIALS_REQUEST_SIZE`, databricks_artifact_repo.py). */
const MAX_PATHS = 2000;

// Credentials are asked for in one request for every path waiting at the same
// moment: concurrent uploads share a request, as MLflow's log_artifacts does.
class CredentialBatcher {
  #waiting = new Map<string, { resolve: (c: ArtifactCredential) => void; reject: (e: unknown) => void }[]>();
  #scheduled = false;

  constructor(private readonly http: HttpClient, private readonly runId: string) {}

  get(path: string, call: CallOptions): Promise<ArtifactCredential> {
    const signal = call.signal;
    return new Promise<ArtifactCredential>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => signal?.removeEventListener("abort", onAbort);
      const list = this.#waiting.get(path) ?? [];
      list.push({ resolve: (c) => (done(), resolve(c)), reject: (e) => (done(), reject(e)) });
      this.#waiting.set(path, list);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setTimeout(() => void this.#flush(), 0);
      }
    });
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    const paths = [...waiting.keys()];
    for (let i = 0; i < paths.length; i += MAX_PATHS) {
      const chunk = paths.slice(i, i + MAX_PATHS);
      try {
        const found = await this.#request(chunk);
        for (const path of chunk) {
          const credential = found.get(path);
          for (const w of waiting.get(path)!) {
            if (credential !== undefined) w.resolve(credential);
            else {
              w.reject(new MlflowError(`the workspace gave no upload credentials for artifact '${path}' of run ${this.runId}`, {
                errorCode: "BAD_RESPONSE",
                endpoint: "POST /api/2.0/mlflow/artifacts/credentials-for-write",
              }));
            }
          }
        }
      } catch (err) {
        for (const path of chunk) for (const w of waiting.get(path)!) w.reject(err);
      }
    }
  }

  async #request(paths: string[]): Promise<Map<string, ArtifactCredential>> {
    const found = new Map<string, ArtifactCredential>();
    let pageToken: string | undefined;
    do {
      const answer = await this.http.json<CredentialsAnswer>("POST", "mlflow/artifacts/credentials-for-write", {
        run_id: this.runId,
        path: paths,
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      const infos = answer.credential_infos ?? [];
      for (const info of infos) found.set(info.path, info);
      // MLflow stops on an empty page whatever the token says (databricks_artifact_repo.py).
      pageToken = infos.length > 0 ? answer.next_page_token || undefined : undefined;
    } while (pageToken !== undefined);
    return found;
  }
}

/**
 * Runs of a Databricks workspace: `dbfs:/databricks/mlflow-tracking/…`
 * artifact URIs, written through signed URLs from `credentials-for-write`.
 *
 * @example Which URIs it takes
 * ```ts
 * import { databricksArtifacts } from "./databricks.ts";
 * if (!databricksArtifacts.accepts("dbfs:/databricks/mlflow-tracking/1/r/artifacts")) throw new Error();
 * if (databricksArtifacts.accepts("s3://bucket/1/r/artifacts")) throw new Error();
 * ```
 */
export const databricksArtifacts: ArtifactStoreKind = {
  name: "databricks",
  accepts: isDbfsUri,
  /**
   * Opens a run's repository: credentials are asked for per upload, batched.
   *
   * @param context The run and the workspace's client.
   * @returns The repository.
   */
  async open(context: ArtifactRepositoryContext): Promise<ArtifactRepository> {
    const { run, http } = context;
    if (!RUN_ARTIFACTS.test(run.artifactUri)) {
      throw new MlflowError(
        `run ${run.runId} stores artifacts at '${run.artifactUri}'; this module writes Databricks run artifacts ` +
          "(dbfs:/databricks/mlflow-tracking/…) but not Unity Catalog volumes or other DBFS paths yet. Log to an " +
          "experiment created without an artifact location",
        { errorCode: "UNSUPPORTED_ARTIFACT_STORE" },
      );
    }
    const credentials = new CredentialBatcher(http, run.runId);
    // Databricks lists these runs' artifacts with the same `artifacts/list` the proxy uses.
    const listing = await proxyArtifacts.open(context);
    const send = signedRequests(context.fetch, context.retry);
    const limits = multipartLimits(context.env);

    return {
      async upload(artifact: Artifact, call: CallOptions): Promise<StoredArtifact> {
        const body = await sizedBody(artifact.body, artifact.path, call.signal);
        // Sized, never chunked: S3 answers 501 to a chunked PUT, and an empty file goes as an empty body.
        const bytes = (): NonNullable<RequestInit["body"]> => (body.size === 0 ? new Uint8Array(0) : body.open());
        const write = async (credential: ArtifactCredential): Promise<void> => {
          switch (credential.type) {
            case "AWS_PRESIGNED_URL":
              if (body.size >= limits.minimumFileSize) {
                await uploadMultipart({ http, runId: run.runId, path: artifact.path, body, chunkSize: limits.chunkSize, send }, call);
                return;
              }
              await send({ method: "PUT", credential, body: bytes, contentType: artifact.contentType }, call);
              return;
            case "GCP_SIGNED_URL":
              await send({ method: "PUT", credential, body: bytes, contentType: artifact.contentType }, call);
              return;
            case "AZURE_SAS_URI":
              if (body.size >= limits.minimumFileSize) {
                const refresh = () => credentials.get(artifact.path, call);
                await uploadBlocks({ credential, refresh, body, chunkSize: limits.chunkSize, send }, call);
                return;
              }
              await send({ method: "PUT", credential, body: bytes, contentType: artifact.contentType, extraHeaders: { "x-ms-blob-type": "BlockBlob" } }, call);
              return;
            default:
              throw new MlflowError(
                `the workspace stores run artifacts behind ${credential.type} credentials, which this module cannot write yet ` +
                  "(it writes AWS_PRESIGNED_URL, GCP_SIGNED_URL and AZURE_SAS_URI)",
                { errorCode: "UNSUPPORTED_ARTIFACT_STORE", endpoint: "POST /api/2.0/mlflow/artifacts/credentials-for-write" },
              );
          }
        };
        let credential: ArtifactCredential | undefined;
        const put = async (): Promise<void> => {
          credential ??= await credentials.get(artifact.path, call);
          try {
            await write(credential);
          } catch (err) {
            // A multipart or block upload has already replaced a refused URL once.
            const multipart = (credential.type === "AWS_PRESIGNED_URL" || credential.type === "AZURE_SAS_URI") &&
              body.size >= limits.minimumFileSize;
            if (!isRefusal(err) || multipart) throw err;
            // An expired signed URL: fresh credentials for this path, one more try.
            credential = await credentials.get(artifact.path, call);
            await write(credential);
          }
        };
        return await sendStored(artifact.path, body, put);
      },
      sizes: (dir: string, call: CallOptions): Promise<Map<string, number>> => listing.sizes(dir, call),
    };
  },
};
