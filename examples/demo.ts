/**
 * The main job: a deterministic synthetic market (one year of one-minute
 * bars), an SMA-crossover backtest, and its MLflow runs: one run with the
 * full backtest and its chart, then a 16-cell grid as a parent run with one
 * nested child per cell.
 * Logs into ./mlruns, or to MLFLOW_TRACKING_URI when it is set.
 *
 * Run: `npm run demo`, `deno run -A examples/demo.ts` or `bun examples/demo.ts`.
 *
 * @module
 */
import process from "node:process";
import { logBacktest, logGrid } from "../mod.ts";
import { runSmaCrossover, syntheticMarket } from "./sma_backtest.ts";

const experiment = "flox-mlflow-demo";
const market = syntheticMarket(365 * 24 * 60, 42);
const base = { fee: 0.0004, capital: 10_000 };

const best = runSmaCrossover(market, { fast: 480, slow: 5760, ...base });
const runId = await logBacktest({
  ...best,
  params: { fast: 480, slow: 5760, ...base },
  runName: "sma-crossover-demo",
  experiment,
  tags: { data: "synthetic-btcusdt-1m-2024", strategy: "sma_crossover" },
  description: "SMA crossover on a seeded synthetic market (flox-mlflow demo).",
});
console.log(`backtest run: ${runId}`);

const cells = [60, 120, 240, 480].flatMap((fast) => [720, 1440, 2880, 5760].map((slow) => ({ fast, slow })));
const grid = await logGrid({
  runName: "sma-grid-demo",
  experiment,
  params: { data: "synthetic-btcusdt-1m-2024", ...base },
  metric: "sharpe_ratio",
  results: cells.map((cell) => ({ params: cell, stats: runSmaCrossover(market, { ...cell, ...base }).stats })),
});
console.log(`grid parent run: ${grid.parentRunId} (${grid.childRunIds.length} nested runs, best: ${grid.best?.runName})`);

const uri = process.env.MLFLOW_TRACKING_URI;
if (uri && /^https?:/.test(uri)) {
  console.log(`view them: open ${uri.replace(/\/+$/, "")} and the experiment '${experiment}'`);
} else {
  console.log(`view them: MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ${uri ?? "./mlruns"}`);
}
