/**
 * The command line's exit codes, so a script can tell bad input from a
 * refused login from a failing server.
 *
 * @module
 */
import { MlflowError, MlflowValidationError } from "../errors.ts";

/** Exit codes of `flox-mlflow`. */
export const EXIT = {
  /** Everything was logged. */
  ok: 0,
  /** Anything not below (an aborted call, a run or experiment that does not exist, an unexpected failure). */
  other: 1,
  /** Bad input: unknown flag, unreadable file, JSON or CSV that cannot be read, a value MLflow would refuse. Nothing was logged. */
  badInput: 2,
  /** The server refused the credentials (HTTP 401 or 403). */
  auth: 3,
  /** The tracking store failed: a 5xx or 429 after every retry, a network error or timeout, an answer that is not MLflow's, an artifact store that did not keep the bytes, a file store that cannot write. */
  server: 4,
} as const;

const SERVER_CODES = new Set([
  "NETWORK_ERROR",
  "DEADLINE_EXCEEDED",
  "BAD_RESPONSE",
  "ARTIFACT_INCOMPLETE",
  "UNSUPPORTED_ARTIFACT_STORE",
  "FILE_STORE_ERROR",
  "INTERNAL_ERROR",
  "TEMPORARILY_UNAVAILABLE",
]);
const AUTH_CODES = new Set(["UNAUTHENTICATED", "PERMISSION_DENIED", "CUSTOMER_UNAUTHORIZED"]);

/**
 * The exit code for an error.
 *
 * @param error What the command failed with.
 * @returns One of {@link EXIT}.
 * @example A 401 and a validation error
 * ```ts
 * import { EXIT, exitCodeOf } from "./exit_codes.ts";
 * import { MlflowError, MlflowValidationError } from "../errors.ts";
 * if (exitCodeOf(new MlflowError("no", { status: 401 })) !== EXIT.auth) throw new Error();
 * if (exitCodeOf(new MlflowValidationError("--stats", "bad")) !== EXIT.badInput) throw new Error();
 * ```
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof MlflowValidationError) return EXIT.badInput;
  if (!(error instanceof MlflowError)) return EXIT.other;
  const { status, errorCode } = error;
  if (status === 401 || status === 403 || (errorCode !== undefined && AUTH_CODES.has(errorCode))) return EXIT.auth;
  // The server read the request and refused its content: the input is what to fix.
  if (status === 400) return EXIT.badInput;
  if ((status !== undefined && (status >= 500 || status === 429)) || (errorCode !== undefined && SERVER_CODES.has(errorCode))) {
    return EXIT.server;
  }
  return EXIT.other;
}
