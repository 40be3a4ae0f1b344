/**
 * Sweep pictures on workerd: a worker bundled like wrangler would (esbuild,
 * `workerd` condition, resvg's `.wasm` imported as a compiled module, no
 * `nodejs_compat`) draws a grid's heatmap and best cells' overlay and a
 * walk-forward chart to the same PNG bytes as this process does.
 *
 * Node only: miniflare drives the workerd binary from Node. Under Deno or Bun
 * the file registers no tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gridPictures, type PictureCell, walkForwardPictures } from "../src/sweep_pictures.ts";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

// The cells are built by the same code on both sides (CELLS_SOURCE), so both draw the same input.
const CELLS_SOURCE = `
export function cells() {
  const out = [];
  let i = 0;
  for (const fast of [20, 5, 10]) for (const slow of [100, 50, 200]) {
    const n = 200;
    const timestampNs = new BigInt64Array(n);
    const equity = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      timestampNs[k] = 1704067200000000000n + BigInt(k) * 3600000000000n;
      equity[k] = 10000 + k * (fast / slow) + 25 * Math.sin(k / 7 + i);
    }
    const sharpe = i === 4 ? "NaN" : fast / 10 - slow / 100;
    out.push({ index: i, runId: "r" + i, runName: "fast=" + fast + ",slow=" + slow, status: "FINISHED", params: { fast, slow },
      stats: [{ key: "sharpeRatio", value: sharpe }], curve: () => ({ timestampNs, equity }) });
    i++;
  }
  return out;
}
export function folds() {
  return [0, 1, 2, 3].map((f) => ({ index: f, runId: "f" + f, runName: "fold-" + f, status: "FINISHED", params: { foldIndex: f },
    stats: [{ key: "train.sharpeRatio", value: 1 + f / 4 }, { key: "test.sharpeRatio", value: 0.5 - f / 3 }] }));
}
`;

const WORKER_SOURCE = `
import { gridPictures, walkForwardPictures } from "../src/sweep_pictures.ts";
import { cells, folds } from "./cells.js";

const hex = async (bytes) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

export default {
  async fetch() {
    try {
      const grid = await gridPictures({ cells: cells(), axes: ["fast", "slow"], metric: "sharpeRatio", direction: "max", title: "grid" }, { csv: false });
      const wf = await walkForwardPictures({ folds: folds(), title: "wf" }, { csv: false });
      const out = { errors: [...grid.errors, ...wf.errors] };
      for (const a of [...grid.artifacts, ...wf.artifacts]) out[a.path] = await hex(a.body);
      return Response.json(out);
    } catch (err) {
      return new Response(String(err?.stack ?? err), { status: 500 });
    }
  },
};
`;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

if (onNode) {
  describe("sweep pictures on workerd", () => {
    let worker: RunningWorker;
    let dir: string;

    before(async () => {
      const { mkdtemp, writeFile } = await import("node:fs/promises");
      const { join } = await import("node:path");
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      const testDir = new URL(".", import.meta.url).pathname;
      // The shared cell builder sits next to the worker so both sides import the same code.
      dir = await mkdtemp(join(testDir, ".pictures-worker-"));
      await writeFile(join(dir, "cells.js"), CELLS_SOURCE);
      worker = await startWorker(await bundleWorker({ source: WORKER_SOURCE.replace("../src/", "../../src/"), resolveDir: dir }));
    });

    after(async () => {
      await worker?.dispose();
      const { rm } = await import("node:fs/promises");
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("workerd draws the heatmap, the overlay and the walk-forward chart to the same PNG bytes as Node", async () => {
      const { cells, folds } = (await import(`${dir}/cells.js`)) as { cells(): PictureCell[]; folds(): PictureCell[] };
      const grid = await gridPictures({ cells: cells(), axes: ["fast", "slow"], metric: "sharpeRatio", direction: "max", title: "grid" }, { csv: false });
      const wf = await walkForwardPictures({ folds: folds(), title: "wf" }, { csv: false });
      const local: Record<string, unknown> = { errors: [...grid.errors, ...wf.errors] };
      for (const a of [...grid.artifacts, ...wf.artifacts]) local[a.path] = await sha256(a.body as Uint8Array);
      assert.deepEqual(Object.keys(local).sort(), ["best_cells_equity.png", "errors", "sweep_heatmap.png", "walk_forward.png"]);

      const res = await worker.fetch("/");
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.deepEqual(JSON.parse(text), local);
    });
  });
}
