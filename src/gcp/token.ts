/**
 * OAuth 2.0 access tokens for a Google service account: an RS256 JWT signed
 * with Web Crypto, exchanged at the account's `token_uri`
 * (doc: developers.google.com/identity/protocols/oauth2/service-account,
 * "Preparing to make an authorized API call"; managed-mlflow.md §3.3). A
 * token is kept until a minute before it expires, and fetched again when the
 * storage refuses it. A JWT refused as outside "a reasonable timeframe" (this
 * machine's clock is off) is signed once more with the time of the token
 * endpoint's `Date` header.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";
import { type AuthorizationProvider, HttpClient, type RetryOptions } from "../http.ts";
import type { ServiceAccount } from "./service_account.ts";

/** The scope of Cloud Storage reads and writes. */
export const GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";

const base64url = (bytes: Uint8Array): string => {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const jsonPart = (value: unknown): string => base64url(new TextEncoder().encode(JSON.stringify(value)));

/**
 * The signed JWT assertion for one token request.
 *
 * @param account The service account.
 * @param scope The OAuth scope.
 * @param nowMs The time (ms since the epoch).
 * @returns `<header>.<claims>.<signature>`, base64url.
 * @example Three parts, RS256
 * ```ts
 * import { serviceAccountJwt } from "./token.ts";
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign", "verify"]);
 * const jwt = await serviceAccountJwt({ clientEmail: "a@p.iam.gserviceaccount.com", privateKey, tokenUri: "https://oauth2.googleapis.com/token",
 *   source: "test" }, "https://www.googleapis.com/auth/devstorage.read_write", Date.now());
 * if (jwt.split(".").length !== 3 || !atob(jwt.split(".")[0]!).includes("RS256")) throw new Error(jwt);
 * ```
 */
export async function serviceAccountJwt(account: ServiceAccount, scope: string, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: "RS256", typ: "JWT", ...(account.privateKeyId !== undefined ? { kid: account.privateKeyId } : {}) };
  const claims = { iss: account.clientEmail, scope, aud: account.tokenUri, iat, exp: iat + 3600 };
  const unsigned = `${jsonPart(header)}.${jsonPart(claims)}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", account.privateKey, new TextEncoder().encode(unsigned));
  return `${unsigned}.${base64url(new Uint8Array(signature))}`;
}

interface TokenAnswer {
  access_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

/**
 * A refreshable `Authorization` for an {@link HttpClient}: `Bearer <token>`
 * from the account's `token_uri`, kept until a minute before it expires.
 *
 * @param account The service account.
 * @param fetcher The `fetch` for the token endpoint.
 * @param retry Retry settings for the token request.
 * @returns The provider; a refused key fails naming the account's source.
 * @example A token fetched once and kept
 * ```ts
 * import { googleAuthorization } from "./token.ts";
 * import { DEFAULT_RETRY } from "../http.ts";
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign", "verify"]);
 * let asked = 0;
 * const tokens: typeof fetch = async () => (asked++, Response.json({ access_token: "t1", expires_in: 3599, token_type: "Bearer" }));
 * const auth = googleAuthorization({ clientEmail: "a@p", privateKey, tokenUri: "https://oauth2.test/token", source: "test" }, tokens, DEFAULT_RETRY);
 * const signal = new AbortController().signal;
 * if ((await auth.authorization(signal)) !== "Bearer t1" || (await auth.authorization(signal)) !== "Bearer t1" || asked !== 1) throw new Error();
 * ```
 */
export function googleAuthorization(account: ServiceAccount, fetcher: typeof fetch, retry: Required<RetryOptions>): AuthorizationProvider {
  const tokenUrl = new URL(account.tokenUri);
  // The token endpoint's clock, from the Date header of its last answer.
  let serverDate: number | undefined;
  const dated: typeof fetch = async (input, init) => {
    const response = await fetcher(input, init);
    const date = Date.parse(response.headers.get("date") ?? "");
    if (!Number.isNaN(date)) serverDate = date;
    return response;
  };
  const http = new HttpClient({ baseUrl: tokenUrl.origin, fetch: dated, retry });
  const endpoint = `POST ${tokenUrl.origin}${tokenUrl.pathname}`;
  let cached: { value: string; until: number } | undefined;
  let pending: Promise<string> | undefined;
  let skewMs = 0;
  const hint = `check the service-account key in ${account.source} (its client_email and private_key, and that the key is not deleted or disabled)`;
  const request = async (signal: AbortSignal): Promise<TokenAnswer> => {
    const assertion = await serviceAccountJwt(account, GCS_SCOPE, Date.now() + skewMs);
    const form = `grant_type=${encodeURIComponent("urn:ietf:params:oauth:grant-type:jwt-bearer")}&assertion=${assertion}`;
    return await http.send<TokenAnswer>("POST", account.tokenUri, endpoint, () => form, "application/x-www-form-urlencoded",
      (text) => JSON.parse(text) as TokenAnswer, { signal });
  };
  const fetchToken = async (signal: AbortSignal): Promise<string> => {
    let answer: TokenAnswer;
    try {
      try {
        answer = await request(signal);
      } catch (err) {
        // Google: invalid_grant "Invalid JWT: Token must be a short-lived token (60 minutes) and in a
        // reasonable timeframe. Check your iat and exp values" (the doc's "Error codes").
        const skewed = err instanceof MlflowError && err.status === 400 && /timeframe/i.test(err.message) && serverDate !== undefined &&
          Math.abs(serverDate - Date.now() - skewMs) > 30_000;
        if (!skewed) throw err;
        skewMs = serverDate! - Date.now();
        answer = await request(signal);
      }
    } catch (err) {
      if (!(err instanceof MlflowError)) throw err;
      // Google refuses a bad key with 400 invalid_grant (the doc's "Error codes"); say what to check.
      const clock = /timeframe/i.test(err.message) ? "; this machine's clock may be off: set it right" : "";
      throw new MlflowError(`${err.message}; ${hint}${clock}`, {
        ...(err.status !== undefined ? { status: err.status } : {}),
        errorCode: err.errorCode ?? "PERMISSION_DENIED",
        endpoint,
      });
    }
    if (typeof answer.access_token !== "string" || answer.access_token === "") {
      throw new MlflowError(`${endpoint} answered without an access_token`, { errorCode: "BAD_RESPONSE", endpoint });
    }
    const lifetime = typeof answer.expires_in === "number" ? answer.expires_in * 1000 : 3_600_000;
    cached = { value: `Bearer ${answer.access_token}`, until: Date.now() + Math.max(0, lifetime - 60_000) };
    return cached.value;
  };
  return {
    hint: `the storage refused the access token: ${hint}`,
    authorization(signal: AbortSignal): Promise<string> {
      if (cached !== undefined && Date.now() < cached.until) return Promise.resolve(cached.value);
      pending ??= fetchToken(signal).finally(() => (pending = undefined));
      return pending;
    },
    rejected(authorization: string): boolean {
      if (cached?.value === authorization) cached = undefined;
      return true;
    },
  };
}
