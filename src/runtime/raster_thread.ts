/**
 * PNG rendering on the calling thread: edge runtimes (workerd and other
 * workers) and the one-file URL build, which has no second file to start a
 * worker thread from.
 *
 * @module
 */
import { type PngRenderer, threadRenderer } from "../chart_raster.ts";

export type { PngRenderer } from "../chart_raster.ts";

/**
 * The renderer charts use: resvg on this thread.
 *
 * @returns The renderer, once resvg is initialised.
 * @throws {MlflowError} `CHART_WASM_UNAVAILABLE` when resvg cannot be loaded.
 * @example A 2x2 PNG
 * ```ts
 * import { pngRenderer } from "./raster_thread.ts";
 * const png = await (await pngRenderer())('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>', 1);
 * if (png[1] !== 0x50) throw new Error("not a PNG");
 * ```
 */
export function pngRenderer(): Promise<PngRenderer> {
  return threadRenderer(undefined);
}
