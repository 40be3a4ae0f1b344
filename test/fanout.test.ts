/**
 * The fan-out path: worker processes log their share of one grid under one
 * existing parent with logCells, and summarizeSweep writes the parent's
 * summary from every child. Read back over REST (runs/get, runs/search) and
 * from the files in ./mlruns.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type GridCell, logCells, logGrid, MlflowError, MlflowValidationError, startRun, summarizeSweep } from "../mod.ts";
import { type Backend, BACKENDS, type LoggedRun, openRestBackend, type RestBackend, uniqueName } from "./support/backends.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 20_000 };
const WORKERS = 4;
const CELLS_PER_WORKER = 4;
const CELLS = WORKERS * CELLS_PER_WORKER;

/** Cell `k` of a 4 x 4 grid; its Sharpe ratio (7k mod 16) / 10 is highest, 1.5, at k = 9 alone. */
function cell(k: number): { params: number[]; stats: Record<string, number | string> } {
  return {
    params: [5 + (k % 4), 20 + 10 * Math.floor(k / 4)],
    stats: { sharpeRatio: ((7 * k) % 16) / 10, netPnl: 10 * k, totalTrades: 3 + k, profitFactor: k === 9 ? "Infinity" : 1.5 },
  };
}
const BEST = 9;

// Runs the worker script in a fresh process of this runtime and returns the JSON line it printed.
async function runWorker(trackingUri: string, parentRunId: string, config: unknown): Promise<Record<string, unknown>> {
  const script = fileURLToPath(new URL("./fixtures/scripts/log_cells.ts", import.meta.url));
  const runtime = "Deno" in globalThis ? ["run", "-A", script] : "Bun" in globalThis ? [script] : ["--import", "tsx", script];
  const child = spawn(process.execPath, [...runtime, trackingUri, parentRunId, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  assert.equal(code, 0, `worker exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split("\n").pop()!);
}

// Worker w gets cells w*4 .. w*4+3: even workers send FLOX output with its own index,
// odd ones {params, stats} cells without an index and firstIndex.
function workerConfig(w: number): unknown {
  const first = w * CELLS_PER_WORKER;
  const ks = Array.from({ length: CELLS_PER_WORKER }, (_, j) => first + j);
  return w % 2 === 0
    ? { cells: ks.map((k) => ({ index: k, ...cell(k) })), retry: FAST_RETRY }
    : { cells: ks.map((k) => cell(k)), firstIndex: first, retry: FAST_RETRY };
}

const indexOf = (run: LoggedRun): number => Number(run.tags["flox.cell_index"]);

for (const { name, open } of BACKENDS) {
  describe(`fan-out: logCells and summarizeSweep (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const connection = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });

    test("four worker processes log disjoint cells under one parent; one summary call picks the best cell and ends the parent", async () => {
      const experiment = uniqueName("fanout");
      const parent = await startRun({ ...connection(), experiment, runName: "sma-fanout" });
      if (backend.server) {
        backend.server.reset();
        // 503 says nothing was done (mlflow-spec: retried statuses); every kind of request the workers send meets some.
        for (const path of ["runs/get", "runs/search", "runs/create", "runs/log-batch", "runs/update"]) {
          backend.server.injectFault({ path: `/api/2.0/mlflow/${path}`, status: 503, times: 3 });
        }
      }
      const outputs = await Promise.all(Array.from({ length: WORKERS }, (_, w) => runWorker(backend.trackingUri, parent.runId, workerConfig(w))));
      outputs.forEach((out, w) => {
        assert.deepEqual(out.cellIndices, Array.from({ length: CELLS_PER_WORKER }, (_, j) => w * CELLS_PER_WORKER + j), "indices are global, not per worker");
        assert.equal(out.failed, 0);
      });
      assert.equal((await backend.getRun(parent.runId)).status, "RUNNING", "logCells leaves the parent as it is");

      const summary = await summarizeSweep({ ...connection(), parentRunId: parent.runId, cells: CELLS, axes: ["fast", "slow"], end: true });
      if (backend.server) {
        const refused = backend.server.requests.filter((r) => r.status === 503).length;
        assert.equal(refused, 15, "every injected 503 was met and retried");
      }

      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      assert.equal(children.length, CELLS, "every cell once: nothing lost, nothing duplicated");
      assert.deepEqual(children.map(indexOf).sort((a, b) => a - b), Array.from({ length: CELLS }, (_, k) => k));
      for (const child of children) {
        const k = indexOf(child);
        const [fast, slow] = cell(k).params;
        assert.equal(child.status, "FINISHED");
        assert.equal(child.experimentId, parent.experimentId);
        assert.equal(child.runName, `fast=${fast},slow=${slow}`);
        assert.deepEqual(child.params, { fast: String(fast), slow: String(slow) });
        assert.equal(child.metrics.sharpeRatio, ((7 * k) % 16) / 10);
      }
      const runs = await backend.runsOf(experiment);
      assert.equal(runs.length, CELLS + 1, "the experiment holds the parent and its cells, no extra level per worker");

      const best = children.find((c) => indexOf(c) === BEST)!;
      const logged = await backend.getRun(parent.runId);
      assert.equal(logged.status, "FINISHED");
      assert.equal(logged.tags.best_run_id, best.runId);
      assert.equal(logged.tags["flox.sweep"], "grid");
      assert.equal(logged.tags.failed_cells, undefined);
      assert.equal(logged.tags["best.profitFactor"], "Infinity");
      assert.deepEqual(logged.params, {
        "sweep.cells": "16", "sweep.axes": '["fast","slow"]', "sweep.metric": "sharpeRatio", "sweep.direction": "max",
        "best.fast": "6", "best.slow": "40",
      });
      assert.deepEqual(logged.metrics, { "best.sharpeRatio": 1.5, "best.netPnl": 90, "best.totalTrades": 12 });
      assert.deepEqual(summary, {
        parentRunId: parent.runId,
        best: { index: BEST, runId: best.runId, runName: "fast=6,slow=40", params: { fast: "6", slow: "40" }, metric: "sharpeRatio", value: 1.5 },
        cells: CELLS,
        logged: Array.from({ length: CELLS }, (_, k) => k),
        failed: [],
        running: [],
        duplicates: [],
      });
    });

    test("the summary from children writes what logGrid writes for the same cells", async () => {
      // The best Sharpe ratio of cells 0-5 is cell 2's, 1.4; its profit factor is infinite, a tag.
      const results: GridCell[] = [0, 1, 2, 3, 4, 5].map((k) => ({ index: k, ...cell(k), stats: { ...cell(k).stats, profitFactor: k === 2 ? Infinity : 1.5 } }));
      const grid = await logGrid({ ...connection(), runName: "whole", axes: ["fast", "slow"], results, params: { symbol: "BTCUSDT" } });
      const parent = await startRun({ ...connection(), runName: "fanned" });
      backend.server?.reset();
      await logCells({ ...connection(), parentRunId: parent.runId, axes: ["fast", "slow"], cells: results.slice(0, 3) });
      await logCells({ ...connection(), parentRunId: parent.runId, axes: ["fast", "slow"], cells: results.slice(3) });
      if (backend.server) {
        // Per call one runs/get of the parent and one runs/search of its children, then three requests per cell.
        const counts: Record<string, number> = {};
        for (const r of backend.server.requests) counts[r.path.replace("/api/2.0/mlflow/", "")] = (counts[r.path.replace("/api/2.0/mlflow/", "")] ?? 0) + 1;
        assert.deepEqual(counts, { "runs/get": 2, "runs/search": 2, "runs/create": 6, "runs/log-batch": 6, "runs/update": 6 });
      }
      await summarizeSweep({ ...connection(), parentRunId: parent.runId, axes: ["fast", "slow"], params: { symbol: "BTCUSDT" }, end: true });
      const whole = await backend.getRun(grid.parentRunId);
      const fanned = await backend.getRun(parent.runId);
      assert.deepEqual(fanned.params, whole.params);
      assert.deepEqual(fanned.metrics, whole.metrics);
      const summaryTags = (run: LoggedRun) =>
        Object.fromEntries(Object.entries(run.tags).filter(([k]) => k.startsWith("best.") || k === "flox.sweep"));
      assert.deepEqual(summaryTags(fanned), summaryTags(whole));
      assert.equal(fanned.params["best.fast"], "7");
      assert.equal(fanned.tags["best.profitFactor"], "Infinity");
      assert.equal(whole.tags.best_run_id, grid.childRunIds[2]);
      assert.equal((await backend.getRun(fanned.tags.best_run_id!)).tags["flox.cell_index"], "2");
    });

    test("a cell that failed and a cell no worker logged are the parent's failed_cells; the parent stays RUNNING without end", async () => {
      const parent = await startRun({ ...connection(), runName: "gaps" });
      const cells: GridCell[] = [0, 1, 2].map((k) => ({ index: k, params: { k }, stats: { sharpeRatio: k } }));
      // The best Sharpe ratio is a cell whose equity columns do not line up: it fails when logged.
      cells[2] = { ...cells[2]!, equityCurve: { timestampNs: [1n, 2n], equity: [1, 2, 3] } };
      const result = await logCells({ ...connection(), parentRunId: parent.runId, cells });
      assert.deepEqual(result.failed.map((f) => [f.index, f.cellIndex, (f.error as MlflowValidationError).field]), [[2, 2, "cells[2].equityCurve.timestampNs"]]);
      const summary = await summarizeSweep({ ...connection(), parentRunId: parent.runId, cells: 4 });
      assert.deepEqual([summary.logged, summary.failed, summary.best?.index], [[0, 1], [2, 3], 1]);
      const logged = await backend.getRun(parent.runId);
      assert.equal(logged.status, "RUNNING");
      assert.equal(logged.tags.failed_cells, "2,3");
      assert.equal(logged.params["sweep.cells"], "4");
      assert.equal(logged.tags.best_run_id, result.childRunIds[1]);
    });

    test("a second finished child of one index is reported as a duplicate and the earliest one is the cell", async () => {
      const parent = await startRun({ ...connection(), runName: "twice" });
      const first = await logCells({ ...connection(), parentRunId: parent.runId, cells: [{ index: 0, params: { k: 0 }, stats: { sharpeRatio: 1 } }] });
      // A child of the same index logged past logCells' check (an overlapping worker that checked at the same moment),
      // started a few milliseconds later so the earliest is known.
      await new Promise((resolve) => setTimeout(resolve, 5));
      const twin = await startRun({ ...connection(), parentRunId: parent.runId, runName: "k=0", tags: { "flox.cell_index": 0 } });
      await twin.logMetrics({ sharpeRatio: 2 });
      await twin.end();
      const summary = await summarizeSweep({ ...connection(), parentRunId: parent.runId });
      assert.deepEqual([summary.logged, summary.duplicates, summary.best?.runId], [[0], [twin.runId], first.childRunIds[0]]);
      assert.equal((await backend.getRun(parent.runId)).metrics["best.sharpeRatio"], 1);
    });

    test("failFast rejects with the failing cell's error and starts no further cell; the parent is left RUNNING", async () => {
      const parent = await startRun({ ...connection(), runName: "ff" });
      const cells: GridCell[] = [0, 1, 2, 3].map((k) => ({ index: 10 + k, params: { k }, stats: { sharpeRatio: k } }));
      cells[1] = { ...cells[1]!, equityCurve: { timestampNs: [1n], equity: [1, 2] } };
      await assert.rejects(
        logCells({ ...connection(), parentRunId: parent.runId, cells, concurrency: 1, failFast: true }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "cells[1].equityCurve.timestampNs",
      );
      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      assert.deepEqual(children.map((c) => [c.tags["flox.cell_index"], c.status]).sort(), [["10", "FINISHED"], ["11", "FAILED"]]);
      assert.equal((await backend.getRun(parent.runId)).status, "RUNNING");
    });

    test("aborting the signal stops starting cells and rejects ABORTED; the parent is left RUNNING", async () => {
      const parent = await startRun({ ...connection(), runName: "aborted" });
      const controller = new AbortController();
      const cells: GridCell[] = [0, 1, 2, 3].map((k) => ({ index: k, params: { k }, stats: { sharpeRatio: k } }));
      await assert.rejects(
        logCells({ ...connection(), parentRunId: parent.runId, cells, concurrency: 1, signal: controller.signal, onProgress: () => controller.abort() }),
        (err: unknown) => err instanceof MlflowError && err.errorCode === "ABORTED",
      );
      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      assert.deepEqual(children.map((c) => [c.tags["flox.cell_index"], c.status]), [["0", "FINISHED"]]);
      assert.equal((await backend.getRun(parent.runId)).status, "RUNNING");
    });

    test("bad cells and parents are refused with named errors before any child is created", async () => {
      const experiment = uniqueName("refused");
      const parent = await startRun({ ...connection(), experiment, runName: "p" });
      const expectField = (field: string) => (err: unknown) => err instanceof MlflowValidationError && err.field === field;
      const base = { ...connection(), parentRunId: parent.runId };
      await assert.rejects(logCells({ ...base, cells: [{ index: 0 }, { index: 1 }, { index: 0 }] }), expectField("cells[2].index"));
      await assert.rejects(logCells({ ...base, cells: [{ index: 3 }, { params: { k: 1 } }] }), expectField("cells[1].index"));
      await assert.rejects(logCells({ ...base, cells: [{ index: -1 }] }), expectField("cells[0].index"));
      await assert.rejects(logCells({ ...base, cells: [{}], firstIndex: 1.5 }), expectField("firstIndex"));
      await assert.rejects(
        logCells({ ...base, parentRunId: "0123456789abcdef0123456789abcdef", cells: [{ index: 0 }] }),
        expectField("parentRunId"),
      );
      // @ts-expect-error a misspelt option is refused, naming the nearest known key
      await assert.rejects(logCells({ ...base, cells: [{ index: 0 }], firstIndx: 0 }), /firstIndex/);

      await logCells({ ...base, cells: [{ index: 0, params: { k: 0 } }] });
      await assert.rejects(
        logCells({ ...base, cells: [{ index: 1, params: { k: 1 } }, { index: 0, params: { k: 0 } }] }),
        (err: unknown) => expectField("cells[1].index")(err) && /already logged/.test((err as Error).message),
      );
      await parent.end();
      await assert.rejects(logCells({ ...base, cells: [{ index: 5 }] }), (err: unknown) => expectField("parentRunId")(err) && /FINISHED/.test((err as Error).message));

      const runs = await backend.runsOf(experiment);
      assert.deepEqual(runs.map((r) => r.runName).sort(), ["k=0", "p"], "only the one accepted cell was created");
      await assert.rejects(summarizeSweep({ ...connection(), parentRunId: parent.runId, metric: "sortino" }), expectField("metric"));
      await assert.rejects(summarizeSweep({ ...connection(), parentRunId: "0123456789abcdef0123456789abcdef" }), expectField("parentRunId"));
      await assert.rejects(summarizeSweep({ ...connection(), parentRunId: parent.runId, direction: "up" as "max" }), expectField("direction"));
      // @ts-expect-error a misspelt option is refused, naming the nearest known key
      await assert.rejects(summarizeSweep({ ...connection(), parentRunId: parent.runId, metrc: "sharpe" }), /metric/);
      await assert.rejects(summarizeSweep({ ...connection(), parentRunId: parent.runId, cells: 0 }), expectField("cells"));
    });
  });
}

describe("fan-out: summarizeSweep pages through runs/search (rest store)", () => {
  let backend: RestBackend;
  before(async () => {
    backend = await openRestBackend();
  });
  after(() => backend.close());

  test("1,001 children are read in two pages of at most 1,000, each once", async () => {
    const connection = { trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY };
    const parent = await startRun({ ...connection, experiment: uniqueName("pages"), runName: "wide" });
    // Children made with plain REST calls (not the library), 16 at a time: runs/create with the
    // parent and index tags (transcript 42). They stay RUNNING, so each is counted among `running`.
    const total = 1001;
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < total) {
        const k = next++;
        const response = await fetch(`${backend.trackingUri}/api/2.0/mlflow/runs/create`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            experiment_id: parent.experimentId, run_name: `cell-${k}`, start_time: 1700000000000 + k,
            tags: [{ key: "mlflow.parentRunId", value: parent.runId }, { key: "flox.cell_index", value: String(k) }],
          }),
        });
        assert.equal(response.status, 200, await response.text());
      }
    }));
    backend.server.reset();
    const summary = await summarizeSweep({ ...connection, parentRunId: parent.runId });
    assert.equal(summary.cells, total);
    assert.deepEqual(summary.running, Array.from({ length: total }, (_, k) => k), "every child read once");
    assert.deepEqual([summary.logged, summary.duplicates, summary.best], [[], [], undefined]);
    const searches = backend.server.requests.filter((r) => r.path === "/api/2.0/mlflow/runs/search");
    // The server pages as MLflow's SQL store does: a token only while rows remain (transcripts 63 and 64).
    assert.equal(searches.length, 2, "1,000 per page, then the rest");
  });
});
