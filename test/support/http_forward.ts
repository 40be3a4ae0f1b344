/**
 * Test support: hands a request on to another HTTP server as the client sent
 * it, so a proxy in the middle changes nothing the server can see. The body
 * keeps its framing: a request that came with `Content-Length` goes on with
 * its bytes (sized), one that came chunked goes on as a stream (chunked). That
 * matters to MLflow, which stores a chunked artifact upload as an empty file
 * (transcripts 55 and 56): a proxy that buffered bodies would hide the loss.
 *
 * @module
 */

import type { FetchHandler } from "./serve.ts";

/** Headers of one connection, not of the message (RFC 9110 §7.6.1), plus those fetch sets itself. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/**
 * A handler that forwards every request to `base` and passes the answer back.
 *
 * The method, path, query and end-to-end headers go on unchanged; `Host` and
 * the length are set by `fetch` for the new connection. A body that arrived
 * with `Content-Length` is read and sent with its length; one that arrived
 * chunked (or with no length) is streamed on with `duplex: "half"`, so it
 * goes out chunked. The answer comes back with its status, headers (less
 * hop-by-hop ones, and `Content-Encoding`/`Content-Length`, since `fetch` has
 * already decoded the body) and body, streamed. Redirects are passed back, not
 * followed.
 *
 * @param base URL of the server, e.g. `http://127.0.0.1:5000`; a path prefix is kept.
 * @returns A handler for `createFaultProxy` or `serve`.
 * @example Put the fault proxy in front of a real server
 * ```ts
 * import { createFaultProxy } from "./fault_proxy.ts";
 * import { forwardTo } from "./http_forward.ts";
 * import { serve } from "./serve.ts";
 * const proxy = createFaultProxy(forwardTo("http://127.0.0.1:5000"));
 * const served = await serve(proxy.handler);
 * console.log(`log to ${served.url}`);
 * await served.close();
 * ```
 */
export function forwardTo(base: string): FetchHandler {
  const root = base.replace(/\/+$/, "");
  return async (request) => {
    const url = new URL(request.url);
    const headers = new Headers();
    request.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers.append(name, value);
    });
    const init: RequestInit & { duplex?: "half" } = { method: request.method, headers, redirect: "manual", signal: request.signal };
    if (request.method !== "GET" && request.method !== "HEAD") {
      const chunked = /(^|,)\s*chunked\s*$/i.test(request.headers.get("transfer-encoding") ?? "");
      if (!chunked && request.headers.has("content-length")) {
        init.body = request.body === null ? new Uint8Array(0) : new Uint8Array(await request.arrayBuffer());
      } else if (request.body !== null) {
        init.body = request.body;
        init.duplex = "half";
      }
    }
    const answer = await fetch(root + url.pathname + url.search, init);
    const back = new Headers();
    answer.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && name !== "content-encoding") back.append(name, value);
    });
    return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: back });
  };
}
