/**
 * zlib deflate and inflate everywhere but Node (workerd and other edge runtimes, Deno,
 * Bun): the runtime's own `CompressionStream("deflate")`, native code in
 * every one of them.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

/**
 * Compresses bytes into a zlib stream (RFC 1950), what a PNG's IDAT holds.
 *
 * @param bytes The data.
 * @returns The zlib stream.
 * @example Round trip
 * ```ts
 * import { deflate } from "./deflate_stream.ts";
 * const packed = await deflate(new TextEncoder().encode("aaaa"));
 * const back = new Response(new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate")));
 * if ((await back.text()) !== "aaaa") throw new Error();
 * ```
 */
export function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeAll(bytes, new CompressionStream("deflate"));
}

/**
 * Decompresses a zlib stream (RFC 1950): the chart's embedded font.
 *
 * @param bytes The zlib stream.
 * @returns The original bytes.
 * @example Round trip
 * ```ts
 * import { deflate, inflate } from "./deflate_stream.ts";
 * const back = await inflate(await deflate(new TextEncoder().encode("aaaa")));
 * if (new TextDecoder().decode(back) !== "aaaa") throw new Error();
 * ```
 */
export function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  return pipeAll(bytes, new DecompressionStream("deflate"));
}

async function pipeAll(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // Not awaited: the writes complete only as the output below is read.
  const written = writer.write(bytes as Uint8Array<ArrayBuffer>).then(() => writer.close());
  written.catch(() => {});
  const parts: Uint8Array[] = [];
  const reader = stream.readable.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  await written;
  return concatBytes(parts);
}
