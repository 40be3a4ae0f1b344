/**
 * Where a Databricks workspace is and how to sign in to it, resolved as the
 * Databricks SDK's unified auth does (databricks/sdk/config.py): environment
 * variables first, then a profile of the configuration file, which is read
 * only when a profile is named or nothing is set in the environment. Two
 * sign-in methods at once are an error unless `DATABRICKS_AUTH_TYPE` picks
 * one. The file is read through the runtime's `#fs` entry; an edge runtime
 * has none and takes everything from `env`.
 *
 * @module
 */
import { fileSystem } from "#fs";
import { hasFileSystem } from "#env";
import { MlflowValidationError } from "../errors.ts";
import { headerProblem } from "../validation.ts";
import { parseIni, selectProfile } from "./config_file.ts";

/** How requests sign in. `source` says where the secret came from, for messages; it never holds the secret. */
export type DatabricksAuth =
  | { readonly kind: "pat"; readonly token: string; readonly source: string }
  | { readonly kind: "oauth-m2m"; readonly clientId: string; readonly clientSecret: string; readonly source: string };

/** A resolved workspace. */
export interface DatabricksSettings {
  /** The workspace URL, normalised: `https://<host>` without a trailing slash or `:443`. */
  readonly host: string;
  /** The sign-in method and its secret. */
  readonly auth: DatabricksAuth;
}

/** Config attributes this module reads: name, environment variable, the sign-in method it belongs to. */
const ATTRIBUTES: readonly { name: string; env: string; auth?: string }[] = [
  { name: "host", env: "DATABRICKS_HOST" },
  { name: "auth_type", env: "DATABRICKS_AUTH_TYPE" },
  { name: "token", env: "DATABRICKS_TOKEN", auth: "pat" },
  { name: "username", env: "DATABRICKS_USERNAME", auth: "basic" },
  { name: "password", env: "DATABRICKS_PASSWORD", auth: "basic" },
  { name: "client_id", env: "DATABRICKS_CLIENT_ID", auth: "oauth" },
  { name: "client_secret", env: "DATABRICKS_CLIENT_SECRET", auth: "oauth" },
  { name: "azure_client_id", env: "ARM_CLIENT_ID", auth: "azure" },
  { name: "azure_client_secret", env: "ARM_CLIENT_SECRET", auth: "azure" },
  { name: "azure_tenant_id", env: "ARM_TENANT_ID", auth: "azure" },
  { name: "google_credentials", env: "GOOGLE_CREDENTIALS", auth: "google" },
  { name: "google_service_account", env: "DATABRICKS_GOOGLE_SERVICE_ACCOUNT", auth: "google" },
];

/**
 * Normalises a workspace host as the SDK does (`_fix_host_if_needed`):
 * `https://` added when there is no scheme, trailing `/` removed, `:443`
 * dropped.
 *
 * @param host The host as configured.
 * @param field Where it came from, for errors.
 * @returns The workspace URL.
 * @throws {MlflowValidationError} When it is not a URL.
 * @example A bare host name
 * ```ts
 * import { normaliseHost } from "./settings.ts";
 * if (normaliseHost("adb-1.2.azuredatabricks.net:443/", "DATABRICKS_HOST") !== "https://adb-1.2.azuredatabricks.net") throw new Error();
 * ```
 */
export function normaliseHost(host: string, field: string): string {
  const withScheme = host.includes("://") ? host.trim() : `https://${host.trim()}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new MlflowValidationError(field, `'${host}' is not a workspace URL; use https://<workspace-host>`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new MlflowValidationError(field, "holds a user name, password, query or fragment; give the workspace URL alone, https://<workspace-host>");
  }
  if (!/^https?:$/.test(url.protocol)) {
    throw new MlflowValidationError(field, `has the scheme '${url.protocol}'; use https://<workspace-host>`);
  }
  const port = url.port === "443" ? "" : url.port;
  return `${url.protocol}//${url.hostname}${port ? `:${port}` : ""}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * Resolves the workspace and the sign-in method.
 *
 * @param profile The profile named by the tracking URI, if any.
 * @param env The environment (`DATABRICKS_*`, `HOME`).
 * @returns The host and auth.
 * @throws {MlflowValidationError} When no host or no credentials are configured, two methods are,
 *   a named profile is missing, or the method is one this module does not support; the message names
 *   the variables or profile keys, never a secret.
 * @example A personal access token from the environment
 * ```ts
 * import { resolveDatabricksSettings } from "./settings.ts";
 * const s = await resolveDatabricksSettings(undefined, { DATABRICKS_HOST: "x.cloud.databricks.com", DATABRICKS_TOKEN: "dapi123" });
 * if (s.host !== "https://x.cloud.databricks.com" || s.auth.kind !== "pat") throw new Error();
 * ```
 */
export async function resolveDatabricksSettings(
  profile: string | undefined,
  env: Record<string, string | undefined>,
): Promise<DatabricksSettings> {
  const values = new Map<string, { value: string; source: string }>();
  for (const attr of ATTRIBUTES) {
    const value = envString(env, attr.env);
    if (value) values.set(attr.name, { value, source: attr.env });
  }
  const named = profile ?? (envString(env, "DATABRICKS_CONFIG_PROFILE") || undefined);
  const anyAuth = ATTRIBUTES.some((a) => a.auth !== undefined && values.has(a.name));
  // The SDK reads the file only when a profile is named or nothing is configured otherwise.
  let fileNote = "";
  if (named !== undefined || (!anyAuth && !values.has("host"))) {
    const path = configFilePath(env);
    if (!hasFileSystem || path === undefined) {
      if (named !== undefined) {
        throw new MlflowValidationError(
          "profile",
          `'${named}' is named, but ${hasFileSystem ? "no HOME is set to find ~/.databrickscfg; set DATABRICKS_CONFIG_FILE" : "this runtime has no file system to read ~/.databrickscfg from; pass DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET) in env"}`,
        );
      }
    } else {
      const text = await fileSystem.readText(path);
      if (text === undefined && named !== undefined) {
        throw new MlflowValidationError("profile", `'${named}' is named, but ${path} does not exist; create it or set DATABRICKS_CONFIG_FILE`);
      }
      const chosen = text === undefined ? undefined : selectProfile(parseIni(text), named, path);
      if (chosen !== undefined) {
        fileNote = ` or in profile '${chosen.name}' of ${path}`;
        for (const attr of ATTRIBUTES) {
          const value = chosen.keys.get(attr.name);
          // Values already set in the environment win, as in the SDK.
          if (value && !values.has(attr.name)) values.set(attr.name, { value, source: `${attr.name} in profile '${chosen.name}' of ${path}` });
        }
      } else if (text === undefined) {
        fileNote = ` (${path} does not exist)`;
      } else {
        fileNote = ` (${path} has no [DEFAULT] profile)`;
      }
    }
  }
  const host = values.get("host");
  if (host === undefined) {
    throw new MlflowValidationError(
      "DATABRICKS_HOST",
      `no Databricks workspace is configured: set DATABRICKS_HOST (https://<workspace-host>) and DATABRICKS_TOKEN${fileNote ? `, or host and token${fileNote}` : ""}`,
    );
  }
  return { host: normaliseHost(host.value, host.source), auth: chooseAuth(values, fileNote) };
}

function chooseAuth(values: Map<string, { value: string; source: string }>, fileNote: string): DatabricksAuth {
  const authType = values.get("auth_type")?.value;
  const methods = [...new Set(ATTRIBUTES.filter((a) => a.auth !== undefined && values.has(a.name)).map((a) => a.auth!))].sort();
  if (authType === undefined && methods.length > 1) {
    const sources = ATTRIBUTES.filter((a) => a.auth !== undefined && values.has(a.name)).map((a) => values.get(a.name)!.source);
    throw new MlflowValidationError(
      "DATABRICKS_AUTH_TYPE",
      `more than one authorization method configured: ${methods.join(" and ")} (from ${sources.join(", ")}); ` +
        "keep one, or set DATABRICKS_AUTH_TYPE to pat or oauth-m2m",
    );
  }
  const method = authType ?? (methods[0] === "oauth" ? "oauth-m2m" : methods[0]);
  if (method === "pat") {
    const token = values.get("token");
    if (token === undefined) throw new MlflowValidationError("DATABRICKS_TOKEN", "is not set, but DATABRICKS_AUTH_TYPE is pat; set it to a personal access token");
    const problem = headerProblem("Authorization", token.value);
    if (problem !== undefined) throw new MlflowValidationError(token.source, `${problem}; check where the token is read from`);
    return { kind: "pat", token: token.value, source: token.source };
  }
  if (method === "oauth-m2m") {
    const id = values.get("client_id");
    const secret = values.get("client_secret");
    if (id === undefined || secret === undefined) {
      throw new MlflowValidationError(
        id === undefined ? "DATABRICKS_CLIENT_ID" : "DATABRICKS_CLIENT_SECRET",
        `is not set; OAuth machine-to-machine sign-in needs both DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (or client_id and client_secret in the profile)`,
      );
    }
    return { kind: "oauth-m2m", clientId: id.value, clientSecret: secret.value, source: id.source === "DATABRICKS_CLIENT_ID" ? "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET" : id.source.replace(/^client_id/, "client_id and client_secret") };
  }
  if (method === undefined) {
    throw new MlflowValidationError(
      "DATABRICKS_TOKEN",
      `no Databricks credentials are configured: set DATABRICKS_TOKEN (a personal access token) or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (a service principal)${fileNote}`,
    );
  }
  throw new MlflowValidationError(
    "DATABRICKS_AUTH_TYPE",
    `the '${method}' sign-in method is not supported by this module yet; use a personal access token (DATABRICKS_TOKEN) or OAuth machine-to-machine (DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)`,
  );
}

function configFilePath(env: Record<string, string | undefined>): string | undefined {
  const home = envString(env, "HOME") || envString(env, "USERPROFILE");
  const configured = envString(env, "DATABRICKS_CONFIG_FILE");
  if (configured) {
    if (!configured.startsWith("~")) return configured;
    return home ? `${home}${configured.slice(1)}` : undefined;
  }
  return home ? `${home.replace(/[\\/]+$/, "")}/.databrickscfg` : undefined;
}

// Bindings passed as env may hold anything: a non-string is named, never shown.
function envString(env: Record<string, unknown>, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new MlflowValidationError(name, `must be a string, got ${typeof value}`);
  return value;
}
