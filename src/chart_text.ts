/**
 * Text widths for Vega's label layout: the advances of the font resvg draws
 * (the bundled Inter), the same on every runtime (no canvas, no 0.8 em guess).
 *
 * @module
 */
import { CHART_FONT_ADVANCES, CHART_FONT_FAMILY, CHART_FONT_UNITS_PER_EM } from "./font_data.ts";

type VegaModule = typeof import("vega");

interface TextItem {
  font?: string;
  fontSize?: number | string;
  limit?: number;
}

interface TextMetrics {
  width: (item: TextItem, text: unknown) => number;
}

let chartAdvances: Map<number, number> | undefined;

/**
 * Makes Vega measure text drawn with the chart's font by that font's advance
 * widths (other fonts keep Vega's own measure). Affects the whole Vega module.
 *
 * @param vega The loaded `vega` module.
 * @example Measure a label as Vega will
 * ```ts
 * import * as vega from "vega";
 * import { useChartFontMetrics } from "./chart_text.ts";
 * useChartFontMetrics(vega);
 * const width = (vega as unknown as { textMetrics: { width(item: object, text: string): number } }).textMetrics
 *   .width({ font: "Inter", fontSize: 11 }, "Equity");
 * if (!(width > 20 && width < 50)) throw new Error(String(width));
 * ```
 */
export function useChartFontMetrics(vega: VegaModule): void {
  const metrics = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  const fallback = metrics.width;
  const advances = chartAdvances ??= advanceTable();
  const missing = advances.get(0x3f)!; // "?", roughly an average glyph
  const family = CHART_FONT_FAMILY.toLowerCase();
  metrics.width = (item, text) => {
    const font = item.font?.toLowerCase();
    // Only text drawn with the bundled font (or the generic family resvg maps to it).
    if (font !== undefined && font !== family && font !== "sans-serif") return fallback(item, text);
    const size = item.fontSize == null ? 11 : +item.fontSize || 0;
    const value = text == null ? "" : String(text).trim();
    let units = 0;
    for (const ch of value) units += advances.get(ch.codePointAt(0)!) ?? missing;
    const width = (units * size) / CHART_FONT_UNITS_PER_EM;
    // Vega asks for the width after truncation to `limit`.
    return item.limit !== undefined && item.limit > 0 && width > item.limit ? item.limit : width;
  };
}

function advanceTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (let i = 0; i < CHART_FONT_ADVANCES.length; i += 2) table.set(CHART_FONT_ADVANCES[i]!, CHART_FONT_ADVANCES[i + 1]!);
  return table;
}
