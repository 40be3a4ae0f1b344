/**
 * Test support: the OAuth side of a fake Databricks workspace. The token
 * endpoint `POST /oidc/v1/token` checks what the Databricks SDK sends
 * (databricks/sdk/oauth.py, credentials_provider.py; managed-mlflow.md §1.2):
 * HTTP Basic `client_id:client_secret`, a form body with
 * `grant_type=client_credentials` and `scope=all-apis`; it answers
 * `{access_token, token_type: "Bearer", expires_in}` with a lifetime chosen
 * by the test, so expiry happens within a test. Error bodies use OAuth's
 * `{error, error_description}` shape (§1.2 step 3); their exact texts are
 * guessed.
 *
 * @module
 */

/** Options of {@link createFakeOAuth}. */
export interface FakeOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** `expires_in` of issued tokens, in seconds. */
  ttlSeconds: number;
}

/** The token endpoint and the tokens it issued. */
export interface FakeOAuth {
  /** Answers `POST /oidc/v1/token`. */
  tokenEndpoint(request: Request): Promise<Response>;
  /** Whether a bearer token was issued here and has not expired (by the server's clock) or been revoked. */
  valid(token: string): boolean;
  /** Tokens issued so far. */
  readonly issued: string[];
  /** Makes every issued token expire now, as the server sees it. */
  expireAll(): void;
  /** Changes the lifetime of tokens issued from now on. */
  setTtl(seconds: number): void;
}

const oauthError = (status: number, error: string, description: string): Response =>
  new Response(JSON.stringify({ error, error_description: description }), { status, headers: { "content-type": "application/json" } });

/**
 * Creates the token endpoint of one service principal.
 *
 * @param options The principal's id and secret and the tokens' lifetime.
 * @returns The endpoint.
 * @example Get a token
 * ```ts
 * import { createFakeOAuth } from "./fake_databricks_oauth.ts";
 * const oauth = createFakeOAuth({ clientId: "id", clientSecret: "s", ttlSeconds: 60 });
 * const res = await oauth.tokenEndpoint(new Request("http://w/oidc/v1/token", {
 *   method: "POST",
 *   headers: { authorization: `Basic ${btoa("id:s")}`, "content-type": "application/x-www-form-urlencoded" },
 *   body: "grant_type=client_credentials&scope=all-apis",
 * }));
 * if (!oauth.valid((await res.json()).access_token)) throw new Error();
 * ```
 */
export function createFakeOAuth(options: FakeOAuthOptions): FakeOAuth {
  const expiry = new Map<string, number>();
  const issued: string[] = [];
  let ttl = options.ttlSeconds;
  const expected = `Basic ${btoa(`${options.clientId}:${options.clientSecret}`)}`;
  return {
    issued,
    valid: (token) => (expiry.get(token) ?? 0) > Date.now(),
    expireAll() {
      for (const token of expiry.keys()) expiry.set(token, 0);
    },
    setTtl(seconds) {
      ttl = seconds;
    },
    async tokenEndpoint(request) {
      if (request.method !== "POST") return oauthError(405, "invalid_request", "method not allowed");
      if (request.headers.get("authorization") !== expected) return oauthError(401, "invalid_client", "Client authentication failed");
      if (!(request.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")) {
        return oauthError(400, "invalid_request", "expected a form body");
      }
      const form = new URLSearchParams(await request.text());
      if (form.get("grant_type") !== "client_credentials") return oauthError(400, "unsupported_grant_type", "grant_type must be client_credentials");
      if (form.get("scope") !== "all-apis") return oauthError(400, "invalid_scope", "scope must be all-apis");
      const token = `fake-oauth-${crypto.randomUUID()}`;
      expiry.set(token, Date.now() + ttl * 1000);
      issued.push(token);
      return new Response(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: ttl, scope: "all-apis" }), {
        headers: { "content-type": "application/json" },
      });
    },
  };
}
