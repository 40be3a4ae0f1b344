/**
 * A `fetch` for S3 that signs every request with SigV4, corrects the clock
 * once when S3 says it is off by more than 15 minutes
 * (`RequestTimeTooSkewed`), and turns S3's final XML errors into
 * {@link MlflowError}s that say which variable to fix, never showing a secret.
 * Throttling and server errors (429, 5xx) are handed back as they are, for
 * the caller's retries.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";
import { type AwsCredentials, sha256Hex, signSigV4, UNSIGNED_PAYLOAD } from "./sigv4.ts";
import { xmlElement } from "./xml.ts";

/** What {@link s3SigningFetch} signs with. */
export interface S3SigningOptions {
  /** The underlying `fetch`. */
  readonly fetch: typeof fetch;
  /** The key pair (and session token) to sign with. */
  readonly credentials: AwsCredentials;
  /** Region to sign for. */
  readonly region: string;
}

const FINAL_STATUS = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;

/**
 * What to do about an S3 error code, in words that name the variable to set.
 *
 * @param code S3's `<Code>`.
 * @param region The region signed for.
 * @param answerRegion S3's `<Region>`, when the answer names the bucket's region.
 * @returns The hint, or `""`.
 * @example A wrong secret key
 * ```ts
 * import { s3Hint } from "./s3_fetch.ts";
 * if (!s3Hint("SignatureDoesNotMatch", "us-east-1").includes("AWS_SECRET_ACCESS_KEY")) throw new Error();
 * ```
 */
export function s3Hint(code: string, region: string, answerRegion?: string): string {
  switch (code) {
    case "InvalidAccessKeyId":
      return "S3 does not know this access key id: check AWS_ACCESS_KEY_ID (or aws.accessKeyId), and MLFLOW_S3_ENDPOINT_URL when the bucket is not on AWS";
    case "SignatureDoesNotMatch":
      return "the secret key does not belong to the access key id: check AWS_SECRET_ACCESS_KEY (or aws.secretAccessKey)";
    case "ExpiredToken":
    case "TokenRefreshRequired":
      return "the temporary credentials have expired: renew them and set AWS_SESSION_TOKEN (with the key pair issued with it)";
    case "InvalidToken":
      return "S3 does not accept the session token: check AWS_SESSION_TOKEN, or unset it for long-term keys";
    case "AccessDenied":
      return "the credentials may not write or list this bucket: grant s3:PutObject and s3:ListBucket to the user of AWS_ACCESS_KEY_ID";
    case "NoSuchBucket":
      return "the bucket does not exist: check the server's --default-artifact-root and MLFLOW_S3_ENDPOINT_URL";
    case "AuthorizationHeaderMalformed":
    case "PermanentRedirect":
    case "IllegalLocationConstraintException":
      return `the bucket is not in ${region}: set AWS_REGION${answerRegion ? ` to ${answerRegion}` : " to the bucket's region"}`;
    case "RequestTimeTooSkewed":
      return "this machine's clock is more than 15 minutes off, even after correcting it by the server's Date: set the clock right";
    default:
      return "";
  }
}

/**
 * Builds the signing `fetch`. Bodies must be sized (`Uint8Array`, string or
 * `Blob`): bytes and strings are hashed, a Blob is sent as `UNSIGNED-PAYLOAD`
 * (S3 accepts it; a file-backed Blob is not read twice).
 *
 * @param options Credentials, region and the underlying fetch.
 * @returns A `fetch` for S3 URLs.
 * @example Sign requests to a local S3
 * ```ts
 * import { s3SigningFetch } from "./s3_fetch.ts";
 * const seen: string[] = [];
 * const fake: typeof fetch = async (_url, init) => {
 *   seen.push(new Headers(init?.headers).get("authorization") ?? "");
 *   return new Response("");
 * };
 * const s3 = s3SigningFetch({ fetch: fake, credentials: { accessKeyId: "AKID", secretAccessKey: "s" }, region: "us-east-1" });
 * await s3("http://127.0.0.1:9000/bucket/key", { method: "PUT", body: "x" });
 * if (!seen[0]?.startsWith("AWS4-HMAC-SHA256 Credential=AKID/")) throw new Error();
 * ```
 */
export function s3SigningFetch(options: S3SigningOptions): typeof fetch {
  // Server time minus this machine's, learnt from a RequestTimeTooSkewed answer.
  let skewMs = 0;
  return async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const method = (init.method ?? "GET").toUpperCase();
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = init.body;
    const payloadHash = body === undefined || body === null
      ? await sha256Hex(undefined)
      : typeof body === "string" || body instanceof Uint8Array
      ? await sha256Hex(body)
      : UNSIGNED_PAYLOAD;
    const endpoint = `${method} ${new URL(url).pathname}`;
    for (let corrected = false;; corrected = true) {
      const signed = await signSigV4(
        { method, url, headers, payloadHash },
        { credentials: options.credentials, region: options.region, service: "s3", date: new Date(Date.now() + skewMs) },
      );
      const response = await options.fetch(url, { ...init, headers: { ...headers, ...signed } });
      if (response.ok || !FINAL_STATUS(response.status)) return response;
      const text = await response.text();
      const code = xmlElement(text, "Code") ?? `HTTP_${response.status}`;
      if (code === "RequestTimeTooSkewed" && !corrected) {
        const serverTime = Date.parse(response.headers.get("date") ?? xmlElement(text, "ServerTime") ?? "");
        if (!Number.isNaN(serverTime)) {
          skewMs = serverTime - Date.now();
          continue;
        }
      }
      const message = xmlElement(text, "Message") ?? text.replace(/\s+/g, " ").trim().slice(0, 200);
      const hint = s3Hint(code, options.region, xmlElement(text, "Region"));
      throw new MlflowError(`${endpoint} failed with ${response.status} ${code}: ${message}${hint ? `; ${hint}` : ""}`, {
        status: response.status,
        errorCode: code,
        endpoint,
      });
    }
  };
}
