/**
 * Runs whose artifacts live straight in S3 (or an S3-compatible store such as
 * MinIO or Ceph): `s3://bucket/prefix` run URIs, which a server started with
 * `--no-serve-artifacts --default-artifact-root s3://…` and SageMaker managed
 * MLflow hand out. Each file is one sized `PUT` signed with SigV4 (a multipart
 * upload above 512 MiB) under the key `<run URI path>/<artifact path>`, as
 * MLflow's `S3ArtifactRepository` writes it, and checked with `ListObjectsV2`. Credentials and settings are
 * the ones MLflow's Python client reads: `AWS_*`, `MLFLOW_S3_ENDPOINT_URL`,
 * `MLFLOW_S3_UPLOAD_EXTRA_ARGS`, `MLFLOW_S3_EXPECTED_BUCKET_OWNER`,
 * `MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE`.
 *
 * @module
 */
import { sizedBody } from "../artifact_body.ts";
import { type ArtifactRepository, type ArtifactRepositoryContext, type ArtifactStoreKind, listingPrefix, sendStored } from "../artifact_repository.ts";
import { loadAwsCredentials, loadAwsRegion } from "../aws/credentials.ts";
import type { AwsOptions } from "../aws/options.ts";
import { s3SigningFetch } from "../aws/s3_fetch.ts";
import { S3_MAX_PART_BYTES, s3MultipartUpload, s3PartSize } from "../aws/s3_multipart.ts";
import { encodeRfc3986 } from "../aws/sigv4.ts";
import { xmlBlocks, xmlElement } from "../aws/xml.ts";
import { MlflowError, MlflowValidationError } from "../errors.ts";
import { HttpClient } from "../http.ts";
import type { Artifact, CallOptions, StoredArtifact } from "../store.ts";
import { bucketLocation } from "./uris.ts";

/** Options of {@link s3Artifacts}. */
export interface S3ArtifactOptions {
  /** Credentials and region instead of the `AWS_*` variables (runtimes without an environment). */
  aws?: AwsOptions;
  /** The region when none is set (`aws.region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile); default `us-east-1`. */
  defaultRegion?: string;
  /** Files larger than this go up in parts; default 512 MiB, at most 5 GiB (S3's single-PUT limit). */
  multipartThreshold?: number;
  /** Part size of a multipart upload; default 64 MiB, at least 5 MiB, raised to fit 10 000 parts. */
  partSize?: number;
}

/** Files larger than this go up in parts by default. */
export const S3_MULTIPART_THRESHOLD = 512 * 1024 ** 2;

/** The default part size of a multipart upload. */
export const S3_PART_SIZE = 64 * 1024 ** 2;

// boto3 ExtraArgs MLflow passes to upload_file, as the PutObject headers they
// become (doc: docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html).
const EXTRA_ARG_HEADERS: Record<string, string> = {
  ACL: "x-amz-acl",
  CacheControl: "cache-control",
  ContentDisposition: "content-disposition",
  ContentEncoding: "content-encoding",
  ContentLanguage: "content-language",
  ContentType: "content-type",
  Expires: "expires",
  ServerSideEncryption: "x-amz-server-side-encryption",
  SSEKMSKeyId: "x-amz-server-side-encryption-aws-kms-key-id",
  SSEKMSEncryptionContext: "x-amz-server-side-encryption-context",
  BucketKeyEnabled: "x-amz-server-side-encryption-bucket-key-enabled",
  StorageClass: "x-amz-storage-class",
  Tagging: "x-amz-tagging",
  ExpectedBucketOwner: "x-amz-expected-bucket-owner",
  WebsiteRedirectLocation: "x-amz-website-redirect-location",
};

/**
 * The PUT headers of `MLFLOW_S3_UPLOAD_EXTRA_ARGS` (a JSON object of boto3
 * ExtraArgs) and `MLFLOW_S3_EXPECTED_BUCKET_OWNER`.
 *
 * @param env The connection's environment.
 * @returns Header names (lower case) to values.
 * @throws {MlflowValidationError} Naming the variable, on JSON that is not an object of known arguments.
 * @example Server-side encryption with KMS
 * ```ts
 * import { s3UploadHeaders } from "./s3.ts";
 * const headers = s3UploadHeaders({ MLFLOW_S3_UPLOAD_EXTRA_ARGS: '{"ServerSideEncryption":"aws:kms","SSEKMSKeyId":"k1"}' });
 * if (headers["x-amz-server-side-encryption-aws-kms-key-id"] !== "k1") throw new Error();
 * ```
 */
export function s3UploadHeaders(env: Record<string, unknown>): Record<string, string> {
  const headers: Record<string, string> = {};
  const raw = env.MLFLOW_S3_UPLOAD_EXTRA_ARGS;
  if (typeof raw === "string" && raw.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new MlflowValidationError("MLFLOW_S3_UPLOAD_EXTRA_ARGS", 'is not JSON; set it to an object such as {"ServerSideEncryption": "AES256"}');
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new MlflowValidationError("MLFLOW_S3_UPLOAD_EXTRA_ARGS", "must be a JSON object of boto3 upload arguments");
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (key === "Metadata" && typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [name, item] of Object.entries(value)) headers[`x-amz-meta-${name.toLowerCase()}`] = String(item);
        continue;
      }
      const header = EXTRA_ARG_HEADERS[key];
      if (header === undefined) {
        throw new MlflowValidationError(
          `MLFLOW_S3_UPLOAD_EXTRA_ARGS.${key}`,
          `is not an upload argument this module can send; the arguments are ${[...Object.keys(EXTRA_ARG_HEADERS), "Metadata"].join(", ")}`,
        );
      }
      if (typeof value !== "string" && typeof value !== "boolean" && typeof value !== "number") {
        throw new MlflowValidationError(`MLFLOW_S3_UPLOAD_EXTRA_ARGS.${key}`, "must be a string");
      }
      headers[header] = String(value);
    }
  } else if (raw !== undefined && raw !== null && typeof raw !== "string") {
    throw new MlflowValidationError("MLFLOW_S3_UPLOAD_EXTRA_ARGS", `must be a string, got ${typeof raw}`);
  }
  const owner = env.MLFLOW_S3_EXPECTED_BUCKET_OWNER;
  if (typeof owner === "string" && owner.trim() !== "") headers["x-amz-expected-bucket-owner"] = owner.trim();
  return headers;
}

/**
 * The URL of a bucket: path-style under `MLFLOW_S3_ENDPOINT_URL` when it is
 * set (MinIO, Ceph, local stand-ins), unless
 * `MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE=virtual`; on AWS virtual-hosted,
 * except for bucket names with dots, which TLS cannot cover.
 *
 * @param bucket The bucket.
 * @param region Its region.
 * @param env The connection's environment.
 * @returns The bucket's base URL, without a trailing slash.
 * @throws {MlflowValidationError} When `MLFLOW_S3_ENDPOINT_URL` is not an http(s) URL.
 * @example MinIO on a local port, and AWS
 * ```ts
 * import { s3BucketUrl } from "./s3.ts";
 * if (s3BucketUrl("b", "us-east-1", { MLFLOW_S3_ENDPOINT_URL: "http://127.0.0.1:9000" }) !== "http://127.0.0.1:9000/b") throw new Error();
 * if (s3BucketUrl("b", "eu-west-1", {}) !== "https://b.s3.eu-west-1.amazonaws.com") throw new Error();
 * ```
 */
export function s3BucketUrl(bucket: string, region: string, env: Record<string, unknown>): string {
  const style = typeof env.MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE === "string" ? env.MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE.trim() : "";
  if (style !== "" && !["auto", "path", "virtual"].includes(style)) {
    throw new MlflowValidationError("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE", `is '${style}'; set it to auto, path or virtual`);
  }
  const raw = typeof env.MLFLOW_S3_ENDPOINT_URL === "string" ? env.MLFLOW_S3_ENDPOINT_URL.trim() : "";
  if (raw !== "") {
    let endpoint: URL;
    try {
      endpoint = new URL(raw);
    } catch {
      throw new MlflowValidationError("MLFLOW_S3_ENDPOINT_URL", "is not a URL; set it to the S3 endpoint, e.g. http://127.0.0.1:9000");
    }
    if (!/^https?:$/.test(endpoint.protocol) || endpoint.username || endpoint.password) {
      throw new MlflowValidationError("MLFLOW_S3_ENDPOINT_URL", "must be an http(s) URL without credentials, e.g. http://127.0.0.1:9000");
    }
    const base = `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, "")}`;
    if (style === "virtual") return `${endpoint.protocol}//${bucket}.${endpoint.host}${endpoint.pathname.replace(/\/+$/, "")}`;
    return `${base}/${encodeRfc3986(bucket)}`;
  }
  if (style === "path" || bucket.includes(".")) return `https://s3.${region}.amazonaws.com/${encodeRfc3986(bucket)}`;
  return `https://${bucket}.s3.${region}.amazonaws.com`;
}

const encodeKey = (key: string): string => key.split("/").map(encodeRfc3986).join("/");

/**
 * Runs with `s3://` artifact URIs.
 *
 * @param options Credentials instead of the environment's.
 * @returns The artifact store kind.
 * @example The kind takes s3:// URIs only
 * ```ts
 * import { s3Artifacts } from "./s3.ts";
 * const s3 = s3Artifacts();
 * if (!s3.accepts("s3://bucket/mlflow/1/r/artifacts") || s3.accepts("mlflow-artifacts:/1/r/artifacts")) throw new Error();
 * ```
 */
export function s3Artifacts(options: S3ArtifactOptions = {}): ArtifactStoreKind {
  return {
    name: "s3",
    accepts: (uri: string): boolean => bucketLocation("s3", uri) !== undefined,
    open: async ({ run, fetch, env, retry }: ArtifactRepositoryContext): Promise<ArtifactRepository> => {
      const { bucket, root } = bucketLocation("s3", run.artifactUri) ?? { bucket: "", root: "" };
      const credentials = await loadAwsCredentials(env, options.aws, `writing the artifacts of run ${run.runId} to ${run.artifactUri}`);
      const region = (await loadAwsRegion(env, options.aws)) ?? options.defaultRegion ?? "us-east-1";
      const base = s3BucketUrl(bucket, region, env);
      const { "content-type": typeOverride, ...putHeaders } = s3UploadHeaders(env);
      const signing = s3SigningFetch({ fetch, credentials, region });
      // Upload arguments (encryption, storage class) belong on PUTs only; a listing is sent without them.
      const http = new HttpClient({ baseUrl: base, fetch: signing, retry });
      const putHttp = new HttpClient({ baseUrl: base, fetch: signing, retry, headers: putHeaders });
      const keyOf = (artifactPath: string): string => (root === "" ? artifactPath : `${root}/${artifactPath}`);
      return {
        async upload(artifact: Artifact, call: CallOptions): Promise<StoredArtifact> {
          // Sized first: S3 refuses a chunked body with 501 NotImplemented (managed-mlflow.md §3.2).
          const body = await sizedBody(artifact.body, artifact.path, call.signal);
          const partSize = options.partSize ?? S3_PART_SIZE;
          if (s3PartSize(body.size, partSize) > S3_MAX_PART_BYTES) {
            await body.release();
            throw new MlflowError(`${artifact.path} is ${body.size} bytes, more than S3 takes in 10 000 parts of 5 GiB`, {
              errorCode: "ARTIFACT_TOO_LARGE",
            });
          }
          const url = `${base}/${encodeKey(keyOf(artifact.path))}`;
          const endpoint = `PUT ${new URL(url).pathname}`;
          const contentType = typeOverride ?? artifact.contentType;
          const threshold = Math.min(options.multipartThreshold ?? S3_MULTIPART_THRESHOLD, S3_MAX_PART_BYTES);
          const put = body.size > threshold
            ? () => s3MultipartUpload({ fetch: signing, retry, url, body, contentType, createHeaders: putHeaders, partSize }, call)
            : () => putHttp.send("PUT", url, endpoint, () => body.open(), contentType, () => undefined, { ...call, upload: true });
          return await sendStored(artifact.path, body, put);
        },

        async sizes(dir: string, call: CallOptions): Promise<Map<string, number>> {
          const prefix = listingPrefix(root, dir);
          const sizes = new Map<string, number>();
          let token: string | undefined;
          do {
            const query = [
              "list-type=2",
              `prefix=${encodeRfc3986(prefix)}`,
              "delimiter=%2F",
              ...(token === undefined ? [] : [`continuation-token=${encodeRfc3986(token)}`]),
            ].join("&");
            const url = `${base}?${query}`;
            const page = await http.send("GET", url, `GET ${new URL(url).pathname} (ListObjectsV2)`, () => undefined, "", (text) => text, call);
            for (const entry of xmlBlocks(page, "Contents")) {
              const key = xmlElement(entry, "Key") ?? "";
              if (key.startsWith(prefix)) sizes.set(key.slice(prefix.length), Number(xmlElement(entry, "Size") ?? 0));
            }
            token = xmlElement(page, "IsTruncated") === "true" ? xmlElement(page, "NextContinuationToken") : undefined;
          } while (token);
          return sizes;
        },
      };
    },
  };
}
