/**
 * resvg's WebAssembly on edge runtimes other than workerd (workers, browsers,
 * edge-light) without a file system. Many cannot compile WebAssembly from
 * bytes at run time and each bundler imports `.wasm` its own way, so the
 * code imports the module and hands it to `initChart`. (workerd's variant,
 * `wasm_workerd.ts`, imports it itself.)
 *
 * @module
 */
import { MlflowError } from "../errors.ts";

/**
 * There is nothing to read here: the module must come from the worker's own import.
 *
 * @returns Never.
 * @throws {MlflowError} Always, saying how to pass the module in.
 * @example Pass the module in instead
 * ```ts
 * // In a Cloudflare worker (wrangler bundles .wasm imports as compiled modules):
 * // import wasm from "@resvg/resvg-wasm/index_bg.wasm";
 * // await initChart({ wasm });
 * import { resvgWasm } from "./wasm_edge.ts";
 * const failed = await resvgWasm().then(() => false, () => true);
 * if (!failed) throw new Error("edge runtimes cannot load the module by themselves");
 * ```
 */
export function resvgWasm(): Promise<never> {
  return Promise.reject(
    new MlflowError(
      "equity chart: this runtime cannot load resvg's WebAssembly by itself; import @resvg/resvg-wasm's " +
        "index_bg.wasm as a compiled module the way your bundler does and call initChart({ wasm }) " +
        "before rendering a PNG (or render with png: false); Cloudflare Workers need none of this",
      { errorCode: "CHART_WASM_UNAVAILABLE" },
    ),
  );
}
