import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { equityChartSpec, initChart, renderEquityChart } from "../src/chart.ts";
import { textAsPaths } from "../src/chart_glyphs.ts";
import { chartFont } from "../src/chart_raster.ts";
import { fontOutlines } from "../src/font_outlines.ts";
import { normalizeEquity } from "../src/equity.ts";
import { MlflowError, MlflowValidationError } from "../src/errors.ts";
import { decodePng, firstDifference, type Image } from "./support/png.ts";

/**
 * SHA-256 of the decoded PNG pixels (RGBA) and of the SVG of {@link walk} titled
 * "golden walk", recorded from a Node run (the pixel hash is also what resvg's own
 * PNG of that SVG, its labels as paths, decodes to). Node, Deno and Bun each compare against them
 * (workerd is compared with Node directly in chart_workerd.test.ts), so the three
 * runtimes must draw the same pixels and write the same SVG bytes; the PNG bytes
 * themselves may differ, as each runtime's zlib compresses a little differently.
 * Re-record them only for an intended change of the chart (or of vega, vega-lite
 * or resvg, or of the font or how labels are drawn: labels became paths of the
 * font's glyphs, see the block comparison below): the failure message prints the new hash.
 */
const GOLDEN_PIXELS_SHA256 = "4e8e3d426e3688623771c8dac60db5f8050fbc075c5c16bb2b625dbf50f00be5";
const GOLDEN_SVG_SHA256 = "355ddb4fc485ed117babf8d2474f9c92f336976c780de40705a5b0f900613e0f";

const T0_NS = 1_704_067_200_000_000_000n; // 2024-01-01T00:00:00Z
const HOUR_NS = 3_600_000_000_000n;

/**
 * A tent: hourly bars rising 100 -> 200 (bar 1000), falling to 100 (bar 1500,
 * a 50 % drawdown) and rising to 150 (bar 2000).
 */
function tent(): { timestampNs: BigInt64Array; equity: Float64Array } {
  const n = 2001;
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    timestampNs[i] = T0_NS + BigInt(i) * HOUR_NS;
    equity[i] = i <= 1000 ? 100 + i / 10 : i <= 1500 ? 200 - (i - 1000) / 5 : 100 + (i - 1500) / 10;
  }
  return { timestampNs, equity };
}

/** 50,000 fifteen-minute bars of a seeded random walk: noisy enough to need downsampling. */
function walk(): { timestampNs: BigInt64Array; equity: Float64Array } {
  const n = 50_000;
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  let seed = 7;
  let value = 100_000;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    value *= 1 + (seed / 2 ** 32 - 0.5) * 0.004;
    timestampNs[i] = T0_NS + BigInt(i) * 900_000_000_000n;
    equity[i] = value;
  }
  return { timestampNs, equity };
}

/** The largest difference, in levels, between the mean colour channels of two images' `size`-pixel square blocks. */
function worstBlockDifference(a: Image, b: Image, size: number): number {
  let worst = 0;
  for (let top = 0; top + size <= a.height; top += size) {
    for (let left = 0; left + size <= a.width; left += size) {
      for (let channel = 0; channel < 3; channel++) {
        let sum = 0;
        for (let y = top; y < top + size; y++) {
          for (let x = left; x < left + size; x++) sum += a.pixels[(y * a.width + x) * 4 + channel]! - b.pixels[(y * b.width + x) * 4 + channel]!;
        }
        worst = Math.max(worst, Math.abs(sum) / (size * size));
      }
    }
  }
  return worst;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Where the two plots sit in the image, read from the SVG Vega wrote. */
function plotFrames(svg: string): { left: number; width: number; equity: [number, number]; drawdown: [number, number] } {
  const origin = /<g[^>]*transform="translate\((\d+),(\d+)\)"/.exec(svg)!;
  const frame = (name: string) => {
    const m = new RegExp(`${name}"[^>]*><g transform="translate\\(0,(\\d+)\\)"><path class="background"[^>]*d="M0,0h(\\d+)v(\\d+)`)
      .exec(svg)!;
    return { top: Number(origin[2]) + Number(m[1]), width: Number(m[2]), height: Number(m[3]) };
  };
  const top = frame("concat_0_group");
  const bottom = frame("concat_1_group");
  return {
    left: Number(origin[1]),
    width: top.width,
    equity: [top.top, top.top + top.height],
    drawdown: [bottom.top, bottom.top + bottom.height],
  };
}

function column(image: Image, x: number, [from, to]: [number, number]): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let y = from; y < to; y++) {
    const at = (y * image.width + x) * 4;
    out.push([image.pixels[at]!, image.pixels[at + 1]!, image.pixels[at + 2]!]);
  }
  return out;
}

const isLineBlue = ([r, , b]: [number, number, number]) => b > 120 && b - r > 60;
const isAreaRed = ([r, g, b]: [number, number, number]) => r > 200 && r - g > 30 && r - b > 30;

describe("renderEquityChart", () => {
  test("initChart can be called early and repeatedly, with or without a warm-up render, and then charts render", async () => {
    await Promise.all([initChart(), initChart({ png: false }), initChart({ warmUp: true })]);
    await initChart({ warmUp: true });
    const { png, points } = await renderEquityChart(tent(), { maxPoints: 100 });
    assert.ok(png !== undefined && png.length > 1000);
    assert.ok(points <= 100);
  });

  test("the SVG holds the title, axis titles, subtitle facts and time labels as text", async () => {
    const { svg } = await renderEquityChart(tent(), { title: "sma-cross fast=10 slow=50", png: false });
    for (const text of ["sma-cross fast=10 slow=50", "Equity", "Drawdown", "Time (UTC)", "Jan 7", "Feb 4", "Mar 3", "200"]) {
      assert.ok(svg.includes(`>${text}</text>`), `missing label ${text}`);
    }
    assert.match(svg, /2024-01-01 00:00 \u2013 2024-03-24 08:00 UTC/);
    assert.match(svg, /2,001 bars/);
    assert.match(svg, /return \+50\.00%/);
    assert.match(svg, />max drawdown \u221250\.00%<\/text>/);
    assert.match(svg, /font-family="Inter"/);
  });

  test("the PNG is 1200x640 and shows the equity line and the drawdown area where the data puts them", async () => {
    const { png, svg } = await renderEquityChart(tent());
    const image = await decodePng(png!);
    assert.equal(image.width, 1200);
    assert.equal(image.height, 640);
    assert.match(svg, /width="1200" height="640"/);

    const frames = plotFrames(svg);
    const xAt = (bar: number) => Math.round(frames.left + (bar / 2000) * frames.width);
    const [eqTop, eqBottom] = frames.equity;
    // Equity 150 at bar 500 on a 100..200 axis: halfway down the top plot.
    const rising = column(image, xAt(500), frames.equity);
    const blueRows = rising.flatMap((px, k) => (isLineBlue(px) ? [k] : []));
    assert.ok(blueRows.length > 0, "the equity line crosses bar 500");
    const expected = (eqBottom - eqTop) / 2;
    for (const k of blueRows) assert.ok(Math.abs(k - expected) <= 4, `line at ${k}, expected near ${expected}`);

    // No drawdown while rising (below the outline at 0); the full -50..0 axis at bar 1500.
    const belowZero: [number, number] = [frames.drawdown[0] + 3, frames.drawdown[1]];
    assert.equal(column(image, xAt(500), belowZero).filter(isAreaRed).length, 0, "no drawdown at bar 500");
    const trough = column(image, xAt(1500), frames.drawdown).filter(isAreaRed).length;
    assert.ok(trough > 0.8 * (frames.drawdown[1] - frames.drawdown[0]), `drawdown area at bar 1500 is ${trough} px tall`);
    const halfway = column(image, xAt(1250), frames.drawdown).filter(isAreaRed).length;
    assert.ok(halfway > 0.35 * trough && halfway < 0.65 * trough, `a 25 % drawdown is about half as tall (${halfway} px)`);
  });

  test("the same curve gives the same pixels and byte-identical SVGs on every render and on every runtime", async () => {
    const first = await renderEquityChart(walk(), { title: "golden walk" });
    const second = await renderEquityChart(walk(), { title: "golden walk" });
    assert.deepEqual(second.png, first.png);
    assert.equal(second.svg, first.svg);
    const pixels = await sha256((await decodePng(first.png!)).pixels);
    const svg = await sha256(new TextEncoder().encode(first.svg));
    assert.equal(pixels, GOLDEN_PIXELS_SHA256, `pixel hash ${pixels} differs from the recorded one`);
    assert.equal(svg, GOLDEN_SVG_SHA256, `SVG hash ${svg} differs from the recorded one`);
  });

  test("the PNG decodes to the pixels of resvg's own PNG of the same SVG with its labels as paths, at scale 1 and 2", async () => {
    const resvg = await import("@resvg/resvg-wasm");
    await initChart();
    for (const scale of [1, 2]) {
      const chart = await renderEquityChart(tent(), { title: "resvg's own PNG", scale });
      const paths = textAsPaths(chart.svg, fontOutlines(await chartFont()));
      assert.ok(paths !== undefined, "every label of the built-in chart is drawn as a path");
      const fitTo = scale === 1 ? { mode: "original" as const } : { mode: "zoom" as const, value: scale };
      const renderer = new resvg.Resvg(paths, { fitTo });
      const reference = await decodePng(renderer.render().asPng());
      const ours = await decodePng(chart.png!);
      assert.deepEqual([ours.width, ours.height], [reference.width, reference.height]);
      assert.equal(firstDifference(ours.pixels, reference.pixels), -1, `scale ${scale}: the pixels differ from resvg's PNG`);
    }
  });

  test("labels drawn as paths look like resvg's own text in the chart font: every 8x8 block within 20 levels", async () => {
    // Measured on the golden walk: 16.9 levels at most (glyphs are placed without kerning, as Vega lays
    // labels out); a label moved by 2 px gives 23, a missing label 54.
    const resvg = await import("@resvg/resvg-wasm");
    await initChart();
    const chart = await renderEquityChart(walk(), { title: "golden walk" });
    const font = await chartFont();
    const text = new resvg.Resvg(chart.svg, { font: { fontBuffers: [font], defaultFontFamily: "Inter", sansSerifFamily: "Inter" } });
    const reference = await decodePng(text.render().asPng());
    const ours = await decodePng(chart.png!);
    assert.ok(firstDifference(ours.pixels, reference.pixels) !== -1, "the comparison sees the two drawings");
    const worst = worstBlockDifference(ours, reference, 8);
    assert.ok(worst <= 20, `a block differs by ${worst.toFixed(1)} levels`);
  });

  test("a long curve is drawn from at most maxPoints points", async () => {
    const n = 200_000;
    const timestampNs = new BigInt64Array(n);
    const equity = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      timestampNs[i] = T0_NS + BigInt(i) * 60_000_000_000n;
      equity[i] = 1000 + Math.sin(i / 997) * 50 + (i % 7) - 3;
    }
    const chart = await renderEquityChart({ timestampNs, equity }, { png: false });
    assert.ok(chart.points <= 2000 && chart.points > 500, `${chart.points} points by default`);
    const small = await renderEquityChart({ timestampNs, equity }, { png: false, maxPoints: 300 });
    assert.ok(small.points <= 300, `${small.points} points for maxPoints 300`);
  });

  test("scale 2 doubles the PNG's pixels and png: false leaves the PNG out", async () => {
    const doubled = await decodePng((await renderEquityChart(tent(), { scale: 2, width: 800, height: 400 })).png!);
    assert.deepEqual([doubled.width, doubled.height], [1600, 800]);
    const svgOnly = await renderEquityChart(tent(), { png: false });
    assert.equal(svgOnly.png, undefined);
    assert.ok(svgOnly.svg.startsWith("<svg"));
  });

  test("FLOX Python rows with bigint, number and string nanoseconds and a normalised curve all render", async () => {
    const rows = [
      { timestamp_ns: T0_NS, equity: 100, drawdown_pct: 0 },
      { timestamp_ns: Number(T0_NS + HOUR_NS), equity: 90, drawdown_pct: 10 },
      { timestamp_ns: String(T0_NS + 2n * HOUR_NS), equity: 120, drawdown_pct: 0 },
    ];
    const fromRows = await renderEquityChart(rows, { png: false });
    assert.equal(fromRows.points, 3);
    assert.match(fromRows.svg, /max drawdown \u221210\.00%/);
    const fromNormalized = await renderEquityChart(normalizeEquity(rows), { png: false });
    assert.equal(fromNormalized.svg, fromRows.svg);
  });

  test("a one-bar curve and a curve that never draws down still render", async () => {
    const one = await renderEquityChart({ timestampNs: BigInt64Array.of(T0_NS), equity: Float64Array.of(5) });
    assert.ok((await decodePng(one.png!)).width === 1200);
    const rising = await renderEquityChart({ timestampNs: BigInt64Array.of(T0_NS, T0_NS + HOUR_NS), equity: Float64Array.of(1, 2) });
    assert.doesNotMatch(rising.svg, />max drawdown/);
  });

  test("a restyled spec from equityChartSpec changes the drawing", async () => {
    const spec = equityChartSpec({ width: 900, height: 500, equityColor: "#2ca02c" });
    const chart = await renderEquityChart(tent(), { spec, png: false });
    assert.match(chart.svg, /width="900" height="500"/);
    assert.match(chart.svg, /stroke="#2ca02c"/);
    assert.doesNotMatch(chart.svg, /stroke="#1f5fa6"/);
  });

  test("NaN equity, an empty curve and bad options are MlflowValidationErrors (MlflowErrors) naming the field", async () => {
    const nan = tent();
    nan.equity[7] = NaN;
    await assert.rejects(renderEquityChart(nan), (err) =>
      err instanceof MlflowValidationError && err instanceof MlflowError && err.field === "equityCurve.equity[7]" &&
      /NaN/.test(err.message));
    await assert.rejects(renderEquityChart({ timestampNs: new BigInt64Array(0), equity: new Float64Array(0) }), (err) =>
      err instanceof MlflowValidationError && err.field === "equityCurve" && /empty/.test(err.message));
    await assert.rejects(renderEquityChart([]), (err) => err instanceof MlflowValidationError && /empty/.test(err.message));
    await assert.rejects(renderEquityChart(tent(), { width: 10 }), (err) =>
      err instanceof MlflowValidationError && err.field === "width");
    await assert.rejects(renderEquityChart(tent(), { scale: 0 }), (err) =>
      err instanceof MlflowValidationError && err.field === "scale");
  });
});
