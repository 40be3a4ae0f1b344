/**
 * Large artifacts of Databricks runs on S3: the workspace's multipart upload
 * (MLflow's `DatabricksArtifactRepository._multipart_upload`,
 * mlflow/store/artifact/databricks_artifact_repo.py; databricks_artifacts.proto).
 * `create-multipart-upload` hands out one presigned URL per part; each part is
 * a sized `PUT` whose `ETag` is kept; a part URL refused with 401 or 403 is
 * replaced through `get-presigned-upload-part-url` and the part sent once
 * more; `complete-multipart-upload` joins the parts. On any failure the
 * upload is aborted through its presigned `DELETE`. Used for files of at
 * least `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` bytes (default 500 MiB), in
 * parts of `MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE` (default 10 MiB), as in MLflow.
 *
 * @module
 */
import type { SizedBody } from "../artifact_body.ts";
import { MlflowError, MlflowValidationError } from "../errors.ts";
import type { HttpClient } from "../http.ts";
import type { CallOptions } from "../store.ts";
import { type ArtifactCredential, isRefusal, type SignedRequest } from "./signed_url.ts";

/** When and how a file is split. */
export interface MultipartLimits {
  /** Files of at least this many bytes go in parts. */
  minimumFileSize: number;
  /** Bytes per part (the last may be smaller). */
  chunkSize: number;
}

const MIB = 1024 * 1024;
const MIN_PART = 5 * MIB;
const MAX_PART = 5 * 1024 * MIB;
/** Parts sent at once. */
const PART_CONCURRENCY = 4;

function envBytes(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new MlflowValidationError(name, `is '${raw}'; set it to a whole number of bytes, or unset it`);
  return value;
}

/**
 * The multipart limits MLflow's client reads from the environment.
 *
 * @param env The environment.
 * @returns The limits.
 * @throws {MlflowValidationError} When a value is not a whole number, or the part size is outside S3's 5 MiB to 5 GiB.
 * @example Defaults
 * ```ts
 * import { multipartLimits } from "./multipart.ts";
 * const limits = multipartLimits({});
 * if (limits.minimumFileSize !== 500 * 2 ** 20 || limits.chunkSize !== 10 * 2 ** 20) throw new Error();
 * ```
 */
export function multipartLimits(env: Record<string, string | undefined>): MultipartLimits {
  const chunkSize = envBytes(env, "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", 10 * MIB);
  if (chunkSize < MIN_PART || chunkSize > MAX_PART) {
    throw new MlflowValidationError("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", `is ${chunkSize}; S3 parts are 5 MiB (5242880) to 5 GiB`);
  }
  return { minimumFileSize: envBytes(env, "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", 500 * MIB), chunkSize };
}

interface CreateAnswer {
  upload_id: string;
  upload_credential_infos: ArtifactCredential[];
  abort_credential_info?: ArtifactCredential;
}

/** What {@link uploadMultipart} needs. */
export interface MultipartUpload {
  /** The workspace's client. */
  http: HttpClient;
  /** The run the file belongs to. */
  runId: string;
  /** The artifact path. */
  path: string;
  /** The file's bytes, sliced per part. */
  body: SizedBody;
  /** Bytes per part. */
  chunkSize: number;
  /** Sends one signed-URL request. */
  send: (request: SignedRequest, call: CallOptions) => Promise<void>;
}

const slice = (body: SizedBody, start: number, end: number): NonNullable<RequestInit["body"]> => {
  const whole = body.open();
  return whole instanceof Uint8Array ? whole.subarray(start, end) : whole.slice(start, end);
};

/**
 * Uploads one file in parts through the workspace's multipart endpoints.
 *
 * @param upload The run, path, body, part size and signed-URL sender.
 * @param call A signal that stops the upload (which is then aborted).
 * @returns When the parts are joined.
 * @throws {MlflowError} The first failure, after aborting the upload.
 */
export async function uploadMultipart(upload: MultipartUpload, call: CallOptions): Promise<void> {
  const { http, runId, path, body, chunkSize, send } = upload;
  const parts = Math.max(1, Math.ceil(body.size / chunkSize));
  const created = await http.json<CreateAnswer>("POST", "mlflow/artifacts/create-multipart-upload", { run_id: runId, path, num_parts: parts }, call);
  if (created.upload_credential_infos?.length !== parts) {
    throw new MlflowError(`create-multipart-upload gave ${created.upload_credential_infos?.length ?? 0} part URLs for ${parts} parts of '${path}'`, {
      errorCode: "BAD_RESPONSE",
      endpoint: "POST /api/2.0/mlflow/artifacts/create-multipart-upload",
    });
  }
  const etags = new Array<string>(parts);
  const sendPart = async (index: number): Promise<void> => {
    const start = index * chunkSize;
    const end = Math.min(body.size, start + chunkSize);
    const put = (credential: ArtifactCredential) =>
      send({
        method: "PUT",
        credential,
        body: () => slice(body, start, end),
        onHeaders: (headers) => (etags[index] = headers.get("etag") ?? ""),
      }, call);
    try {
      await put(created.upload_credential_infos[index]!);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      const fresh = await http.json<{ upload_credential_info: ArtifactCredential }>("GET", "mlflow/artifacts/get-presigned-upload-part-url", {
        run_id: runId,
        path,
        upload_id: created.upload_id,
        part_number: index + 1,
      }, call);
      await put(fresh.upload_credential_info);
    }
    if (!etags[index]) {
      throw new MlflowError(`part ${index + 1} of '${path}' was stored without an ETag; the storage's CORS rules must expose ETag`, {
        errorCode: "BAD_RESPONSE",
      });
    }
  };
  try {
    let next = 0;
    let failed = false;
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, parts) }, async () => {
      try {
        while (next < parts && !failed) await sendPart(next++);
      } catch (err) {
        failed = true;
        throw err;
      }
    }));
    await http.json("POST", "mlflow/artifacts/complete-multipart-upload", {
      run_id: runId,
      path,
      upload_id: created.upload_id,
      part_etags: etags.map((etag, i) => ({ part_number: i + 1, etag })),
    }, call);
  } catch (err) {
    if (created.abort_credential_info !== undefined) {
      await send({ method: "DELETE", credential: created.abort_credential_info }, {}).catch(() => undefined);
    }
    throw err;
  }
}
