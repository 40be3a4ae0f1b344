/**
 * The chart's labels as paths: every `<text>` of an SVG drawn with the chart
 * font becomes a `<path>` of that font's glyph outlines (read from the
 * embedded font, `font_outlines.ts`), placed by the same advance widths Vega
 * laid the labels out with (`chart_text.ts`).
 *
 * resvg would shape the text itself, and its font loading and text shaping
 * are large WebAssembly functions that run unoptimised on a process's first
 * chart and are then recompiled on the other core while the chart is drawn
 * (`npm run bench -- cold_start`). Paths skip both. Kerning is not applied,
 * as Vega's layout does not apply it either.
 *
 * Only text this module can draw exactly as written is converted: anything
 * else (another font, bold or italic, a family or size it would inherit,
 * offsets other than the `x`/`dy` of Vega's multi-line `tspan`s, a character
 * the font lacks) leaves the SVG to resvg and the embedded font.
 *
 * @module
 */
import { unescapeXml } from "./aws/xml.ts";
import { CHART_FONT_FAMILY } from "./font_data.ts";
import type { FontGlyph, FontOutlines } from "./font_outlines.ts";

/** Attributes a converted label keeps on its path: paint and placement. */
const PAINT = new Set([
  "transform",
  "fill",
  "fill-opacity",
  "opacity",
  "stroke",
  "stroke-opacity",
  "stroke-width",
  "stroke-linejoin",
  "stroke-linecap",
  "stroke-miterlimit",
  "stroke-dasharray",
  "stroke-dashoffset",
  "clip-path",
]);
/** Attributes that say nothing about the drawing (Vega's accessibility and event hints). */
const IGNORED = new Set(["class", "role", "aria-hidden", "aria-label", "aria-roledescription", "pointer-events", "cursor"]);

const TEXT = /<text\b([^>]*)>((?:[^<]|<tspan\b[^>]*>[^<]*<\/tspan>)*)<\/text>/g;
const TSPAN = /<tspan\b([^>]*)>([^<]*)<\/tspan>/g;
const ATTRIBUTE = /\s*([A-Za-z_:][-A-Za-z0-9_:.]*)="([^"]*)"/y;

/**
 * Replaces every `<text>` of `svg` with a `<path>` of the chart font's
 * glyphs, when every one of them can be drawn that way.
 *
 * @param svg An SVG document, as Vega's SVG renderer writes it.
 * @param font The chart font's glyphs.
 * @returns The SVG without text, or `undefined` when some text needs resvg's
 *   own text layout (then the font must be given to resvg).
 * @example A label becomes a path
 * ```ts
 * import { textAsPaths } from "./chart_glyphs.ts";
 * import { chartFont } from "./chart_raster.ts";
 * import { fontOutlines } from "./font_outlines.ts";
 * const font = fontOutlines(await chartFont());
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg"><text transform="translate(5,20)" font-family="Inter" font-size="11px" fill="#444">1.5%</text></svg>';
 * const paths = textAsPaths(svg, font);
 * if (paths === undefined || paths.includes("<text") || !paths.includes('<path transform="translate(5,20)"')) throw new Error(paths);
 * ```
 */
export function textAsPaths(svg: string, font: FontOutlines): string | undefined {
  let converted = 0;
  let failed = false;
  const out = svg.replace(TEXT, (whole, attributes: string, content: string) => {
    const path = failed ? undefined : labelPath(attributes, content, font);
    if (path === undefined) failed = true;
    else converted++;
    return path ?? whole;
  });
  // A <text> the pattern did not match (nested tspans, a self-closing one) is left to resvg.
  if (failed || countOf(svg, "<text") !== converted) return undefined;
  return out;
}

function countOf(text: string, part: string): number {
  let count = 0;
  for (let at = text.indexOf(part); at !== -1; at = text.indexOf(part, at + part.length)) count++;
  return count;
}

function labelPath(attributeText: string, content: string, font: FontOutlines): string | undefined {
  const attributes = parseAttributes(attributeText);
  if (attributes === undefined) return undefined;
  let anchor = "start";
  // The family and size must be the label's own: inherited ones could be anything.
  let size: number | undefined;
  let family = false;
  let x = 0;
  let y = 0;
  let paint = "";
  for (const [name, value] of attributes) {
    if (PAINT.has(name)) paint += ` ${name}="${value}"`;
    else if (IGNORED.has(name)) continue;
    else if (name === "text-anchor") {
      if (value !== "start" && value !== "middle" && value !== "end") return undefined;
      anchor = value;
    } else if (name === "font-family") {
      if (!isChartFamily(value)) return undefined;
      family = true;
    } else if (name === "font-size") {
      const px = /^\s*(\d+(?:\.\d+)?)(px)?\s*$/.exec(value);
      if (!px) return undefined;
      size = Number(px[1]);
    } else if (name === "font-weight") {
      if (value !== "normal" && value !== "400") return undefined;
    } else if (name === "font-style") {
      if (value !== "normal") return undefined;
    } else if (name === "x" || name === "y") {
      const n = number(value);
      if (n === undefined) return undefined;
      if (name === "x") x = n;
      else y = n;
    } else return undefined;
  }
  if (!family || size === undefined) return undefined;
  const lines = textLines(content, x, y);
  if (lines === undefined) return undefined;
  const scale = size / font.unitsPerEm;
  let d = "";
  for (const line of lines) {
    const drawn = lineOutline(font, line.text, anchor, line.x, line.y, scale);
    if (drawn === undefined) return undefined;
    d += drawn;
  }
  // An empty label still occupies its place in the document order, harmlessly.
  return `<path${paint} d="${d === "" ? "M0 0" : d}"/>`;
}

interface Line {
  text: string;
  x: number;
  y: number;
}

/** The label's lines: its text, or Vega's `tspan`s (the first at the label's origin, the next with `x` and `dy`). */
function textLines(content: string, x: number, y: number): Line[] | undefined {
  if (!content.includes("<tspan")) {
    const text = decodeEntities(content);
    return text === undefined ? undefined : [{ text, x, y }];
  }
  const lines: Line[] = [];
  let rest = content;
  for (const match of content.matchAll(TSPAN)) {
    rest = rest.replace(match[0], "");
    const attributes = parseAttributes(match[1]!);
    const text = decodeEntities(match[2]!);
    if (attributes === undefined || text === undefined) return undefined;
    for (const [name, value] of attributes) {
      const n = number(value);
      if (n === undefined) return undefined;
      if (name === "x") x = n;
      else if (name === "y") y = n;
      else if (name === "dy") y += n;
      else return undefined;
    }
    lines.push({ text, x, y });
  }
  // Text between the tspans would be drawn too: leave that to resvg.
  return rest.trim() === "" ? lines : undefined;
}

function number(value: string): number | undefined {
  const n = Number(value);
  return value.trim() === "" || !Number.isFinite(n) ? undefined : n;
}

/** One line's glyphs as path data in the label's coordinates, or `undefined` when the font lacks a character. */
function lineOutline(font: FontOutlines, text: string, anchor: string, x: number, y: number, scale: number): string | undefined {
  // SVG's default white-space handling: line breaks dropped, tabs as spaces, trimmed, runs of spaces as one.
  const line = [...text.replace(/[\n\r]/g, "").replace(/\t/g, " ").trim().replace(/ {2,}/g, " ")].map((ch) => font.glyph(ch.codePointAt(0)!));
  if (line.some((glyph) => glyph === undefined)) return undefined;
  const width = line.reduce((sum, glyph) => sum + glyph!.advance, 0) * scale;
  let pen = x - (anchor === "middle" ? width / 2 : anchor === "end" ? width : 0);
  let d = "";
  for (const glyph of line as FontGlyph[]) {
    if (glyph.outline !== "") d += placed(glyph.outline, pen, y, scale);
    pen += glyph.advance * scale;
  }
  return d;
}

function parseAttributes(text: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  ATTRIBUTE.lastIndex = 0;
  while (ATTRIBUTE.lastIndex < text.length) {
    const start = ATTRIBUTE.lastIndex;
    const match = ATTRIBUTE.exec(text);
    if (!match) return text.slice(start).trim() === "" ? out : undefined;
    out.push([match[1]!, match[2]!]);
  }
  return out;
}

function isChartFamily(value: string): boolean {
  const first = value.split(",")[0]!.trim().replace(/^["']|["']$/g, "").toLowerCase();
  return first === CHART_FONT_FAMILY.toLowerCase() || first === "sans-serif";
}

// Only XML's own entities and character references: anything else is left to resvg.
const UNKNOWN_ENTITY = /&(?!(?:#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);)/;

function decodeEntities(text: string): string | undefined {
  if (UNKNOWN_ENTITY.test(text)) return undefined;
  try {
    return unescapeXml(text);
  } catch {
    return undefined; // a character reference beyond Unicode
  }
}

/** An outline in font units (y up) moved to the pen and scaled to pixels (y down). */
function placed(outline: string, penX: number, baseline: number, scale: number): string {
  let index = 0;
  return outline.replace(/-?\d+/g, (digits) => {
    const value = Number(digits);
    return String(index++ % 2 === 0 ? round(penX + value * scale) : round(baseline - value * scale));
  });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
