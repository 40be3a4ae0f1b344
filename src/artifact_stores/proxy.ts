/**
 * The tracking server's artifact proxy (`mlflow-artifacts:` run URIs, MLflow's
 * default since 1.24): one sized `PUT` per file through the server, checked
 * with `artifacts/list`.
 *
 * @module
 */
import { sizedBody } from "../artifact_body.ts";
import type { ArtifactRepository, ArtifactRepositoryContext, ArtifactStoreKind } from "../artifact_repository.ts";
import { multipartLimits } from "../databricks/multipart.ts";
import type { Artifact, CallOptions, StoredArtifact } from "../store.ts";
import { proxyMultipartUpload } from "./proxy_multipart.ts";
import { artifactUrl, isProxiedUri } from "./uris.ts";

interface ListAnswer {
  files?: { path: string; is_dir?: boolean; file_size?: number | string }[];
  next_page_token?: string;
}

/**
 * Runs whose artifacts go through the tracking server: `mlflow-artifacts:`
 * and `http(s):` artifact URIs. A file of at least
 * `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` bytes (default 500 MiB) goes by
 * the server's multipart upload in parts of `MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE`
 * (default 10 MiB), or as one `PUT` where the server has none (`proxy_multipart.ts`).
 *
 * @example The proxy takes mlflow-artifacts: URIs
 * ```ts
 * import { proxyArtifacts } from "./proxy.ts";
 * if (!proxyArtifacts.accepts("mlflow-artifacts:/1/r/artifacts")) throw new Error();
 * if (proxyArtifacts.accepts("s3://bucket/1/r/artifacts")) throw new Error();
 * ```
 */
export const proxyArtifacts: ArtifactStoreKind = {
  name: "mlflow-artifacts",
  accepts: isProxiedUri,
  open: ({ run, http, env, fetch, retry }: ArtifactRepositoryContext): ArtifactRepository => {
    const limits = multipartLimits(env);
    return {
      async upload(artifact: Artifact, call: CallOptions): Promise<StoredArtifact> {
        const url = artifactUrl(http.baseUrl, run, artifact.path);
        const endpoint = `PUT ${new URL(url).pathname}`;
        // Sized before the first byte goes out: a body without Content-Length is stored empty (exchanges 55, 56).
        const body = await sizedBody(artifact.body, artifact.path, call.signal);
        const put = () => http.send("PUT", url, endpoint, () => body.open(), artifact.contentType, () => undefined, { ...call, upload: true });
        try {
          const joined = body.size >= limits.minimumFileSize &&
            await proxyMultipartUpload({ http, fileUrl: url, body, chunkSize: limits.chunkSize, fetch, retry }, call);
          if (!joined) await put();
        } catch (err) {
          await body.release();
          throw err;
        }
        return { path: artifact.path, size: body.size, resend: put, release: () => body.release() };
      },

      async sizes(dir: string, call: CallOptions): Promise<Map<string, number>> {
        const sizes = new Map<string, number>();
        let pageToken: string | undefined;
        do {
          const answer: ListAnswer = await http.json<ListAnswer>("GET", "mlflow/artifacts/list", {
            run_id: run.runId,
            ...(dir === "" ? {} : { path: dir }),
            ...(pageToken ? { page_token: pageToken } : {}),
          }, call);
          for (const file of answer.files ?? []) {
            // An empty file is listed without file_size (exchange 56).
            if (!file.is_dir) sizes.set(file.path.slice(file.path.lastIndexOf("/") + 1), Number(file.file_size ?? 0));
          }
          pageToken = answer.files?.length ? answer.next_page_token : undefined;
        } while (pageToken);
        return sizes;
      },
    };
  },
};
