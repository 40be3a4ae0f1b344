/**
 * Test support: a Worker that logs the fixture backtest ({@link EQUITY_ROWS},
 * no chart) with the connection options a test gives it, as a deployed Worker
 * would pass its secrets, bundled as wrangler would and run in workerd
 * without `nodejs_compat` (`workerd.ts`).
 *
 * Node only, like `workerd.ts`, which is imported when a worker is started so
 * that a test file importing this one registers nothing under Deno or Bun.
 *
 * @module
 */
import assert from "node:assert/strict";
import { EQUITY_ROWS } from "./aws_fixtures.ts";
import type { RunningWorker } from "./workerd.ts";

/** The worker: a POST of the equity rows (timestamps as strings) logs a run and answers `{ runId }`, or `{ error }` with 500. */
const workerSource = (connection: Record<string, unknown>): string => `
import { logBacktest } from "../mod.ts";
const connection = ${JSON.stringify(connection)};
export default {
  async fetch(request: Request): Promise<Response> {
    const { equityCurve } = await request.json() as { equityCurve: { timestamp_ns: string; equity: number; drawdown_pct: number }[] };
    const rows = equityCurve.map((r) => ({ ...r, timestamp_ns: BigInt(r.timestamp_ns) }));
    try {
      const runId = await logBacktest({
        ...connection,
        stats: { sharpe_ratio: 1.25 },
        equityCurve: rows,
        chart: false,
      });
      return Response.json({ runId });
    } catch (err) {
      return Response.json({ error: String(err) }, { status: 500 });
    }
  },
};
`;

/**
 * Bundles and starts the backtest worker in workerd.
 *
 * @param connection The `logBacktest` connection options (`trackingUri`, `env`, `aws`, `gcp`), as JSON.
 * @returns The running worker; the caller disposes of it.
 * @example A worker logging to a server
 * ```ts
 * import { startBacktestWorker } from "./backtest_worker.ts";
 * const worker = await startBacktestWorker({ trackingUri: "http://127.0.0.1:5000", env: {} });
 * await worker.dispose();
 * ```
 */
export async function startBacktestWorker(connection: Record<string, unknown>): Promise<RunningWorker> {
  const { bundleWorker, startWorker } = await import("./workerd.ts");
  return await startWorker(await bundleWorker({ source: workerSource(connection), resolveDir: new URL("..", import.meta.url).pathname }));
}

/**
 * Sends the fixture backtest to the worker and checks that it logged a run.
 *
 * @param worker A worker from {@link startBacktestWorker}.
 * @returns The run's id.
 * @throws AssertionError with the worker's error when it answers other than 200.
 * @example Log one run
 * ```ts
 * import { postBacktest, startBacktestWorker } from "./backtest_worker.ts";
 * const worker = await startBacktestWorker({ trackingUri: "http://127.0.0.1:5000", env: {} });
 * try {
 *   await postBacktest(worker).catch(() => undefined);
 * } finally {
 *   await worker.dispose();
 * }
 * ```
 */
export async function postBacktest(worker: RunningWorker): Promise<string> {
  const res = await worker.fetch("/", {
    method: "POST",
    body: JSON.stringify({ equityCurve: EQUITY_ROWS.map((r) => ({ ...r, timestamp_ns: String(r.timestamp_ns) })) }),
  });
  const answer = await res.json() as { runId?: string; error?: string };
  assert.equal(res.status, 200, answer.error ?? "");
  return answer.runId!;
}
