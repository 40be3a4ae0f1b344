/**
 * Byte arrays joined end to end, for the places that collect a body in
 * chunks and need it whole.
 *
 * @module
 */

/**
 * Joins byte arrays into one new array.
 *
 * @param parts The arrays, in order.
 * @returns A new array holding their bytes.
 * @example Two parts
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * const joined = concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)]);
 * if (joined.join() !== "1,2,3") throw new Error();
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
