import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MlflowError, MlflowValidationError } from "../mod.ts";
import { type GridCell, logGrid, logWalkForward, type WalkForwardFold } from "../src/sweep.ts";
import { type Backend, BACKENDS, type LoggedRun, openRestBackend, type RestBackend, uniqueName } from "./support/backends.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 10_000 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** FLOX Node `FoldStats`, the stats of a `GridSearch.run()` cell. */
interface FoldStats {
  totalTrades: number;
  winningTrades: number;
  losingTrades: number;
  initialCapital: number;
  finalCapital: number;
  netPnl: number;
  totalFees: number;
  returnPct: number;
  maxDrawdown: number;
  maxDrawdownPct: number;
  sharpeRatio: number;
  sortinoRatio: number;
  winRate: number;
  profitFactor: number;
}

function foldStats(seed: number, sharpeRatio: number): FoldStats {
  return {
    totalTrades: 10 + seed, winningTrades: 6, losingTrades: 4 + seed, initialCapital: 10000,
    finalCapital: 10000 + 25 * seed, netPnl: 25 * seed, totalFees: 1.5, returnPct: seed / 4, maxDrawdown: 100 + seed,
    maxDrawdownPct: 1 + seed / 10, sharpeRatio, sortinoRatio: sharpeRatio * 1.5, winRate: 0.6, profitFactor: seed === 0 ? Infinity : 1.2,
  };
}

/** What FLOX Node `GridSearch.run()` returns for axes fast x slow, the last axis varying fastest. */
function floxGrid(fast: number[], slow: number[], sharpe: (f: number, s: number) => number) {
  const out: { index: number; params: number[]; stats: FoldStats }[] = [];
  for (const f of fast) for (const s of slow) out.push({ index: out.length, params: [f, s], stats: foldStats(out.length, sharpe(f, s)) });
  return out;
}

const byName = (runs: LoggedRun[]) => new Map(runs.map((r) => [r.runName, r]));

for (const { name, open } of BACKENDS) {
  describe(`logGrid and logWalkForward (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const options = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });

    test("FLOX GridSearch output becomes a parent with one child per cell, named from the axes and linked by parentRunId", async () => {
      const experiment = uniqueName("grid");
      // The highest Sharpe ratio is NaN-free cell fast=10,slow=50; a NaN cell cannot win.
      const results = floxGrid([5, 10], [20, 30, 50], (f, s) => (f === 5 && s === 50 ? NaN : f / s + (f === 10 && s === 50 ? 1 : 0)));
      const progress: [number, number][] = [];
      const grid = await logGrid({
        ...options(),
        experiment,
        runName: "sma-grid",
        axes: ["fast", "slow"],
        results,
        concurrency: 4,
        params: { symbol: "BTCUSDT", fee: 0.0004 },
        tags: { data: "btcusdt_1m" },
        onProgress: (done, total) => progress.push([done, total]),
      });
      assert.deepEqual(progress, [[1, 6], [2, 6], [3, 6], [4, 6], [5, 6], [6, 6]]);
      assert.deepEqual(grid.failed, []);
      assert.equal(grid.childRunIds.length, 6);

      const parent = await backend.getRun(grid.parentRunId);
      assert.equal(parent.status, "FINISHED");
      assert.equal(parent.runName, "sma-grid");
      const children = await backend.childrenOf(grid.parentRunId, parent.experimentId);
      assert.equal(children.length, 6);
      const names = ["fast=5,slow=20", "fast=5,slow=30", "fast=5,slow=50", "fast=10,slow=20", "fast=10,slow=30", "fast=10,slow=50"];
      const children_ = byName(children);
      names.forEach((runName, i) => {
        const child = children_.get(runName);
        assert.ok(child, `child ${runName}`);
        assert.equal(child.runId, grid.childRunIds[i], "child ids come back in the order of results");
        assert.equal(child.status, "FINISHED");
        assert.equal(child.experimentId, parent.experimentId);
        assert.equal(child.tags["mlflow.parentRunId"], grid.parentRunId);
        assert.equal(child.tags["flox.cell_index"], String(i));
        assert.deepEqual(child.params, { fast: String(results[i]!.params[0]), slow: String(results[i]!.params[1]) });
        assert.equal(child.metrics.totalTrades, 10 + i);
        assert.equal(child.metrics.netPnl, 25 * i);
      });
      assert.ok(Number.isNaN(Number(children_.get("fast=5,slow=50")!.tags.sharpeRatio)));
      assert.equal(children_.get("fast=5,slow=20")!.tags.profitFactor, "Infinity");

      const winner = children_.get("fast=10,slow=50")!;
      assert.deepEqual(grid.best, {
        index: 5, runId: winner.runId, runName: "fast=10,slow=50", params: { fast: 10, slow: 50 }, metric: "sharpeRatio", value: 1.2,
      });
      assert.equal(parent.tags.best_run_id, winner.runId);
      assert.equal(parent.tags["flox.sweep"], "grid");
      assert.equal(parent.tags.data, "btcusdt_1m");
      assert.equal(parent.tags.failed_cells, undefined);
      assert.deepEqual(parent.params, {
        symbol: "BTCUSDT", fee: "0.0004", "sweep.cells": "6", "sweep.axes": '["fast","slow"]',
        "sweep.metric": "sharpeRatio", "sweep.direction": "max", "best.fast": "10", "best.slow": "50",
      });
      assert.equal(parent.metrics["best.sharpeRatio"], 1.2);
      assert.equal(parent.metrics["best.netPnl"], 125);
      assert.equal(parent.metrics["best.totalTrades"], 15);
      assert.equal(Object.keys(parent.metrics).filter((k) => !k.startsWith("best.")).length, 0);
    });

    test("{params, stats} cells log their own equity curves and trades; direction min picks the smallest", async () => {
      const cells: GridCell[] = [0, 1, 2].map((i) => ({
        params: { lookback: 10 * (i + 1), band: 1.5 },
        stats: { sharpe_ratio: 1 + i, max_drawdown_pct: [4, 2.5, 3][i]!, start_time_ns: 1704067200000000001n + BigInt(i) },
        equityCurve: {
          timestampNs: BigInt64Array.of(1704067200000000000n, 1704067260000000001n + BigInt(i)),
          equity: Float64Array.of(100, 100 + i),
        },
        trades: [{ symbol: "BTCUSDT", side: "long", pnl: i, exit_time_ns: 1704067260000000001n + BigInt(i) }],
      }));
      const grid = await logGrid({ ...options(), runName: "bands", results: cells, metric: "max_drawdown_pct", direction: "min" });
      assert.equal(grid.best?.index, 1);
      assert.equal(grid.best?.value, 2.5);
      const parent = await backend.getRun(grid.parentRunId);
      assert.equal(parent.params["sweep.metric"], "max_drawdown_pct");
      assert.equal(parent.params["sweep.direction"], "min");
      assert.equal(parent.params["best.lookback"], "20");
      assert.equal(parent.params["sweep.axes"], undefined);
      assert.equal(parent.metrics["best.sharpe_ratio"], 2);
      assert.equal(parent.tags["best.start_time_ns"], "1704067200000000002");
      assert.equal(parent.tags["best.start_time_iso"], "2024-01-01T00:00:00.000000002Z");
      for (const [i, runId] of grid.childRunIds.entries()) {
        const child = await backend.getRun(runId!);
        assert.equal(child.runName, `lookback=${10 * (i + 1)},band=1.5`);
        assert.deepEqual(child.artifacts, ["equity_curve.csv", "trades.csv"]);
        assert.equal(
          text(await backend.artifact(runId!, "equity_curve.csv")),
          `timestamp_ns,equity,drawdown_pct\n1704067200000000000,100,0\n${1704067260000000001n + BigInt(i)},${100 + i},0\n`,
        );
        assert.equal(
          text(await backend.artifact(runId!, "trades.csv")),
          `symbol,side,pnl,exit_time_ns\nBTCUSDT,long,${i},${1704067260000000001n + BigInt(i)}\n`,
        );
      }
    });

    test("the default metric is sharpe_ratio when the cells are snake_case, read through statsNaming", async () => {
      const results = [{ params: { k: 1 }, stats: { sharpe_ratio: 0.5 } }, { params: { k: 2 }, stats: { sharpe_ratio: 0.9 } }];
      const asGiven = await logGrid({ ...options(), results });
      assert.equal(asGiven.best?.metric, "sharpe_ratio");
      assert.equal(asGiven.best?.index, 1);
      const renamed = await logGrid({ ...options(), results, statsNaming: "camelCase" });
      assert.equal(renamed.best?.metric, "sharpeRatio");
      const parent = await backend.getRun(renamed.parentRunId);
      assert.equal(parent.metrics["best.sharpeRatio"], 0.9);
      assert.equal((await backend.getRun(renamed.childRunIds[0]!)).metrics.sharpeRatio, 0.5);
    });

    test("a cell that fails to log is listed and tagged on the parent while the other cells finish", async () => {
      const results: GridCell[] = [0, 1, 2, 3].map((i) => ({ params: { i }, stats: { sharpeRatio: i } }));
      // The best Sharpe ratio belongs to a cell whose equity columns do not line up.
      results[3] = { ...results[3]!, equityCurve: { timestampNs: BigInt64Array.of(1n, 2n), equity: Float64Array.of(1, 2, 3) } };
      results[1] = { ...results[1]!, trades: { pnl: Float64Array.of(1), side: Uint8Array.of(0, 1) } };
      const grid = await logGrid({ ...options(), results, concurrency: 2 });
      assert.deepEqual(grid.failed.map((f) => [f.index, f.runName, (f.error as MlflowValidationError).field]), [
        [1, "i=1", "results[1].trades.side"],
        [3, "i=3", "results[3].equityCurve.timestampNs"],
      ]);
      assert.ok(grid.failed.every((f) => f.error instanceof MlflowValidationError && f.runId === grid.childRunIds[f.index]));
      const parent = await backend.getRun(grid.parentRunId);
      assert.equal(parent.status, "FINISHED");
      assert.equal(parent.tags.failed_cells, "1,3");
      assert.equal(grid.best?.index, 2, "the best is picked among the cells that were logged");
      assert.equal(parent.tags.best_run_id, grid.childRunIds[2]);
      const statuses = await Promise.all(grid.childRunIds.map(async (id) => (await backend.getRun(id!)).status));
      assert.deepEqual(statuses, ["FINISHED", "FAILED", "FINISHED", "FAILED"]);
    });

    test("failFast rejects with the failing cell's error and ends the parent FAILED", async () => {
      const experiment = uniqueName("failfast");
      const results: GridCell[] = [0, 1, 2, 3, 4, 5].map((i) => ({ params: { i }, stats: { sharpeRatio: i } }));
      results[1] = { ...results[1]!, equityCurve: { timestampNs: [1n], equity: [1, 2] } };
      await assert.rejects(
        logGrid({ ...options(), experiment, runName: "ff", results, concurrency: 1, failFast: true }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "results[1].equityCurve.timestampNs",
      );
      const runs = await backend.runsOf(experiment);
      const parent = runs.find((r) => r.runName === "ff")!;
      assert.equal(parent.status, "FAILED");
      assert.equal(parent.tags.failed_cells, "1");
      assert.equal(parent.tags.best_run_id, runs.find((r) => r.runName === "i=0")!.runId);
      const children = runs.filter((r) => r.tags["mlflow.parentRunId"] === parent.runId);
      assert.deepEqual(children.map((c) => [c.runName, c.status]).sort(), [["i=0", "FINISHED"], ["i=1", "FAILED"]], "no cell starts after the failure");
    });

    test("aborting the signal stops the sweep and ends the parent and the open children KILLED", async () => {
      const experiment = uniqueName("abort");
      const controller = new AbortController();
      const results: GridCell[] = Array.from({ length: 40 }, (_, i) => ({ params: { i }, stats: { sharpeRatio: i } }));
      // Cell 2 aborts while its report is still being written, so at least one cell is open at the abort.
      results[2]!.htmlReport = {
        name: "report.html",
        data: new ReadableStream<Uint8Array>({
          async pull(stream) {
            controller.abort(new Error("user pressed ctrl-c"));
            await new Promise((r) => setTimeout(r, 30));
            stream.enqueue(new TextEncoder().encode("<html></html>"));
            stream.close();
          },
        }, { highWaterMark: 0 }), // pulled only once the upload reads it
      };
      await assert.rejects(
        logGrid({
          ...options(),
          experiment,
          runName: "stopped",
          results,
          concurrency: 3,
          signal: controller.signal,
        }),
        (err: unknown) => err instanceof MlflowError && err.errorCode === "ABORTED" && /ctrl-c/.test(err.message),
      );
      const runs = await backend.runsOf(experiment);
      const parent = runs.find((r) => r.runName === "stopped")!;
      assert.equal(parent.status, "KILLED");
      const children = runs.filter((r) => r.tags["mlflow.parentRunId"] === parent.runId);
      assert.ok(children.length >= 2 && children.length < 40, `${children.length} children`);
      assert.ok(children.every((c) => c.status === "FINISHED" || c.status === "KILLED"), children.map((c) => c.status).join());
      assert.ok(children.some((c) => c.status === "KILLED"), "cells open at the abort are KILLED");
    });

    test("an already aborted signal creates nothing", async () => {
      const experiment = uniqueName("pre-aborted");
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        logGrid({ ...options(), experiment, results: [{ params: { a: 1 } }], signal: controller.signal }),
        (err: unknown) => err instanceof MlflowError && err.errorCode === "ABORTED",
      );
      assert.deepEqual(await backend.runsOf(experiment).catch(() => []), []);
    });

    test("bad grids are refused before any request, naming the cell", async () => {
      const experiment = uniqueName("refused");
      const requestsBefore = backend.server?.requests.length;
      const refuse = (options_: Parameters<typeof logGrid>[0], field: string, pattern: RegExp) =>
        assert.rejects(logGrid(options_), (err: unknown) => {
          assert.ok(err instanceof MlflowValidationError, String(err));
          assert.equal(err.field, field);
          assert.match(err.message, pattern);
          return true;
        });
      const base = { ...options(), experiment };
      await refuse({ ...base, results: [{ params: [1, 2] }] }, "results[0].params", /pass axes/);
      await refuse({ ...base, axes: ["fast", "slow"], results: [{ params: [1, 2] }, { params: [1, 2, 3] }] }, "results[1].params", /3 values but axes names 2/);
      await refuse({ ...base, axes: ["fast", "fast"], results: [{ params: [1, 2] }] }, 'axes["fast"]', /twice/);
      await refuse({ ...base, results: [{ params: { "bad#key": 1 } }] }, 'results[0].params["bad#key"]', /character/);
      await refuse({ ...base, results: [{ params: {}, stats: { "Return [%]": 1, return_pct: 2 } }] }, 'results[0].stats["return_pct"]', /already uses/);
      await refuse({ ...base, results: [{ params: { a: 1 }, stats: { sharpeRatio: 1 } }], metric: "calmar" }, "metric", /not a stat of any cell/);
      await refuse({ ...base, results: [{ params: { a: 1 } }], params: { "best.a": 1 } }, 'params["best.a"]', /collides/);
      await refuse({ ...base, results: [{ params: { a: 1 } }], concurrency: 0 }, "concurrency", /whole number/);
      await refuse({ ...base, results: [{ params: { a: 1 } }], direction: "up" as "max" }, "direction", /"max" or "min"/);
      await refuse({ ...base, results: [] }, "results", /non-empty/);
      await refuse({ ...base, results: [{ params: { a: 1 } }], nested: true } as Parameters<typeof logGrid>[0], "nested", /parentRunId/);
      await assert.rejects(
        logWalkForward({ ...base, folds: [{ foldIndex: 0, trainStartNs: "yesterday" }] }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "folds[0].trainStartNs",
      );
      assert.equal(backend.server?.requests.length, requestsBefore);
      assert.deepEqual(await backend.runsOf(experiment).catch(() => []), []);
    });

    test("FLOX Node walk-forward folds become fold children with train./test. metrics, bar params and exact time tags", async () => {
      const experiment = uniqueName("wf");
      const folds: WalkForwardFold[] = Array.from({ length: 11 }, (_, k) => ({
        foldIndex: k,
        trainStartBar: 0, trainEndBar: 1000 + 100 * k, testStartBar: 1000 + 100 * k, testEndBar: 1100 + 100 * k,
        trainStartNs: 1704067200000000000n, trainEndNs: 1704067200000000000n + BigInt(k) * 3_600_000_000_000n + 1n,
        testStartNs: 1704067200000000000n + BigInt(k) * 3_600_000_000_000n + 1n, testEndNs: 9007199254740993123n,
        trainStats: foldStats(k, 2), testStats: foldStats(k, k === 4 ? NaN : k / 10),
      }));
      const wf = await logWalkForward({ ...options(), experiment, runName: "wf-sma", folds, params: { fast: 10 } });
      assert.deepEqual(wf.failed, []);
      const parent = await backend.getRun(wf.parentRunId);
      assert.equal(parent.status, "FINISHED");
      assert.equal(parent.tags["flox.sweep"], "walk_forward");
      assert.deepEqual(parent.params, { fast: "10", "sweep.folds": "11" });
      const testSharpes = [0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
      const mean = testSharpes.reduce((a, b) => a + b, 0) / testSharpes.length;
      assert.equal(wf.means["test.mean.sharpeRatio"], mean, "NaN folds are left out of the mean");
      assert.equal(parent.metrics["test.mean.sharpeRatio"], mean);
      assert.equal(parent.metrics["train.mean.sharpeRatio"], 2);
      assert.equal(parent.metrics["train.mean.netPnl"], 125);

      const children = await backend.childrenOf(wf.parentRunId, parent.experimentId);
      assert.deepEqual(children.map((c) => c.runName).sort(), folds.map((_, k) => `fold-${String(k).padStart(2, "0")}`));
      const fold3 = await backend.getRun(wf.childRunIds[3]!);
      assert.equal(fold3.runName, "fold-03");
      assert.equal(fold3.status, "FINISHED");
      assert.deepEqual(fold3.params, { foldIndex: "3", trainStartBar: "0", trainEndBar: "1300", testStartBar: "1300", testEndBar: "1400" });
      assert.equal(fold3.metrics["train.sharpeRatio"], 2);
      assert.equal(fold3.metrics["test.sharpeRatio"], 0.3);
      assert.equal(fold3.metrics["test.netPnl"], 75);
      assert.equal(fold3.tags["train.profitFactor"], undefined);
      assert.equal(fold3.tags.trainEndNs, "1704078000000000001");
      assert.equal(fold3.tags.trainEndIso, "2024-01-01T03:00:00.000000001Z");
      assert.equal(fold3.tags.testEndNs, "9007199254740993123");
      assert.equal((await backend.getRun(wf.childRunIds[0]!)).tags["test.profitFactor"], "Infinity");
      assert.equal((await backend.getRun(wf.childRunIds[4]!)).tags["test.sharpeRatio"], "NaN");
    });

    test("snake_case folds keep snake_case keys, take ISO and Date bounds, and carry their own params and equity", async () => {
      const wf = await logWalkForward({
        ...options(),
        folds: [
          {
            fold_index: 0, train_start_bar: 0, train_end_bar: 50, test_start_bar: 50, test_end_bar: 75,
            train_start_ns: "2024-01-01T00:00:00.000000001Z", train_end_ns: new Date("2024-01-02T00:00:00Z"),
            test_start_ns: 1704153600000000000n, test_end_ns: "1704240000000000007",
            train_stats: { sharpe_ratio: 1.25, avg_trade_duration: "0 days 01:30:00" }, test_stats: { sharpe_ratio: 0.75 },
            params: { fast: 12, slow: 40 },
            equityCurve: [{ timestamp_ns: 1704153600000000000n, equity: 10 }, { timestamp_ns: 1704240000000000007n, equity: 11 }],
          },
        ],
      });
      const fold = await backend.getRun(wf.childRunIds[0]!);
      assert.equal(fold.runName, "fold-0");
      assert.deepEqual(fold.params, {
        fast: "12", slow: "40", fold_index: "0", train_start_bar: "0", train_end_bar: "50", test_start_bar: "50", test_end_bar: "75",
      });
      assert.equal(fold.tags.train_start_ns, "1704067200000000001");
      assert.equal(fold.tags.train_end_iso, "2024-01-02T00:00:00Z");
      assert.equal(fold.tags.test_end_ns, "1704240000000000007");
      assert.equal(fold.metrics["train.avg_trade_duration_s"], 5400);
      assert.equal(fold.metrics["test.sharpe_ratio"], 0.75);
      assert.deepEqual(fold.artifacts, ["equity_curve.csv"]);
      assert.equal(
        text(await backend.artifact(wf.childRunIds[0]!, "equity_curve.csv")),
        "timestamp_ns,equity,drawdown_pct\n1704153600000000000,10,0\n1704240000000000007,11,0\n",
      );
      assert.deepEqual(wf.means, { "train.mean.sharpe_ratio": 1.25, "train.mean.avg_trade_duration_s": 5400, "test.mean.sharpe_ratio": 0.75 });
    });
  });
}

describe("sweeps against the REST test server", () => {
  let backend: RestBackend;
  before(async () => {
    backend = await openRestBackend();
  });
  after(() => backend.close());
  const options = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });

  test("a 64-cell grid takes 3 requests per cell and 3 for the parent: 195 in all", async () => {
    const server = backend.server;
    const experiment = uniqueName("grid64");
    const results = floxGrid([2, 4, 6, 8, 10, 12, 14, 16], [20, 30, 40, 50, 60, 70, 80, 90], (f, s) => f / s);
    await logGrid({ ...options(), experiment, axes: ["fast", "slow"], results: results.slice(0, 1) }); // looks the experiment up
    const from = server.requests.length;
    const grid = await logGrid({ ...options(), experiment, axes: ["fast", "slow"], results });
    const seen = server.requests.slice(from).map((r) => `${r.method} ${r.path}`);
    assert.equal(seen.length, 195);
    assert.equal(seen.filter((s) => s === "POST /api/2.0/mlflow/runs/create").length, 65);
    assert.equal(seen.filter((s) => s === "POST /api/2.0/mlflow/runs/log-batch").length, 65);
    assert.equal(seen.filter((s) => s === "POST /api/2.0/mlflow/runs/update").length, 65);
    assert.equal(grid.best?.runName, "fast=16,slow=20");
  });

  test("at most `concurrency` cells are logged at once", async () => {
    const server = backend.server;
    const experiment = uniqueName("bounded");
    await logGrid({ ...options(), experiment, results: [{ params: { warm: 1 } }] });
    let inFlight = 0;
    let most = 0;
    const counting: typeof fetch = async (input, init) => {
      most = Math.max(most, ++inFlight);
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
      }
    };
    // Slow creates keep every worker's first request open at once.
    server.injectFault({ path: "/api/2.0/mlflow/runs/create", delayMs: 20, times: 13 });
    const grid = await logGrid({
      ...options(),
      experiment,
      fetch: counting,
      concurrency: 3,
      results: Array.from({ length: 12 }, (_, i) => ({ params: { i }, stats: { sharpeRatio: i } })),
    });
    assert.equal(grid.childRunIds.filter(Boolean).length, 12);
    assert.equal(most, 3);
  });

  test("a write the server refuses fails only its cell; the failed run ends FAILED", async () => {
    const server = backend.server;
    server.injectFault({ path: "/api/2.0/mlflow/runs/log-batch", status: 400, times: 1 });
    const grid = await logGrid({
      ...options(),
      concurrency: 1,
      results: Array.from({ length: 4 }, (_, i) => ({ params: { i }, stats: { sharpeRatio: i } })),
    });
    assert.deepEqual(grid.failed.map((f) => f.index), [0]);
    const failure = grid.failed[0]!;
    assert.ok(failure.error instanceof MlflowError && failure.error.status === 400, String(failure.error));
    assert.equal((await backend.getRun(failure.runId!)).status, "FAILED");
    const parent = await backend.getRun(grid.parentRunId);
    assert.equal(parent.status, "FINISHED");
    assert.equal(parent.tags.failed_cells, "0");
    assert.equal(parent.tags.best_run_id, grid.childRunIds[3]);
  });

  test("a 250-cell grid logs every child, FINISHED, under its parent", async () => {
    const results = Array.from({ length: 250 }, (_, i) => ({
      index: i, params: [i % 25, Math.floor(i / 25)], stats: foldStats(i % 7, Math.sin(i)),
    }));
    const grid = await logGrid({ ...options(), experiment: uniqueName("grid250"), axes: ["a", "b"], results, concurrency: 16 });
    assert.deepEqual(grid.failed, []);
    const parent = await backend.getRun(grid.parentRunId);
    const children = await backend.childrenOf(grid.parentRunId, parent.experimentId);
    assert.equal(children.length, 250);
    assert.ok(children.every((c) => c.status === "FINISHED"));
    assert.deepEqual(new Set(children.map((c) => c.runId)), new Set(grid.childRunIds));
    const best = Math.max(...results.map((r) => r.stats.sharpeRatio));
    assert.equal(parent.metrics["best.sharpeRatio"], best);
  });
});
