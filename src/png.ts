/**
 * PNG encoding of raw RGBA pixels with the runtime's own deflate (`#deflate`:
 * `node:zlib` on Node, `CompressionStream("deflate")` elsewhere; both write
 * the zlib stream PNG's IDAT holds), instead of resvg's
 * deflate in WebAssembly, which runs unoptimised on a process's first chart.
 *
 * The compressed bytes depend on the runtime's zlib, so PNGs from different
 * runtimes may differ in bytes; they decode to the same pixels.
 *
 * @module
 */
import { deflate } from "#deflate";
import { concatBytes } from "./bytes.ts";

/**
 * Encodes premultiplied RGBA pixels (tiny-skia's, which resvg renders into) as
 * an 8-bit RGBA PNG, demultiplied the way resvg's own `asPng` does, so it
 * decodes to the pixels `asPng`'s PNG decodes to.
 *
 * @param width Image width in pixels.
 * @param height Image height in pixels.
 * @param rgba `width * height * 4` bytes, row after row, premultiplied alpha.
 * @returns The PNG file.
 * @throws {RangeError} When the pixel buffer does not match the size.
 * @example A 2x1 image: one red pixel, one half-transparent white one
 * ```ts
 * import { encodePng } from "./png.ts";
 * const png = await encodePng(2, 1, Uint8Array.of(255, 0, 0, 255, 128, 128, 128, 128));
 * if (png[1] !== 0x50 || png[2] !== 0x4e || png[3] !== 0x47) throw new Error("not a PNG");
 * ```
 */
export async function encodePng(width: number, height: number, rgba: Uint8Array): Promise<Uint8Array> {
  const stride = width * 4;
  if (!(width > 0 && height > 0) || rgba.length !== stride * height) {
    throw new RangeError(`encodePng: ${rgba.length} bytes are not ${width}x${height} RGBA pixels`);
  }
  const idat = await deflate(filterRows(width, height, rgba));
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, per-row filters (all 0 here), no interlace
  return concatBytes([SIGNATURE, chunk("IHDR", header), chunk("IDAT", idat), chunk("IEND", new Uint8Array(0))]);
}

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);

/**
 * Each row behind its filter byte 0 (no filter), demultiplied. Copies of whole
 * rows only: a per-byte filter loop costs a cold process more in JavaScript
 * than it saves, and on the chart (long runs of white) unfiltered rows even
 * compress smaller (measured: 59.7 kB against 63.9 kB with the "Up" filter).
 */
function filterRows(width: number, height: number, premultiplied: Uint8Array): Uint8Array {
  const stride = width * 4;
  const pixels = isOpaque(premultiplied) ? premultiplied : demultiply(premultiplied);
  const out = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) out.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Whether every alpha is 255 (the chart's white background): read four bytes at a time where it can. */
function isOpaque(rgba: Uint8Array): boolean {
  if (LITTLE_ENDIAN && rgba.byteOffset % 4 === 0) {
    const words = new Uint32Array(rgba.buffer, rgba.byteOffset, rgba.length >> 2);
    for (let i = 0; i < words.length; i++) if (words[i]! < 0xff000000) return false;
    return true;
  }
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
}

/**
 * tiny-skia's `demultiply` (what resvg's `asPng` applies): `channel / (alpha / 255) + 0.5`
 * truncated, in doubles.
 */
function demultiply(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const alpha = rgba[i + 3]!;
    out[i + 3] = alpha;
    if (alpha === 255) {
      out[i] = rgba[i]!;
      out[i + 1] = rgba[i + 1]!;
      out[i + 2] = rgba[i + 2]!;
    } else if (alpha > 0) {
      const a = alpha / 255;
      out[i] = Math.min(255, Math.trunc(rgba[i]! / a + 0.5));
      out[i + 1] = Math.min(255, Math.trunc(rgba[i + 1]! / a + 0.5));
      out[i + 2] = Math.min(255, Math.trunc(rgba[i + 2]! / a + 0.5));
    }
  }
  return out;
}

/** Length, type, data and the CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  const table = crcTable ??= makeCrcTable();
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
