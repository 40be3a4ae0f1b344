/**
 * Test support: a proxy that records every request and can make chosen ones
 * fail, put in front of any MLflow server (the in-memory one, or a real one
 * reached with `forwardTo`). Retry, timeout and request-count tests go through
 * it, so they run the same against either server.
 *
 * @module
 */

import { ERROR_CODE_FOR_STATUS } from "./mlflow_errors.ts";
import { pyDumps } from "./python_json.ts";
import { DropConnection, type FetchHandler } from "./serve.ts";

/** One request seen by the proxy. */
export interface RecordedRequest {
  /** HTTP method, upper case. */
  method: string;
  /** URL path without the query string, e.g. `/api/2.0/mlflow/runs/log-batch`. */
  path: string;
  /** Status answered; 0 when the connection was dropped by an injected fault. */
  status: number;
}

/** A fault for {@link FaultProxy.injectFault}. */
export interface FaultSpec {
  /** Only requests with this method (any method when absent). */
  method?: string;
  /** Exact path, or a prefix ending in `*` (e.g. `/api/2.0/mlflow-artifacts/*`). */
  path: string;
  /** How many matching requests get the fault (default 1; `Infinity` for all). */
  times?: number;
  /** Status of the fault response (default 503; a fault with only `delayMs` answers normally, late). */
  status?: number;
  /** Body of the fault response (default: an MLflow JSON error body). */
  body?: string;
  /** Content-Type of the fault response (default JSON for the default body, else text/plain). */
  contentType?: string;
  /** Extra response headers, e.g. `{"Retry-After": "0"}`. */
  headers?: Record<string, string>;
  /** Pass the request upstream first, then answer with the fault: a response lost after the work was done. */
  applyThenFail?: boolean;
  /** Wait this long before answering (alone: a slow but successful answer). */
  delayMs?: number;
  /** Drop the connection instead of answering (needs `serve()`; a direct handler call rejects with `DropConnection`). */
  reset?: boolean;
  /**
   * Hold the request this long whatever the client does (it may give up and
   * retry meanwhile), then pass it upstream and answer with upstream's answer:
   * a server that commits late, as a slow database does. No recorded exchange
   * shows one; it models the overloaded server the late-commit soak describes.
   */
  commitLateMs?: number;
}

/** The proxy returned by {@link createFaultProxy}. */
export interface FaultProxy {
  /**
   * Answers one request: upstream's answer, or the first pending fault that
   * matches it. Rejects with `DropConnection` for a `reset` fault, and with
   * upstream's error when upstream fails (recorded with status 0).
   *
   * @param request The request, as `serve()` hands it over.
   * @returns The response to send back.
   */
  handler(request: Request): Promise<Response>;
  /** Every request seen since creation or the last {@link FaultProxy.reset}, in arrival order. */
  readonly requests: RecordedRequest[];
  /**
   * Makes the next matching requests fail (or slow down).
   *
   * @param fault Which requests and how they fail.
   */
  injectFault(fault: FaultSpec): void;
  /** Forgets pending faults and recorded requests; what upstream stored stays. */
  reset(): void;
}

interface Fault extends FaultSpec {
  remaining: number;
}

/**
 * Puts a recording, fault-injecting proxy in front of `upstream`.
 *
 * @param upstream Answers the requests the proxy lets through.
 * @returns The proxy; serve its `handler` with `serve()`.
 * @example Make the first log-batch fail with a 503
 * ```ts
 * import { createFaultProxy } from "./fault_proxy.ts";
 * import { createMlflowServer } from "./mlflow_server.ts";
 * import { serve } from "./serve.ts";
 * const proxy = createFaultProxy(createMlflowServer().handler);
 * proxy.injectFault({ path: "/api/2.0/mlflow/runs/log-batch", status: 503 });
 * const served = await serve(proxy.handler);
 * // ... log to served.url, then:
 * console.log(proxy.requests.map((r) => `${r.method} ${r.path} ${r.status}`));
 * await served.close();
 * ```
 */
export function createFaultProxy(upstream: FetchHandler): FaultProxy {
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];

  const takeFault = (method: string, path: string): Fault | undefined => {
    const fault = faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.path.endsWith("*") ? path.startsWith(f.path.slice(0, -1)) : path === f.path),
    );
    if (fault !== undefined) fault.remaining--;
    return fault;
  };

  return {
    requests,
    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 });
    },
    reset() {
      requests.length = 0;
      faults = [];
    },
    async handler(request) {
      const url = new URL(request.url);
      const record: RecordedRequest = { method: request.method, path: url.pathname, status: 0 };
      requests.push(record);
      const fault = takeFault(request.method, url.pathname);
      if (fault?.commitLateMs !== undefined) {
        // The body is read now: the client's connection may be gone when the request goes on.
        const body = request.method === "GET" || request.method === "HEAD" ? undefined : new Uint8Array(await request.arrayBuffer());
        await new Promise((resolve) => setTimeout(resolve, fault.commitLateMs));
        const response = await upstream(new Request(request.url, { method: request.method, headers: request.headers, ...(body ? { body } : {}) }));
        record.status = response.status;
        return response;
      }
      if (fault?.delayMs !== undefined) await sleepUnlessAborted(fault.delayMs, request.signal);
      const onlySlow =
        fault?.delayMs !== undefined &&
        fault.reset !== true &&
        fault.status === undefined &&
        fault.body === undefined &&
        fault.applyThenFail !== true;
      if (fault === undefined || onlySlow) {
        const response = await upstream(request);
        record.status = response.status;
        return response;
      }
      // The answer is thrown away, but its body must still be released (a forwarded one holds a connection).
      if (fault.applyThenFail === true) await (await upstream(request)).body?.cancel();
      if (fault.reset === true) throw new DropConnection();
      const status = fault.status ?? 503;
      const headers = new Headers(fault.headers);
      const errorCode = ERROR_CODE_FOR_STATUS[status] ?? "INTERNAL_ERROR";
      const body = fault.body ?? pyDumps({ error_code: errorCode, message: `Injected fault: HTTP ${status}` });
      headers.set("content-type", fault.contentType ?? (fault.body === undefined ? "application/json" : "text/plain; charset=utf-8"));
      record.status = status;
      return new Response(body, { status, headers });
    },
  };
}

/**
 * Waits, but stops waiting as soon as the request is aborted, so closing a server leaves no timer behind.
 *
 * @param ms How long to wait.
 * @param signal The request's signal.
 * @returns When the time is up or the request is gone.
 * @example A wait cut short
 * ```ts
 * import { sleepUnlessAborted } from "./fault_proxy.ts";
 * await sleepUnlessAborted(10_000, AbortSignal.abort());
 * ```
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
