import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listArtifacts, logCells, MlflowValidationError, startRun, summarizeSweep } from "../mod.ts";
import { logGrid, logWalkForward } from "../src/sweep.ts";
import { picturesFor } from "../src/sweep_pictures.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";
import { decodePng, type Image } from "./support/png.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 10_000 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// The grey the heatmap fills cells without a value with (src/sweep_pictures.ts MISSING_COLOR).
const MISSING = [0xd9, 0xd9, 0xd9];

function hasColor(image: Image, rgb: number[]): boolean {
  for (let i = 0; i < image.pixels.length; i += 4) {
    if (image.pixels[i] === rgb[0] && image.pixels[i + 1] === rgb[1] && image.pixels[i + 2] === rgb[2] && image.pixels[i + 3] === 255) return true;
  }
  return false;
}

/** A daily equity curve of 60 bars rising by `slope` per bar. */
function curve(slope: number) {
  const n = 60;
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    timestampNs[i] = 1_704_067_200_000_000_000n + BigInt(i) * 86_400_000_000_000n;
    equity[i] = 10_000 + slope * i + 20 * Math.sin(i / 4);
  }
  return { timestampNs, equity };
}

/** A 3 x 3 grid whose axis values are given out of numeric order, one cell with a NaN Sharpe ratio. */
function grid() {
  const cells = [];
  for (const fast of [20, 5, 10]) {
    for (const slow of [100, 50, 200]) {
      const sharpeRatio = fast === 10 && slow === 200 ? NaN : fast / 10 + slow / 100;
      cells.push({ params: { fast, slow }, stats: { returnPct: fast + slow / 1000, sharpeRatio }, equityCurve: curve(sharpeRatio || 0) });
    }
  }
  return cells;
}

for (const { name, open } of BACKENDS) {
  describe(`sweep pictures (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const options = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });
    const artifactNames = async (runId: string) => (await listArtifacts(runId, undefined, options())).map((a) => a.path).sort();

    test("a grid's parent holds the heatmap, the best cells' equity curves and grid_results.csv with every cell", async () => {
      const results = grid();
      const out = await logGrid({ ...options(), experiment: uniqueName("pictures"), runName: "sma-grid", results, pictures: true });
      assert.deepEqual(await artifactNames(out.parentRunId), ["best_cells_equity.png", "grid_results.csv", "sweep_heatmap.png"]);

      // Every cell in the order given, its stats as the child holds them (the NaN as the tag text "NaN").
      const expected = [
        "index,run_id,status,fast,slow,returnPct,sharpeRatio",
        ...results.map((cell, i) =>
          [i, out.childRunIds[i], "FINISHED", cell.params.fast, cell.params.slow, cell.stats.returnPct, String(cell.stats.sharpeRatio)].join(",")
        ),
      ].join("\n") + "\n";
      assert.equal(text(await backend.artifact(out.parentRunId, "grid_results.csv")), expected);

      const heatmap = await decodePng(await backend.artifact(out.parentRunId, "sweep_heatmap.png"));
      // Three columns of 56 px at least 240 px wide, plus axes, legend and padding.
      assert.ok(heatmap.width >= 240 && heatmap.width <= 600, `heatmap width ${heatmap.width}`);
      assert.ok(heatmap.height >= 200 && heatmap.height <= 500, `heatmap height ${heatmap.height}`);
      assert.ok(hasColor(heatmap, MISSING), "the NaN cell is drawn as missing");
      const overlay = await decodePng(await backend.artifact(out.parentRunId, "best_cells_equity.png"));
      // An 800 x 380 plot plus axes, title and legend.
      assert.ok(overlay.width >= 800 && overlay.width <= 1100 && overlay.height >= 380 && overlay.height <= 750, `${overlay.width}x${overlay.height}`);
      const parent = await backend.getRun(out.parentRunId);
      assert.equal(parent.status, "FINISHED");
      assert.equal(parent.tags["flox.chart_error"], undefined);
    });

    test("a grid without a NaN cell has no grey in its heatmap, and a failed cell is listed FAILED in grid_results.csv", async () => {
      const results = grid().map((cell) => ({ ...cell, stats: { ...cell.stats, sharpeRatio: cell.stats.sharpeRatio || 0.5 } }));
      // Equity columns that do not line up are refused when the cell is logged (not before), so that cell fails.
      const bad = { timestampNs: BigInt64Array.of(1n, 2n), equity: Float64Array.of(1, 2, 3) };
      results[4] = { ...results[4]!, equityCurve: bad };
      const out = await logGrid({ ...options(), experiment: uniqueName("pictures"), results, pictures: { overlay: false }, onWarning: () => {} });
      assert.deepEqual(out.failed.map((f) => f.index), [4]);
      assert.deepEqual(await artifactNames(out.parentRunId), ["grid_results.csv", "sweep_heatmap.png"]);
      const rows = text(await backend.artifact(out.parentRunId, "grid_results.csv")).split("\n");
      assert.match(rows[5]!, new RegExp(`^4,${out.childRunIds[4] ?? ""},FAILED,5,50,`));
      // The failed cell has no value to colour: grey.
      assert.ok(hasColor(await decodePng(await backend.artifact(out.parentRunId, "sweep_heatmap.png")), MISSING));
      const clean = await logGrid({
        ...options(),
        experiment: uniqueName("pictures"),
        results: grid().map((cell) => ({ ...cell, stats: { ...cell.stats, sharpeRatio: cell.stats.sharpeRatio || 0.5 } })),
        pictures: { overlay: false },
      });
      assert.ok(!hasColor(await decodePng(await backend.artifact(clean.parentRunId, "sweep_heatmap.png")), MISSING));
    });

    test("pictures: false writes no artifact on the parent", async () => {
      const out = await logGrid({ ...options(), experiment: uniqueName("pictures"), results: grid(), pictures: false });
      assert.deepEqual(await artifactNames(out.parentRunId), []);
    });

    test("by default a grid quicker than ten times its pictures gets none, and its parent says why in the summary", async () => {
      const out = await logGrid({ ...options(), experiment: uniqueName("pictures"), results: grid().map(({ params, stats }) => ({ params, stats })) });
      assert.deepEqual(await artifactNames(out.parentRunId), []);
      const parent = await backend.getRun(out.parentRunId);
      assert.match(parent.tags["flox.pictures_skipped"] ?? "", /over 10% of the sweep's \d+ ms; pass pictures: true/);
    });

    test("a chart that fails leaves the sweep FINISHED, tagged flox.chart_error, with the other pictures stored", async () => {
      const warnings: string[] = [];
      const out = await logGrid({
        ...options(),
        experiment: uniqueName("pictures"),
        results: grid(),
        pictures: { heatmap: { restyle: (spec) => ({ ...spec, mark: "no-such-mark", layer: undefined }) } },
        onWarning: (m) => warnings.push(m),
      });
      const parent = await backend.getRun(out.parentRunId);
      assert.equal(parent.status, "FINISHED");
      assert.match(parent.tags["flox.chart_error"] ?? "", /sweep_heatmap\.png was not rendered/);
      assert.deepEqual(await artifactNames(out.parentRunId), ["best_cells_equity.png", "grid_results.csv"]);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /sweep_heatmap\.png/);
    });

    test("a walk-forward parent holds walk_forward.png and walk_forward_results.csv with every fold", async () => {
      const folds = [0, 1, 2].map((i) => ({
        foldIndex: i, trainStartBar: i * 100, trainEndBar: i * 100 + 80, testStartBar: i * 100 + 80, testEndBar: i * 100 + 100,
        trainStats: { sharpeRatio: 1 + i / 2, returnPct: 3 + i }, testStats: { sharpeRatio: 0.5 - i / 2, returnPct: 1 - i },
      }));
      const out = await logWalkForward({ ...options(), experiment: uniqueName("pictures"), runName: "wf", folds, pictures: true });
      assert.deepEqual(await artifactNames(out.parentRunId), ["walk_forward.png", "walk_forward_results.csv"]);
      const expected = [
        "fold,run_id,status,foldIndex,trainStartBar,trainEndBar,testStartBar,testEndBar,train.sharpeRatio,train.returnPct,test.sharpeRatio,test.returnPct",
        ...folds.map((f, i) =>
          [i, out.childRunIds[i], "FINISHED", i, f.trainStartBar, f.trainEndBar, f.testStartBar, f.testEndBar,
            f.trainStats.sharpeRatio, f.trainStats.returnPct, f.testStats.sharpeRatio, f.testStats.returnPct].join(",")
        ),
      ].join("\n") + "\n";
      assert.equal(text(await backend.artifact(out.parentRunId, "walk_forward_results.csv")), expected);
      const chart = await decodePng(await backend.artifact(out.parentRunId, "walk_forward.png"));
      // Two panels (Sharpe ratio, return) of 160 px, at least 420 px wide.
      assert.ok(chart.width >= 420 && chart.width <= 700 && chart.height >= 380 && chart.height <= 700, `${chart.width}x${chart.height}`);
    });

    test("summarizeSweep draws the heatmap and grid_results.csv from the children other processes logged", async () => {
      const parent = await startRun({ ...options(), experiment: uniqueName("pictures"), runName: "fan-out" });
      const cells = [0, 1, 2, 3].map((index) => ({ index, params: { fast: [5, 10][index % 2], slow: [50, 100][index >> 1] }, stats: { sharpeRatio: index / 2 } }));
      await logCells({ ...options(), parentRunId: parent.runId, cells: cells.slice(0, 2) });
      await logCells({ ...options(), parentRunId: parent.runId, cells: cells.slice(2) });
      await summarizeSweep({ ...options(), parentRunId: parent.runId, axes: ["fast", "slow"], end: true, pictures: true });
      assert.deepEqual(await artifactNames(parent.runId), ["grid_results.csv", "sweep_heatmap.png"]);
      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      const idOf = (index: number) => children.find((c) => c.tags["flox.cell_index"] === String(index))!.runId;
      // Params and stats as the children hold them (params are text in MLflow).
      const expected = ["index,run_id,status,fast,slow,sharpeRatio", ...cells.map((c) => `${c.index},${idOf(c.index)},FINISHED,${c.params.fast},${c.params.slow},${c.stats.sharpeRatio}`)]
        .join("\n") + "\n";
      assert.equal(text(await backend.artifact(parent.runId, "grid_results.csv")), expected);
      const heatmap = await decodePng(await backend.artifact(parent.runId, "sweep_heatmap.png"));
      assert.ok(heatmap.width >= 240 && !hasColor(heatmap, MISSING));
    });
  });
}

describe("the heatmap's layout", () => {
  test("axes are ordered numerically, a third axis is held at the best cell's value, and the best cell is outlined", async () => {
    const root = await mkdtemp(join(tmpdir(), "pictures-"));
    const dir = join(root, "mlruns");
    try {
      const results = [];
      // Given out of order, with "100" before "50" as text would sort them.
      for (const stop of [0.02, 0.01]) for (const fast of [20, 5, 10]) for (const slow of [100, 50]) {
        results.push({ params: { fast, slow, stop }, stats: { sharpeRatio: fast / 10 - slow / 100 + (stop === 0.01 ? 1 : 0) } });
      }
      let seen: { encoding: { x: { sort: string[] }; y: { sort: string[] } }; data: { values: Record<string, unknown>[] }; title: { subtitle: string[] } } | undefined;
      await logGrid({
        trackingUri: dir, env: {}, results, axes: ["fast", "slow", "stop"],
        pictures: { overlay: false, csv: false, heatmap: { restyle: (spec) => ((seen = spec as typeof seen), spec) } },
      });
      assert.ok(seen);
      assert.deepEqual(seen.encoding.x.sort, ["5", "10", "20"]);
      // Larger values upward: the first row drawn at the top is the largest.
      assert.deepEqual(seen.encoding.y.sort, ["100", "50"]);
      // The best cell is fast=20,slow=50,stop=0.01: only the stop=0.01 slice is drawn.
      assert.equal(seen.data.values.length, 6);
      assert.deepEqual(seen.data.values.filter((v) => v.best).map((v) => [v.x, v.y]), [["20", "50"]]);
      assert.ok(seen.title.subtitle.some((line) => line.includes("stop=0.01")));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("sweep pictures options", () => {
  test("an unknown pictures key is refused before any request, naming the nearest key", async () => {
    const calls: string[] = [];
    const fetch = (input: RequestInfo | URL) => {
      calls.push(String(input));
      return Promise.resolve(new Response("{}"));
    };
    await assert.rejects(
      logGrid({ trackingUri: "http://127.0.0.1:9", env: {}, fetch, results: grid(), pictures: { heatmapp: {} } as never }),
      (err: unknown) => err instanceof MlflowValidationError && /pictures/.test(err.field) && /heatmap/.test(err.message),
    );
    await assert.rejects(
      logGrid({ trackingUri: "http://127.0.0.1:9", env: {}, fetch, results: grid(), pictures: { overlay: { top: 0 } } }),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "pictures.overlay.top",
    );
    assert.deepEqual(calls, []);
  });

  test("by default charts are drawn only when they cost under a tenth of the sweep's time", () => {
    const skipped = picturesFor({ options: {}, auto: true }, 20);
    assert.ok("skipped" in skipped && /over 10% of the sweep's 20 ms/.test(skipped.skipped));
    assert.deepEqual(picturesFor({ options: { csv: false }, auto: true }, 1e9), { options: { csv: false } });
    // Asked for explicitly, they are drawn whatever the sweep took.
    assert.deepEqual(picturesFor({ options: {}, auto: false }, 1), { options: {} });
  });
});
