// @ts-check
/**
 * Plain Node.js (20 or later): no TypeScript, no loader, no bundler. In a
 * project with the package installed (`npm install flox-mlflow`):
 *
 *   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 node node.mjs
 *
 * It runs a small momentum backtest on a seeded random walk of hourly closes
 * and logs it as one MLflow run: stats, params, equity curve, trades and the
 * equity chart. Without MLFLOW_TRACKING_URI the run goes to ./mlruns.
 * (`// @ts-check` makes editors check this file against the package's types.)
 */
import process from "node:process";
import { logBacktest, MlflowError } from "flox-mlflow";

const HOUR_NS = 3_600_000_000_000n;
const params = { lookback: 48, bars: 24 * 365, fee: 0.001, capital: 10_000, seed: 7 };

/** Mulberry32: the same closes on every run. */
function randomWalk(bars, seed) {
  let state = seed >>> 0;
  let price = 100;
  const closes = [];
  for (let i = 0; i < bars; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    price *= 1 + (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.499) * 0.02;
    closes.push(price);
  }
  return closes;
}

// Long while the close is above its close `lookback` bars ago, flat otherwise.
const closes = randomWalk(params.bars, params.seed);
const start = 1_704_067_200_000_000_000n; // 2024-01-01T00:00:00Z
let cash = params.capital;
let units = 0;
let entry = { price: 0, time: 0n };
let peak = params.capital;
let maxDrawdownPct = 0;
const equityCurve = [];
const trades = [];
for (let i = 0; i < closes.length; i++) {
  const price = closes[i];
  const time = start + BigInt(i) * HOUR_NS;
  const up = i >= params.lookback && price > closes[i - params.lookback];
  if (up && units === 0) {
    units = (cash * (1 - params.fee)) / price;
    cash = 0;
    entry = { price, time };
  } else if (!up && units > 0) {
    const proceeds = units * price * (1 - params.fee);
    trades.push({
      symbol: "SYNTH",
      side: "long",
      entry_price: entry.price,
      exit_price: price,
      quantity: units,
      pnl: proceeds - units * entry.price,
      entry_time_ns: entry.time,
      exit_time_ns: time,
    });
    cash = proceeds;
    units = 0;
  }
  const equity = cash + units * price;
  peak = Math.max(peak, equity);
  const drawdownPct = ((peak - equity) / peak) * 100;
  maxDrawdownPct = Math.max(maxDrawdownPct, drawdownPct);
  equityCurve.push({ timestamp_ns: time, equity, drawdown_pct: drawdownPct });
}
const finalCapital = equityCurve[equityCurve.length - 1].equity;
const wins = trades.filter((t) => t.pnl > 0).length;

try {
  const runId = await logBacktest({
    runName: `momentum-${params.lookback}h`,
    experiment: process.env.MLFLOW_EXPERIMENT_NAME ?? "node-example",
    stats: {
      total_trades: trades.length,
      win_rate: trades.length ? wins / trades.length : 0,
      final_capital: finalCapital,
      return_pct: (finalCapital / params.capital - 1) * 100,
      max_drawdown_pct: maxDrawdownPct,
      start_time_ns: start,
    },
    params,
    equityCurve,
    trades,
    tags: { strategy: "momentum", runtime: `node ${process.versions.node}` },
  });
  console.log(`logged run ${runId} to ${process.env.MLFLOW_TRACKING_URI ?? "./mlruns"}`);
} catch (error) {
  // MlflowError messages say what to change: a wrong URI, a refused value, an unreachable server.
  console.error(error instanceof MlflowError ? `flox-mlflow: ${error.message}` : error);
  process.exitCode = 1;
}
