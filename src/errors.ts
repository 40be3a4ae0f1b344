/**
 * The one error family of flox-mlflow. Every failure the module reports is an
 * {@link MlflowError}, so callers can branch on `status` and `errorCode`.
 *
 * @module
 */

/** Fields that describe where an {@link MlflowError} came from. */
export interface MlflowErrorInit {
  /** HTTP status of the failed response, when there was one. */
  status?: number;
  /** MLflow `error_code` (for example `RESOURCE_DOES_NOT_EXIST`), or a code of this module. */
  errorCode?: string;
  /** The endpoint or file-store operation, e.g. `POST /api/2.0/mlflow/runs/log-batch`. */
  endpoint?: string;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * An error from flox-mlflow: bad input caught before any request, an MLflow
 * server answer, a network failure or a file-store failure.
 *
 * @example Branch on the MLflow error code
 * ```ts
 * import { MlflowError } from "./errors.ts";
 * const err = new MlflowError("Run not found", { status: 404, errorCode: "RESOURCE_DOES_NOT_EXIST" });
 * if (!(err instanceof MlflowError) || err.errorCode !== "RESOURCE_DOES_NOT_EXIST") throw err;
 * ```
 */
export class MlflowError extends Error {
  /** The error's class name, `"MlflowError"`, as stack traces and `console` show it. */
  override name = "MlflowError";
  /** HTTP status, when the error came from a response. */
  readonly status?: number;
  /** MLflow `error_code`, or one of this module's codes such as `INVALID_PARAMETER_VALUE`. */
  readonly errorCode?: string;
  /** Endpoint or operation that failed. */
  readonly endpoint?: string;

  /**
   * Creates an error with a message and where it came from.
   *
   * @param message What went wrong and what to do about it. Never holds a secret.
   * @param init Status, error code, endpoint and cause.
   */
  constructor(message: string, init: MlflowErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    if (init.status !== undefined) this.status = init.status;
    if (init.errorCode !== undefined) this.errorCode = init.errorCode;
    if (init.endpoint !== undefined) this.endpoint = init.endpoint;
  }
}

/**
 * Bad input found before any request was sent. `field` names the offending
 * option or key.
 *
 * @example Catch a bad metric key
 * ```ts
 * import { MlflowValidationError } from "./errors.ts";
 * const err = new MlflowValidationError("stats", "key 'a#b' has an illegal character");
 * if (err.field !== "stats" || err.errorCode !== "INVALID_PARAMETER_VALUE") throw err;
 * ```
 */
export class MlflowValidationError extends MlflowError {
  /** The error's class name, `"MlflowValidationError"`, as stack traces and `console` show it. */
  override name = "MlflowValidationError";
  /** The option or key path that is wrong, e.g. `params.fast` or `equityCurve.equity`. */
  readonly field: string;

  /**
   * Creates the error; the message is `<field>: <problem>` and the code `INVALID_PARAMETER_VALUE`.
   *
   * @param field The option or key path that is wrong.
   * @param problem What is wrong and what to do, without the field name.
   */
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`, { errorCode: "INVALID_PARAMETER_VALUE" });
    this.field = field;
  }
}

/**
 * The error for work stopped by an `AbortSignal`: code `ABORTED`, the
 * signal's reason as `cause` and, in words, in the message.
 *
 * @param signal The aborted signal.
 * @param message Builds the message from the reason's text.
 * @returns The error.
 * @example A run stopped by the user
 * ```ts
 * import { abortedError } from "./errors.ts";
 * const controller = new AbortController();
 * controller.abort(new Error("ctrl-c"));
 * const err = abortedError(controller.signal, (reason) => `run r1 was aborted (${reason})`);
 * if (err.errorCode !== "ABORTED" || err.message !== "run r1 was aborted (ctrl-c)") throw err;
 * ```
 */
export function abortedError(signal: AbortSignal, message: (reason: string) => string): MlflowError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "aborted");
  return new MlflowError(message(reason), { errorCode: "ABORTED", cause: signal.reason });
}
