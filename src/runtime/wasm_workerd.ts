/**
 * resvg's WebAssembly on workerd (Cloudflare Workers): the module imports
 * the `.wasm` file of `@resvg/resvg-wasm`, which wrangler's (and workerd's)
 * module rules bundle as a compiled WebAssembly module, so a Worker renders
 * charts without passing anything to `initChart`. (workerd cannot compile
 * WebAssembly from bytes at run time; an imported module is the only way in.)
 *
 * The import happens on the first chart, so a Worker that never draws one
 * never loads it.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";

/**
 * The compiled resvg module, imported beside the Worker's code.
 *
 * @returns The `WebAssembly.Module` for `initWasm`.
 * @throws {MlflowError} `CHART_WASM_UNAVAILABLE` when the runtime cannot import a `.wasm` file as a module
 *   (anywhere but workerd and bundlers with the same rule).
 * @example In workerd a compiled module; elsewhere a named error
 * ```ts
 * import { resvgWasm } from "./wasm_workerd.ts";
 * const outcome = await resvgWasm().then(
 *   (module) => module instanceof WebAssembly.Module,
 *   (error: { errorCode?: string }) => error.errorCode === "CHART_WASM_UNAVAILABLE",
 * );
 * if (!outcome) throw new Error("expected a compiled module or CHART_WASM_UNAVAILABLE");
 * ```
 */
export async function resvgWasm(): Promise<WebAssembly.Module> {
  try {
    const { default: wasm } = (await import("@resvg/resvg-wasm/index_bg.wasm")) as { default: unknown };
    if (!(wasm instanceof WebAssembly.Module)) throw new Error("the .wasm import is not a compiled WebAssembly module");
    return wasm;
  } catch (cause) {
    throw new MlflowError(
      "equity chart: cannot import @resvg/resvg-wasm/index_bg.wasm as a WebAssembly module " +
        `(${cause instanceof Error ? cause.message : String(cause)}); the Worker's bundler must keep .wasm imports as ` +
        "compiled modules (wrangler does by default), or pass the module with initChart({ wasm })",
      { errorCode: "CHART_WASM_UNAVAILABLE", cause },
    );
  }
}
