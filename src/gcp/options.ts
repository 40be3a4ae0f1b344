/**
 * The `gcp` connection option and its check, apart from the code that reads
 * and imports the service account (`service_account.ts`), which is loaded
 * only for a run with `gs://` artifacts.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { checkOptionKeys } from "../option_keys.ts";

/** The `gcp` connection option. */
export interface GcpOptions {
  /**
   * The service-account key: the JSON text of the file Google Cloud gives
   * out, or that JSON parsed. Used instead of `GOOGLE_APPLICATION_CREDENTIALS`.
   */
  serviceAccount?: string | Record<string, unknown>;
}

/** Keys of {@link GcpOptions}. */
export const GCP_OPTION_KEYS = ["serviceAccount"] as const;

/**
 * Checks the `gcp` option's keys and types.
 *
 * @param value The option.
 * @throws {MlflowValidationError} Naming the key.
 * @example A misspelt key
 * ```ts
 * import { checkGcpOptions } from "./options.ts";
 * try {
 *   checkGcpOptions({ service_account: "{}" });
 *   throw new Error("accepted");
 * } catch (err) {
 *   if (!String(err).includes("serviceAccount")) throw err;
 * }
 * ```
 */
export function checkGcpOptions(value: unknown): void {
  const options = checkOptionKeys(value, GCP_OPTION_KEYS, "gcp") as Record<string, unknown>;
  const account = options.serviceAccount;
  if (account !== undefined && typeof account !== "string" && (typeof account !== "object" || account === null || Array.isArray(account))) {
    throw new MlflowValidationError("gcp.serviceAccount", "must be the service-account key's JSON text or that JSON parsed");
  }
}
