/**
 * Test support: an S3 artifact destination for the in-memory MLflow server's
 * proxied multipart upload, as `mlflow server --artifacts-destination s3://…`
 * has it. The server side of each step follows MLflow's code:
 * - mlflow/server/handlers.py `_create_multipart_upload_artifact`,
 *   `_complete_multipart_upload_artifact`, `_abort_multipart_upload_artifact`:
 *   the URL carries the artifact directory, the body's `path` is reduced to its
 *   base name; the answers are `{upload_id, credentials: [{url, part_number,
 *   headers}]}`, then `{}`.
 * - mlflow/store/artifact/s3_artifact_repo.py `create_multipart_upload`: key =
 *   destination prefix + directory + base name; `CreateMultipartUpload`, then
 *   one presigned `upload_part` URL per part (part numbers from 1, headers
 *   `{}`); `complete_multipart_upload` sends each part's number and ETag;
 *   `abort_multipart_upload` aborts.
 *
 * The server's own requests to S3 are signed, and the part URLs presigned,
 * with the official AWS signer (`@smithy/signature-v4`), which is what the
 * fake S3 checks them with; the code under test only carries the URLs.
 *
 * @module
 */

import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { FakeAwsCredential } from "./sigv4_check.ts";

/** Where the server's multipart uploads go. */
export interface S3DestinationOptions {
  /** The S3 endpoint as both the server and clients reach it (path-style), e.g. a served fake S3. */
  endpoint: string;
  bucket: string;
  /** Key prefix of the destination, without slashes at either end. */
  prefix: string;
  /** The server's own key pair. */
  credential: FakeAwsCredential;
  /** Default `us-east-1`. */
  region?: string;
  /** Lifetime of a part URL; default 3600 s. */
  expiresInSeconds?: number;
}

/** A step failed at S3: the server answers with MLflow's INTERNAL_ERROR. */
export class DestinationError extends Error {}

/** The destination as the in-memory server calls it. */
export interface MultipartDestination {
  /** `upload_id` is absent where the destination has none (Azure). */
  create(dir: string, name: string, numParts: number): Promise<{ upload_id?: string; credentials: { url: string; part_number: number; headers: Record<string, string> }[] }>;
  /** Joins the parts and returns the object's bytes (read back from the store), for the server's listing and downloads. */
  complete(dir: string, name: string, uploadId: string, parts: { part_number: number; etag: string; url: string }[]): Promise<Uint8Array>;
  abort(dir: string, name: string, uploadId: string): Promise<void>;
  /** Part URLs minted so far. */
  readonly minted: string[];
}

const UNSIGNED = new Set(["x-amz-content-sha256"]);
const xmlEscape = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Creates the destination.
 *
 * @param options Endpoint, bucket, prefix and the server's key pair.
 * @returns The destination to pass as `multipartDestination` to `createMlflowServer`.
 * @example A destination on a served fake S3
 * ```ts
 * import { s3MultipartDestination } from "./mpu_s3_destination.ts";
 * const destination = s3MultipartDestination({ endpoint: "http://127.0.0.1:9000", bucket: "b", prefix: "mlflow",
 *   credential: { accessKeyId: "AKID", secretAccessKey: "secret" } });
 * console.log(destination.minted.length);
 * ```
 */
export function s3MultipartDestination(options: S3DestinationOptions): MultipartDestination {
  const region = options.region ?? "us-east-1";
  const signer = new SignatureV4({ credentials: options.credential, region, service: "s3", sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const minted: string[] = [];
  const keyUrl = (dir: string, name: string): URL => {
    // s3_artifact_repo.py: posixpath.join(dest_path, artifact_path) then os.path.basename(local_file).
    const key = [options.prefix, dir, name.slice(name.lastIndexOf("/") + 1)].filter((p) => p !== "").join("/");
    return new URL(`${options.endpoint}/${options.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`);
  };
  const request = (url: URL, method: string, query: Record<string, string>, body = "") => ({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { host: url.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
    body,
  });
  const call = async (url: URL, method: string, query: Record<string, string>, body = ""): Promise<Response> => {
    const signed = await signer.sign(request(url, method, query, body));
    const search = Object.entries(query).map(([k, v]) => (v === "" ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join("&");
    const response = await fetch(`${url.origin}${url.pathname}${search ? `?${search}` : ""}`, {
      method,
      headers: signed.headers as Record<string, string>,
      ...(body ? { body } : {}),
    });
    if (!response.ok) throw new DestinationError(`S3 ${method} ${url.pathname} answered ${response.status}: ${await response.text()}`);
    return response;
  };
  return {
    minted,
    async create(dir, name, numParts) {
      const url = keyUrl(dir, name);
      const created = await (await call(url, "POST", { uploads: "" })).text();
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created)?.[1] ?? "";
      const credentials = [];
      for (let part = 1; part <= numParts; part++) {
        const presigned = await signer.presign(
          request(url, "PUT", { partNumber: String(part), uploadId }),
          // S3 presigned URLs sign an UNSIGNED-PAYLOAD body hash and only the host header (as botocore's generate_presigned_url).
          { expiresIn: options.expiresInSeconds ?? 3600, unsignableHeaders: UNSIGNED, unhoistableHeaders: UNSIGNED },
        );
        const query = Object.entries(presigned.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&");
        const partUrl = `${url.origin}${url.pathname}?${query}`;
        minted.push(partUrl);
        credentials.push({ url: partUrl, part_number: part, headers: {} });
      }
      return { upload_id: uploadId, credentials };
    },
    async complete(dir, name, uploadId, parts) {
      const url = keyUrl(dir, name);
      const xml = `<CompleteMultipartUpload>${
        parts.map((p) => `<Part><PartNumber>${p.part_number}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`).join("")
      }</CompleteMultipartUpload>`;
      const answer = await (await call(url, "POST", { uploadId }, xml)).text();
      if (/<Error>/.test(answer)) throw new DestinationError(`S3 CompleteMultipartUpload failed: ${answer}`);
      return new Uint8Array(await (await call(url, "GET", {})).arrayBuffer());
    },
    async abort(dir, name, uploadId) {
      await call(keyUrl(dir, name), "DELETE", { uploadId });
    },
  };
}
