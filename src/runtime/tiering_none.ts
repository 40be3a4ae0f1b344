/**
 * WebAssembly tiering left to the runtime: none of these takes engine flags
 * from code (Deno's `node:v8` `setFlagsFromString` returns without V8 seeing
 * the flag; JavaScriptCore (Bun) and workerd have no such call). For a process
 * that draws one chart, the README gives Deno's and Bun's command-line
 * equivalents. Node's build uses `tiering_node.ts`.
 *
 * @module
 */

/**
 * Creates resvg's WebAssembly instance as the runtime does by default.
 *
 * @param instantiate Creates the instance.
 * @returns What `instantiate` returns.
 * @example Around any instantiation
 * ```ts
 * import { withDelayedTierUp } from "./tiering_none.ts";
 * const bytes = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0);
 * const { instance } = await withDelayedTierUp(() => WebAssembly.instantiate(bytes));
 * if (!(instance instanceof WebAssembly.Instance)) throw new Error();
 * ```
 */
export function withDelayedTierUp<T>(instantiate: () => Promise<T>): Promise<T> {
  return instantiate();
}
