/**
 * Databricks tracking URIs: `databricks` (the default profile) and
 * `databricks://<profile>`, parsed as MLflow parses them
 * (`get_db_info_from_uri`, mlflow/utils/uri.py). The secret-scope form
 * `databricks://<scope>:<prefix>` reads `dbutils.secrets`, which exists only
 * inside the Databricks runtime, so it is refused with a message saying what
 * to use instead.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";

/** A parsed Databricks tracking URI. */
export interface DatabricksUri {
  /** The profile the URI names; `undefined` for plain `databricks`. */
  readonly profile?: string;
}

/**
 * Whether a tracking URI is meant for Databricks (`databricks`,
 * `databricks:…`, and the registry URI `databricks-uc`, refused later).
 *
 * @param uri The tracking URI.
 * @returns `true` for a Databricks URI.
 * @example Two URIs
 * ```ts
 * import { isDatabricksUri } from "./uri.ts";
 * if (!isDatabricksUri("databricks://prod") || isDatabricksUri("https://h")) throw new Error();
 * ```
 */
export function isDatabricksUri(uri: string): boolean {
  return /^databricks(-uc)?(:|$)/i.test(uri.trim());
}

/**
 * Parses `databricks` or `databricks://<profile>`.
 *
 * @param uri The tracking URI.
 * @param field The option or variable it came from, for errors.
 * @returns The profile, if named.
 * @throws {MlflowValidationError} For `databricks://scope:prefix`, `databricks-uc`, a URI without a
 *   profile after `databricks:`, or a profile holding `/`, `:` or a space.
 * @example A named profile
 * ```ts
 * import { parseDatabricksUri } from "./uri.ts";
 * if (parseDatabricksUri("databricks://staging", "trackingUri").profile !== "staging") throw new Error();
 * if (parseDatabricksUri("databricks", "trackingUri").profile !== undefined) throw new Error();
 * ```
 */
export function parseDatabricksUri(uri: string, field: string): DatabricksUri {
  const text = uri.trim();
  if (/^databricks$/i.test(text)) return {};
  if (/^databricks-uc(:|$)/i.test(text)) {
    throw new MlflowValidationError(
      field,
      `'${text}' is MLflow's Unity Catalog model registry URI, not a tracking URI; use trackingUri: "databricks" (or databricks://<profile>)`,
    );
  }
  // urlparse: the netloc is what follows `//` up to the next `/`, `?` or `#`.
  const match = /^databricks:\/\/([^/?#]*)/i.exec(text);
  const netloc = match?.[1] ?? "";
  if (netloc === "") {
    throw new MlflowValidationError(
      field,
      `'${text}' names no profile; use "databricks" for the default profile or databricks://<profile> for a profile of ~/.databrickscfg`,
    );
  }
  const colon = netloc.indexOf(":");
  if (colon >= 0) {
    throw new MlflowValidationError(
      field,
      `'databricks://${netloc.slice(0, colon)}:…' reads the host and token from Databricks secret scopes, which only works ` +
        "inside the Databricks runtime; outside it use \"databricks\" or databricks://<profile> with DATABRICKS_HOST and " +
        "DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, or a profile in ~/.databrickscfg)",
    );
  }
  if (/\s/.test(netloc)) {
    throw new MlflowValidationError(field, `the profile name in '${text}' holds a space; profile names cannot`);
  }
  return { profile: decodeURIComponent(netloc) };
}
