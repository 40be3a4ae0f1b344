/**
 * AWS Signature Version 4 over Web Crypto: the `Authorization` header of one
 * request, as botocore's `SigV4Auth` and S3 compute it (doc:
 * docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html,
 * docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html). No
 * AWS SDK: `fetch` runtimes, edge workers included, sign with this alone.
 *
 * @module
 */

/** AWS credentials: an access key pair and, for temporary credentials, a session token. */
export interface AwsCredentials {
  /** `AWS_ACCESS_KEY_ID`. */
  readonly accessKeyId: string;
  /** `AWS_SECRET_ACCESS_KEY`. Never printed. */
  readonly secretAccessKey: string;
  /** `AWS_SESSION_TOKEN`, for temporary credentials. Never printed. */
  readonly sessionToken?: string;
}

/** One request to sign. */
export interface SigV4Request {
  /** HTTP method. */
  readonly method: string;
  /** The URL exactly as it is sent: path segments and query encoded per RFC 3986 (`%20`, never `+`). */
  readonly url: string;
  /** Headers that will be sent; all are signed except those proxies may change (`user-agent`, `content-length`, ...). */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD` (S3 only). */
  readonly payloadHash: string;
}

/** Who signs, for which service, and when. */
export interface SigV4Scope {
  /** The key pair (and session token) to sign with. */
  readonly credentials: AwsCredentials;
  /** e.g. `us-east-1`. */
  readonly region: string;
  /** e.g. `s3`, `sagemaker-mlflow`. */
  readonly service: string;
  /** The signing time; default now. */
  readonly date?: Date;
}

/** The payload hash S3 accepts for a body it should not check. */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

// Headers a proxy or the runtime may add or change; AWS signers leave them out
// ([A4F] main.js:23-33 and @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS).
const UNSIGNED_HEADERS = new Set([
  "authorization",
  "cache-control",
  "connection",
  "content-length",
  "expect",
  "from",
  "keep-alive",
  "max-forwards",
  "pragma",
  "presigned-expires",
  "range",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);

const encoder = new TextEncoder();

const hex = (bytes: ArrayBuffer): string => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Percent-encodes a string as RFC 3986 and AWS want it: everything but
 * `A-Z a-z 0-9 - _ . ~`, so a space is `%20` and `!'()*` are escaped too.
 *
 * @param value The text.
 * @returns The encoded text.
 * @example A space and an apostrophe
 * ```ts
 * import { encodeRfc3986 } from "./sigv4.ts";
 * if (encodeRfc3986("it's a b") !== "it%27s%20a%20b") throw new Error();
 * ```
 */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The hex SHA-256 of a request body.
 *
 * @param body The body; `undefined` is the empty body.
 * @returns The hash in lowercase hex.
 * @example The empty body
 * ```ts
 * import { sha256Hex } from "./sigv4.ts";
 * if (await sha256Hex(undefined) !== "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") throw new Error();
 * ```
 */
export async function sha256Hex(body: string | Uint8Array | undefined): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body ?? new Uint8Array(0);
  return hex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

const importHmacKey = (key: Uint8Array | ArrayBuffer): Promise<CryptoKey> =>
  crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

async function hmac(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  return await crypto.subtle.sign("HMAC", await importHmacKey(key), encoder.encode(data));
}

// The signing key of a day, region and service, derived once per credentials object (it changes daily).
const signingKeys = new WeakMap<AwsCredentials, { scope: string; key: CryptoKey }>();

async function signingKey(credentials: AwsCredentials, day: string, region: string, service: string): Promise<CryptoKey> {
  const scope = `${day}/${region}/${service}`;
  const cached = signingKeys.get(credentials);
  if (cached?.scope === scope) return cached.key;
  let key = await hmac(encoder.encode(`AWS4${credentials.secretAccessKey}`), day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const imported = await importHmacKey(key);
  signingKeys.set(credentials, { scope, key: imported });
  return imported;
}

/**
 * `YYYYMMDDTHHMMSSZ`, the form of `X-Amz-Date`.
 *
 * @param date The time.
 * @returns The timestamp.
 * @example
 * ```ts
 * import { amzDate } from "./sigv4.ts";
 * if (amzDate(new Date(Date.UTC(2026, 11, 1, 9, 5, 7))) !== "20261201T090507Z") throw new Error();
 * ```
 */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// A malformed escape is signed as it stands: the server sees the same bytes.
function decodeQuery(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

// Query pairs decoded, then encoded once as RFC 3986 and sorted by key, then value.
function canonicalQuery(search: string): string {
  if (search.length <= 1) return "";
  const pairs = search.slice(1).split("&").filter((p) => p !== "").map((pair) => {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    return [encodeRfc3986(decodeQuery(key)), encodeRfc3986(decodeQuery(value))] as const;
  });
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

// S3 signs the path as sent; every other service signs it encoded a second time.
function canonicalPath(pathname: string, service: string): string {
  if (service === "s3") return pathname || "/";
  return (pathname || "/").split("/").map((segment) => encodeRfc3986(segment)).join("/");
}

/**
 * Signs one request with SigV4.
 *
 * @param request Method, encoded URL, headers and payload hash.
 * @param scope Credentials, region, service and time.
 * @returns The headers to add: `Authorization`, `X-Amz-Date`, `X-Amz-Content-SHA256` and, for temporary
 *   credentials, `X-Amz-Security-Token`.
 * @example Sign a GET for S3
 * ```ts
 * import { signSigV4, UNSIGNED_PAYLOAD } from "./sigv4.ts";
 * const headers = await signSigV4(
 *   { method: "GET", url: "https://bucket.s3.us-east-1.amazonaws.com/key", headers: {}, payloadHash: UNSIGNED_PAYLOAD },
 *   { credentials: { accessKeyId: "AKID", secretAccessKey: "secret" }, region: "us-east-1", service: "s3" },
 * );
 * if (!headers.authorization.startsWith("AWS4-HMAC-SHA256 Credential=AKID/")) throw new Error();
 * ```
 */
export async function signSigV4(request: SigV4Request, scope: SigV4Scope): Promise<Record<string, string>> {
  const url = new URL(request.url);
  const stamp = amzDate(scope.date ?? new Date());
  const day = stamp.slice(0, 8);
  const added: Record<string, string> = { "x-amz-date": stamp, "x-amz-content-sha256": request.payloadHash };
  if (scope.credentials.sessionToken) added["x-amz-security-token"] = scope.credentials.sessionToken;
  const signed = new Map<string, string>([["host", url.host]]);
  for (const [name, value] of Object.entries({ ...request.headers, ...added })) {
    const lower = name.toLowerCase();
    if (!UNSIGNED_HEADERS.has(lower) && lower !== "host") signed.set(lower, value.trim().replace(/\s+/g, " "));
  }
  const names = [...signed.keys()].sort();
  const canonical = [
    request.method.toUpperCase(),
    canonicalPath(url.pathname, scope.service),
    canonicalQuery(url.search),
    ...names.map((n) => `${n}:${signed.get(n)}`),
    "",
    names.join(";"),
    request.payloadHash,
  ].join("\n");
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", stamp, credentialScope, await sha256Hex(canonical)].join("\n");
  const key = await signingKey(scope.credentials, day, scope.region, scope.service);
  const signature = hex(await crypto.subtle.sign("HMAC", key, encoder.encode(stringToSign)));
  return {
    ...added,
    authorization: `AWS4-HMAC-SHA256 Credential=${scope.credentials.accessKeyId}/${credentialScope}, ` +
      `SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}
