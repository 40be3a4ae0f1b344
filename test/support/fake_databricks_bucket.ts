/**
 * Test support: the cloud bucket behind a fake Databricks workspace, reached
 * only through S3 presigned URLs the workspace mints. Every URL is minted
 * and every request checked with the official AWS signer,
 * `@smithy/signature-v4` (`presign`): the bucket recomputes the query
 * signature from the request it received (method, host, path, the headers
 * named in `X-Amz-SignedHeaders`) and refuses a mismatch, so the code under
 * test never checks its own signatures.
 *
 * S3's answers used here: a tampered URL → 403 `SignatureDoesNotMatch`; an
 * expired one → 403 `AccessDenied` "Request has expired" (managed-mlflow.md
 * §6, s3rver run); a PUT without `Content-Length` → 501 `NotImplemented`
 * naming `Transfer-Encoding` (§6: e2b-dev/E2B#1243, aws/aws-sdk-js-v3#3383);
 * a presigned request that also carries an `Authorization` header → 400
 * `InvalidArgument` "Only one auth mechanism allowed" (AWS S3 error-code list,
 * docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). Multipart
 * uploads follow S3's UploadPart (`PUT ?partNumber=&uploadId=`, answering an
 * `ETag`), AbortMultipartUpload (`DELETE ?uploadId=`, 204) and
 * CompleteMultipartUpload's checks (every part but the last at least 5 MiB,
 * else `EntityTooSmall`; ETags must match, else `InvalidPart`), from the S3 API
 * reference; completion is called by the workspace, as Databricks completes
 * uploads server-side (databricks_artifacts.proto).
 *
 * @module
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/** One object as stored. */
export interface BucketObject {
  bytes: Uint8Array;
  /** Headers the PUT carried that S3 keeps as metadata (`content-type`, `x-amz-server-side-encryption`). */
  metadata: Record<string, string>;
}

/** One request the bucket answered. */
export interface BucketRequest {
  method: string;
  key: string;
  status: number;
  /** The `Content-Length` the request carried, if any. */
  contentLength?: string;
}

/** The fake bucket. */
export interface FakeBucket {
  /** The web handler; serve it with `serve()`. */
  handler(request: Request): Promise<Response>;
  /** Objects by key. */
  readonly objects: Map<string, BucketObject>;
  /** Requests in arrival order. */
  readonly requests: BucketRequest[];
  /** Multipart uploads in progress: parts by number. */
  readonly uploads: Map<string, { key: string; parts: Map<number, { bytes: Uint8Array; etag: string }> }>;
  /** Starts a multipart upload of `key`; returns its id. */
  createUpload(key: string): string;
  /**
   * Joins an upload's parts into the object, as CompleteMultipartUpload does.
   *
   * @returns `undefined` when done, else S3's error code and message.
   */
  completeUpload(uploadId: string, parts: { part_number: number; etag: string }[]): { code: string; message: string } | undefined;
  /**
   * A presigned URL for one object.
   *
   * @param baseUrl The bucket's served URL, e.g. `http://127.0.0.1:4567`.
   * @param method `PUT` or `GET`.
   * @param key The object key.
   * @param options `expired` mints a URL whose 15 minutes ran out an hour ago; `headers` are signed and must be sent;
   *   `query` is signed too (`partNumber`, `uploadId`).
   * @returns The URL.
   */
  presign(
    baseUrl: string,
    method: "PUT" | "GET" | "DELETE",
    key: string,
    options?: { expired?: boolean; headers?: Record<string, string>; query?: Record<string, string> },
  ): Promise<string>;
}

const REGION = "us-west-2";
const ACCESS_KEY = "AKIAFAKEDATABRICKSWS";
const EXPIRES_SECONDS = 900;

const xmlError = (status: number, code: string, message: string, extra: Record<string, string> = {}): Response =>
  new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
      Object.entries(extra).map(([k, v]) => `<${k}>${v}</${k}>`).join("") + "<RequestId>FAKE</RequestId></Error>",
    { status, headers: { "content-type": "application/xml" } },
  );

/** `20261201T120000Z` as a Date. */
function amzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : undefined;
}

/**
 * Creates an empty fake bucket with its own random secret key.
 *
 * @returns The bucket.
 * @example Mint a URL and use it
 * ```ts
 * import { createFakeBucket } from "./fake_databricks_bucket.ts";
 * import { serve } from "./serve.ts";
 * const bucket = createFakeBucket();
 * const served = await serve(bucket.handler);
 * const url = await bucket.presign(served.url, "PUT", "a/b.txt");
 * console.log((await fetch(url, { method: "PUT", body: "hi" })).status); // 200
 * await served.close();
 * ```
 */
export function createFakeBucket(): FakeBucket {
  const secret = crypto.randomUUID();
  const unhoistable = new Set(["x-amz-server-side-encryption"]);
  const signer = new SignatureV4({
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: secret },
    region: REGION,
    service: "s3",
    sha256: Sha256,
    uriEscapePath: false,
  });
  const objects = new Map<string, BucketObject>();
  const requests: BucketRequest[] = [];
  const uploads: FakeBucket["uploads"] = new Map();
  const etagOf = async (bytes: Uint8Array): Promise<string> =>
    `"${[...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>))].slice(0, 16).map((b) => b.toString(16).padStart(2, "0")).join("")}"`;

  const presign: FakeBucket["presign"] = async (baseUrl, method, key, options = {}) => {
    const url = new URL(baseUrl);
    const path = `/${key.split("/").map(encodeURIComponent).join("/")}`;
    const signingDate = options.expired ? new Date(Date.now() - 3_600_000) : new Date();
    const signed = await signer.presign(
      {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path,
        query: { ...options.query },
        headers: { host: url.host, ...options.headers },
      },
      { signingDate, expiresIn: EXPIRES_SECONDS, unhoistableHeaders: unhoistable },
    );
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(signed.query ?? {})) query.set(k, String(v));
    return `${url.origin}${path}?${query}`;
  };

  const verify = async (request: Request, url: URL): Promise<Response | undefined> => {
    if (request.headers.has("authorization")) {
      return xmlError(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified");
    }
    const q = url.searchParams;
    const date = amzDate(q.get("X-Amz-Date") ?? "");
    const signature = q.get("X-Amz-Signature");
    const signedHeaders = (q.get("X-Amz-SignedHeaders") ?? "").split(";").filter((h) => h !== "");
    if (date === undefined || signature === null || q.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256" || !signedHeaders.includes("host")) {
      return xmlError(403, "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) headers[name] = request.headers.get(name) ?? "";
    const query: Record<string, string> = {};
    for (const [k, v] of q) if (!k.startsWith("X-Amz-")) query[k] = v;
    const recomputed = await signer.presign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query,
        headers,
      },
      { signingDate: date, expiresIn: Number(q.get("X-Amz-Expires")), unhoistableHeaders: unhoistable },
    );
    if (recomputed.query?.["X-Amz-Signature"] !== signature) {
      return xmlError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", {
        AWSAccessKeyId: ACCESS_KEY,
        SignatureProvided: signature,
      });
    }
    if (Date.now() > date.getTime() + Number(q.get("X-Amz-Expires")) * 1000) {
      return xmlError(403, "AccessDenied", "Request has expired", { Expires: new Date(date.getTime() + Number(q.get("X-Amz-Expires")) * 1000).toISOString() });
    }
    return undefined;
  };

  return {
    objects,
    requests,
    uploads,
    presign,
    createUpload(key) {
      const id = crypto.randomUUID().replaceAll("-", "");
      uploads.set(id, { key, parts: new Map() });
      return id;
    },
    completeUpload(uploadId, parts) {
      const upload = uploads.get(uploadId);
      if (upload === undefined) return { code: "NoSuchUpload", message: "The specified upload does not exist." };
      const sorted = [...parts].sort((a, b) => a.part_number - b.part_number);
      const chunks: Uint8Array[] = [];
      for (const [i, { part_number: n, etag }] of sorted.entries()) {
        const part = upload.parts.get(n);
        if (part === undefined || part.etag !== etag) return { code: "InvalidPart", message: `part ${n} was not uploaded or its ETag does not match` };
        if (i < sorted.length - 1 && part.bytes.length < 5 * 1024 * 1024) {
          return { code: "EntityTooSmall", message: "Your proposed upload is smaller than the minimum allowed object size." };
        }
        chunks.push(part.bytes);
      }
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const c of chunks) {
        bytes.set(c, offset);
        offset += c.length;
      }
      objects.set(upload.key, { bytes, metadata: {} });
      uploads.delete(uploadId);
      return undefined;
    },
    async handler(request) {
      const url = new URL(request.url);
      const key = url.pathname.slice(1).split("/").map(decodeURIComponent).join("/");
      const contentLength = request.headers.get("content-length") ?? undefined;
      const record: BucketRequest = { method: request.method, key, status: 0, ...(contentLength !== undefined ? { contentLength } : {}) };
      requests.push(record);
      const answer = async (): Promise<Response> => {
        const refused = await verify(request, url);
        if (refused !== undefined) return refused;
        const uploadId = url.searchParams.get("uploadId");
        if (uploadId !== null) {
          const upload = uploads.get(uploadId);
          if (upload === undefined || upload.key !== key) return xmlError(404, "NoSuchUpload", "The specified upload does not exist.");
          if (request.method === "DELETE") {
            uploads.delete(uploadId);
            return new Response(null, { status: 204 });
          }
          if (request.method !== "PUT") return xmlError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
          if (contentLength === undefined) {
            return xmlError(501, "NotImplemented", "A header you provided implies functionality that is not implemented", { Header: "Transfer-Encoding" });
          }
          const bytes = new Uint8Array(await request.arrayBuffer());
          const etag = await etagOf(bytes);
          upload.parts.set(Number(url.searchParams.get("partNumber")), { bytes, etag });
          return new Response(null, { status: 200, headers: { etag } });
        }
        if (request.method === "PUT") {
          if (contentLength === undefined) {
            return xmlError(501, "NotImplemented", "A header you provided implies functionality that is not implemented", { Header: "Transfer-Encoding" });
          }
          const bytes = new Uint8Array(await request.arrayBuffer());
          const metadata: Record<string, string> = {};
          for (const name of ["content-type", "x-amz-server-side-encryption"]) {
            const value = request.headers.get(name);
            if (value !== null) metadata[name] = value;
          }
          objects.set(key, { bytes, metadata });
          return new Response(null, { status: 200, headers: { etag: `"${bytes.length}"` } });
        }
        if (request.method === "GET") {
          const object = objects.get(key);
          if (object === undefined) return xmlError(404, "NoSuchKey", "The specified key does not exist.");
          return new Response(object.bytes as Uint8Array<ArrayBuffer>, { status: 200 });
        }
        return xmlError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
      };
      const response = await answer();
      // The body is read to its end before any answer: Deno's node:http server drops a connection
      // whose request body is left unread, and its fetch then reports a network error, not the 403.
      if (!request.bodyUsed) await request.arrayBuffer().catch(() => undefined);
      record.status = response.status;
      return response;
    },
  };
}
