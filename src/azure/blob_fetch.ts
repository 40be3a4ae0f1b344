/**
 * A `fetch` for Azure Blob storage: each request is authorised (SharedKey
 * headers signed afresh per attempt, or the SAS appended to the URL), and a
 * final refusal becomes an {@link MlflowError} that names the variable to
 * fix, never a key or a SAS. Throttling and server errors (429, 5xx) are
 * handed back as they are, for the caller's retries.
 *
 * @module
 */
import { xmlElement } from "../aws/xml.ts";
import { MlflowError } from "../errors.ts";
import type { AzureAuth } from "./connection.ts";
import { AZURE_STORAGE_VERSION, sharedKeyHeaders } from "./shared_key.ts";

const FINAL_STATUS = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;

const lengthOf = (body: BodyInit | null | undefined): number => {
  if (body === undefined || body === null) return 0;
  if (typeof body === "string") return new TextEncoder().encode(body).length;
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) return body.byteLength;
  if (typeof Blob !== "undefined" && body instanceof Blob) return body.size;
  throw new MlflowError("an Azure Blob request body must be sized (bytes, a string or a Blob)", { errorCode: "INTERNAL_ERROR" });
};

/**
 * What to check after Azure refused a request, by its error code and the
 * credential's variable.
 *
 * @param status The HTTP status.
 * @param code Azure's `<Code>` (Azurite answers `AuthorizationFailure` where Azure says `AuthenticationFailed`).
 * @param auth How the request was authorised.
 * @returns The hint, or `""`.
 * @example A refused SAS
 * ```ts
 * import { azureHint } from "./blob_fetch.ts";
 * const hint = azureHint(403, "AuthenticationFailed", { kind: "sas", query: "sig=x", variable: "AZURE_STORAGE_SAS_TOKEN" });
 * if (!hint.includes("AZURE_STORAGE_SAS_TOKEN") || hint.includes("sig=x")) throw new Error();
 * ```
 */
export function azureHint(status: number, code: string, auth: AzureAuth): string {
  if (code === "ContainerNotFound") return "the container does not exist: create it, or check the server's --default-artifact-root";
  if (status !== 403 && code !== "AuthenticationFailed" && code !== "AuthorizationFailure") return "";
  if (auth.kind === "sas") {
    return `the SAS token was refused (expired, not yet valid, or without create/write/list permission on the container): set ${auth.variable} to a fresh one`;
  }
  return `the account key does not sign for account '${auth.account}': check the key in ${auth.variable}` +
    (auth.variable === "AZURE_STORAGE_CONNECTION_STRING" ? " (AccountName and AccountKey)" : "");
}

/**
 * Builds the authorising `fetch`. Bodies must be sized (bytes, strings, Blobs).
 *
 * @param fetcher The underlying `fetch`.
 * @param auth SharedKey or SAS.
 * @returns A `fetch` for blob URLs (without a SAS in them).
 * @example SharedKey headers on a listing
 * ```ts
 * import { azureBlobFetch } from "./blob_fetch.ts";
 * let auth = "";
 * const fake: typeof fetch = async (_url, init) => {
 *   auth = new Headers(init?.headers).get("authorization") ?? "";
 *   return new Response("<EnumerationResults/>");
 * };
 * const blob = azureBlobFetch(fake, { kind: "sharedKey", account: "acct", key: new Uint8Array(32), variable: "AZURE_STORAGE_ACCESS_KEY" });
 * await blob("https://acct.blob.core.windows.net/c?restype=container&comp=list");
 * if (!auth.startsWith("SharedKey acct:")) throw new Error();
 * ```
 */
export function azureBlobFetch(fetcher: typeof fetch, auth: AzureAuth): typeof fetch {
  return async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const base = input instanceof Request ? input.url : String(input);
    const method = (init.method ?? "GET").toUpperCase();
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const endpoint = `${method} ${new URL(base).pathname}`;
    let url = base;
    if (auth.kind === "sharedKey") {
      Object.assign(headers, await sharedKeyHeaders(auth.account, auth.key, { method, url, headers, contentLength: lengthOf(init.body) }));
    } else {
      url = `${base}${base.includes("?") ? "&" : "?"}${auth.query}`;
      headers["x-ms-version"] = AZURE_STORAGE_VERSION;
    }
    let response: Response;
    try {
      response = await fetcher(url, { ...init, headers });
    } catch (err) {
      // A network error goes back to the caller's retries, but without the SAS some runtimes quote
      // with the URL (Deno: "error sending request for url (…)").
      if (auth.kind !== "sas" || !(err instanceof Error) || !`${err.message}${String(err.cause ?? "")}`.includes(auth.query)) throw err;
      const clean = new Error(err.message.split(auth.query).join("<SAS>"));
      clean.name = err.name;
      throw clean;
    }
    if (response.ok || !FINAL_STATUS(response.status)) return response;
    const text = await response.text();
    const code = xmlElement(text, "Code") ?? response.headers.get("x-ms-error-code") ?? `HTTP_${response.status}`;
    const message = (xmlElement(text, "Message") ?? text).replace(/\s+/g, " ").trim().split("\n")[0]!.slice(0, 200);
    const hint = azureHint(response.status, code, auth);
    throw new MlflowError(`${endpoint} failed with ${response.status} ${code}${message ? `: ${message}` : ""}${hint ? `; ${hint}` : ""}`, {
      status: response.status,
      errorCode: code,
      endpoint,
    });
  };
}
