/**
 * Writes `src/font_data.ts` and `src/font_glyphs.ts`: the Inter latin 400 font (from `@fontsource/inter`)
 * as a plain TrueType file, zlib-compressed and base64-encoded, plus its
 * advance widths, so the equity chart has text on every runtime (resvg-wasm
 * sees no system fonts) and Vega lays out labels with the widths resvg will
 * draw instead of a rough estimate; and each glyph's outline as SVG path data,
 * so the built-in charts' labels can be drawn as paths.
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
const GLYPHS_OUT = new URL("../src/font_glyphs.ts", import.meta.url);

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

/** Glyph index -> its glyf bytes, through loca (short or long offsets, as head says). */
function glyphData(tables: Map<string, DataView>): (glyph: number) => DataView | undefined {
  const glyf = table(tables, "glyf");
  const loca = table(tables, "loca");
  const long = table(tables, "head").getInt16(50) === 1;
  return (glyph) => {
    const start = long ? loca.getUint32(glyph * 4) : loca.getUint16(glyph * 2) * 2;
    const end = long ? loca.getUint32(glyph * 4 + 4) : loca.getUint16(glyph * 2 + 2) * 2;
    return end > start ? new DataView(glyf.buffer, glyf.byteOffset + start, end - start) : undefined;
  };
}

interface Point {
  x: number;
  y: number;
  on: boolean;
}

/** A glyph's contours in font units, composite glyphs resolved (offsets and scales applied). */
function contours(data: (glyph: number) => DataView | undefined, glyph: number, depth = 0): Point[][] {
  const view = data(glyph);
  if (view === undefined || depth > 8) return [];
  const count = view.getInt16(0);
  if (count >= 0) return simpleContours(view, count);
  const out: Point[][] = [];
  let at = 10;
  for (let more = true; more;) {
    const flags = view.getUint16(at);
    const component = view.getUint16(at + 2);
    at += 4;
    const words = (flags & 0x1) !== 0;
    const dx = words ? view.getInt16(at) : view.getInt8(at);
    const dy = words ? view.getInt16(at + 2) : view.getInt8(at + 1);
    at += words ? 4 : 2;
    if ((flags & 0x2) === 0) throw new Error(`glyph ${glyph}: point-matched components are not supported`);
    let [a, b, c, d] = [1, 0, 0, 1];
    const f2dot14 = (offset: number): number => view.getInt16(offset) / 16384;
    if (flags & 0x8) {
      a = d = f2dot14(at);
      at += 2;
    } else if (flags & 0x40) {
      [a, d] = [f2dot14(at), f2dot14(at + 2)];
      at += 4;
    } else if (flags & 0x80) {
      [a, b, c, d] = [f2dot14(at), f2dot14(at + 2), f2dot14(at + 4), f2dot14(at + 6)];
      at += 8;
    }
    for (const contour of contours(data, component, depth + 1)) {
      out.push(contour.map((p) => ({ x: Math.round(a * p.x + c * p.y + dx), y: Math.round(b * p.x + d * p.y + dy), on: p.on })));
    }
    more = (flags & 0x20) !== 0;
  }
  return out;
}

function simpleContours(view: DataView, count: number): Point[][] {
  const ends: number[] = [];
  for (let i = 0; i < count; i++) ends.push(view.getUint16(10 + i * 2));
  const points = count === 0 ? 0 : ends[count - 1]! + 1;
  let at = 10 + count * 2;
  at += 2 + view.getUint16(at); // instructions
  const flags: number[] = [];
  while (flags.length < points) {
    const flag = view.getUint8(at++);
    flags.push(flag);
    if (flag & 0x8) for (let repeat = view.getUint8(at++); repeat > 0; repeat--) flags.push(flag);
  }
  const coordinates = (short: number, same: number): number[] => {
    const values: number[] = [];
    let value = 0;
    for (const flag of flags) {
      if (flag & short) value += (flag & same ? 1 : -1) * view.getUint8(at++);
      else if (!(flag & same)) {
        value += view.getInt16(at);
        at += 2;
      }
      values.push(value);
    }
    return values;
  };
  const xs = coordinates(0x2, 0x10);
  const ys = coordinates(0x4, 0x20);
  const out: Point[][] = [];
  let start = 0;
  for (const end of ends) {
    const contour: Point[] = [];
    for (let i = start; i <= end; i++) contour.push({ x: xs[i]!, y: ys[i]!, on: (flags[i]! & 0x1) !== 0 });
    out.push(contour);
    start = end + 1;
  }
  return out;
}

/**
 * A contour as absolute SVG path commands (M, L, Q, Z) in font units, y up: consecutive
 * off-curve points imply the on-curve point halfway between them, as TrueType defines.
 */
function contourPath(contour: Point[]): string {
  if (contour.length === 0) return "";
  const n = contour.length;
  const first = contour.findIndex((p) => p.on);
  // A contour of off-curve points only starts halfway between its first two.
  const start = first >= 0 ? contour[first]! : midpoint(contour[0]!, contour[1 % n]!);
  const order = first >= 0 ? [...contour.slice(first + 1), ...contour.slice(0, first)] : [...contour.slice(1), contour[0]!];
  const at = (p: { x: number; y: number }): string => `${Math.round(p.x)} ${Math.round(p.y)}`;
  let d = `M${at(start)}`;
  let control: Point | undefined;
  for (const p of [...order, start]) {
    if (p.on) {
      d += control ? `Q${at(control)} ${at(p)}` : `L${at(p)}`;
      control = undefined;
    } else {
      if (control) d += `Q${at(control)} ${at(midpoint(control, p))}`;
      control = p;
    }
  }
  return `${d}Z`;
}

function midpoint(a: Point, b: Point): Point {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, on: true };
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
const outlines: [number, string][] = [];
const data = glyphData(tables);
for (const [cp, glyph] of [...cmapFormat4(table(tables, "cmap"))].sort((a, b) => a[0] - b[0])) {
  widths.push(cp, advance(glyph));
  outlines.push([cp, contours(data, glyph).map(contourPath).join("")]);
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

const glyphSource = `// Generated by scripts/gen_font.ts from @fontsource/inter (inter-latin-400-normal). Do not edit.
// Inter: Copyright 2016 The Inter Project Authors (https://github.com/rsms/inter), SIL Open Font License 1.1.
/**
 * The outlines of the chart font's glyphs, so the chart's labels reach resvg
 * as paths (\`chart_glyphs.ts\`) rather than as text it would shape with
 * code that runs unoptimised on a process's first chart.
 *
 * @module
 */

/**
 * Each glyph's outline as flat pairs, code point then SVG path data in font
 * units (${unitsPerEm} per em), y up, absolute M/L/Q/Z commands with integer coordinates
 * ("" for blank glyphs such as the space).
 *
 * @example The outline of "0"
 * \`\`\`ts
 * import { CHART_FONT_OUTLINES } from "./font_glyphs.ts";
 * const at = CHART_FONT_OUTLINES.indexOf(48);
 * if (!String(CHART_FONT_OUTLINES[at + 1]).startsWith("M")) throw new Error("a digit has a contour");
 * \`\`\`
 */
export const CHART_FONT_OUTLINES: readonly (number | string)[] = [
${outlines.map(([cp, d]) => `  ${cp}, ${JSON.stringify(d)},`).join("\n")}
];
`;

await writeFile(OUT, source);
await writeFile(GLYPHS_OUT, glyphSource);
console.log(`wrote ${OUT.pathname}: ${ttf.length} font bytes (${packed.length} compressed), ${widths.length / 2} advance widths, ${unitsPerEm} units/em`);
