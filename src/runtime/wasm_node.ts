/**
 * resvg's WebAssembly on runtimes with a file system (Node, Deno, Bun): read
 * from the installed `@resvg/resvg-wasm` package. (Node 20's `fetch` cannot
 * read `file:` URLs, so the bytes come from `node:fs`.)
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { MlflowError } from "../errors.ts";

/**
 * Reads the resvg WebAssembly binary that sits next to the installed package.
 *
 * @returns The `.wasm` bytes, ready for `initWasm`.
 * @throws {MlflowError} When the package or its `.wasm` file cannot be found or read.
 * @example Load the bytes
 * ```ts
 * import { resvgWasm } from "./wasm_node.ts";
 * const bytes = await resvgWasm();
 * if (!WebAssembly.validate(bytes)) throw new Error("not WebAssembly");
 * ```
 */
export async function resvgWasm(): Promise<Uint8Array<ArrayBuffer>> {
  try {
    // Called as a method: Bun loses `this` when import.meta.resolve is taken off the object.
    const url = import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm");
    return new Uint8Array(await readFile(new URL(url)));
  } catch (cause) {
    throw new MlflowError(
      "equity chart: cannot read @resvg/resvg-wasm/index_bg.wasm; install the @resvg/resvg-wasm package " +
        "or pass the module with initChart({ wasm })",
      { errorCode: "CHART_WASM_UNAVAILABLE", cause },
    );
  }
}
