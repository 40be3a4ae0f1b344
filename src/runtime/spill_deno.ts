/**
 * Sized artifact bodies on Deno: its `fetch` sends every stream chunked,
 * whatever `Content-Length` says, and reads a Blob whole before sending, so
 * a body is held in memory once, without a limit.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { bufferStream, bytesBody, type SizedBody } from "./spill_shared.ts";

export type { SizedBody } from "./spill_shared.ts";

/** No limit: Deno processes have the memory a backtest had. */
export const BUFFER_LIMIT_BYTES = Infinity;

/**
 * The largest body written straight into one byte array (a CSV table's):
 * none on Deno, whose `fetch` sends a Blob from where it holds it but copies
 * an array on the main thread (a 100k-row curve's first `logBacktest`: main
 * thread 575 ms with Blobs, 605 ms with one array, medians of 6 interleaved).
 */
export const ONE_ARRAY_BYTES: number = 0;

/**
 * Reads a stream into memory as a sized body.
 *
 * @param stream The body's bytes.
 * @param path The artifact path, for errors.
 * @param signal Stops reading.
 * @returns The sized body.
 * @example Three bytes
 * ```ts
 * import { spillStream } from "./spill_deno.ts";
 * if ((await spillStream(new Blob(["abc"]).stream(), "a.txt")).size !== 3) throw new Error();
 * ```
 */
export function spillStream(stream: ReadableStream<Uint8Array>, path: string, signal?: AbortSignal): Promise<SizedBody> {
  return bufferStream(stream, BUFFER_LIMIT_BYTES, path, signal);
}

/**
 * A local file read into memory as a sized body.
 *
 * @param file The file's path and size.
 * @returns The sized body.
 * @example A file on disk
 * ```ts
 * import { localFileBody } from "./spill_deno.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/r.html`, "<p>hi</p>");
 * if ((await localFileBody({ path: `${dir}/r.html`, size: 9 })).size !== 9) throw new Error();
 * ```
 */
export async function localFileBody(file: { path: string; size: number }): Promise<SizedBody> {
  return bytesBody(new Uint8Array(await readFile(file.path)));
}
