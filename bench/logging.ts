/**
 * Requests and wall time to log one backtest (29 FLOX stats, 100k equity
 * points, 10k trades) and a 64-cell nested grid, against the in-memory MLflow
 * test server on loopback and against the file store: median of 5 after
 * warm-up, in one process. Prints one JSON object.
 *
 * Run: `node --import tsx bench/logging.ts` (or `deno run -A`, `bun`).
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logBacktest, logToMlflow } from "../mod.ts";
import { createMlflowServer } from "../test/support/mlflow_server.ts";
import { serve } from "../test/support/serve.ts";
import { backtestOfSize, floxStats } from "./fixtures.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const backtest = backtestOfSize(100_000, 10_000);

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - start), value };
}

async function grid(trackingUri: string, cells: number): Promise<void> {
  const stats = floxStats();
  await logToMlflow({ trackingUri, env: {}, runName: `grid-${cells}`, experiment: "bench-grid" }, async () => {
    await Promise.all(Array.from({ length: cells }, (_, i) =>
      logToMlflow({ runName: `cell-${i}`, nested: true }, (child) =>
        child.logBacktest({ stats: { ...stats, sharpe_ratio: i / cells }, params: { fast: i % 8, slow: i >> 3 } }))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function scenarios(trackingUri: string, count: () => number) {
  // Warm-up rounds first, so the figures are the steady state of a process that
  // logs many runs; a fresh process's first backtest is bench/cold_start.ts's job.
  for (let i = 0; i < 2; i++) await logBacktest({ trackingUri, env: {}, experiment: "bench", ...backtest });
  const out: Record<string, { requests?: number; ms: number }> = {};
  for (const [name, fn] of [
    ["backtest_100k_points_10k_trades_with_chart", () => logBacktest({ trackingUri, env: {}, experiment: "bench", ...backtest })],
    ["backtest_100k_points_10k_trades_no_chart", () => logBacktest({ trackingUri, env: {}, experiment: "bench", ...backtest, chart: false })],
    ["grid_64_cells", () => grid(trackingUri, 64)],
  ] as const) {
    const samples: number[] = [];
    let requests = NaN;
    for (let i = 0; i < 5; i++) {
      const before = count();
      samples.push((await timed(fn as () => Promise<unknown>)).ms);
      requests = count() - before;
    }
    out[name] = Number.isNaN(requests) ? { ms: median(samples) } : { requests, ms: median(samples) };
  }
  return out;
}

const server = createMlflowServer();
const served = await serve(server.handler);
const rest = await scenarios(served.url, () => server.requests.length);
await served.close();

const dir = await mkdtemp(join(tmpdir(), "flox-bench-"));
const file = await scenarios(join(dir, "mlruns"), () => NaN);
await rm(dir, { recursive: true, force: true });

console.log(JSON.stringify({ runtime, rest_store: rest, file_store: file }));
