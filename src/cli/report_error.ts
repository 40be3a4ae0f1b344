/**
 * Errors as the command line prints them: the library's error class, its
 * fields and message, the causes' messages, never a stack trace. Messages of
 * this module's errors never hold secrets (URIs are shown redacted), so they
 * are printed as they are.
 *
 * @module
 */
import { MlflowError, MlflowValidationError } from "../errors.ts";

/** An error as `--json` prints it. */
export interface ErrorReport {
  /** `MlflowValidationError`, `MlflowError`, or `Error` for anything else. */
  name: string;
  /** The message. */
  message: string;
  /** The flag, option or key that is wrong (validation errors). */
  field?: string;
  /** HTTP status, when a server answered. */
  status?: number;
  /** MLflow's `error_code`, or this module's. */
  errorCode?: string;
  /** The endpoint or file-store operation. */
  endpoint?: string;
  /** Messages of the causes, outermost first. */
  causes?: string[];
}

const MAX_CAUSES = 4;

/**
 * The printable fields of an error.
 *
 * @param error What was thrown.
 * @returns Its name, message, field, status, code, endpoint and causes.
 * @example A validation error
 * ```ts
 * import { errorReport } from "./report_error.ts";
 * import { MlflowValidationError } from "../errors.ts";
 * const report = errorReport(new MlflowValidationError("--axes", "is missing"));
 * if (report.name !== "MlflowValidationError" || report.field !== "--axes") throw new Error();
 * ```
 */
export function errorReport(error: unknown): ErrorReport {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const report: ErrorReport = {
    name: error instanceof MlflowValidationError ? "MlflowValidationError" : error instanceof MlflowError ? "MlflowError" : "Error",
    message: error.message,
  };
  if (error instanceof MlflowValidationError) report.field = error.field;
  if (error instanceof MlflowError) {
    if (error.status !== undefined) report.status = error.status;
    if (error.errorCode !== undefined) report.errorCode = error.errorCode;
    if (error.endpoint !== undefined) report.endpoint = error.endpoint;
  }
  const causes: string[] = [];
  let cause = error.cause;
  while (cause !== undefined && cause !== null && causes.length < MAX_CAUSES) {
    causes.push(cause instanceof Error ? cause.message : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (causes.length) report.causes = causes;
  return report;
}

/**
 * An error as lines for standard error: `<command>: <Name> [<details>]: <message>`, then the causes.
 *
 * @param command The command that failed, e.g. `flox-mlflow log`.
 * @param error What was thrown.
 * @returns The text, ending with a line break.
 * @example A server error
 * ```ts
 * import { formatError } from "./report_error.ts";
 * import { MlflowError } from "../errors.ts";
 * const text = formatError("flox-mlflow log", new MlflowError("denied", { status: 403, errorCode: "PERMISSION_DENIED" }));
 * if (text !== "flox-mlflow log: MlflowError [403 PERMISSION_DENIED]: denied\n") throw new Error(text);
 * ```
 */
export function formatError(command: string, error: unknown): string {
  const r = errorReport(error);
  const details = [
    r.status !== undefined || r.errorCode !== undefined ? [r.status, r.errorCode].filter((x) => x !== undefined).join(" ") : undefined,
    r.endpoint,
  ].filter((x): x is string => x !== undefined && x !== "");
  const head = `${command}: ${r.name}${details.length ? ` [${details.join(", ")}]` : ""}: ${r.message}\n`;
  return head + (r.causes ?? []).map((c) => `  caused by: ${c}\n`).join("");
}
