/**
 * Where runs go: tracking URI, experiment, credentials and retry settings,
 * resolved from the call's options, {@link setTrackingUri} and the
 * environment, in that order.
 *
 * @module
 */
import { hasFileSystem, processEnv } from "#env";
import type { BatchLimits } from "./batch.ts";
import { MlflowValidationError } from "./errors.ts";
import { type Assert, checkOptionKeys, type ExactKeys, RETRY_KEYS } from "./option_keys.ts";
import { createFileStore, parseFileUri } from "./file_store.ts";
import { DEFAULT_RETRY, type HeadersProvider, type RetryOptions } from "./http.ts";
import { createRestStore } from "./rest_store.ts";
import type { ExperimentRef, TrackingStore } from "./store.ts";

/** Options that say where and how to reach MLflow. Every entry point takes them. */
export interface ConnectionOptions {
  /**
   * `http(s)://host:port[/prefix]` for a tracking server; `file:./mlruns`,
   * `file:///abs/path` or a plain path for the file store. Default:
   * {@link setTrackingUri}, then `MLFLOW_TRACKING_URI`, then `./mlruns` where
   * the runtime has a file system.
   */
  trackingUri?: string;
  /** Environment to read `MLFLOW_*` variables from; default the process environment. Edge code passes its bindings. */
  env?: Record<string, string | undefined>;
  /** The `fetch` to use; default the global one. */
  fetch?: typeof fetch;
  /** Extra headers, or a function returning them per request (tokens that refresh). */
  headers?: HeadersProvider;
  /** Retry and timeout settings. */
  retry?: RetryOptions;
  /** Lower `log-batch` limits for servers with smaller caps. */
  batchLimits?: Partial<BatchLimits>;
  /**
   * After a run's uploads, compare what the store holds with the bytes sent
   * (one `artifacts/list` request per artifact folder) and send a short file
   * again once. Default true; turn it off only for a server that cannot list
   * artifacts.
   */
  verifyArtifacts?: boolean;
}

/** A resolved connection. */
export interface Connection {
  store: TrackingStore;
  env: Record<string, string | undefined>;
}

let processTrackingUri: string | undefined;
let announcedDefault = false;

/**
 * Sets the tracking URI for calls that pass none, like MLflow's
 * `mlflow.set_tracking_uri`. `undefined` clears it.
 *
 * @param uri The tracking URI.
 * @throws {MlflowValidationError} When `uri` is an empty string.
 * @example Set and clear the process-wide URI
 * ```ts
 * import { setTrackingUri } from "./config.ts";
 * setTrackingUri("http://127.0.0.1:5000");
 * setTrackingUri(undefined);
 * ```
 */
export function setTrackingUri(uri: string | undefined): void {
  if (uri !== undefined && uri.trim() === "") {
    throw new MlflowValidationError("trackingUri", "is empty; pass a server URL or a file path, or undefined to clear it");
  }
  processTrackingUri = uri;
}

function readEnvNumber(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new MlflowValidationError(name, `is '${raw}'; set it to a number of 0 or more, or unset it`);
  }
  return value;
}

function utf8Base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Resolves the tracking URI and builds the store for it.
 *
 * @param options Connection options.
 * @returns The store and the environment that was read.
 * @throws {MlflowValidationError} On an unusable tracking URI or environment value.
 * @example The file store
 * ```ts
 * import { connect } from "./config.ts";
 * const { store } = connect({ trackingUri: "file:./mlruns", env: {} });
 * if (!store.location.endsWith("mlruns")) throw new Error();
 * ```
 */
export function connect(options: ConnectionOptions): Connection {
  checkConnection(options);
  const env = options.env ?? processEnv();
  let uri = options.trackingUri ?? processTrackingUri ?? (env.MLFLOW_TRACKING_URI || undefined);
  if (uri === undefined) {
    if (!hasFileSystem) {
      throw new MlflowValidationError(
        "trackingUri",
        "is not set and this runtime has no file system; set trackingUri (or MLFLOW_TRACKING_URI in env) to an MLflow server URL",
      );
    }
    uri = "./mlruns";
    if (!announcedDefault) {
      announcedDefault = true;
      console.warn(`flox-mlflow: no tracking URI set; logging to the local file store ${parseFileUri(uri)}`);
    }
  }
  if (/^https?:\/\//i.test(uri)) return { store: restStore(uri, options, env), env };
  if (/^databricks/i.test(uri)) {
    throw new MlflowValidationError(
      "trackingUri",
      "'databricks' URIs are not supported; use the workspace URL (https://<workspace-host>) with MLFLOW_TRACKING_TOKEN",
    );
  }
  const path = parseFileUri(uri);
  if (path === undefined) {
    throw new MlflowValidationError(
      "trackingUri",
      `'${redact(uri)}' is neither an http(s) server URL nor a file: URI or path`,
    );
  }
  if (!hasFileSystem) {
    throw new MlflowValidationError(
      "trackingUri",
      `'${uri}' is a local path, but this runtime has no file system; set it to an MLflow server URL`,
    );
  }
  return { store: createFileStore(path, options.verifyArtifacts === undefined ? {} : { verifyArtifacts: options.verifyArtifacts }), env };
}

type _RetryKeysMatch = Assert<ExactKeys<typeof RETRY_KEYS, RetryOptions>>;
const BATCH_LIMIT_KEYS = ["metrics", "params", "tags", "entities", "bytes"] as const;
type _BatchLimitKeysMatch = Assert<ExactKeys<typeof BATCH_LIMIT_KEYS, BatchLimits>>;

// Every connection option is checked for its type before anything is sent: a
// batch limit of 0 would otherwise split writes forever, a string fetch would
// fail deep inside a retry loop.
function checkConnection(options: ConnectionOptions): void {
  const { trackingUri, env, fetch, headers, retry, batchLimits, verifyArtifacts } = options;
  if (trackingUri !== undefined && typeof trackingUri !== "string") {
    throw new MlflowValidationError("trackingUri", `must be a string (a server URL or a folder), got ${typeof trackingUri}`);
  }
  if (env !== undefined && (typeof env !== "object" || env === null)) {
    throw new MlflowValidationError("env", "must be an object of environment variable names to strings");
  }
  if (fetch !== undefined && typeof fetch !== "function") {
    throw new MlflowValidationError("fetch", "must be a fetch function, e.g. globalThis.fetch");
  }
  if (headers !== undefined && typeof headers !== "function" && (typeof headers !== "object" || headers === null)) {
    throw new MlflowValidationError("headers", "must be an object of header names to values, or a function returning one");
  }
  if (verifyArtifacts !== undefined && typeof verifyArtifacts !== "boolean") {
    throw new MlflowValidationError("verifyArtifacts", "must be true or false");
  }
  if (retry !== undefined) {
    checkOptionKeys(retry, RETRY_KEYS, "retry");
    for (const key of RETRY_KEYS) {
      const value = retry[key];
      if (value === undefined) continue;
      const whole = key === "maxRetries";
      if (typeof value !== "number" || !(value >= 0) || (whole ? !Number.isInteger(value) : !Number.isFinite(value))) {
        throw new MlflowValidationError(`retry.${key}`, `is ${String(value)}; pass ${whole ? "a whole number" : "a number of ms"} of 0 or more`);
      }
    }
  }
  if (batchLimits !== undefined) {
    checkOptionKeys(batchLimits, BATCH_LIMIT_KEYS, "batchLimits");
    for (const key of BATCH_LIMIT_KEYS) {
      const value = batchLimits[key];
      if (value !== undefined && !(typeof value === "number" && Number.isInteger(value) && value >= 1)) {
        throw new MlflowValidationError(`batchLimits.${key}`, `is ${String(value)}; pass a whole number of 1 or more`);
      }
    }
  }
}

function redact(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, "//***@");
}

function restStore(uri: string, options: ConnectionOptions, env: Record<string, string | undefined>): TrackingStore {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    throw new MlflowValidationError("trackingUri", `'${redact(uri)}' is not a valid URL: ${(err as Error).message}`);
  }
  let authorization: string | undefined;
  const user = env.MLFLOW_TRACKING_USERNAME;
  const password = env.MLFLOW_TRACKING_PASSWORD;
  if (url.username || url.password) {
    // fetch refuses URLs with credentials; move them to a Basic header.
    authorization = `Basic ${utf8Base64(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`)}`;
    url.username = "";
    url.password = "";
  } else if (user && password) {
    // Basic wins over a token when both are configured, as in MLflow's client.
    authorization = `Basic ${utf8Base64(`${user}:${password}`)}`;
  } else if (env.MLFLOW_TRACKING_TOKEN) {
    authorization = `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
  }
  const timeoutSeconds = readEnvNumber(env, "MLFLOW_HTTP_REQUEST_TIMEOUT");
  const maxRetries = readEnvNumber(env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES");
  const retry = {
    ...DEFAULT_RETRY,
    ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}),
    ...(maxRetries !== undefined ? { maxRetries } : {}),
    ...options.retry,
  };
  const baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  return createRestStore({
    baseUrl,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    ...(authorization !== undefined ? { authorization } : {}),
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    retry,
    ...(options.batchLimits !== undefined ? { batchLimits: options.batchLimits } : {}),
    ...(options.verifyArtifacts !== undefined ? { verifyArtifacts: options.verifyArtifacts } : {}),
  });
}

/**
 * Which experiment a run goes into: the call's `experiment` name or
 * `experimentId`, else `MLFLOW_EXPERIMENT_NAME`, else `MLFLOW_EXPERIMENT_ID`,
 * else MLflow's Default.
 *
 * @param options The call's experiment options.
 * @param env The environment.
 * @returns The experiment reference.
 * @throws {MlflowValidationError} On an empty or over-long experiment name.
 * @example The experiment from the environment
 * ```ts
 * import { experimentRef } from "./config.ts";
 * if (experimentRef({}, { MLFLOW_EXPERIMENT_NAME: "x" }).name !== "x") throw new Error();
 * ```
 */
export function experimentRef(
  options: { experiment?: string; experimentId?: string },
  env: Record<string, string | undefined>,
): ExperimentRef {
  if (options.experiment !== undefined) {
    const name = options.experiment;
    if (name.trim() === "" || name.length > 500) {
      throw new MlflowValidationError("experiment", "must be a name of 1 to 500 characters");
    }
    return { name };
  }
  if (options.experimentId !== undefined) return { id: options.experimentId };
  if (env.MLFLOW_EXPERIMENT_NAME) return { name: env.MLFLOW_EXPERIMENT_NAME };
  if (env.MLFLOW_EXPERIMENT_ID) return { id: env.MLFLOW_EXPERIMENT_ID };
  return {};
}
