/**
 * The `Authorization` of every request to a Databricks workspace: a
 * personal access token as `Bearer <token>`, or a service principal's OAuth
 * token (fetched and renewed by {@link OAuthTokenSource}).
 *
 * @module
 */
import type { AuthorizationProvider, RetryOptions } from "../http.ts";
import { OAuthTokenSource } from "./oauth.ts";
import type { DatabricksSettings } from "./settings.ts";

/**
 * The authorization provider for a resolved workspace.
 *
 * @param settings The workspace and its sign-in method.
 * @param fetch The `fetch` to reach the token endpoint with.
 * @param retry Retry settings for token requests.
 * @returns A provider; a personal access token is never replaced, so a refusal is final.
 * @example A personal access token
 * ```ts
 * import { databricksAuthorization } from "./auth.ts";
 * import { DEFAULT_RETRY } from "../http.ts";
 * const auth = databricksAuthorization(
 *   { host: "https://x.cloud.databricks.com", auth: { kind: "pat", token: "dapi1", source: "DATABRICKS_TOKEN" } },
 *   fetch,
 *   DEFAULT_RETRY,
 * );
 * if ((await auth.authorization(new AbortController().signal)) !== "Bearer dapi1") throw new Error();
 * if (auth.hint.includes("dapi1")) throw new Error("the hint shows the token");
 * ```
 */
export function databricksAuthorization(
  settings: DatabricksSettings,
  fetch: typeof globalThis.fetch,
  retry: Required<RetryOptions>,
): AuthorizationProvider {
  const { auth, host } = settings;
  if (auth.kind === "oauth-m2m") {
    return new OAuthTokenSource({ host, clientId: auth.clientId, clientSecret: auth.clientSecret, source: auth.source, fetch, retry });
  }
  const header = `Bearer ${auth.token}`;
  return {
    authorization: () => Promise.resolve(header),
    rejected: () => false,
    hint: `Databricks refused the personal access token of ${auth.source}: check that it is a valid, unexpired token of ${host} ` +
      "(User Settings > Developer > Access tokens).",
  };
}
