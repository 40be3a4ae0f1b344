/**
 * PNGs on Node: drawn on a worker thread started from the built
 * `raster_worker.js` (`raster_worker.ts` says why). Node 20 starts workers
 * from JavaScript files only, so Node running the TypeScript sources draws on
 * the calling thread.
 *
 * @module
 */
import type { PngRenderer } from "../chart_raster.ts";
import { workerRenderer } from "./raster_worker.ts";

export type { PngRenderer } from "../chart_raster.ts";

/**
 * The renderer charts use.
 *
 * @returns The renderer, once resvg is initialised where it runs.
 * @throws {MlflowError} `CHART_WASM_UNAVAILABLE` when resvg cannot be loaded.
 * @example A 2x2 PNG
 * ```ts
 * import { pngRenderer } from "./raster_node.ts";
 * const png = await (await pngRenderer())('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>', 1);
 * if (png[1] !== 0x50) throw new Error("not a PNG");
 * ```
 */
export function pngRenderer(): Promise<PngRenderer> {
  return workerRenderer(["./raster_worker.js"]);
}
