/**
 * resvg's WebAssembly on edge runtimes (workerd and others without a file
 * system). They cannot compile WebAssembly from bytes at run time, so the
 * worker imports the `.wasm` as a module and hands it to `initChart`.
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
      "equity chart: this runtime cannot load resvg's WebAssembly by itself; " +
        'import wasm from "@resvg/resvg-wasm/index_bg.wasm" in the worker and call initChart({ wasm }) ' +
        "before rendering a PNG (or render with png: false)",
      { errorCode: "CHART_WASM_UNAVAILABLE" },
    ),
  );
}
