/**
 * Test support: checks a request's AWS SigV4 signature the way an AWS front
 * end does, by recomputing it with the official signer
 * (`@smithy/signature-v4` with `@aws-crypto/sha256-js`), never with the
 * module under test. Used by the fake S3 and the fake SageMaker front.
 *
 * The order and meaning of the checks follow the AWS docs: the
 * `Authorization` header layout and signed headers
 * (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
 * `x-amz-content-sha256` required by S3 and matched against the body
 * (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html),
 * requests more than 15 minutes off the server's clock refused
 * (RequestTimeTooSkewed / RequestExpired, ErrorResponses and CommonErrors pages).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/** One key pair a fake knows. */
export interface FakeAwsCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials carry a token the request must send as `X-Amz-Security-Token`. */
  sessionToken?: string;
  /** The token has expired (the key pair then fails with the service's expired-token error). */
  expired?: boolean;
}

/** Why a request was refused; each fake turns it into its own error format. */
export type SigV4Failure =
  | { kind: "missing" }
  | { kind: "malformed"; detail: string }
  | { kind: "skewed"; requestTime: string }
  | { kind: "unknownKey"; accessKeyId: string }
  | { kind: "expiredToken" }
  | { kind: "badToken" }
  | { kind: "missingContentSha" }
  | { kind: "contentShaMismatch" }
  | { kind: "wrongRegion"; region: string }
  | { kind: "badSignature" };

/** What a signature check needs to know about the server. */
export interface SigV4Server {
  credentials: readonly FakeAwsCredential[];
  region: string;
  service: string;
  /** The server's clock minus the real one, to play a server whose time differs. */
  clockOffsetMs?: number;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const parseAmzDate = (value: string): number => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m === null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
};

// The official signer with a key the server knows, signing for the server's region and service.
function officialSigner(credential: FakeAwsCredential, server: SigV4Server): SignatureV4 {
  return new SignatureV4({
    credentials: {
      accessKeyId: credential.accessKeyId,
      secretAccessKey: credential.secretAccessKey,
      ...(credential.sessionToken !== undefined ? { sessionToken: credential.sessionToken } : {}),
    },
    region: server.region,
    service: server.service,
    sha256: Sha256,
    // S3 signs the path as sent, other services encode it once more (smithy's uriEscapePath).
    uriEscapePath: server.service !== "s3",
    applyChecksum: false,
  });
}

// The request as the official signer takes it: the URL's parts, its query (a name sent more
// than once as a list) without the `skip` parameters, and the signed headers.
function signable(request: Request, headers: Record<string, string>, skip: readonly string[] = []) {
  const url = new URL(request.url);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    if (skip.includes(k)) continue;
    const prior = query[k];
    query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
  }
  return {
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers,
  };
}

/**
 * Checks a request's signature and payload hash.
 *
 * @param request The request as the server received it.
 * @param body Its body, read in full.
 * @param server Known keys, region, service and clock.
 * @returns `undefined` when the request is signed right, else why not.
 * @example A request without a signature
 * ```ts
 * import { checkSigV4 } from "./sigv4_check.ts";
 * const failure = await checkSigV4(new Request("http://s3.test/b/k"), new Uint8Array(), { credentials: [], region: "us-east-1", service: "s3" });
 * if (failure?.kind !== "missing") throw new Error();
 * ```
 */
export async function checkSigV4(request: Request, body: Uint8Array, server: SigV4Server): Promise<SigV4Failure | undefined> {
  const authorization = request.headers.get("authorization");
  if (authorization === null) return { kind: "missing" };
  const m = AUTH.exec(authorization);
  if (m === null) return { kind: "malformed", detail: "Authorization header is not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…" };
  const [, accessKeyId = "", day = "", region = "", service = "", signedHeaders = "", signature = ""] = m;
  const amzDate = request.headers.get("x-amz-date") ?? "";
  const time = parseAmzDate(amzDate);
  if (Number.isNaN(time) || amzDate.slice(0, 8) !== day) return { kind: "malformed", detail: "X-Amz-Date is missing or does not match the credential scope" };
  if (Math.abs(Date.now() + (server.clockOffsetMs ?? 0) - time) > 15 * 60_000) return { kind: "skewed", requestTime: amzDate };
  const credential = server.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (credential === undefined) return { kind: "unknownKey", accessKeyId };
  if (credential.sessionToken !== undefined) {
    if (request.headers.get("x-amz-security-token") !== credential.sessionToken) return { kind: "badToken" };
    if (credential.expired === true) return { kind: "expiredToken" };
  }
  if (region !== server.region) return { kind: "wrongRegion", region: server.region };
  if (service !== server.service) return { kind: "badSignature" };
  const contentSha = request.headers.get("x-amz-content-sha256");
  if (contentSha === null) return { kind: "missingContentSha" };
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(";")) headers[name] = request.headers.get(name) ?? "";
  const expected = await officialSigner(credential, server).sign({ ...signable(request, headers), body }, { signingDate: new Date(time) });
  const expectedSignature = /Signature=([0-9a-f]{64})/.exec(String(expected.headers["authorization"]))?.[1];
  if (expectedSignature !== signature) return { kind: "badSignature" };
  if (contentSha !== "UNSIGNED-PAYLOAD" && contentSha !== createHash("sha256").update(body).digest("hex")) return { kind: "contentShaMismatch" };
  return undefined;
}

/** Why a presigned URL was refused: a signature failure, or the URL's time is up. */
export type PresignFailure = SigV4Failure | { kind: "expiredUrl"; expires: string };

const PRESIGN_PARAMS = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"];
const UNSIGNED_PAYLOAD = new Set(["x-amz-content-sha256"]);

/**
 * Checks a presigned (query-signed) S3 request the way S3 does: the URL's
 * `X-Amz-Date` plus `X-Amz-Expires` must not have passed (S3 then answers 403
 * AccessDenied "Request has expired", doc:
 * docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html; s3rver
 * does the same, managed-mlflow.md §5), and the signature is recomputed with
 * the official signer's `presign` over an `UNSIGNED-PAYLOAD` body hash
 * (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
 *
 * @param request The request as the server received it.
 * @param server Known keys, region, service and clock.
 * @returns `undefined` when the URL is signed right and still valid, else why not.
 * @example A URL without a signature
 * ```ts
 * import { checkPresignedSigV4 } from "./sigv4_check.ts";
 * const failure = await checkPresignedSigV4(new Request("http://s3.test/b/k"), { credentials: [], region: "us-east-1", service: "s3" });
 * if (failure?.kind !== "malformed") throw new Error();
 * ```
 */
export async function checkPresignedSigV4(request: Request, server: SigV4Server): Promise<PresignFailure | undefined> {
  const url = new URL(request.url);
  const q = url.searchParams;
  const cred = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q.get("X-Amz-Credential") ?? "");
  const amzDate = q.get("X-Amz-Date") ?? "";
  const expires = Number(q.get("X-Amz-Expires"));
  const signature = q.get("X-Amz-Signature") ?? "";
  if (q.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256" || cred === null || !Number.isInteger(expires) || !/^[0-9a-f]{64}$/.test(signature)) {
    return { kind: "malformed", detail: "Query-string authentication requires X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders and -Signature" };
  }
  const [, accessKeyId = "", day = "", region = "", service = ""] = cred;
  const time = parseAmzDate(amzDate);
  if (Number.isNaN(time) || amzDate.slice(0, 8) !== day) return { kind: "malformed", detail: "X-Amz-Date does not match the credential scope" };
  if (Date.now() + (server.clockOffsetMs ?? 0) > time + expires * 1000) return { kind: "expiredUrl", expires: new Date(time + expires * 1000).toISOString() };
  const credential = server.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (credential === undefined) return { kind: "unknownKey", accessKeyId };
  if (credential.sessionToken !== undefined && q.get("X-Amz-Security-Token") !== credential.sessionToken) return { kind: "badToken" };
  if (region !== server.region) return { kind: "wrongRegion", region: server.region };
  if (service !== server.service) return { kind: "badSignature" };
  const headers: Record<string, string> = { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" };
  for (const name of (q.get("X-Amz-SignedHeaders") ?? "").split(";")) headers[name] = request.headers.get(name) ?? "";
  const expected = await officialSigner(credential, server).presign(
    signable(request, headers, PRESIGN_PARAMS),
    { signingDate: new Date(time), expiresIn: expires, unsignableHeaders: UNSIGNED_PAYLOAD, unhoistableHeaders: UNSIGNED_PAYLOAD },
  );
  if (expected.query?.["X-Amz-Signature"] !== signature) return { kind: "badSignature" };
  return undefined;
}
