/**
 * WebAssembly tiering left to the runtime: Deno's newer V8 optimises resvg
 * cheaply (its first chart gains nothing from a larger budget), JavaScriptCore
 * (Bun) and workerd take no V8 flags from code. Node's build uses
 * `tiering_node.ts`.
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
