/**
 * Where runs go: tracking URI, experiment, credentials and retry settings,
 * resolved from the call's options, {@link setTrackingUri} and the
 * environment, in that order.
 *
 * @module
 */
import { hasFileSystem, processEnv } from "#env";
import { serverKinds } from "./artifact_stores/kinds.ts";
import { checkGcpOptions, type GcpOptions } from "./gcp/options.ts";
import { type AwsOptions, checkAwsOptions } from "./aws/options.ts";
import type { BatchLimits } from "./batch.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { type Assert, checkOptionKeys, type ExactKeys, RETRY_KEYS } from "./option_keys.ts";
import { isDatabricksUri, parseDatabricksUri } from "./databricks/uri.ts";
import { createDatabricksStore } from "./databricks/store.ts";
import { createFileStore, parseFileUri } from "./file_store.ts";
import { DEFAULT_RETRY, type HeadersProvider, type RequestSigner, type RetryOptions } from "./http.ts";
import { createRestStore } from "./rest_store.ts";
import { isArn, parseSageMakerArn, sageMakerConnection } from "./sagemaker.ts";
import type { ExperimentRef, TrackingStore } from "./store.ts";
import { checkString, codePointLength, describeValue, headerProblem, LIMITS, recordEntries } from "./validation.ts";

/** Options that say where and how to reach MLflow. Every entry point takes them. */
export interface ConnectionOptions {
  /**
   * `http(s)://host:port[/prefix]` for a tracking server; `databricks` or
   * `databricks://<profile>` for a Databricks workspace; a SageMaker
   * tracking server's ARN (`arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>`
   * or `…:mlflow-app/<id>`); `file:./mlruns`,
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
  /**
   * AWS credentials (and S3 region) for runtimes without an environment;
   * default `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
   * `AWS_REGION` from `env`. Used for SageMaker tracking URIs and `s3://` artifacts.
   */
  aws?: AwsOptions;
  /**
   * A Google service account for `gs://` artifacts, for runtimes without a
   * file system; default the key file `GOOGLE_APPLICATION_CREDENTIALS` names.
   */
  gcp?: GcpOptions;
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
 * @throws {MlflowValidationError} When `uri` is not a string, is empty, or is a URI that cannot be used
 *   (a malformed URL or %-escape, credentials in a `file:` URI, `file:` without a folder).
 * @example Set and clear the process-wide URI
 * ```ts
 * import { setTrackingUri } from "./config.ts";
 * setTrackingUri("http://127.0.0.1:5000");
 * setTrackingUri(undefined);
 * ```
 */
export function setTrackingUri(uri: string | undefined): void {
  if (uri !== undefined) checkTrackingUri(uri, "trackingUri");
  processTrackingUri = uri;
}

const SERVER_URI = /^https?:\/\//i;
const FILE_URI = /^file:/i;

// Checks what can be checked of a tracking URI without a file system or a request.
function checkTrackingUri(uri: unknown, field: string): asserts uri is string {
  if (typeof uri !== "string") {
    throw new MlflowValidationError(field, `must be a string (a server URL or a folder), got ${describeValue(uri)}`);
  }
  if (uri.trim() === "") {
    throw new MlflowValidationError(field, "is empty; pass a server URL or a file path, or undefined to clear it");
  }
  if (SERVER_URI.test(uri)) serverUrl(uri, field);
  else if (isDatabricksUri(uri)) parseDatabricksUri(uri, field);
  else if (isArn(uri)) parseSageMakerArn(uri, field);
  else if (FILE_URI.test(uri.trim())) checkFileUri(uri.trim(), field);
}

/**
 * A tracking URI as it may be shown in a message: anything before the last
 * `@` (a user name and a password, whatever characters the password holds,
 * encoded or not) and any query or fragment are replaced by `***`.
 *
 * @param uri The URI as the user gave it.
 * @returns The URI without anything secret.
 * @example A password holding '@' and '/'
 * ```ts
 * import { redactUri } from "./config.ts";
 * if (redactUri("http://me:p@ss/w0rd@mlflow.example.com/x?token=t") !== "http://***@mlflow.example.com/x?***") throw new Error();
 * ```
 */
export function redactUri(uri: string): string {
  let shown = uri;
  const at = shown.lastIndexOf("@");
  if (at >= 0) shown = `${/^[A-Za-z][A-Za-z0-9+.-]*:(?:\/\/)?/.exec(shown)?.[0] ?? ""}***${shown.slice(at)}`;
  return shown.replace(/([?#])[\s\S]*$/, "$1***");
}

// A runtime's own URL and URI errors repeat their input (Deno's message, Node's
// `input` property): none is passed on, as message or as cause, since the input
// holds the password.
function serverUrl(uri: string, field: string): { url: URL; username: string; password: string } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new MlflowValidationError(
      field,
      `'${redactUri(uri)}' is not a valid URL; check the host and port, and percent-encode any '/', '@', ':', '%', '?' or '#' in the user name or password`,
    );
  }
  try {
    return { url, username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  } catch {
    throw new MlflowValidationError(
      field,
      `the user name or password in '${redactUri(uri)}' has a malformed %-escape; write '%' as %25`,
    );
  }
}

// The file store takes a local folder: credentials mean the URI is not what the
// user meant, and a URI without a folder (`file:`, `file://`) would otherwise
// resolve to the working directory or the file system's root.
function checkFileUri(uri: string, field: string): void {
  let path = uri.slice(5).replace(/[?#][\s\S]*$/, "");
  if (path.startsWith("//")) {
    const slash = path.indexOf("/", 2);
    const authority = slash === -1 ? path.slice(2) : path.slice(2, slash);
    if (authority.includes("@")) {
      throw new MlflowValidationError(
        field,
        `'${redactUri(uri)}' holds a user name or password; the file store writes local folders and takes none, use file:///absolute/path`,
      );
    }
    path = slash === -1 ? "" : path.slice(slash);
  }
  if (path === "") {
    throw new MlflowValidationError(field, `'${redactUri(uri)}' names no folder; use file:///absolute/path or file:./relative/path`);
  }
  try {
    decodeURIComponent(path);
  } catch {
    throw new MlflowValidationError(field, `'${redactUri(uri)}' has a malformed %-escape; write '%' as %25`);
  }
}

/**
 * An environment variable as a string, `undefined` when unset. A value of
 * another type (bindings passed as `env` can hold anything) is an error that
 * names the variable and never shows the value, which may be a secret.
 *
 * @param env The environment.
 * @param name The variable.
 * @returns Its value.
 * @throws {MlflowValidationError} When the value is not a string.
 * @example A variable from edge bindings
 * ```ts
 * import { envValue } from "./config.ts";
 * if (envValue({ MLFLOW_EXPERIMENT_NAME: "x" }, "MLFLOW_EXPERIMENT_NAME") !== "x") throw new Error();
 * ```
 */
export function envValue(env: Record<string, unknown>, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new MlflowValidationError(name, `must be a string, got ${typeof value}`);
  return value;
}

function readEnvNumber(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = envValue(env, name);
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
  const fromEnv = envValue(env, "MLFLOW_TRACKING_URI") || undefined;
  let uri = options.trackingUri ?? processTrackingUri ?? fromEnv;
  const field = options.trackingUri === undefined && processTrackingUri === undefined ? "MLFLOW_TRACKING_URI" : "trackingUri";
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
  checkTrackingUri(uri, field);
  if (SERVER_URI.test(uri)) return { store: restStore(serverUrl(uri, field), options, env), env };
  if (isArn(uri)) {
    const { baseUrl, sign, region } = sageMakerConnection(uri, field, env, options.aws);
    return { store: remoteStore({ baseUrl, sign }, options, env, region), env };
  }
  if (isDatabricksUri(uri)) {
    const { profile } = parseDatabricksUri(uri, field);
    const store = createDatabricksStore({
      ...(profile !== undefined ? { profile } : {}),
      env,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      retry: retrySettings(options, env),
      ...(options.batchLimits !== undefined ? { batchLimits: options.batchLimits } : {}),
      ...(options.verifyArtifacts !== undefined ? { verifyArtifacts: options.verifyArtifacts } : {}),
    });
    return { store, env };
  }
  let path: string | undefined;
  try {
    path = parseFileUri(uri);
  } catch (err) {
    // A remote host in a file: URI; the URI holds no credentials by now, but show it redacted all the same.
    if (!(err instanceof MlflowError)) throw err;
    throw new MlflowValidationError(field, err.message.split(uri).join(redactUri(uri)));
  }
  if (path === undefined) {
    throw new MlflowValidationError(field, `'${redactUri(uri)}' is neither an http(s) server URL nor a file: URI or path`);
  }
  if (!hasFileSystem) {
    throw new MlflowValidationError(
      field,
      `'${redactUri(uri)}' is a local path, but this runtime has no file system; set it to an MLflow server URL`,
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
  const { trackingUri, env, fetch, headers, retry, batchLimits, verifyArtifacts, aws, gcp } = options;
  if (trackingUri !== undefined) checkTrackingUri(trackingUri, "trackingUri");
  if (env !== undefined && (typeof env !== "object" || env === null)) {
    throw new MlflowValidationError("env", "must be an object of environment variable names to strings");
  }
  if (fetch !== undefined && typeof fetch !== "function") {
    throw new MlflowValidationError("fetch", "must be a fetch function, e.g. globalThis.fetch");
  }
  if (headers !== undefined && typeof headers !== "function") checkHeaders(headers);
  if (aws !== undefined) checkAwsOptions(aws);
  if (gcp !== undefined) checkGcpOptions(gcp);
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

// Header values fetch would refuse are refused here, naming the header and not
// its value: fetch's own TypeError quotes the value (Node, Deno), token included.
function checkHeaders(headers: unknown): void {
  if (typeof Headers !== "undefined" && headers instanceof Headers) {
    throw new MlflowValidationError("headers", "is a Headers object, whose entries a spread would lose; pass Object.fromEntries(headers)");
  }
  for (const [name, value] of recordEntries(headers, "headers", "header names to values, or a function returning one")) {
    const problem = headerProblem(name, value);
    if (problem !== undefined) throw new MlflowValidationError(`headers[${JSON.stringify(name)}]`, `${problem}; check where it comes from`);
  }
}

// MLflow's timeout and retry variables, overridden by the call's `retry`.
function retrySettings(options: ConnectionOptions, env: Record<string, string | undefined>): Required<RetryOptions> {
  const timeoutSeconds = readEnvNumber(env, "MLFLOW_HTTP_REQUEST_TIMEOUT");
  const maxRetries = readEnvNumber(env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES");
  return {
    ...DEFAULT_RETRY,
    ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}),
    ...(maxRetries !== undefined ? { maxRetries } : {}),
    ...options.retry,
  };
}

function restStore(
  { url, username, password }: ReturnType<typeof serverUrl>,
  options: ConnectionOptions,
  env: Record<string, string | undefined>,
): TrackingStore {
  let authorization: string | undefined;
  const envUser = envValue(env, "MLFLOW_TRACKING_USERNAME");
  const envPassword = envValue(env, "MLFLOW_TRACKING_PASSWORD");
  const token = envValue(env, "MLFLOW_TRACKING_TOKEN");
  if (url.username || url.password) {
    // fetch refuses URLs with credentials; move them to a Basic header.
    authorization = `Basic ${utf8Base64(`${username}:${password}`)}`;
    url.username = "";
    url.password = "";
  } else if (envUser && envPassword) {
    // Basic wins over a token when both are configured, as in MLflow's client.
    authorization = `Basic ${utf8Base64(`${envUser}:${envPassword}`)}`;
  } else if (token) {
    const problem = headerProblem("Authorization", token);
    if (problem !== undefined) {
      throw new MlflowValidationError("MLFLOW_TRACKING_TOKEN", `${problem}; check where the token is read from`);
    }
    authorization = `Bearer ${token}`;
  }
  const baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  return remoteStore({ baseUrl, ...(authorization !== undefined ? { authorization } : {}) }, options, env);
}

// A REST store for a server reached at baseUrl, with its auth, the connection's
// retry settings and every artifact store kind a run's artifact_uri may need
// (S3 buckets default to `s3Region`: a SageMaker ARN's).
function remoteStore(
  server: { baseUrl: string; authorization?: string; sign?: RequestSigner },
  options: ConnectionOptions,
  env: Record<string, string | undefined>,
  s3Region?: string,
): TrackingStore {
  const retry = retrySettings(options, env);
  return createRestStore({
    ...server,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    retry,
    env,
    ...(options.batchLimits !== undefined ? { batchLimits: options.batchLimits } : {}),
    ...(options.verifyArtifacts !== undefined ? { verifyArtifacts: options.verifyArtifacts } : {}),
    artifactStores: serverKinds({
      ...(options.aws !== undefined ? { aws: options.aws } : {}),
      ...(s3Region !== undefined ? { s3Region } : {}),
      ...(options.gcp !== undefined ? { gcp: options.gcp } : {}),
    }),
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
 * @throws {MlflowValidationError} On an experiment name that is not a string of 1 to 500 characters, or an
 *   experiment id that is not a string of MLflow's id characters.
 * @example The experiment from the environment
 * ```ts
 * import { experimentRef } from "./config.ts";
 * if (experimentRef({}, { MLFLOW_EXPERIMENT_NAME: "x" }).name !== "x") throw new Error();
 * ```
 */
export function experimentRef(
  options: { experiment?: unknown; experimentId?: unknown },
  env: Record<string, unknown>,
): ExperimentRef {
  // Both are checked, though the name wins: a bad id is a mistake even when unused.
  const id = options.experimentId === undefined ? undefined : experimentId(options.experimentId, "experimentId");
  if (options.experiment !== undefined) return { name: experimentName(options.experiment, "experiment") };
  if (id !== undefined) return { id };
  const envName = envValue(env, "MLFLOW_EXPERIMENT_NAME");
  if (envName) return { name: experimentName(envName, "MLFLOW_EXPERIMENT_NAME") };
  const envId = envValue(env, "MLFLOW_EXPERIMENT_ID");
  if (envId) return { id: experimentId(envId, "MLFLOW_EXPERIMENT_ID") };
  return {};
}

function experimentName(name: unknown, field: string): string {
  checkString(name, field, "an experiment name");
  if (name.trim() === "" || codePointLength(name) > LIMITS.experimentNameLength) {
    throw new MlflowValidationError(field, `must be a name of 1 to ${LIMITS.experimentNameLength} characters`);
  }
  return name;
}

// MLflow's `_EXPERIMENT_ID_REGEX` (mlflow/utils/validation.py).
const EXPERIMENT_ID = /^[a-zA-Z0-9][\w\-]{0,63}$/;

function experimentId(id: unknown, field: string): string {
  checkString(id, field, "an experiment id");
  if (!EXPERIMENT_ID.test(id)) {
    throw new MlflowValidationError(field, `${describeValue(id)} is not an experiment id; ids are letters, digits, '_' and '-', e.g. "0"`);
  }
  return id;
}
