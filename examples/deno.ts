/**
 * A Deno script: the SMA crossover of `sma_backtest.ts` checked across market
 * regimes (one seeded synthetic market each), logged as a parent run with a
 * nested child per regime. Each child gets stats, params, equity curve and
 * trades, and the chart of the first regime; the parent gets the mean and the
 * worst Sharpe ratio, so robust settings are easy to sort for in the MLflow UI.
 *
 *   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 deno run --allow-net --allow-env --allow-read --allow-write examples/deno.ts
 *
 * In this repository `../mod.ts` resolves through deno.json. Elsewhere,
 * import from JSR (`jsr:@flox/flox-mlflow`) or, with no deno.json at all, from
 * the bundle by URL (`import { logToMlflow } from "https://<host>/flox-mlflow/dist/mod.js"`,
 * built by `npm run build`). Without MLFLOW_TRACKING_URI the runs go to ./mlruns.
 *
 * @module
 */
import process from "node:process";
import { logToMlflow } from "../mod.ts";
import { runSmaCrossover, syntheticMarket } from "./sma_backtest.ts";

const params = { fast: 20, slow: 120, fee: 0.0004, capital: 10_000 };
const bars = Number(process.env.FLOX_EXAMPLE_BARS ?? 60 * 24 * 30);
const regimes = [11, 22, 33];

const finite = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : NaN);

const parentRunId = await logToMlflow({
  runName: `sma-${params.fast}-${params.slow}-regimes`,
  experiment: process.env.MLFLOW_EXPERIMENT_NAME ?? "deno-example",
  tags: { strategy: "sma_crossover", runtime: `deno ${process.versions.deno ?? "?"}` },
}, async (parent) => {
  await parent.logParams({ ...params, bars, regimes: regimes.join(",") });
  const sharpes: number[] = [];
  for (const [i, seed] of regimes.entries()) {
    const result = runSmaCrossover(syntheticMarket(bars, seed), params);
    sharpes.push(finite(result.stats.sharpe_ratio));
    await logToMlflow({ runName: `regime-seed-${seed}`, nested: true }, (child) =>
      child.logBacktest({ ...result, params: { ...params, seed }, chart: i === 0 }));
  }
  const known = sharpes.filter((s) => !Number.isNaN(s));
  await parent.logMetrics({
    mean_sharpe_ratio: known.reduce((sum, s) => sum + s, 0) / Math.max(1, known.length),
    worst_sharpe_ratio: Math.min(...known),
  });
  return parent.runId;
});

console.log(`logged run ${parentRunId} with ${regimes.length} nested regime runs`);
