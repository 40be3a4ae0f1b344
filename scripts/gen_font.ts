/**
 * Writes `src/font_data.ts`: the Inter latin 400 font (from `@fontsource/inter`)
 * as a plain TrueType file, zlib-compressed and base64-encoded, plus its
 * advance widths, so the equity chart has text on every runtime (resvg-wasm
 * sees no system fonts) and Vega lays out labels with the widths resvg will
 * draw instead of a rough estimate.
 *
 * TrueType rather than the WOFF2 web fonts ship: resvg would decode WOFF2
 * (Brotli and the glyf transform) in WebAssembly on each process's first
 * chart, where that code runs unoptimised and its tier-up takes the second
 * core (`npm run bench -- cold_start`). The runtime's native inflate unpacks
 * the TrueType instead; compressed, it is about as large as the WOFF2.
 *
 * Run after upgrading `@fontsource/inter`:
 * `node --import tsx scripts/gen_font.ts`
 *
 * @module
 */
import { readFile, writeFile } from "node:fs/promises";
import { deflateSync, inflateSync } from "node:zlib";

const FILES = new URL("../node_modules/@fontsource/inter/files/", import.meta.url);
// The WOFF 1 file: its tables are plain zlib, while WOFF2 would need a Brotli
// and glyf-transform decoder.
const WOFF1 = new URL("inter-latin-400-normal.woff", FILES);
const OUT = new URL("../src/font_data.ts", import.meta.url);

/** Decompressed sfnt tables of a WOFF 1 file, by tag. */
function woffTables(woff: Uint8Array): Map<string, DataView> {
  const view = new DataView(woff.buffer, woff.byteOffset, woff.byteLength);
  if (view.getUint32(0) !== 0x774f4646) throw new Error("not a WOFF 1 file");
  const tables = new Map<string, DataView>();
  for (let i = 0; i < view.getUint16(12); i++) {
    const entry = 44 + i * 20;
    const tag = String.fromCharCode(...woff.subarray(entry, entry + 4));
    const offset = view.getUint32(entry + 4);
    const compressed = view.getUint32(entry + 8);
    const original = view.getUint32(entry + 12);
    const raw = woff.subarray(offset, offset + compressed);
    const data = compressed < original ? new Uint8Array(inflateSync(raw)) : raw;
    tables.set(tag, new DataView(data.buffer, data.byteOffset, data.byteLength));
  }
  return tables;
}

/** The sfnt (TrueType) file a WOFF 1 file wraps: its header and table directory around the decompressed tables. */
function sfnt(woff: Uint8Array, tables: Map<string, DataView>): Uint8Array {
  const flavor = new DataView(woff.buffer, woff.byteOffset, woff.byteLength).getUint32(4);
  const entries = [...tables].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const padded = (n: number): number => (n + 3) & ~3;
  const size = entries.reduce((sum, [, data]) => sum + padded(data.byteLength), 12 + 16 * entries.length);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const count = entries.length;
  const power = 2 ** Math.floor(Math.log2(count));
  view.setUint32(0, flavor);
  view.setUint16(4, count);
  view.setUint16(6, power * 16);
  view.setUint16(8, Math.log2(power));
  view.setUint16(10, count * 16 - power * 16);
  let at = 12 + 16 * count;
  entries.forEach(([tag, data], i) => {
    const entry = 12 + 16 * i;
    for (let k = 0; k < 4; k++) out[entry + k] = tag.charCodeAt(k);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    view.setUint32(entry + 4, checksum(bytes));
    view.setUint32(entry + 8, at);
    view.setUint32(entry + 12, bytes.length);
    out.set(bytes, at);
    at += padded(bytes.length);
  });
  return out;
}

/** The OpenType table checksum: the sum of its big-endian 32-bit words, zero-padded. */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4) {
    sum = (sum + ((bytes[i]! << 24) | ((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0))) >>> 0;
  }
  return sum;
}

function table(tables: Map<string, DataView>, tag: string): DataView {
  const t = tables.get(tag);
  if (!t) throw new Error(`font has no ${tag} table`);
  return t;
}

/** Code point -> glyph id from the first Unicode BMP (format 4) cmap subtable. */
function cmapFormat4(cmap: DataView): Map<number, number> {
  for (let i = 0; i < cmap.getUint16(2); i++) {
    const offset = cmap.getUint32(4 + i * 8 + 4);
    if (cmap.getUint16(offset) !== 4) continue;
    const segments = cmap.getUint16(offset + 6) / 2;
    const ends = offset + 14;
    const starts = ends + segments * 2 + 2;
    const deltas = starts + segments * 2;
    const rangeOffsets = deltas + segments * 2;
    const glyphs = new Map<number, number>();
    for (let s = 0; s < segments; s++) {
      const end = cmap.getUint16(ends + s * 2);
      const start = cmap.getUint16(starts + s * 2);
      const delta = cmap.getInt16(deltas + s * 2);
      const rangeOffset = cmap.getUint16(rangeOffsets + s * 2);
      for (let cp = start; cp <= end && cp !== 0xffff; cp++) {
        const glyph = rangeOffset === 0
          ? (cp + delta) & 0xffff
          : cmap.getUint16(rangeOffsets + s * 2 + rangeOffset + (cp - start) * 2);
        if (glyph !== 0) glyphs.set(cp, rangeOffset === 0 ? glyph : (glyph + delta) & 0xffff);
      }
    }
    return glyphs;
  }
  throw new Error("font has no format 4 cmap subtable");
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const woff = new Uint8Array(await readFile(WOFF1));
const tables = woffTables(woff);
const ttf = sfnt(woff, tables);
const packed = new Uint8Array(deflateSync(ttf, { level: 9 }));
const unitsPerEm = table(tables, "head").getUint16(18);
const metrics = table(tables, "hhea").getUint16(34);
const hmtx = table(tables, "hmtx");
const advance = (glyph: number): number => hmtx.getUint16(Math.min(glyph, metrics - 1) * 4);
const widths: number[] = [];
for (const [cp, glyph] of [...cmapFormat4(table(tables, "cmap"))].sort((a, b) => a[0] - b[0])) {
  widths.push(cp, advance(glyph));
}
const source = `// Generated by scripts/gen_font.ts from @fontsource/inter (inter-latin-400-normal). Do not edit.
// Inter: Copyright 2016 The Inter Project Authors (https://github.com/rsms/inter), SIL Open Font License 1.1.
/**
 * The font the equity chart draws its text with, embedded so that every
 * runtime (including workerd, which has no file system) has it.
 *
 * @module
 */

/** Family name the chart's Vega-Lite config and resvg's font options use. */
export const CHART_FONT_FAMILY = "Inter";

/**
 * Inter latin 400 as a TrueType file, zlib-compressed (RFC 1950) and base64-encoded
 * (${packed.length} bytes compressed, ${ttf.length} inflated).
 *
 * @example Inflate the font
 * \`\`\`ts
 * import { CHART_FONT_TTF_ZLIB_BASE64 } from "./font_data.ts";
 * const packed = Uint8Array.from(atob(CHART_FONT_TTF_ZLIB_BASE64), (c) => c.charCodeAt(0));
 * const ttf = await new Response(new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"))).arrayBuffer();
 * if (new DataView(ttf).getUint32(0) !== 0x00010000) throw new Error("a TrueType file starts with version 1.0");
 * \`\`\`
 */
export const CHART_FONT_TTF_ZLIB_BASE64 =
  "${base64(packed)}";

/** Font units per em, the scale of {@link CHART_FONT_ADVANCES}. */
export const CHART_FONT_UNITS_PER_EM = ${unitsPerEm};

/**
 * Advance widths in font units as flat pairs: code point, advance, code point, advance, ...
 *
 * @example Width of "0" at 10 px
 * \`\`\`ts
 * import { CHART_FONT_ADVANCES, CHART_FONT_UNITS_PER_EM } from "./font_data.ts";
 * const i = CHART_FONT_ADVANCES.findIndex((v, k) => k % 2 === 0 && v === 48);
 * const px = (CHART_FONT_ADVANCES[i + 1]! * 10) / CHART_FONT_UNITS_PER_EM;
 * if (!(px > 4 && px < 8)) throw new Error("a digit is about 0.6 em wide");
 * \`\`\`
 */
export const CHART_FONT_ADVANCES: readonly number[] = [
${chunk(widths, 16).map((row) => "  " + row.join(", ") + ",").join("\n")}
];
`;

function chunk(values: number[], size: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < values.length; i += size) rows.push(values.slice(i, i + size));
  return rows;
}

await writeFile(OUT, source);
console.log(`wrote ${OUT.pathname}: ${ttf.length} font bytes (${packed.length} compressed), ${widths.length / 2} advance widths, ${unitsPerEm} units/em`);
