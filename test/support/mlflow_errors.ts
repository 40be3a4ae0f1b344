/**
 * Test support: how MLflow's server answers a failure. An `MlflowException`
 * becomes a JSON body `{error_code, message, sqlstate, error_class}` with the
 * HTTP status of its code (`catch_mlflow_exception` in
 * mlflow/server/handlers.py); a route Flask does not know, or a method it does
 * not allow, gets werkzeug's HTML error page instead.
 *
 * @module
 */

import { pyDumps } from "./python_json.ts";

/** HTTP status of each MLflow error code (`ERROR_CODE_TO_HTTP_STATUS`). */
export const ERROR_STATUS: Record<string, number> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  NOT_FOUND: 404,
  ABORTED: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** The error code an injected fault's default body names for its status. */
export const ERROR_CODE_FOR_STATUS: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "REQUEST_LIMIT_EXCEEDED",
  500: "INTERNAL_ERROR",
  501: "NOT_IMPLEMENTED",
  503: "TEMPORARILY_UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** An `MlflowException`: thrown by a handler, answered by {@link errorResponse}. */
export class ApiError extends Error {
  /**
   * @param errorCode MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`.
   * @param message The message, as the real server words it.
   */
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** `INVALID_PARAMETER_VALUE`, the code of every validation failure (HTTP 400). */
export const invalid = (message: string): ApiError => new ApiError("INVALID_PARAMETER_VALUE", message);

/**
 * The JSON error answer for an `MlflowException`. SQL details the real server
 * appends to some messages are left out.
 *
 * @param errorCode MLflow's `error_code`; it sets the HTTP status.
 * @param message The message.
 */
export function errorResponse(errorCode: string, message: string): Response {
  const body = {
    error_code: errorCode,
    message,
    sqlstate: "KAM00",
    error_class: errorCode === "RESOURCE_DOES_NOT_EXIST" ? "RESOURCE_NOT_FOUND" : errorCode,
  };
  return new Response(pyDumps(body), {
    status: ERROR_STATUS[errorCode] ?? 500,
    headers: { "content-type": "application/json" },
  });
}

/** The sentence MLflow ends request-schema errors with. */
export const DOCS_HINT = " See the API docs for more information about request parameters.";

/** werkzeug's `NotFound` page, as Flask answers a path no route matches (transcript 58). */
export function notFound(): Response {
  return new Response(
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n',
    { status: 404, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

/**
 * werkzeug's `MethodNotAllowed` page, with the `Allow` header Flask sends.
 *
 * @param methods The methods the route takes; Flask adds OPTIONS.
 */
export function methodNotAllowed(methods: string[]): Response {
  return new Response(
    '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n',
    { status: 405, headers: { "content-type": "text/html; charset=utf-8", allow: [...methods, "OPTIONS"].join(", ") } },
  );
}
