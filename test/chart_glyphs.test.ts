import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { textAsPaths } from "../src/chart_glyphs.ts";
import { initChart } from "../src/chart.ts";
import { chartFont, loadResvg, rasterize } from "../src/chart_raster.ts";
import { CHART_FONT_ADVANCES, CHART_FONT_UNITS_PER_EM } from "../src/font_data.ts";
import { fontOutlines } from "../src/font_outlines.ts";
import { decodePng } from "./support/png.ts";

const label = (attributes: string, text: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="white"/>` +
  `<text ${attributes}>${text}</text></svg>`;
const FONT = fontOutlines(await chartFont());
const PLAIN = 'transform="translate(10,25)" font-family="Inter" font-size="16px" fill="#000"';

/** Columns (x) holding a dark pixel: where ink landed. */
async function inkColumns(svg: string): Promise<number[]> {
  const image = await decodePng(await rasterize(await loadResvg(undefined), svg, 1));
  const columns = new Set<number>();
  for (let i = 0; i < image.pixels.length; i += 4) if (image.pixels[i]! < 128) columns.add((i / 4) % image.width);
  return [...columns].sort((a, b) => a - b);
}

describe("fontOutlines", () => {
  test("reads the chart font's glyphs: advances as Vega measures them, composite glyphs (é = e + accent) whole, none for unmapped code points", () => {
    const e = FONT.glyph(0x65)!;
    const eAcute = FONT.glyph(0xe9)!;
    assert.equal(FONT.unitsPerEm, CHART_FONT_UNITS_PER_EM);
    for (let i = 0; i < CHART_FONT_ADVANCES.length; i += 2) {
      assert.equal(FONT.glyph(CHART_FONT_ADVANCES[i]!)?.advance, CHART_FONT_ADVANCES[i + 1], `advance of U+${CHART_FONT_ADVANCES[i]!.toString(16)}`);
    }
    assert.equal(eAcute.advance, e.advance);
    // The accent's contour comes after the base letter's.
    assert.ok(eAcute.outline.startsWith(e.outline) && eAcute.outline.length > e.outline.length, "é draws e, then its accent");
    assert.equal(FONT.glyph(0x6f22), undefined);
    assert.equal(FONT.glyph(0x20)!.outline, "");
  });
});

describe("textAsPaths", () => {
  test("a label in the chart font becomes one path keeping its placement and paint, with no text left", () => {
    const svg = label(`${PLAIN} opacity="0.5" stroke="white" stroke-width="3"`, "Equity");
    const out = textAsPaths(svg, FONT);
    assert.ok(out !== undefined);
    assert.doesNotMatch(out, /<text/);
    assert.match(out, /<path transform="translate\(10,25\)" fill="#000" opacity="0.5" stroke="white" stroke-width="3" d="M[^"]+Z"\/>/);
  });

  test("entities, sans-serif and an unquoted size in pixels are drawn; a blank label is an empty path", () => {
    for (const [attributes, text] of [[PLAIN, "P&amp;L &lt;1&gt; &#8722;5% &#x2013;"], ['font-family="sans-serif" font-size="11"', "x"]]) {
      assert.ok(textAsPaths(label(attributes!, text!), FONT) !== undefined, `${attributes} ${text}`);
    }
    assert.match(textAsPaths(label(PLAIN, "   "), FONT)!, /<path transform="translate\(10,25\)" fill="#000" d="M0 0"\/>/);
  });

  test("Vega's multi-line label (tspans with x and dy) is drawn line under line", async () => {
    await initChart();
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60"><rect width="120" height="60" fill="white"/>' +
      `<text ${PLAIN}><tspan>MM</tspan><tspan x="0" dy="20">MM</tspan></text></svg>`;
    const out = textAsPaths(svg, FONT);
    assert.ok(out !== undefined);
    assert.doesNotMatch(out, /<text|<tspan/);
    const image = await decodePng(await rasterize(await loadResvg(undefined), svg, 1));
    const inkRows = new Set<number>();
    for (let i = 0; i < image.pixels.length; i += 4) if (image.pixels[i]! < 128) inkRows.add(Math.floor(i / 4 / image.width));
    const rows = [...inkRows].sort((a, b) => a - b);
    // Two lines of capitals 20 px apart: ink above the first baseline (y 25) and above the second (y 45).
    assert.ok(rows.some((r) => r < 25) && rows.some((r) => r > 30 && r < 45), `ink rows ${rows[0]}..${rows.at(-1)}`);
    assert.ok(!rows.some((r) => r > 26 && r < 29), "a gap between the lines");
  });

  test("text it cannot draw exactly leaves the whole SVG to resvg's own text layout", () => {
    const refused = [
      ['font-weight="bold"', "another weight"],
      ['font-style="italic"', "italic"],
      ['font-family="Georgia"', "another family"],
      ['dy="0.7em"', "an offset"],
      ['letter-spacing="2"', "an unknown attribute"],
      ["", "\u6f22\u5b57"], // characters the font lacks
      ["", "&nbsp;"], // an entity that is not XML's
    ];
    for (const [extra, text] of refused) {
      const svg = label(`${PLAIN} ${extra}`, text!);
      assert.equal(textAsPaths(svg, FONT), undefined, `${extra} ${text}`);
    }
    const inherited = '<svg xmlns="http://www.w3.org/2000/svg"><g font-family="Georgia"><text font-size="11px">x</text></g></svg>';
    assert.equal(textAsPaths(inherited, FONT), undefined, "a family from an ancestor");
    assert.equal(textAsPaths(label('font-family="Inter"', "x"), FONT), undefined, "a size from an ancestor");
    const shifted = '<svg xmlns="http://www.w3.org/2000/svg"><text font-family="Inter"><tspan>a</tspan><tspan dx="3">b</tspan></text></svg>';
    assert.equal(textAsPaths(shifted, FONT), undefined);
    const mixed = label(PLAIN, "ok").replace("</svg>", `<text ${PLAIN} font-weight="bold">bold</text></svg>`);
    assert.equal(textAsPaths(mixed, FONT), undefined, "one label resvg must lay out keeps them all as text");
  });

  test("anchors place the ink: start right of the anchor, end left of it, middle around it", async () => {
    await initChart();
    const at = (anchor: string): string =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="white"/>` +
      `<text text-anchor="${anchor}" transform="translate(100,28)" font-family="Inter" font-size="20px" fill="#000">MMM</text></svg>`;
    const start = await inkColumns(at("start"));
    const end = await inkColumns(at("end"));
    const middle = await inkColumns(at("middle"));
    assert.ok(start[0]! >= 100 && start.at(-1)! > 130, `start: ${start[0]}..${start.at(-1)}`);
    assert.ok(end.at(-1)! <= 100 && end[0]! < 70, `end: ${end[0]}..${end.at(-1)}`);
    assert.ok(middle[0]! < 90 && middle.at(-1)! > 110, `middle: ${middle[0]}..${middle.at(-1)}`);
  });

  test("a label resvg lays out itself (bold) is still drawn, with the embedded font", async () => {
    await initChart();
    const ink = await inkColumns(label(`${PLAIN} font-weight="bold"`, "Equity"));
    assert.ok(ink.length > 30, `${ink.length} columns hold ink`);
  });
});
