/**
 * OAuth machine-to-machine sign-in for a Databricks service principal: the
 * client credentials grant at `{host}/oidc/v1/token`, the client
 * authenticated with HTTP Basic, scope `all-apis` (databricks/sdk/oauth.py,
 * credentials_provider.py). The token is kept and fetched again before it
 * expires, `max(40 s, 10 % of its lifetime)` early (the SDK's 40 s: Azure
 * Databricks rejects tokens that expire within 30 s); callers that need one
 * meanwhile share a single request; a token the server refuses is replaced
 * once.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";
import { type AuthorizationProvider, HttpClient, type RetryOptions } from "../http.ts";

/** What {@link OAuthTokenSource} needs. */
export interface OAuthTokenOptions {
  /** The workspace URL, normalised. */
  host: string;
  /** The service principal's application (client) id. */
  clientId: string;
  /** Never printed. */
  clientSecret: string;
  /** Where the client id and secret came from, for messages. */
  source: string;
  /** The `fetch` to reach the token endpoint with. */
  fetch: typeof fetch;
  /** Retry settings for token requests. */
  retry: Required<RetryOptions>;
  /** The clock, ms since the epoch; default `Date.now`. */
  now?: () => number;
}

interface TokenAnswer {
  access_token?: unknown;
  token_type?: unknown;
  expires_in?: unknown;
}

interface Token {
  header: string;
  refreshAt: number;
}

/** The path of a workspace's token endpoint (`OIDC_TOKEN_PATH`, databricks/sdk/oauth.py). */
export const TOKEN_PATH = "/oidc/v1/token";

/** The earliest a token is replaced before it expires. */
const MIN_EARLY_MS = 40_000;

function utf8Base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Bearer tokens of a Databricks service principal, fetched when needed.
 *
 * @example A source for a workspace (nothing is fetched until a request needs a token)
 * ```ts
 * import { OAuthTokenSource } from "./oauth.ts";
 * import { DEFAULT_RETRY } from "../http.ts";
 * const tokens = new OAuthTokenSource({
 *   host: "https://x.cloud.databricks.com", clientId: "id", clientSecret: "secret",
 *   source: "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET", fetch, retry: DEFAULT_RETRY,
 * });
 * if (!tokens.hint.includes("DATABRICKS_CLIENT_ID")) throw new Error();
 * ```
 */
export class OAuthTokenSource implements AuthorizationProvider {
  readonly #options: OAuthTokenOptions;
  readonly #client: HttpClient;
  readonly #now: () => number;
  #token: Token | undefined;
  #pending: Promise<Token> | undefined;

  /**
   * Keeps the settings; nothing is fetched until a token is needed.
   *
   * @param options Workspace, client credentials, fetch and retry settings.
   */
  constructor(options: OAuthTokenOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const basic = `Basic ${utf8Base64(`${options.clientId}:${options.clientSecret}`)}`;
    const hint = `Check ${options.source}: the service principal's client id and an OAuth secret of it, for ${options.host}.`;
    this.#client = new HttpClient({
      baseUrl: options.host,
      fetch: options.fetch,
      retry: options.retry,
      authorize: { authorization: () => Promise.resolve(basic), rejected: () => false, hint },
    });
  }

  /** Told the user when the workspace refuses a token. */
  get hint(): string {
    return `Databricks refused the OAuth token of ${this.#options.source}; check that the service principal may use this workspace.`;
  }

  /**
   * The `Authorization` value for the next request: the kept token while it
   * is fresh, else a new one (one request however many callers wait).
   *
   * @returns `Bearer <token>`.
   * @throws {MlflowError} `OAUTH_FAILED` when the token endpoint refuses or cannot be reached.
   */
  async authorization(): Promise<string> {
    const token = this.#token;
    if (token !== undefined && this.#now() < token.refreshAt) return token.header;
    this.#pending ??= this.#fetchToken().finally(() => (this.#pending = undefined));
    return (await this.#pending).header;
  }

  /**
   * Forgets a refused token, so the next request fetches a new one.
   *
   * @param authorization The refused header value.
   * @returns Always `true`: a new token can be tried.
   */
  rejected(authorization: string): boolean {
    if (this.#token?.header === authorization) this.#token = undefined;
    return true;
  }

  async #fetchToken(): Promise<Token> {
    const { host } = this.#options;
    const started = this.#now();
    let answer: TokenAnswer;
    try {
      answer = await this.#client.send(
        "POST",
        `${host}${TOKEN_PATH}`,
        `POST ${TOKEN_PATH}`,
        () => "grant_type=client_credentials&scope=all-apis",
        "application/x-www-form-urlencoded",
        (text) => JSON.parse(text) as TokenAnswer,
      );
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new MlflowError(`Databricks OAuth sign-in at ${host} failed: ${why}`, {
        errorCode: "OAUTH_FAILED",
        endpoint: `POST ${TOKEN_PATH}`,
        ...(err instanceof MlflowError && err.status !== undefined ? { status: err.status } : {}),
        cause: err,
      });
    }
    const { access_token: accessToken, token_type: tokenType } = answer;
    if (typeof accessToken !== "string" || accessToken === "") {
      throw new MlflowError(`Databricks OAuth sign-in at ${host} answered without an access_token; check that ${host} is a workspace URL`, {
        errorCode: "OAUTH_FAILED",
        endpoint: `POST ${TOKEN_PATH}`,
      });
    }
    // "Each access token is valid for one hour" (docs.databricks.com, OAuth M2M) when the answer does not say.
    const lifetimeMs = Number(answer.expires_in ?? 3600) * 1000;
    const ttl = Number.isFinite(lifetimeMs) && lifetimeMs > 0 ? lifetimeMs : 3_600_000;
    const token = {
      header: `${typeof tokenType === "string" && tokenType !== "" ? tokenType : "Bearer"} ${accessToken}`,
      refreshAt: started + ttl - Math.max(MIN_EARLY_MS, ttl / 10),
    };
    this.#token = token;
    return token;
  }
}
