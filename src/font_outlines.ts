/**
 * A TrueType font's glyphs read straight from its tables (cmap format 4,
 * hmtx, loca, glyf, composite glyphs included): each glyph's advance and its
 * outline as SVG path data, so the chart's labels can be drawn as paths
 * (`chart_glyphs.ts`) from the font it embeds anyway. `scripts/gen_font.ts`
 * reads the advance widths Vega lays labels out with the same way.
 *
 * @module
 */

/** One glyph: how far it moves the pen and what it draws. */
export interface FontGlyph {
  /** Advance width in font units. */
  advance: number;
  /** Outline as absolute M/L/Q/Z path data in font units, y up, integer coordinates ("" for a blank glyph). */
  outline: string;
}

/** The glyphs of a TrueType font, by code point. */
export interface FontOutlines {
  /** Font units per em. */
  unitsPerEm: number;
  /** Every code point the font maps to a glyph, ascending. */
  codePoints: readonly number[];
  /**
   * The glyph a code point maps to, read on first use.
   *
   * @param codePoint A Unicode code point.
   * @returns The glyph, or `undefined` when the font lacks it.
   */
  glyph(codePoint: number): FontGlyph | undefined;
}

interface Point {
  x: number;
  y: number;
  on: boolean;
}

/**
 * Reads a TrueType (`glyf`-flavoured sfnt) font's glyphs.
 *
 * @param ttf The font file.
 * @returns Its glyphs by code point.
 * @throws Error when a table this needs is missing or the file is not TrueType.
 * @example The outline of "I" in the chart's font
 * ```ts
 * import { chartFont } from "./chart_raster.ts";
 * import { fontOutlines } from "./font_outlines.ts";
 * const font = fontOutlines(await chartFont());
 * const glyph = font.glyph(0x49);
 * if (!glyph || !glyph.outline.startsWith("M") || !(glyph.advance > 0)) throw new Error();
 * ```
 */
export function fontOutlines(ttf: Uint8Array): FontOutlines {
  const tables = sfntTables(ttf);
  const table = (tag: string): DataView => {
    const found = tables.get(tag);
    if (found === undefined) throw new Error(`the font has no ${tag} table`);
    return found;
  };
  const head = table("head");
  const hmtx = table("hmtx");
  const metrics = table("hhea").getUint16(34);
  const cmap = cmapFormat4(table("cmap"));
  const data = glyphData(table("glyf"), table("loca"), head.getInt16(50) === 1);
  const cache = new Map<number, FontGlyph | undefined>();
  return {
    unitsPerEm: head.getUint16(18),
    codePoints: [...cmap.keys()].sort((a, b) => a - b),
    glyph(codePoint) {
      if (cache.has(codePoint)) return cache.get(codePoint);
      const index = cmap.get(codePoint);
      const glyph = index === undefined ? undefined : {
        advance: hmtx.getUint16(Math.min(index, metrics - 1) * 4),
        outline: contours(data, index, 0).map(contourPath).join(""),
      };
      cache.set(codePoint, glyph);
      return glyph;
    },
  };
}

/** The sfnt's tables, by tag. */
function sfntTables(ttf: Uint8Array): Map<string, DataView> {
  const view = new DataView(ttf.buffer, ttf.byteOffset, ttf.byteLength);
  if (view.getUint32(0) !== 0x00010000) throw new Error("not a TrueType font");
  const tables = new Map<string, DataView>();
  for (let i = 0; i < view.getUint16(4); i++) {
    const entry = 12 + i * 16;
    const tag = String.fromCharCode(...ttf.subarray(entry, entry + 4));
    tables.set(tag, new DataView(ttf.buffer, ttf.byteOffset + view.getUint32(entry + 8), view.getUint32(entry + 12)));
  }
  return tables;
}

/** Code point -> glyph index from the first Unicode BMP (format 4) cmap subtable. */
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
  throw new Error("the font has no format 4 cmap subtable");
}

/** Glyph index -> its glyf bytes, through loca (short or long offsets). */
function glyphData(glyf: DataView, loca: DataView, long: boolean): (glyph: number) => DataView | undefined {
  return (glyph) => {
    const start = long ? loca.getUint32(glyph * 4) : loca.getUint16(glyph * 2) * 2;
    const end = long ? loca.getUint32(glyph * 4 + 4) : loca.getUint16(glyph * 2 + 2) * 2;
    return end > start ? new DataView(glyf.buffer, glyf.byteOffset + start, end - start) : undefined;
  };
}

/** A glyph's contours in font units, composite glyphs resolved (offsets and scales applied). */
function contours(data: (glyph: number) => DataView | undefined, glyph: number, depth: number): Point[][] {
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
    // Components placed by matching points (not offsets) are not drawn; no latin glyph uses them.
    const placed = (flags & 0x2) !== 0;
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
    if (placed) {
      for (const contour of contours(data, component, depth + 1)) {
        out.push(contour.map((p) => ({ x: Math.round(a * p.x + c * p.y + dx), y: Math.round(b * p.x + d * p.y + dy), on: p.on })));
      }
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
 * A contour as absolute SVG path commands: consecutive off-curve points imply
 * the on-curve point halfway between them, as TrueType defines.
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
