/**
 * How `fetch` is called on Node and Bun.
 *
 * @module
 */

/**
 * Added to an upload's `fetch` options. Node's fetch (undici) tees the body of
 * a request it could redirect (httpNetworkOrCacheFetch clones it unless
 * redirect is "error" and window is "no-window"), and the unread copy of a
 * 1 GB upload stays in memory; so redirects are errors instead.
 */
export const UPLOAD_REQUEST_INIT: RequestInit = { redirect: "error", window: null };

/**
 * Added to the `fetch` options of a request that must not be sent twice: nothing needed here.
 *
 * @returns No options.
 * @example Nothing to add
 * ```ts
 * import { onceOnlyInit } from "./transport_node.ts";
 * if (Object.keys(onceOnlyInit()).length !== 0) throw new Error();
 * ```
 */
export function onceOnlyInit(): RequestInit {
  return {};
}
