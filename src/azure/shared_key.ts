/**
 * Azure Storage SharedKey authorisation, signed with Web Crypto HMAC-SHA256
 * (doc: learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key,
 * "Blob, Queue, and File services (Shared Key authorization)"; managed-mlflow.md §3.4).
 *
 * @module
 */

/** The storage service version every request names. */
export const AZURE_STORAGE_VERSION = "2021-12-02";

/** One request as SharedKey signs it. */
export interface SharedKeyRequest {
  readonly method: string;
  readonly url: string;
  /** The headers to be sent (any case). */
  readonly headers: Readonly<Record<string, string>>;
  /** Body length in bytes (an empty line in the string to sign when 0). */
  readonly contentLength: number;
}

const header = (headers: Readonly<Record<string, string>>, name: string): string => {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return "";
};

/**
 * The string to sign: the verb, twelve standard headers, the `x-ms-*`
 * headers sorted, then `/<account><path>` and each query parameter as
 * `\n<lower-case name>:<values, comma-joined>`, sorted.
 *
 * @param account The storage account.
 * @param request The request.
 * @returns The string to sign.
 * @example A Put Blob
 * ```ts
 * import { sharedKeyStringToSign } from "./shared_key.ts";
 * const text = sharedKeyStringToSign("acct", { method: "PUT", url: "https://acct.blob.core.windows.net/c/a.csv", contentLength: 3,
 *   headers: { "Content-Type": "text/csv", "x-ms-date": "D", "x-ms-version": "V", "x-ms-blob-type": "BlockBlob" } });
 * if (!text.endsWith("x-ms-blob-type:BlockBlob\nx-ms-date:D\nx-ms-version:V\n/acct/c/a.csv")) throw new Error(text);
 * ```
 */
export function sharedKeyStringToSign(account: string, request: SharedKeyRequest): string {
  const { headers } = request;
  const url = new URL(request.url);
  const ms = Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v.trim()] as const)
    .filter(([k]) => k.startsWith("x-ms-"))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}:${v}\n`)
    .join("");
  const params = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) params.set(k.toLowerCase(), [...(params.get(k.toLowerCase()) ?? []), v]);
  const query = [...params.keys()].sort().map((k) => `\n${k}:${params.get(k)!.sort().join(",")}`).join("");
  return [
    request.method.toUpperCase(),
    header(headers, "content-encoding"),
    header(headers, "content-language"),
    request.contentLength === 0 ? "" : String(request.contentLength),
    header(headers, "content-md5"),
    header(headers, "content-type"),
    "", // Date: x-ms-date is sent instead.
    header(headers, "if-modified-since"),
    header(headers, "if-match"),
    header(headers, "if-none-match"),
    header(headers, "if-unmodified-since"),
    header(headers, "range"),
    `${ms}/${account}${url.pathname}${query}`,
  ].join("\n");
}

/**
 * The headers that authorise one request: `x-ms-date`, `x-ms-version` and
 * `Authorization: SharedKey <account>:<signature>`.
 *
 * @param account The storage account.
 * @param key The account key, base64-decoded.
 * @param request The request (its own `x-ms-*` headers included).
 * @param now The time to sign with.
 * @returns Headers to add.
 * @example
 * ```ts
 * import { sharedKeyHeaders } from "./shared_key.ts";
 * const h = await sharedKeyHeaders("acct", new Uint8Array(32), { method: "GET", url: "https://acct.blob.core.windows.net/c?restype=container&comp=list", headers: {}, contentLength: 0 });
 * if (!h.authorization.startsWith("SharedKey acct:")) throw new Error();
 * ```
 */
export async function sharedKeyHeaders(
  account: string,
  key: Uint8Array,
  request: SharedKeyRequest,
  now: Date = new Date(),
): Promise<{ "x-ms-date": string; "x-ms-version": string; authorization: string }> {
  const added = { "x-ms-date": now.toUTCString(), "x-ms-version": AZURE_STORAGE_VERSION };
  const text = sharedKeyStringToSign(account, { ...request, headers: { ...request.headers, ...added } });
  const hmac = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(text)));
  let binary = "";
  for (const byte of mac) binary += String.fromCharCode(byte);
  return { ...added, authorization: `SharedKey ${account}:${btoa(binary)}` };
}
