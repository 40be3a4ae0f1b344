import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logBacktest, logToMlflow, MlflowError, MlflowValidationError, startRun } from "../mod.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const FLOX_STATS = {
  total_trades: 3, winning_trades: 2, losing_trades: 1, max_consecutive_wins: 2, max_consecutive_losses: 1,
  initial_capital: 10000, final_capital: 10250.5, total_pnl: 260, total_fees: 9.5, net_pnl: 250.5,
  gross_profit: 400, gross_loss: 140, max_drawdown: 120.25, max_drawdown_pct: 1.2, win_rate: 0.6667,
  profit_factor: 2.857, avg_win: 200, avg_loss: -140, avg_win_loss_ratio: 1.43,
  avg_trade_duration_ns: 3_600_000_000_000, median_trade_duration_ns: 3_000_000_000_000,
  max_trade_duration_ns: 7_200_000_000_000, sharpe_ratio: NaN, sortino_ratio: Infinity, calmar_ratio: 3.2,
  time_weighted_return: 0.025, return_pct: 2.505, start_time_ns: 1704067200000000000n,
  end_time_ns: 1704153599999999999n,
};

const EQUITY_ROWS = [
  { timestamp_ns: 1704067200000000000n, equity: 10000, drawdown_pct: 0 },
  { timestamp_ns: 1704067260000000000n, equity: 10120.25, drawdown_pct: 0 },
  { timestamp_ns: 1704067320000000000n, equity: 10000, drawdown_pct: 1.188 },
  { timestamp_ns: 1704067380000000000n, equity: 10250.5, drawdown_pct: 0 },
];

const TRADES = [
  { symbol: "BTCUSDT", side: "long", entry_price: 42000, exit_price: 42500.5, quantity: 0.1, pnl: 50.05, fee: 3.4,
    entry_time_ns: 1704067200000000000n, exit_time_ns: 1704070800000000000n },
  { symbol: "BTCUSDT", side: "short", entry_price: 42500, exit_price: 42100, quantity: 0.2, pnl: 80, fee: 3.1,
    entry_time_ns: 1704070800000000001n, exit_time_ns: 1704074400000000000n, note: "stop" },
];

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

for (const { name, open } of BACKENDS) {
  describe(`logging a backtest (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const options = () => ({ trackingUri: backend.trackingUri, env: {} });

    test("logBacktest writes stats, params, tags, CSVs and the report, then finishes the run", async () => {
      const experiment = uniqueName("bt");
      const runId = await logBacktest({
        ...options(),
        stats: FLOX_STATS,
        equityCurve: EQUITY_ROWS,
        trades: TRADES,
        params: { fast: 10, slow: 30, fee: 0.0004, symbols: ["BTCUSDT"] },
        runName: "sma-crossover-2025-01",
        experiment,
        tags: { data: "btcusdt_1m_2024Q4" },
        description: "SMA **crossover**",
        htmlReport: { name: "report.html", data: "<html><body>report</body></html>" },
        chart: false,
      });
      const run = await backend.getRun(runId);
      assert.equal(run.status, "FINISHED");
      assert.equal(run.runName, "sma-crossover-2025-01");
      assert.ok(run.endTime !== undefined);
      // 25 finite stats, plus the equity curve as a metric history.
      assert.equal(Object.keys(run.metrics).length, 26);
      assert.deepEqual((await backend.metricHistory(runId, "equity")).map((p) => [p.step, p.value, p.timestamp]), [
        [0, 10000, 1704067200000], [1, 10120.25, 1704067260000], [2, 10000, 1704067320000], [3, 10250.5, 1704067380000],
      ]);
      assert.equal(run.metrics.final_capital, 10250.5);
      assert.equal(run.metrics.avg_trade_duration_ns, 3_600_000_000_000);
      assert.deepEqual(run.params, { fast: "10", slow: "30", fee: "0.0004", symbols: '["BTCUSDT"]' });
      assert.equal(run.tags.sharpe_ratio, "NaN");
      assert.equal(run.tags.sortino_ratio, "Infinity");
      assert.equal(run.tags.end_time_ns, "1704153599999999999");
      assert.equal(run.tags.end_time_iso, "2024-01-01T23:59:59.999999999Z");
      assert.equal(run.tags.data, "btcusdt_1m_2024Q4");
      assert.equal(run.tags["mlflow.runName"], "sma-crossover-2025-01");
      assert.equal(run.tags["mlflow.note.content"], "SMA **crossover**");
      assert.equal(run.tags["mlflow.source.type"], "LOCAL");
      assert.ok(run.tags["mlflow.user"]);
      assert.deepEqual(run.artifacts, ["equity_curve.csv", "report.html", "trades.csv"]);
      assert.equal(
        text(await backend.artifact(runId, "equity_curve.csv")),
        "timestamp_ns,equity,drawdown_pct\n" +
          "1704067200000000000,10000,0\n1704067260000000000,10120.25,0\n" +
          "1704067320000000000,10000,1.188\n1704067380000000000,10250.5,0\n",
      );
      assert.equal(
        text(await backend.artifact(runId, "trades.csv")),
        "symbol,side,entry_price,exit_price,quantity,pnl,fee,entry_time_ns,exit_time_ns,note\n" +
          "BTCUSDT,long,42000,42500.5,0.1,50.05,3.4,1704067200000000000,1704070800000000000,\n" +
          "BTCUSDT,short,42500,42100,0.2,80,3.1,1704070800000000001,1704074400000000000,stop\n",
      );
      assert.equal(text(await backend.artifact(runId, "report.html")), "<html><body>report</body></html>");
    });

    test("artifacts logs other files beside the backtest's; a missing file or a name taken twice is refused before a run exists", async () => {
      const dir = await mkdtemp(join(tmpdir(), "flox-artifacts-"));
      try {
        await writeFile(join(dir, "config.yaml"), "fast: 10\n");
        const experiment = uniqueName("bt-artifacts");
        const runId = await logBacktest({
          ...options(),
          experiment,
          stats: { sharpe_ratio: 1.5 },
          equityCurve: EQUITY_ROWS,
          htmlReport: { name: "report.html", data: "<html></html>" },
          artifacts: [join(dir, "config.yaml"), { name: "notes/run.md", data: "# notes" }],
          chart: false,
        });
        const run = await backend.getRun(runId);
        assert.deepEqual(run.artifacts, ["config.yaml", "equity_curve.csv", "notes/run.md", "report.html"]);
        assert.equal(text(await backend.artifact(runId, "config.yaml")), "fast: 10\n");
        assert.equal(text(await backend.artifact(runId, "notes/run.md")), "# notes");

        const refused = [
          [{ artifacts: [join(dir, "missing.yaml")] }, /^artifacts\[0\]: /],
          [{ htmlReport: { name: "report.html", data: "" }, artifacts: [{ name: "report.html", data: "x" }] }, /^artifacts\[0\]: is named 'report\.html', as another file/],
          [{ artifacts: [join(dir, "config.yaml"), join(dir, "config.yaml")] }, /^artifacts\[1\]: is named 'config\.yaml'/],
          [{ artifacts: ["equity_curve.csv"] }, /^artifacts\[0\]: /],
          [{ artifacts: join(dir, "config.yaml") }, /^artifacts: must be a list/],
        ] as const;
        for (const [extra, message] of refused) {
          await assert.rejects(
            logBacktest({ ...options(), experiment, stats: { sharpe_ratio: 1 }, ...(extra as object) }),
            (error: Error) => error instanceof MlflowValidationError && message.test(error.message),
          );
        }
        assert.deepEqual((await backend.runsOf(experiment)).map((r) => r.runId), [runId]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test("nested runs inside logToMlflow become children of the enclosing run", async () => {
      const experiment = uniqueName("grid");
      const cells = Array.from({ length: 8 }, (_, i) => ({ fast: 5 + i, slow: 50 }));
      const parentId = await logToMlflow({ ...options(), runName: "grid", experiment }, async (parent) => {
        await parent.logParams({ data: "btcusdt" });
        await Promise.all(cells.map((cell) =>
          logToMlflow({ runName: `cell-${cell.fast}`, nested: true }, (child) =>
            child.logBacktest({ stats: { sharpe_ratio: cell.fast / 10 }, params: cell }))
        ));
        return parent.runId;
      });
      const parent = await backend.getRun(parentId);
      assert.equal(parent.status, "FINISHED");
      assert.equal(parent.params.data, "btcusdt");
      const children = await backend.childrenOf(parentId, parent.experimentId);
      assert.equal(children.length, 8);
      for (const child of children) {
        assert.equal(child.status, "FINISHED");
        assert.equal(child.experimentId, parent.experimentId);
        assert.equal(child.metrics.sharpe_ratio, Number(child.params.fast) / 10);
        assert.equal(child.runName, `cell-${child.params.fast}`);
      }
    });

    test("a nested logBacktest logs where its parent logs, into its experiment", async () => {
      const experiment = uniqueName("nested-bt");
      const { parentId, childId } = await logToMlflow({ ...options(), runName: "p", experiment }, async (parent) => ({
        parentId: parent.runId,
        childId: await logBacktest({ runName: "child", nested: true, stats: { sharpe_ratio: 2 }, chart: false }),
      }));
      const child = await backend.getRun(childId);
      assert.equal(child.tags["mlflow.parentRunId"], parentId);
      assert.equal(child.experimentId, (await backend.getRun(parentId)).experimentId);
      assert.equal(child.metrics.sharpe_ratio, 2);
      assert.equal(child.status, "FINISHED");
    });

    test("concurrent parents each get their own children", async () => {
      const experiment = uniqueName("concurrent");
      const parents = await Promise.all(["a", "b", "c"].map((label) =>
        logToMlflow({ ...options(), runName: `parent-${label}`, experiment }, async (parent) => {
          await Promise.all([1, 2, 3].map(async (i) => {
            await new Promise((r) => setTimeout(r, (i * 7) % 5));
            await logToMlflow({ runName: `${label}-${i}`, nested: true }, (child) => child.logTags({ label }));
          }));
          return parent;
        })
      ));
      for (const parent of parents) {
        const children = await backend.childrenOf(parent.runId, parent.experimentId);
        const label = parent.runName.slice("parent-".length);
        assert.deepEqual(children.map((c) => c.tags.label), [label, label, label]);
      }
    });

    test("a throwing block ends the run FAILED and rethrows", async () => {
      let runId = "";
      await assert.rejects(
        logToMlflow({ ...options(), runName: "boom", experiment: uniqueName("fail") }, (run) => {
          runId = run.runId;
          throw new RangeError("strategy blew up");
        }),
        RangeError,
      );
      assert.equal((await backend.getRun(runId)).status, "FAILED");
    });

    test("an aborted signal ends the run KILLED", async () => {
      const controller = new AbortController();
      let runId = "";
      const pending = logToMlflow({ ...options(), runName: "stop-me", signal: controller.signal }, async (run) => {
        runId = run.runId;
        controller.abort(new Error("user pressed ctrl-c"));
        await new Promise((r) => setTimeout(r, 50));
      });
      await assert.rejects(pending, (err: unknown) => err instanceof MlflowError && err.errorCode === "ABORTED");
      assert.equal((await backend.getRun(runId)).status, "KILLED");
    });

    test("await using ends the run FINISHED when the scope exits", async () => {
      let runId = "";
      {
        await using run = await startRun({ ...options(), runName: "scoped" });
        runId = run.runId;
        await run.logMetrics({ pnl: 1.5, weird: NaN }, { step: 3 });
      }
      const run = await backend.getRun(runId);
      assert.equal(run.status, "FINISHED");
      assert.equal(run.metrics.pnl, 1.5);
      assert.ok(Number.isNaN(run.metrics.weird));
      assert.deepEqual((await backend.metricHistory(runId, "pnl")).map((p) => p.step), [3]);
    });

    test("bad input is refused before anything is written", async () => {
      const experiment = uniqueName("refused");
      const requestsBefore = backend.server?.requests.length;
      await assert.rejects(
        logBacktest({ ...options(), experiment, stats: { ok: 1 }, params: { "bad#key": 1 } }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === 'params["bad#key"]',
      );
      await assert.rejects(
        logBacktest({
          ...options(),
          experiment,
          equityCurve: { timestampNs: BigInt64Array.of(1n, 2n), equity: Float64Array.of(1, 2, 3) },
        }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "equityCurve.timestampNs",
      );
      assert.equal(backend.server?.requests.length, requestsBefore);
      assert.deepEqual(await backend.runsOf(experiment).catch(() => []), []);
    });

    test("artifacts from bytes, named data, streams and files land under their paths", async () => {
      const { writeFile, mkdtemp } = await import("node:fs/promises");
      const { join } = await import("node:path");
      const { tmpdir } = await import("node:os");
      const dir = await mkdtemp(join(tmpdir(), "flox-art-"));
      await writeFile(join(dir, "notes.txt"), "from a file");
      const runId = await logToMlflow({ ...options(), runName: "artifacts" }, async (run) => {
        await run.logArtifact(new TextEncoder().encode("raw bytes"), "raw/data.bin");
        await run.logArtifact({ name: "named.json", data: '{"a":1}' }, "docs");
        await run.logArtifact(new Response("streamed").body!, "stream.txt");
        await run.logArtifact(join(dir, "notes.txt"));
        return run.runId;
      });
      const run = await backend.getRun(runId);
      assert.deepEqual(run.artifacts, ["docs/named.json", "notes.txt", "raw/data.bin", "stream.txt"]);
      assert.equal(text(await backend.artifact(runId, "notes.txt")), "from a file");
      assert.equal(text(await backend.artifact(runId, "stream.txt")), "streamed");
      await assert.rejects(
        logToMlflow({ ...options(), runName: "escape" }, (r) => r.logArtifact(new Uint8Array(1), "../outside.txt")),
        MlflowValidationError,
      );
    });

    test("the experiment comes from MLFLOW_EXPERIMENT_NAME when the call names none", async () => {
      const experiment = uniqueName("from-env");
      const runId = await logBacktest({
        trackingUri: backend.trackingUri,
        env: { MLFLOW_EXPERIMENT_NAME: experiment },
        stats: { x: 1 },
      });
      const runs = await backend.runsOf(experiment);
      assert.deepEqual(runs.map((r) => r.runId), [runId]);
    });

    test("two runs creating one new experiment at once share it", async () => {
      const experiment = uniqueName("race");
      const ids = await Promise.all([1, 2, 3].map((i) => logBacktest({ ...options(), experiment, stats: { i } })));
      const runs = await backend.runsOf(experiment);
      assert.deepEqual(runs.map((r) => r.runId).sort(), [...ids].sort());
    });
  });
}
