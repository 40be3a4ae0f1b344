/**
 * Test support: run a web `fetch` handler as a real HTTP server on 127.0.0.1
 * with a random port, on Node, Deno or Bun.
 *
 * Node and Deno use `node:http`; Bun uses `Bun.serve`. Deno's own
 * `Deno.serve` cannot drop a connection before it has sent a response head
 * (a thrown handler becomes a 500, an erroring body stream is sent after a
 * 200 head), so it cannot simulate "the connection died before any answer";
 * Deno's `node:http` can, and so it is used there.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Thrown by a handler to make {@link serve} drop the TCP connection without
 * sending any response, as a crashed proxy or a network failure would. A
 * handler called directly (without a server) rejects with it, which a caller
 * using it as a `fetch` stand-in sees like a network error.
 *
 * @example Drop every request
 * ```ts
 * import { DropConnection, serve } from "./serve.ts";
 * const served = await serve(() => Promise.reject(new DropConnection()));
 * await fetch(served.url).catch((err) => console.log("dropped:", err));
 * await served.close();
 * ```
 */
export class DropConnection extends Error {
  override name = "DropConnection";

  /** @param message Why the connection is dropped (shows up in server logs only). */
  constructor(message = "connection dropped on purpose by an injected test fault") {
    super(message);
  }
}

/** A running server started by {@link serve}. */
export interface ServedHandler {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stops listening, closes every open connection and resolves once nothing is left running. */
  close(): Promise<void>;
}

/** A web-standard request handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Port to listen on (default 0: a free one chosen by the system). */
  port?: number;
}

/**
 * Serves `handler` on 127.0.0.1, on a random free port unless `options.port` names one.
 *
 * Request bodies reach the handler as streams (chunked uploads work), and a
 * handler that throws {@link DropConnection} makes the server drop the
 * connection without an answer. Each request's `signal` aborts when its
 * connection closes or the server is closed, so handlers that wait (for an
 * injected delay) stop waiting and `close()` leaves no timer behind.
 *
 * @param handler The handler answering every request.
 * @param options `port`, to listen on a fixed port.
 * @returns The base URL and a `close()` function.
 * @throws Error when the port cannot be bound.
 * @example Serve a handler for one request
 * ```ts
 * import { serve } from "./serve.ts";
 * const served = await serve(async (req) => new Response(`you asked for ${new URL(req.url).pathname}`));
 * console.log(await (await fetch(`${served.url}/hello`)).text());
 * await served.close();
 * ```
 */
export function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<ServedHandler> {
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  const port = options.port ?? 0;
  return bun === undefined ? serveWithNodeHttp(handler, port) : serveWithBun(bun, handler, port);
}

/** The part of Bun's global used here; the project's type roots only know Node. */
interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    fetch(request: Request): Promise<Response>;
    error(error: unknown): Response;
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> | void };
}

function serveWithBun(bun: BunLike, handler: FetchHandler, port: number): Promise<ServedHandler> {
  const inFlight = new Set<AbortController>();
  const server = bun.serve({
    hostname: "127.0.0.1",
    port,
    // Bun closes connections idle for 10 s by default, which would cut injected delays short.
    idleTimeout: 0,
    async fetch(request) {
      const controller = new AbortController();
      inFlight.add(controller);
      try {
        const signal = AbortSignal.any([request.signal, controller.signal]);
        return await handler(new Request(request, { signal }));
      } catch (error) {
        if (error instanceof DropConnection) return droppingResponse();
        return internalError(error);
      } finally {
        inFlight.delete(controller);
      }
    },
    error: internalError,
  });
  return Promise.resolve({
    url: `http://127.0.0.1:${server.port}`,
    async close() {
      for (const controller of inFlight) controller.abort();
      await server.stop(true);
    },
  });
}

/**
 * Bun sends nothing before the first body chunk, so a body stream that fails
 * at once makes it reset the connection with no response head, which is what
 * a dropped connection looks like to the client. The stream fails with
 * `undefined` because Bun prints any real error object as an unhandled error.
 */
function droppingResponse(): Response {
  return new Response(
    new ReadableStream({
      start(controller) {
        controller.error(undefined);
      },
    }),
  );
}

function internalError(error: unknown): Response {
  return new Response(`Internal Server Error\n\n${String(error)}`, {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function serveWithNodeHttp(handler: FetchHandler, port: number): Promise<ServedHandler> {
  const inFlight = new Set<AbortController>();
  const server = http.createServer((req, res) => {
    const controller = new AbortController();
    inFlight.add(controller);
    res.on("close", () => {
      inFlight.delete(controller);
      if (!res.writableFinished) controller.abort();
    });
    void answer(req, res, controller.signal, handler);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const controller of inFlight) controller.abort();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  signal: AbortSignal,
  handler: FetchHandler,
): Promise<void> {
  let response: Response;
  try {
    response = await handler(toRequest(req, signal));
  } catch (error) {
    if (error instanceof DropConnection) {
      req.socket.destroy();
      return;
    }
    response = internalError(error);
  }
  if (res.destroyed) return;
  try {
    res.statusCode = response.status;
    response.headers.forEach((value, name) => res.setHeader(name, value));
    // Deno's fetch silently resends a request once when a reused keep-alive
    // connection is dropped, which would hide an injected drop; fresh
    // connections there make a drop look the same as on the other runtimes.
    // Elsewhere connections are kept alive, as a real MLflow server keeps them.
    if ("Deno" in globalThis) res.setHeader("connection", "close");
    if (response.body !== null) {
      for await (const chunk of response.body) {
        if (res.destroyed) return;
        if (!res.write(chunk)) await new Promise((drained) => res.once("drain", drained));
      }
    }
    res.end();
  } catch {
    // The client went away while the body was written; nothing is left to answer.
    res.destroy();
  }
}

function toRequest(req: http.IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  const method = req.method ?? "GET";
  const url = `http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`;
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers, signal });
  const chunks = req[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done === true) controller.close();
        else controller.enqueue(new Uint8Array(next.value as Uint8Array));
      } catch (error) {
        controller.error(error);
      }
    },
    cancel() {
      req.resume();
    },
  });
  return new Request(url, { method, headers, body, signal, duplex: "half" } as RequestInit);
}
