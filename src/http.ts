/**
 * JSON and upload requests to an MLflow server over `fetch`, with a timeout
 * on every attempt and retries that stay inside a total time budget.
 *
 * @module
 */
import { onceOnlyInit, UPLOAD_REQUEST_INIT } from "#transport";
import { abortedError, MlflowError } from "./errors.ts";
import { headerProblem } from "./validation.ts";

/** How requests are retried. */
export interface RetryOptions {
  /** Retries after the first attempt; default 7 (MLflow's client default), or `MLFLOW_HTTP_REQUEST_MAX_RETRIES`. */
  maxRetries?: number;
  /** Per-attempt timeout in ms; default 120 000, or `MLFLOW_HTTP_REQUEST_TIMEOUT` (seconds). */
  timeoutMs?: number;
  /** Total time for one call, attempts and waits included; default 300 000 ms. */
  budgetMs?: number;
  /** First backoff in ms, doubled per retry, with jitter; default 500. */
  initialDelayMs?: number;
  /** Longest single backoff in ms; default 30 000. */
  maxDelayMs?: number;
}

/** Extra request headers, or a function giving them per request (for tokens that refresh). */
export type HeadersProvider =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

/**
 * An `Authorization` header that can change during a call: a token that
 * expires and is fetched again. The value is never printed.
 */
export interface AuthorizationProvider {
  /** The header value for the next attempt. */
  authorization(signal: AbortSignal): Promise<string>;
  /**
   * The server refused `authorization` (401, or 403 "Invalid access token").
   * Returns `true` when a fresh value can be tried: the call is then sent
   * again once; `false` (a fixed token) makes the refusal final.
   */
  rejected(authorization: string): boolean;
  /** Told the user on a refusal, e.g. which variable to check. */
  readonly hint: string;
}

/** What an {@link HttpClient} needs. */
export interface HttpClientOptions {
  /** Tracking URI without credentials or trailing slash, e.g. `http://127.0.0.1:5000`. */
  baseUrl: string;
  fetch: typeof fetch;
  /** `Authorization` header value, or `undefined`. Never printed. */
  authorization?: string;
  /** An `Authorization` that can be refreshed; used instead of `authorization`. */
  authorize?: AuthorizationProvider;
  headers?: HeadersProvider;
  retry: Required<RetryOptions>;
  /** Signs every attempt (AWS SigV4), so each retry carries a fresh signature; GET queries are then RFC 3986-encoded. */
  sign?: RequestSigner;
}

/** One attempt as a {@link RequestSigner} sees it: the URL as sent, every header but the signature's. */
export interface SignableRequest {
  /** HTTP method. */
  method: string;
  /** The URL as it is sent. */
  url: string;
  /** The headers the attempt carries so far. */
  headers: Readonly<Record<string, string>>;
  /** The attempt's body, if any. */
  body: NonNullable<RequestInit["body"]> | undefined;
}

/** Signs requests for a server that checks signatures (SageMaker's SigV4). */
export interface RequestSigner {
  /** The headers to add to one attempt. */
  sign(request: SignableRequest): Promise<Record<string, string>>;
  /** What to add to the error of a 401 or 403 answer: which credential to check (never its value). */
  explainRefusal?(status: number, text: string, headers: Headers): string | undefined;
  /** `true` when a 401 or 403 said the signature's time is off and the signer now corrects it: the attempt is repeated at once. */
  correctClock?(status: number, text: string, headers: Headers): boolean;
}

/** Per-call choices for {@link HttpClient.json}. */
export interface SendOptions<T> {
  /**
   * Called before a retry that follows an ambiguous failure (a timeout, a
   * dropped connection, a 500, 502 or 504: the server may have done the work);
   * a result other than `undefined` ends the call with it. It gets the call's
   * deadline and signal, so its own requests fit inside the call's budget.
   * Used to find the run a lost `runs/create` answer had created.
   */
  beforeRetry?: (call: CallLimits) => Promise<T | undefined>;
  /** An artifact upload: sent with the runtime's upload options (`UPLOAD_REQUEST_INIT` of `#transport`). */
  upload?: boolean;
  /** A request that must not reach the server twice (`runs/create`): sent with the runtime's `onceOnlyInit()`. */
  onceOnly?: boolean;
  /** A download: a successful answer's bytes reach `parse` as a binary string, one character per byte (see `binaryText`). */
  binary?: boolean;
  /** Stops the call, including a request in flight, with an `ABORTED` error. */
  signal?: AbortSignal;
  /** Headers of this call alone, sent as they are (a signed URL's headers); they win over the client's. */
  headers?: Record<string, string>;
  /** Called with the successful answer's headers (an S3 part's `ETag`). */
  onHeaders?: (headers: Headers) => void;
  /** When the call must be over (ms since the epoch); default now plus the budget. */
  deadline?: number;
  /**
   * Keep listening to an attempt that timed out, until the call's deadline,
   * and hand its answer here instead of dropping the connection: a server
   * that commits late (a slow database) still says what it did.
   */
  onLateAnswer?: (late: LateAnswer) => void;
}

/** An attempt that timed out but may still be answered; `stop` drops it. */
export interface LateAnswer {
  /** The answer's text, or a rejection when it fails or is stopped. */
  answer: Promise<string>;
  /** Stops listening: the request is aborted. */
  stop(): void;
}

/** The time and signal a call and everything it sends on its behalf must respect. */
export interface CallLimits {
  /** Ms since the epoch. */
  deadline: number;
  signal?: AbortSignal;
}

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Default retry settings, as MLflow's Python client uses them, with a total budget. */
export const DEFAULT_RETRY: Required<RetryOptions> = {
  maxRetries: 7,
  timeoutMs: 120_000,
  budgetMs: 300_000,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
};

/** Send options plus what one call remembers across its attempts. */
type CallState<T> = SendOptions<T> & { reauthorized: boolean };

/**
 * Bytes as a binary string, one character (code 0 to 255) per byte, so a
 * download passes through the client's text-based retries unchanged.
 *
 * @param bytes The bytes.
 * @returns The string; `Uint8Array.from(text, (c) => c.charCodeAt(0))` turns it back.
 * @example Round trip
 * ```ts
 * import { binaryText } from "./http.ts";
 * const text = binaryText(new Uint8Array([0, 200, 255]));
 * if (Uint8Array.from(text, (c) => c.charCodeAt(0)).join() !== "0,200,255") throw new Error();
 * ```
 */
export function binaryText(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return text;
}

/** The parsed body of an MLflow error answer. */
interface ErrorBody {
  error_code?: unknown;
  message?: string;
}

class RetryableAnswer extends Error {
  constructor(readonly error: MlflowError, readonly retryAfterMs: number | undefined) {
    super(error.message);
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

// A wait that ends early, rejecting, when the signal aborts; it leaves no timer behind.
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Whether a failed attempt may have been carried out by the server anyway:
 * no answer (timeout, dropped connection) or a 500, 502 or 504, which a
 * server or proxy can send after the work is done. A 429, 503 or 408 says the
 * request was not taken on.
 *
 * @param failure The attempt's error.
 * @returns `true` when the work may have happened.
 * @example A dropped connection is ambiguous, a 503 is not
 * ```ts
 * import { isAmbiguous } from "./http.ts";
 * import { MlflowError } from "./errors.ts";
 * if (!isAmbiguous(new MlflowError("x", { errorCode: "NETWORK_ERROR" }))) throw new Error();
 * if (isAmbiguous(new MlflowError("x", { status: 503 }))) throw new Error();
 * ```
 */
export function isAmbiguous(failure: MlflowError): boolean {
  return failure.status === undefined || failure.status === 500 || failure.status === 502 || failure.status === 504;
}

/**
 * A small HTTP client for MLflow: JSON calls and artifact uploads, retried on
 * 408, 429, 500, 502, 503 and 504 and on network errors and timeouts, with
 * exponential backoff and jitter, `Retry-After` honoured, all inside a total
 * budget. Other 4xx answers are final.
 *
 * @example Create a client for a local server
 * ```ts
 * import { DEFAULT_RETRY, HttpClient } from "./http.ts";
 * const client = new HttpClient({ baseUrl: "http://127.0.0.1:5000", fetch, retry: DEFAULT_RETRY });
 * if (!client) throw new Error();
 * ```
 */
export class HttpClient {
  readonly #options: HttpClientOptions;

  /** @param options Base URL, fetch, auth and retry settings. */
  constructor(options: HttpClientOptions) {
    this.#options = options;
  }

  /** The tracking URI this client talks to, without credentials. */
  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  /**
   * Sends a JSON request to an MLflow REST endpoint.
   *
   * @param method `GET` or `POST`.
   * @param path Path below `/api/2.0/`, e.g. `mlflow/runs/create`.
   * @param body JSON body (POST) or query fields (GET).
   * @param options Retry hook.
   * @returns The parsed JSON answer.
   * @throws {MlflowError} With status, MLflow error code and endpoint.
   */
  async json<T>(
    method: "GET" | "POST",
    path: string,
    body: Record<string, unknown> | undefined,
    options: SendOptions<T> = {},
  ): Promise<T> {
    let url = `${this.#options.baseUrl}/api/2.0/${path}`;
    let payload: string | undefined;
    if (method === "GET" && body) {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) {
        for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined) query.append(k, String(item));
      }
      // URLSearchParams writes a space as '+', which a signature check reads as a plus sign ([SM] auth.py).
      url += this.#options.sign ? `?${[...query].map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join("&")}` : `?${query}`;
    } else if (body) {
      payload = encodeJson(body);
    }
    const parse = (text: string) => (text ? JSON.parse(text) : {}) as T;
    return await this.send(method, url, `${method} /api/2.0/${path}`, () => payload, "application/json", parse, options);
  }

  /**
   * Sends a request with retries. `body` is called once per attempt.
   *
   * @param method HTTP method.
   * @param url Full URL.
   * @param endpoint Printable endpoint for errors.
   * @param body Returns the body for one attempt.
   * @param contentType Content-Type of the body.
   * @param parse Reads the answer's text.
   * @param options Retry hook.
   * @returns The parsed answer.
   * @throws {MlflowError} When the call fails for good.
   */
  async send<T>(
    method: string,
    url: string,
    endpoint: string,
    body: () => NonNullable<RequestInit["body"]> | undefined,
    contentType: string,
    parse: (text: string) => T,
    options: SendOptions<T> = {},
  ): Promise<T> {
    const { retry } = this.#options;
    const { signal } = options;
    const deadline = options.deadline ?? Date.now() + retry.budgetMs;
    const aborted = () => abortedError(signal!, (reason) => `${endpoint} was aborted (${reason})`);
    const perCall: CallState<T> = { ...options, reauthorized: false };
    let previous: MlflowError | undefined;
    for (let attempt = 0;; attempt++) {
      if (signal?.aborted) throw aborted();
      if (previous !== undefined && options.beforeRetry && isAmbiguous(previous)) {
        const found = await this.#lookup(options.beforeRetry, { deadline, ...(signal ? { signal } : {}) }, endpoint, previous);
        if (found !== undefined) return found;
      }
      const timeoutMs = Math.min(retry.timeoutMs, deadline - Date.now());
      const outcome = timeoutMs <= 0
        ? { failure: new MlflowError(`${endpoint} ran out of its ${retry.budgetMs} ms budget`, { endpoint, errorCode: "DEADLINE_EXCEEDED" }) }
        : await this.#try(method, url, endpoint, body, contentType, perCall, timeoutMs, deadline);
      if ("text" in outcome) return parseAnswer(outcome.text, parse, endpoint);
      if (signal?.aborted) throw aborted();
      const { failure, retryAfterMs } = outcome;
      previous = failure;
      const backoff = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** attempt);
      const wait = retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2);
      if (attempt >= retry.maxRetries || Date.now() + wait >= deadline) {
        const tries = attempt + 1;
        throw new MlflowError(`${failure.message} (gave up after ${tries} attempt${tries === 1 ? "" : "s"})`, {
          ...(failure.status !== undefined ? { status: failure.status } : {}),
          ...(failure.errorCode !== undefined ? { errorCode: failure.errorCode } : {}),
          endpoint,
          cause: failure.cause ?? failure,
        });
      }
      try {
        await sleep(wait, signal);
      } catch {
        throw aborted();
      }
    }
  }

  // The check before a retry; its failure is reported as the failure of the call the user made.
  async #lookup<T>(
    lookup: (call: CallLimits) => Promise<T | undefined>,
    call: CallLimits,
    endpoint: string,
    previous: MlflowError,
  ): Promise<T | undefined> {
    try {
      return await lookup(call);
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === "ABORTED") throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new MlflowError(
        `${previous.message}; whether the server carried it out could not be checked: ${why}`,
        {
          ...(previous.status !== undefined ? { status: previous.status } : {}),
          errorCode: previous.errorCode ?? "NETWORK_ERROR",
          endpoint,
          cause: err,
        },
      );
    }
  }

  // One attempt: the answer's text, or a failure worth retrying; final failures are thrown.
  async #try<T>(
    method: string,
    url: string,
    endpoint: string,
    body: () => NonNullable<RequestInit["body"]> | undefined,
    contentType: string,
    options: CallState<T>,
    timeoutMs: number,
    deadline: number,
  ): Promise<{ text: string } | { failure: MlflowError; retryAfterMs?: number }> {
    const { signal, onLateAnswer } = options;
    const controller = new AbortController();
    const timeout = new Error(`no answer within ${timeoutMs} ms`);
    let stopWaiting!: (reason: Error) => void;
    const waiting = new Promise<never>((_, reject) => (stopWaiting = reject));
    waiting.catch(() => undefined);
    // Without a late-answer hook a timed-out attempt is cut off; with one it is only no longer waited for.
    const timer = setTimeout(() => (onLateAnswer ? stopWaiting(timeout) : controller.abort(timeout)), timeoutMs);
    const onAbort = () => controller.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const sent = { value: false };
    const attempt = this.#attempt(method, url, endpoint, body, contentType, options, controller.signal, sent);
    // Once the race below is lost to the timeout, nobody awaits the attempt's own rejection.
    attempt.catch(() => undefined);
    let handedOn = false;
    try {
      return { text: await Promise.race([attempt, waiting]) };
    } catch (err) {
      // Only a request that went out can be carried out late; one still waiting for its headers is cut off.
      if (err === timeout && onLateAnswer && !sent.value) controller.abort(timeout);
      if (err === timeout && onLateAnswer && sent.value) {
        handedOn = true;
        onLateAnswer({
          answer: this.#listenLate(attempt, controller, timeout, deadline, signal, onAbort),
          stop: () => controller.abort(timeout),
        });
        return {
          failure: new MlflowError(`${endpoint} could not reach MLflow at ${this.#options.baseUrl}: ${timeout.message}`, {
            endpoint,
            errorCode: "NETWORK_ERROR",
            cause: timeout,
          }),
        };
      }
      if (err instanceof RetryableAnswer) {
        return err.retryAfterMs === undefined ? { failure: err.error } : { failure: err.error, retryAfterMs: err.retryAfterMs };
      }
      if (err instanceof MlflowError && !controller.signal.aborted) throw err;
      const reason = controller.signal.aborted && !signal?.aborted ? timeout.message : networkReason(err);
      return {
        failure: new MlflowError(`${endpoint} could not reach MLflow at ${this.#options.baseUrl}: ${reason}`, {
          endpoint,
          errorCode: "NETWORK_ERROR",
          cause: controller.signal.aborted && !signal?.aborted ? timeout : err,
        }),
      };
    } finally {
      clearTimeout(timer);
      if (!handedOn) signal?.removeEventListener("abort", onAbort);
    }
  }

  // The rest of an attempt nobody waits for any more: cut off at the call's deadline, or on abort.
  #listenLate(
    attempt: Promise<string>,
    controller: AbortController,
    timeout: Error,
    deadline: number,
    signal: AbortSignal | undefined,
    onAbort: () => void,
  ): Promise<string> {
    const cap = setTimeout(() => controller.abort(timeout), Math.max(0, deadline - Date.now()));
    const settled = attempt.finally(() => {
      clearTimeout(cap);
      signal?.removeEventListener("abort", onAbort);
    });
    settled.catch(() => undefined);
    return settled;
  }

  async #attempt(
    method: string,
    url: string,
    endpoint: string,
    body: () => NonNullable<RequestInit["body"]> | undefined,
    contentType: string,
    options: CallState<unknown>,
    signal: AbortSignal,
    sent: { value: boolean },
  ): Promise<string> {
    // A headers function that never settles is cut off by the attempt's timeout.
    const headers: Record<string, string> = { ...(await untilAborted(this.#extraHeaders(), signal)) };
    const { authorize } = this.#options;
    const authorization = authorize ? await untilAborted(authorize.authorization(signal), signal) : this.#options.authorization;
    if (authorization) headers["Authorization"] = authorization;
    const payload = body();
    if (payload !== undefined) headers["Content-Type"] = contentType;
    Object.assign(headers, options.headers);
    const init: RequestInit = { method, headers, signal };
    if (payload !== undefined) init.body = payload;
    if (options.upload) Object.assign(init, UPLOAD_REQUEST_INIT);
    if (options.onceOnly) Object.assign(init, onceOnlyInit());
    const signer = this.#options.sign;
    if (signer) Object.assign(headers, await untilAborted(signer.sign({ method, url, headers: { ...headers }, body: payload }), signal));
    sent.value = true;
    const response = await this.#options.fetch(url, init);
    const text = options.binary && response.ok ? binaryText(new Uint8Array(await response.arrayBuffer())) : await response.text();
    if (response.ok) {
      options.onHeaders?.(response.headers);
      return text;
    }
    // A token refused (401, or Databricks' 403 "Invalid access token") or a signature refused (401/403).
    const tokenRefused = response.status === 401 || (response.status === 403 && /invalid access token/i.test(text));
    const refused = response.status === 401 || response.status === 403;
    const refusal = tokenRefused && authorize
      ? authorize.hint
      : refused
      ? signer?.explainRefusal?.(response.status, text, response.headers)
      : undefined;
    const error = errorFromAnswer(response.status, response.headers.get("content-type"), text, endpoint, refusal);
    // A refused token that can be fetched again is, once per call, sent again at once.
    if (tokenRefused && authorize && authorization && !options.reauthorized && authorize.rejected(authorization)) {
      options.reauthorized = true;
      throw new RetryableAnswer(error, 0);
    }
    if (refused && signer?.correctClock?.(response.status, text, response.headers)) throw new RetryableAnswer(error, 0);
    if (RETRY_STATUSES.has(response.status) && !isArtifactServingOff(response.status, text)) {
      throw new RetryableAnswer(error, parseRetryAfter(response.headers.get("retry-after")));
    }
    throw error;
  }

  async #extraHeaders(): Promise<Record<string, string>> {
    const provided = this.#options.headers;
    if (provided === undefined) return {};
    let headers: Record<string, string>;
    try {
      headers = typeof provided === "function" ? await provided() : provided;
    } catch (err) {
      throw new MlflowError("the headers option's function failed; check the token source it reads", {
        errorCode: "HEADERS_PROVIDER_FAILED",
        cause: err,
      });
    }
    // fetch's TypeError for a bad header quotes its value (Node, Deno), which may be a token: name the header only.
    for (const [name, value] of Object.entries(headers ?? {})) {
      const problem = headerProblem(name, value);
      if (problem !== undefined) {
        throw new MlflowError(`the headers option's function returned an unusable header '${name}': it ${problem}`, {
          errorCode: "HEADERS_PROVIDER_FAILED",
        });
      }
    }
    return headers;
  }
}

const rfc3986 = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// Rejects with the signal's reason as soon as it aborts, whatever the promise does.
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is in its cause.
function networkReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause === undefined || cause === null) return message;
  const code = typeof cause.code === "string" ? cause.code : undefined;
  const detail = typeof cause.message === "string" ? cause.message : undefined;
  const parts = [code, detail && detail !== code ? detail : undefined].filter((p) => p !== undefined);
  return parts.length > 0 ? `${message} (${parts.join(": ")})` : message;
}

// A 200 that is not what MLflow sends (a proxy's login page, say) is final: retrying would get the same page.
function parseAnswer<T>(text: string, parse: (text: string) => T, endpoint: string): T {
  try {
    return parse(text);
  } catch (err) {
    throw new MlflowError(
      `${endpoint} answered 200 with a body that is not MLflow's JSON (${text.replace(/\s+/g, " ").slice(0, 120)}); ` +
        "check that the tracking URI points at an MLflow server",
      { endpoint, errorCode: "BAD_RESPONSE", cause: err },
    );
  }
}

// MLflow answers 503 text/plain when the server runs without artifact serving;
// retrying cannot help, so it is final.
function isArtifactServingOff(status: number, text: string): boolean {
  return status === 503 && /artifact/i.test(text) && /serv/i.test(text);
}

function errorFromAnswer(status: number, contentType: string | null, text: string, endpoint: string, refusal?: string): MlflowError {
  let parsed: ErrorBody | undefined;
  if (contentType?.includes("json")) {
    try {
      parsed = JSON.parse(text) as ErrorBody;
    } catch {
      parsed = undefined;
    }
  }
  // Databricks answers a bad token with a numeric error_code (`{"error_code": 403, ...}`).
  const code = typeof parsed?.error_code === "string" ? parsed.error_code : statusCode(status);
  const detail = parsed?.message ?? text.replace(/\s+/g, " ").trim().slice(0, 300);
  let hint = "";
  if (status === 401) hint = " Set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD, or pass headers.";
  if (status === 403 && /host header|cross-origin/i.test(text)) {
    hint = " The server's security middleware refused the request; start it with --allowed-hosts / --cors-allowed-origins.";
  }
  if (isArtifactServingOff(status, text)) {
    hint = " Start the MLflow server with artifact serving (mlflow server --serve-artifacts, the default).";
  }
  if (refusal !== undefined) hint = ` ${refusal}`;
  return new MlflowError(`${endpoint} failed with ${status} ${code}: ${detail}${hint}`, { status, errorCode: code, endpoint });
}

function statusCode(status: number): string {
  if (status === 400) return "BAD_REQUEST";
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "PERMISSION_DENIED";
  if (status === 404) return "ENDPOINT_NOT_FOUND";
  if (status === 429) return "REQUEST_LIMIT_EXCEEDED";
  if (status === 503) return "TEMPORARILY_UNAVAILABLE";
  if (status === 504) return "DEADLINE_EXCEEDED";
  return "INTERNAL_ERROR";
}

/**
 * JSON as MLflow's protobuf parser wants it: NaN and ±Infinity as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"` (plain `JSON.stringify` would send `null`,
 * which the server rejects).
 *
 * @param body The request body.
 * @returns The JSON text.
 * @example NaN as MLflow wants it
 * ```ts
 * import { encodeJson } from "./http.ts";
 * if (encodeJson({ value: NaN }) !== '{"value":"NaN"}') throw new Error();
 * ```
 */
export function encodeJson(body: unknown): string {
  return JSON.stringify(body, (_key, value) => {
    if (typeof value === "number" && !Number.isFinite(value)) {
      return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    }
    return value;
  });
}
