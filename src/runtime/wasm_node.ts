/**
 * resvg's WebAssembly on runtimes with a file system (Node, Deno, Bun): read
 * from the installed `@resvg/resvg-wasm` package. (Node 20's `fetch` cannot
 * read `file:` URLs, so the bytes come from `node:fs`.)
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { MlflowError } from "../errors.ts";

interface DenoPermissions {
  querySync(descriptor: { name: "read"; path: string | URL }): { state: string };
}

/** On Deno, whether reading the file is already granted (asking would prompt); elsewhere always. */
function readAllowed(url: URL): boolean {
  const permissions = (globalThis as { Deno?: { permissions?: DenoPermissions } }).Deno?.permissions;
  if (permissions === undefined) return true;
  try {
    return url.protocol === "file:" && permissions.querySync({ name: "read", path: url }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Reads the resvg WebAssembly binary that sits next to the installed package.
 *
 * @returns The `.wasm` bytes, ready for `initWasm`.
 * @throws {MlflowError} When the package or its `.wasm` file cannot be found or read, or
 *   (Deno) reading it is not already allowed: nothing prompts.
 * @example Load the bytes
 * ```ts
 * import { resvgWasm } from "./wasm_node.ts";
 * const bytes = await resvgWasm();
 * if (!WebAssembly.validate(bytes)) throw new Error("not WebAssembly");
 * ```
 */
export async function resvgWasm(): Promise<Uint8Array<ArrayBuffer>> {
  // Called as a method: Bun loses `this` when import.meta.resolve is taken off the object.
  const url = new URL(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"));
  if (!readAllowed(url)) {
    throw new MlflowError(
      `equity chart: Deno may not read resvg's WebAssembly at ${url.protocol === "file:" ? fileURLToPath(url) : url.href}; ` +
        "allow it (--allow-read=<that path>), import the self-contained build, which carries it, " +
        "pass the module with initChart({ wasm }), or log with chart: false",
      { errorCode: "CHART_WASM_UNAVAILABLE" },
    );
  }
  let file: Uint8Array<ArrayBuffer>;
  try {
    file = await readFile(url);
  } catch (cause) {
    throw new MlflowError(
      "equity chart: cannot read @resvg/resvg-wasm/index_bg.wasm; install the @resvg/resvg-wasm package " +
        "or pass the module with initChart({ wasm })",
      { errorCode: "CHART_WASM_UNAVAILABLE", cause },
    );
  }
  // A view, not a copy: copying the 2.4 MB cost the first chart ~14 ms of fresh memory on the main thread.
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
