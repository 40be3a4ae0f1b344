/**
 * How `fetch` is called on Deno.
 *
 * @module
 */

/** Added to an upload's `fetch` options: redirects are errors, as on Node (Deno accepts it; nothing to copy). */
export const UPLOAD_REQUEST_INIT: RequestInit = { redirect: "error", window: null };

interface DenoHttp {
  createHttpClient?(options: { poolMaxIdlePerHost?: number }): unknown;
}

let unpooled: RequestInit | undefined;

/**
 * Added to the `fetch` options of a request that must not be sent twice
 * (`runs/create`). Deno's fetch silently sends a POST again when a pooled
 * keep-alive connection drops after the request went out, so a create the
 * server carried out is carried out twice and the caller never hears of the
 * first (the soak benchmark saw 19 of 22 such drops make a twin run). A client
 * that keeps no idle connections sends it on a fresh one, where Deno reports
 * the drop instead and the duplicate check takes over.
 *
 * @returns The options (a `client` that pools nothing), made once.
 * @example Options for runs/create
 * ```ts
 * import { onceOnlyInit } from "./transport_deno.ts";
 * const init = onceOnlyInit();
 * if (typeof init !== "object") throw new Error();
 * ```
 */
export function onceOnlyInit(): RequestInit {
  const deno = (globalThis as { Deno?: DenoHttp }).Deno;
  unpooled ??= deno?.createHttpClient ? ({ client: deno.createHttpClient({ poolMaxIdlePerHost: 0 }) } as RequestInit) : {};
  return unpooled;
}
