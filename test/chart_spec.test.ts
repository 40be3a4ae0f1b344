import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { CHART_VEGA_SPEC_FILE, chartVegaSpecSource, compileBuiltInSpec } from "../scripts/gen_chart_spec.ts";
import { chartLayout } from "../src/chart_spec.ts";
import { equityVegaSpec } from "../src/chart_vega_spec.ts";

test("the committed src/chart_vega_spec.ts is what scripts/gen_chart_spec.ts makes from the installed vega-lite", async () => {
  const committed = await readFile(CHART_VEGA_SPEC_FILE, "utf8");
  // On a mismatch: node --import tsx scripts/gen_chart_spec.ts
  assert.ok(committed === chartVegaSpecSource(), "src/chart_vega_spec.ts is out of date; run scripts/gen_chart_spec.ts");
});

test("the precompiled Vega spec equals Vega-Lite's compile of equityChartSpec at sizes and colours other than the generator's", () => {
  for (const options of [{ width: 300, height: 240 }, { width: 1600, height: 900, equityColor: "green", drawdownColor: "#abc" }]) {
    assert.deepEqual(equityVegaSpec(chartLayout(options)), compileBuiltInSpec(options), JSON.stringify(options));
  }
});
