import assert from "node:assert/strict";
import { test } from "node:test";
import { loadResvg } from "../src/chart_raster.ts";
import { encodePng } from "../src/png.ts";
import { decodePng, firstDifference } from "./support/png.ts";

// Half-transparent shapes on no background: premultiplied pixels whose demultiplied
// values depend on rounding, fully transparent corners and one opaque square.
const TRANSLUCENT_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">
  <rect x="4" y="4" width="40" height="30" fill="#1f5fa6" fill-opacity="0.37"/>
  <circle cx="40" cy="28" r="18" fill="#d62728" fill-opacity="0.61"/>
  <path d="M0,47 L63,0" stroke="#2ca02c" stroke-width="3" stroke-opacity="0.2"/>
  <rect x="50" y="2" width="10" height="10" fill="#8c1c1d"/>
</svg>`;

test("encodePng of resvg's premultiplied pixels decodes to the pixels of resvg's own PNG, translucent ones included", async () => {
  const resvg = await loadResvg(undefined);
  const image = new resvg.Resvg(TRANSLUCENT_SVG).render();
  const reference = await decodePng(image.asPng());
  const ours = await decodePng(await encodePng(image.width, image.height, image.pixels));
  assert.deepEqual([ours.width, ours.height], [64, 48]);
  const alphas = new Set(reference.pixels.filter((_, i) => i % 4 === 3));
  assert.ok(alphas.has(0) && alphas.has(255) && alphas.size > 3, "the image has transparent, translucent and opaque pixels");
  assert.equal(firstDifference(ours.pixels, reference.pixels), -1);
});

test("encodePng writes a PNG that reads back exactly: a 3x3 opaque gradient", async () => {
  const pixels = Uint8Array.from({ length: 3 * 3 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
  const image = await decodePng(await encodePng(3, 3, pixels));
  assert.deepEqual([image.width, image.height], [3, 3]);
  assert.deepEqual([...image.pixels], [...pixels]);
});

test("encodePng reads pixels that do not start on a 4-byte boundary: an opaque image inside a larger buffer", async () => {
  const buffer = new Uint8Array(1 + 2 * 2 * 4);
  const pixels = buffer.subarray(1);
  pixels.set([10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 100, 110, 120, 255]);
  const image = await decodePng(await encodePng(2, 2, pixels));
  assert.deepEqual([...image.pixels], [...pixels]);
});
