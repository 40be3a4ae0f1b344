/**
 * A Bun backtest runner: the SMA crossover of `sma_backtest.ts` over a grid
 * of window lengths on a synthetic market, logged as one parent run with a
 * nested child per cell. Every child gets its stats and params; the best cell
 * by Sharpe ratio also gets its equity curve, trades and chart, and the parent
 * records which cell won.
 *
 *   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 bun examples/bun_runner.ts --bars 100000
 *
 * Options: `--bars N` (one-minute bars, default 100000), `--seed N` (default
 * 42), `--experiment NAME` (default `sma-grid`). Without MLFLOW_TRACKING_URI
 * the runs go to ./mlruns. Outside this repository, import from "flox-mlflow".
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { logToMlflow } from "../mod.ts";
import { type BacktestResult, runSmaCrossover, syntheticMarket } from "./sma_backtest.ts";

const { values } = parseArgs({
  options: {
    bars: { type: "string", default: "100000" },
    seed: { type: "string", default: "42" },
    experiment: { type: "string", default: "sma-grid" },
  },
});
const bars = Number(values.bars);
const seed = Number(values.seed);
if (!Number.isInteger(bars) || bars < 1000 || !Number.isInteger(seed)) {
  console.error("usage: bun examples/bun_runner.ts [--bars N (>= 1000)] [--seed N] [--experiment NAME]");
  process.exit(2);
}

const fixed = { fee: 0.0004, capital: 10_000 };
const cells = [5, 10, 20, 40].flatMap((fast) => [60, 120, 240].map((slow) => ({ fast, slow })));
const market = syntheticMarket(bars, seed);

// The backtests are CPU work, done before any request; logging then only waits on the server.
const results = cells.map((cell) => ({ cell, result: runSmaCrossover(market, { ...cell, ...fixed }) }));
const sharpe = (result: BacktestResult): number => {
  const value = Number(result.stats.sharpe_ratio);
  return Number.isFinite(value) ? value : -Infinity;
};
const best = results.reduce((a, b) => (sharpe(b.result) > sharpe(a.result) ? b : a));

const summary = await logToMlflow({
  runName: `sma-grid-${bars}-bars`,
  experiment: values.experiment,
  tags: { strategy: "sma_crossover", runtime: process.versions.bun ? `bun ${process.versions.bun}` : "not bun" },
}, async (parent) => {
  await parent.logParams({ bars, seed, cells: cells.length, ...fixed });
  const childIds = await Promise.all(results.map(({ cell, result }) =>
    logToMlflow({ runName: `fast-${cell.fast}-slow-${cell.slow}`, nested: true }, async (child) => {
      const isBest = cell === best.cell;
      await child.logBacktest({
        stats: result.stats,
        params: { ...cell, ...fixed },
        ...(isBest ? { equityCurve: result.equityCurve, trades: result.trades } : {}),
      });
      if (isBest) await child.logTags({ best: true });
      return child.runId;
    })
  ));
  const bestRunId = childIds[results.indexOf(best)]!;
  await parent.logMetrics({ best_sharpe_ratio: sharpe(best.result) });
  await parent.logTags({ best_run_id: bestRunId, best_cell: `fast=${best.cell.fast} slow=${best.cell.slow}` });
  return { parentRunId: parent.runId, bestRunId, cells: cells.length };
});

console.log(`grid run ${summary.parentRunId}: ${summary.cells} cells`);
console.log(`best: fast=${best.cell.fast} slow=${best.cell.slow} sharpe=${sharpe(best.result).toFixed(3)} (run ${summary.bestRunId})`);
