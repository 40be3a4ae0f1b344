/**
 * Requests to the signed URLs a Databricks workspace hands out for its cloud
 * storage: sent with exactly the headers that came with the URL, retried like
 * any request (a 5xx, a dropped connection), never with the workspace's
 * token. A failure is reported without the URL's query, which holds the
 * signature, and without the storage's raw answer, which may echo it.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";
import { HttpClient, type RetryOptions } from "../http.ts";
import type { CallOptions } from "../store.ts";

/** One signed URL, as the workspace returns it (`ArtifactCredentialInfo`, databricks_artifacts.proto). */
export interface ArtifactCredential {
  /** The artifact path the URL is for, relative to the run's artifact root. */
  path: string;
  /** The signed URL; its query holds the signature and is never printed. */
  signed_uri: string;
  /** `AWS_PRESIGNED_URL`, `GCP_SIGNED_URL`, `AZURE_SAS_URI` or `AZURE_ADLS_GEN2_SAS_URI`. */
  type: string;
  /** Headers to send exactly as given (some are signed). */
  headers?: { name: string; value: string }[];
}

/** One request to a signed URL. */
export interface SignedRequest {
  /** HTTP method. */
  method: string;
  /** The URL and its headers. */
  credential: ArtifactCredential;
  /** The body for one attempt; sized, never a stream. */
  body?: () => NonNullable<RequestInit["body"]>;
  /** Content-Type when the credential's headers name none. */
  contentType?: string;
  /** Headers added to the credential's (e.g. `x-ms-blob-type`). */
  extraHeaders?: Record<string, string>;
  /** Receives the answer's headers. */
  onHeaders?: (headers: Headers) => void;
}

/**
 * A signed URL as it may be shown: the query, which holds the signature, is
 * replaced by `***` wherever a URL appears in the text.
 *
 * @param text A message that may hold signed URLs.
 * @returns The text without signatures.
 * @example A presigned S3 URL
 * ```ts
 * import { redactSignedUrls } from "./signed_url.ts";
 * const shown = redactSignedUrls("error sending request for url (https://b.s3.amazonaws.com/k?X-Amz-Signature=abc)");
 * if (shown !== "error sending request for url (https://b.s3.amazonaws.com/k?***)") throw new Error(shown);
 * ```
 */
export function redactSignedUrls(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?"'()<>]+)\?[^\s"'()<>]*/gi, "$1?***");
}

/** A failure of a signed-URL request, without the URL's query or the answer's raw text. */
function signedFailure(err: unknown, endpoint: string, type: string): MlflowError {
  if (!(err instanceof MlflowError)) return new MlflowError(`${endpoint} failed`, { endpoint, errorCode: "NETWORK_ERROR" });
  if (err.errorCode === "ABORTED") return err;
  const status = err.status;
  let detail = redactSignedUrls(err.message);
  if (status !== undefined) {
    // The store's XML error names a code and a message; the rest may echo the signature.
    const code = /<Code>([^<]*)<\/Code>/.exec(err.message)?.[1];
    const message = /<Message>([^<]*)<\/Message>/.exec(err.message)?.[1];
    detail = `${endpoint} failed with ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
  }
  return new MlflowError(`uploading through the workspace's ${type} signed URL: ${detail}`, {
    endpoint,
    ...(status !== undefined ? { status } : {}),
    errorCode: err.errorCode ?? "NETWORK_ERROR",
  });
}

/**
 * Whether a signed-URL failure says the URL is no longer good (401 or 403):
 * fresh credentials may help.
 *
 * @param err The failure.
 * @returns `true` for a refusal.
 * @example A 403
 * ```ts
 * import { isRefusal } from "./signed_url.ts";
 * import { MlflowError } from "../errors.ts";
 * if (!isRefusal(new MlflowError("x", { status: 403 }))) throw new Error();
 * ```
 */
export function isRefusal(err: unknown): boolean {
  return err instanceof MlflowError && (err.status === 401 || err.status === 403);
}

/**
 * A sender of signed-URL requests, one retrying client per storage origin.
 *
 * @param fetch The `fetch` to use (no workspace auth is added).
 * @param retry Retry settings.
 * @returns A function sending one request.
 * @example A sender (nothing is sent here)
 * ```ts
 * import { signedRequests } from "./signed_url.ts";
 * import { DEFAULT_RETRY } from "../http.ts";
 * const send = signedRequests(fetch, DEFAULT_RETRY);
 * if (typeof send !== "function") throw new Error();
 * ```
 */
export function signedRequests(
  fetch: typeof globalThis.fetch,
  retry: Required<RetryOptions>,
): (request: SignedRequest, call: CallOptions) => Promise<void> {
  const clients = new Map<string, HttpClient>();
  return async (request: SignedRequest, call: CallOptions): Promise<void> => {
    const { credential } = request;
    const url = new URL(credential.signed_uri);
    let client = clients.get(url.origin);
    if (client === undefined) clients.set(url.origin, client = new HttpClient({ baseUrl: url.origin, fetch, retry }));
    const endpoint = `${request.method} ${url.origin}${url.pathname}`;
    const headers: Record<string, string> = {};
    let contentType = request.contentType ?? "application/octet-stream";
    for (const { name, value } of credential.headers ?? []) {
      if (name.toLowerCase() === "content-type") contentType = value;
      else headers[name] = value;
    }
    Object.assign(headers, request.extraHeaders);
    try {
      await client.send(
        request.method,
        credential.signed_uri,
        endpoint,
        () => request.body?.(),
        contentType,
        () => undefined,
        { ...call, upload: true, headers, ...(request.onHeaders ? { onHeaders: request.onHeaders } : {}) },
      );
    } catch (err) {
      throw signedFailure(err, endpoint, credential.type);
    }
  };
}
