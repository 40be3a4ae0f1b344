/**
 * One backtest logged with its chart in a fresh process, as most users run it.
 * Prints how long `logBacktest` took and the time since the process started.
 * Started by bench/cold_start.ts; `FLOX_MLFLOW_ENTRY` names the module to
 * measure (default: the sources' `mod.ts`).
 *
 * @module
 */
import process from "node:process";
import { backtestOfSize } from "./fixtures.ts";

type Entry = typeof import("../mod.ts");
const trackingUri = process.argv[2];
const backtest = backtestOfSize(100_000, 10_000);
const start = performance.now();
const { logBacktest }: Entry = await import(process.env.FLOX_MLFLOW_ENTRY ?? "../mod.ts");
await logBacktest({ trackingUri, env: {}, experiment: "cold-start", runName: "one-shot", ...backtest });
const end = performance.now();
console.log(JSON.stringify({ log_backtest_ms: Math.round(end - start), since_process_start_ms: Math.round(end) }));
