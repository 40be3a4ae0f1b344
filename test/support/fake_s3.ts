/**
 * Test support: a small S3 (path-style, as reached through
 * `MLFLOW_S3_ENDPOINT_URL`) that checks every SigV4 signature with the
 * official signer (`sigv4_check.ts`), stores `PUT` objects in memory, answers
 * `GET` of an object and `ListObjectsV2`, and fails the way S3 fails.
 *
 * Sources for each behaviour:
 * - Error bodies: `<Error><Code/><Message/><Resource/><RequestId/></Error>`,
 *   `application/xml`, codes and statuses from the S3 error list
 *   (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
 *   AccessDenied 403, InvalidAccessKeyId 403, SignatureDoesNotMatch 403,
 *   RequestTimeTooSkewed 403 (with `ServerTime`, `RequestTime`,
 *   `MaxAllowedSkewMilliseconds` 900000, as s3rver sends them,
 *   managed-mlflow.md §5), ExpiredToken 400, InvalidToken 400,
 *   XAmzContentSHA256Mismatch 400, MissingContentLength 411, NoSuchBucket 404,
 *   AuthorizationHeaderMalformed 400 with the bucket's `Region` for a request
 *   signed for another region (managed-mlflow.md §3.2),
 *   NoSuchKey 404, NotImplemented 501 for `Transfer-Encoding: chunked`
 *   (managed-mlflow.md §3.2), SlowDown 503.
 * - Missing `x-amz-content-sha256`: 400 InvalidRequest (s3rver, run,
 *   managed-mlflow.md §5).
 * - `ListObjectsV2` (docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html):
 *   `list-type=2`, `prefix`, `delimiter`, `max-keys` (default 1000),
 *   `continuation-token`; keys in UTF-8 binary order; `Contents` with `Key`
 *   and `Size`, `CommonPrefixes`, `IsTruncated`, `NextContinuationToken`.
 * - Multipart uploads (docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html,
 *   API_UploadPart.html, API_CompleteMultipartUpload.html, API_AbortMultipartUpload.html):
 *   `POST ?uploads` → `<UploadId>`; `PUT ?partNumber=N&uploadId=…` → `ETag` header;
 *   `POST ?uploadId=…` with the parts' numbers and ETags assembles the object, refusing
 *   InvalidPartOrder, InvalidPart, EntityTooSmall (a part under 5 MiB but the last; all 400)
 *   and NoSuchUpload (404); `DELETE ?uploadId=…` → 204.
 * - Every answer carries a `Date` header, which a client uses to correct its clock.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createFaultProxy, type FaultProxy } from "./fault_proxy.ts";
import { checkSigV4, type FakeAwsCredential, type SigV4Failure } from "./sigv4_check.ts";

/** Options of {@link createFakeS3}. */
export interface FakeS3Options {
  /** Key pairs the fake accepts. */
  credentials: FakeAwsCredential[];
  /** Buckets that exist. */
  buckets: string[];
  /** Region requests must be signed for; default `us-east-1`. */
  region?: string;
  /** Largest `ListObjectsV2` page, whatever `max-keys` asks; default 1000, as S3. */
  pageSize?: number;
  /** The fake's clock minus the real one. */
  clockOffsetMs?: number;
}

/** One stored object. */
export interface FakeS3Object {
  bytes: Uint8Array;
  /** Request headers it was stored with (lower-case names). */
  headers: Record<string, string>;
}

/** The fake returned by {@link createFakeS3}. */
export interface FakeS3 extends FaultProxy {
  /** Objects by `bucket/key`. */
  readonly objects: Map<string, FakeS3Object>;
  /** Every refusal, by S3 error code, in order (cleared by `reset`, with the requests and faults; objects stay). */
  readonly refusals: string[];
  /** Changes the fake's clock (ms ahead of the real one). */
  setClockOffset(ms: number): void;
  /** Multipart uploads neither completed nor aborted, by upload id. */
  readonly pendingUploads: Map<string, unknown>;
}

const xmlEscape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

const FAILURES: Record<SigV4Failure["kind"], [number, string, string]> = {
  missing: [403, "AccessDenied", "Access Denied"],
  malformed: [400, "AuthorizationHeaderMalformed", "The authorization header is malformed"],
  skewed: [403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."],
  unknownKey: [403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."],
  expiredToken: [400, "ExpiredToken", "The provided token has expired."],
  badToken: [400, "InvalidToken", "The provided token is malformed or otherwise invalid."],
  missingContentSha: [400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"],
  contentShaMismatch: [400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."],
  // S3 names the bucket's region in the error (managed-mlflow.md §3.2, "wrong region → 400 with the right one").
  wrongRegion: [400, "AuthorizationHeaderMalformed", "The authorization header is malformed; the region is wrong"],
  badSignature: [
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  ],
};

/**
 * Creates the fake S3 behind a fault proxy (faults are answered before the signature check).
 *
 * @param options Keys, buckets, region, page size and clock.
 * @returns The fake: serve `handler` with `serve()`.
 * @example An unsigned request is refused
 * ```ts
 * import { createFakeS3 } from "./fake_s3.ts";
 * const s3 = createFakeS3({ credentials: [], buckets: ["b"] });
 * const res = await s3.handler(new Request("http://s3.test/b/k", { method: "PUT", body: "x" }));
 * console.log(res.status, await res.text());
 * ```
 */
export function createFakeS3(options: FakeS3Options): FakeS3 {
  const objects = new Map<string, FakeS3Object>();
  const refusals: string[] = [];
  let clockOffsetMs = options.clockOffsetMs ?? 0;
  const region = options.region ?? "us-east-1";
  const pageSize = options.pageSize ?? 1000;
  let requestCounter = 0;
  const uploads = new Map<string, { bucket: string; key: string; headers: Record<string, string>; parts: Map<number, Uint8Array> }>();
  const md5 = (bytes: Uint8Array): string => `"${createHash("md5").update(bytes).digest("hex")}"`;

  const now = (): Date => new Date(Date.now() + clockOffsetMs);
  const answer = (status: number, body: BodyInit | null, headers: Record<string, string> = {}): Response =>
    new Response(body, { status, headers: { date: now().toUTCString(), "x-amz-request-id": String(++requestCounter), ...headers } });
  const error = (status: number, code: string, message: string, resource: string, extra = ""): Response => {
    refusals.push(code);
    return answer(
      status,
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extra}` +
        `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestCounter + 1}</RequestId></Error>`,
      { "content-type": "application/xml" },
    );
  };

  const list = (bucket: string, url: URL): Response => {
    const prefix = url.searchParams.get("prefix") ?? "";
    const delimiter = url.searchParams.get("delimiter") ?? "";
    const maxKeys = Math.min(pageSize, Number(url.searchParams.get("max-keys") ?? 1000));
    const after = url.searchParams.get("continuation-token") ?? "";
    const keys = [...objects.keys()]
      .filter((k) => k.startsWith(`${bucket}/`))
      .map((k) => k.slice(bucket.length + 1))
      .filter((k) => k.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    // Keys and common prefixes in one sorted stream, as S3 pages them.
    const entries: { key: string; prefix: boolean }[] = [];
    for (const key of keys) {
      const rest = key.slice(prefix.length);
      const cut = delimiter === "" ? -1 : rest.indexOf(delimiter);
      if (cut >= 0) {
        const common = prefix + rest.slice(0, cut + delimiter.length);
        if (!entries.some((e) => e.prefix && e.key === common)) entries.push({ key: common, prefix: true });
      } else {
        entries.push({ key, prefix: false });
      }
    }
    const start = after === "" ? 0 : entries.findIndex((e) => e.key > after);
    const page = start < 0 ? [] : entries.slice(start, start + maxKeys);
    const truncated = start >= 0 && start + maxKeys < entries.length;
    const body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount>`,
      `<MaxKeys>${maxKeys}</MaxKeys>${delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : ""}<IsTruncated>${truncated}</IsTruncated>`,
      ...page.map((e) =>
        e.prefix
          ? `<CommonPrefixes><Prefix>${xmlEscape(e.key)}</Prefix></CommonPrefixes>`
          : `<Contents><Key>${xmlEscape(e.key)}</Key><LastModified>${now().toISOString()}</LastModified>` +
            `<ETag>&quot;0&quot;</ETag><Size>${objects.get(`${bucket}/${e.key}`)?.bytes.length ?? 0}</Size><StorageClass>STANDARD</StorageClass></Contents>`
      ),
      ...(after ? [`<ContinuationToken>${xmlEscape(after)}</ContinuationToken>`] : []),
      ...(truncated ? [`<NextContinuationToken>${xmlEscape(page[page.length - 1]!.key)}</NextContinuationToken>`] : []),
      "</ListBucketResult>",
    ].join("");
    return answer(200, body, { "content-type": "application/xml" });
  };

  const s3 = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const resource = decodeURIComponent(url.pathname);
    if (request.method === "PUT" && request.headers.get("transfer-encoding")?.includes("chunked")) {
      await request.body?.cancel();
      return error(501, "NotImplemented", "A header you provided implies functionality that is not implemented", resource, "<Header>Transfer-Encoding</Header>");
    }
    const body = new Uint8Array(await request.arrayBuffer());
    const failure = await checkSigV4(request, body, { credentials: options.credentials, region, service: "s3", clockOffsetMs });
    if (failure !== undefined) {
      const [status, code, message] = FAILURES[failure.kind];
      const extra = failure.kind === "skewed"
        ? `<RequestTime>${failure.requestTime}</RequestTime><ServerTime>${now().toISOString()}</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>`
        : failure.kind === "wrongRegion"
        ? `<Region>${failure.region}</Region>`
        : failure.kind === "unknownKey"
        ? `<AWSAccessKeyId>${xmlEscape(failure.accessKeyId)}</AWSAccessKeyId>`
        : "";
      return error(status, code, message, resource, extra);
    }
    const [, bucket = "", ...rest] = url.pathname.split("/");
    const bucketName = decodeURIComponent(bucket);
    const key = rest.map(decodeURIComponent).join("/");
    if (!options.buckets.includes(bucketName)) return error(404, "NoSuchBucket", "The specified bucket does not exist", resource);
    if (request.method === "GET" && key === "" && url.searchParams.get("list-type") === "2") return list(bucketName, url);
    const uploadId = url.searchParams.get("uploadId");
    if (request.method === "POST" && key !== "" && url.searchParams.has("uploads")) {
      const id = `upload-${++requestCounter}`;
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      uploads.set(id, { bucket: bucketName, key, headers, parts: new Map() });
      return answer(200, `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucketName)}</Bucket>` +
        `<Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`, { "content-type": "application/xml" });
    }
    if (uploadId !== null) {
      const upload = uploads.get(uploadId);
      if (upload === undefined || upload.bucket !== bucketName || upload.key !== key) {
        return error(404, "NoSuchUpload", "The specified multipart upload does not exist.", resource);
      }
      if (request.method === "PUT") {
        upload.parts.set(Number(url.searchParams.get("partNumber")), body);
        return answer(200, "", { etag: md5(body) });
      }
      if (request.method === "DELETE") {
        uploads.delete(uploadId);
        return answer(204, null);
      }
      if (request.method === "POST") {
        const listed = [...new TextDecoder().decode(body).matchAll(/<Part><PartNumber>(\d+)<\/PartNumber><ETag>([^<]*)<\/ETag><\/Part>/g)]
          .map((m) => ({ number: Number(m[1]), etag: (m[2] ?? "").replace(/&quot;/g, '"') }));
        if (listed.some((p, i) => i > 0 && p.number <= listed[i - 1]!.number)) {
          return error(400, "InvalidPartOrder", "The list of parts was not in ascending order.", resource);
        }
        const chunks: Uint8Array[] = [];
        for (const [i, p] of listed.entries()) {
          const bytes = upload.parts.get(p.number);
          if (bytes === undefined || md5(bytes) !== p.etag) return error(400, "InvalidPart", "One or more of the specified parts could not be found.", resource);
          if (i < listed.length - 1 && bytes.length < 5 * 1024 * 1024) {
            return error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", resource);
          }
          chunks.push(bytes);
        }
        objects.set(`${bucketName}/${key}`, { bytes: new Uint8Array(Buffer.concat(chunks)), headers: upload.headers });
        uploads.delete(uploadId);
        return answer(200, `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Bucket>${xmlEscape(bucketName)}</Bucket>` +
          `<Key>${xmlEscape(key)}</Key><ETag>"${listed.length}"</ETag></CompleteMultipartUploadResult>`, { "content-type": "application/xml" });
      }
    }
    if (request.method === "PUT" && key !== "") {
      if (request.headers.get("content-length") === null) return error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.", resource);
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      objects.set(`${bucketName}/${key}`, { bytes: body, headers });
      return answer(200, "", { etag: `"${body.length}"` });
    }
    if (request.method === "GET" && key !== "") {
      const object = objects.get(`${bucketName}/${key}`);
      if (object === undefined) return error(404, "NoSuchKey", "The specified key does not exist.", resource);
      return answer(200, object.bytes.slice().buffer as ArrayBuffer, { "content-type": object.headers["content-type"] ?? "binary/octet-stream" });
    }
    return error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", resource);
  };

  const proxy = createFaultProxy(s3);
  return {
    ...proxy,
    objects,
    refusals,
    pendingUploads: uploads,
    reset() {
      proxy.reset();
      refusals.length = 0;
    },
    setClockOffset(ms: number) {
      clockOffsetMs = ms;
    },
  };
}
