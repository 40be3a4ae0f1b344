/**
 * How `fetch` is called on edge runtimes (workerd and others). No `node:`
 * module is imported here.
 *
 * @module
 */

/** Added to an upload's `fetch` options: nothing. workerd refuses `redirect: "error"`, and its fetch copies no body. */
export const UPLOAD_REQUEST_INIT: RequestInit = {};

/**
 * Added to the `fetch` options of a request that must not be sent twice: nothing needed here.
 *
 * @returns No options.
 * @example Nothing to add
 * ```ts
 * import { onceOnlyInit } from "./transport_edge.ts";
 * if (Object.keys(onceOnlyInit()).length !== 0) throw new Error();
 * ```
 */
export function onceOnlyInit(): RequestInit {
  return {};
}
