/**
 * One backtest logged with its chart in a fresh process, as most users run it.
 * Prints the time from process start to the run id. Started by bench/cold_start.ts.
 *
 * @module
 */
import process from "node:process";
import { logBacktest } from "../mod.ts";
import { backtestOfSize } from "./fixtures.ts";

const trackingUri = process.argv[2];
const backtest = backtestOfSize(100_000, 10_000);
const start = performance.now();
await logBacktest({ trackingUri, env: {}, experiment: "cold-start", runName: "one-shot", ...backtest });
const end = performance.now();
console.log(JSON.stringify({ log_backtest_ms: Math.round(end - start), since_process_start_ms: Math.round(end) }));
