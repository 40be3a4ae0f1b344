/**
 * SVG to PNG: resvg's WebAssembly rasterises (once initialised per process)
 * and the runtime's native deflate encodes the pixels ({@link encodePng}).
 *
 * @module
 */
import { inflate } from "#deflate";
import { withDelayedTierUp } from "#tiering";
import { resvgWasm } from "#wasm";
import { MlflowError } from "./errors.ts";
import { textAsPaths } from "./chart_glyphs.ts";
import { CHART_FONT_FAMILY, CHART_FONT_TTF_ZLIB_BASE64 } from "./font_data.ts";
import { type FontOutlines, fontOutlines } from "./font_outlines.ts";
import { encodePng } from "./png.ts";

type ResvgModule = typeof import("@resvg/resvg-wasm");

/** resvg's WebAssembly as `initChart` accepts it: a compiled module, the bytes, or a promise of either. */
export type ResvgWasmSource =
  | WebAssembly.Module
  | ArrayBuffer
  | ArrayBufferView
  | Promise<WebAssembly.Module | ArrayBuffer | ArrayBufferView>;

let resvgModule: Promise<ResvgModule> | undefined;
let fontLoading: Promise<Uint8Array> | undefined;
let outlines: Promise<FontOutlines> | undefined;

/**
 * Initialises resvg once per process, from `wasm` when given, else from the
 * runtime's own source (`#wasm`). A module passed in rescues an earlier attempt
 * that had none (workerd before `initChart`).
 *
 * @param wasm The WebAssembly, on runtimes that cannot read it themselves.
 * @returns The initialised `@resvg/resvg-wasm` module.
 * @throws {MlflowError} `CHART_WASM_UNAVAILABLE` when it cannot be loaded.
 * @example Initialise on Deno, Node or Bun
 * ```ts
 * import { loadResvg } from "./chart_raster.ts";
 * const resvg = await loadResvg(undefined);
 * if (typeof resvg.Resvg !== "function") throw new Error();
 * ```
 */
export function loadResvg(wasm: ResvgWasmSource | undefined): Promise<ResvgModule> {
  const previous = resvgModule;
  if (previous && wasm === undefined) return previous;
  const attempt: Promise<ResvgModule> = (previous ? previous.catch(() => initResvg(wasm)) : initResvg(wasm)).catch(
    (cause: unknown) => {
      if (resvgModule === attempt) resvgModule = undefined;
      if (cause instanceof MlflowError) throw cause;
      throw new MlflowError(`equity chart: cannot initialise resvg's WebAssembly: ${message(cause)}`, {
        errorCode: "CHART_WASM_UNAVAILABLE",
        cause,
      });
    },
  );
  resvgModule = attempt;
  return attempt;
}

async function initResvg(wasm: ResvgWasmSource | undefined): Promise<ResvgModule> {
  const [resvg, source] = await Promise.all([import("@resvg/resvg-wasm"), wasm ?? resvgWasm()]);
  try {
    await withDelayedTierUp(() => resvg.initWasm(source));
  } catch (cause) {
    // Another library in this process may have initialised the same package already.
    if (!/already initiali[sz]ed/i.test(message(cause))) throw cause;
  }
  return resvg;
}

/**
 * The chart's font as TrueType, inflated once per process by the runtime's
 * native zlib (see `scripts/gen_font.ts` for why not WOFF2).
 *
 * @returns The TrueType bytes resvg is given.
 * @example The font resvg draws the chart's text with
 * ```ts
 * import { chartFont } from "./chart_raster.ts";
 * const ttf = await chartFont();
 * if (new DataView(ttf.buffer, ttf.byteOffset).getUint32(0) !== 0x00010000) throw new Error("not TrueType");
 * ```
 */
export function chartFont(): Promise<Uint8Array> {
  fontLoading ??= inflate(Uint8Array.from(atob(CHART_FONT_TTF_ZLIB_BASE64), (c) => c.charCodeAt(0))).catch((cause: unknown) => {
    fontLoading = undefined;
    throw cause;
  });
  return fontLoading;
}

// The chart font's glyphs, read once per process from the font itself.
function chartOutlines(): Promise<FontOutlines> {
  outlines ??= chartFont().then(fontOutlines).catch((cause: unknown) => {
    outlines = undefined;
    throw cause;
  });
  return outlines;
}

/**
 * Rasterises an SVG with the chart's font at `scale` pixels per CSS pixel and
 * encodes the PNG.
 *
 * @param resvg From {@link loadResvg}.
 * @param svg The SVG document.
 * @param scale Pixels per CSS pixel.
 * @returns The PNG file.
 * @throws Error from resvg when the SVG cannot be read.
 * @example A 10x10 red square
 * ```ts
 * import { loadResvg, rasterize } from "./chart_raster.ts";
 * const png = await rasterize(await loadResvg(undefined), '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>', 1);
 * if (new DataView(png.buffer, png.byteOffset).getUint32(16) !== 10) throw new Error("width");
 * ```
 */
export async function rasterize(resvg: ResvgModule, svg: string, scale: number): Promise<Uint8Array> {
  // Labels in the chart font are drawn as paths; resvg gets the font only for text it must lay out itself.
  const paths = textAsPaths(svg, await chartOutlines());
  const font = paths === undefined ? await chartFont() : undefined;
  const renderer = new resvg.Resvg(paths ?? svg, {
    font: font === undefined
      ? { loadSystemFonts: false }
      : { fontBuffers: [font], defaultFontFamily: CHART_FONT_FAMILY, sansSerifFamily: CHART_FONT_FAMILY },
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
  });
  let width: number;
  let height: number;
  let pixels: Uint8Array;
  try {
    const image = renderer.render();
    try {
      // A copy out of the WebAssembly memory: the image is freed below.
      ({ width, height, pixels } = image);
    } finally {
      image.free();
    }
  } finally {
    renderer.free();
  }
  return await encodePng(width, height, pixels);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
