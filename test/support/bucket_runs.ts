/**
 * Test support: the fixture backtest ({@link FLOX_STATS}, equity curve,
 * trades) and a 2×2 grid logged to a server whose artifact root is a bucket
 * (S3, Azure Blob), and the checks that read them back from it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { logBacktest, type RetryOptions } from "../../mod.ts";
import { logGrid } from "../../src/sweep.ts";
import { EQUITY_CSV, EQUITY_ROWS, FLOX_STATS, TRADES, TRADES_CSV } from "./aws_fixtures.ts";
import type { RestRun } from "./target.ts";

/** A server with a bucket artifact root, as a test reaches it. */
export interface BucketRuns {
  /** Where runs are logged and with which credentials. */
  connection: { trackingUri: string; env: Record<string, string>; retry: RetryOptions };
  /** The run as the server answers `runs/get`. */
  getRun(runId: string): Promise<RestRun>;
  /** An artifact's bytes, read straight from the bucket. */
  read(run: RestRun, path: string): Promise<Uint8Array>;
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/**
 * Logs the fixture backtest into `experiment` and checks it finished with its
 * artifacts under `<artifactRoot>/<experiment id>/<run id>/artifacts`
 * (mlflow/store/tracking/sqlalchemy_store.py), its stats as metrics, and the
 * CSVs and chart in the bucket, byte for byte.
 *
 * @param runs The server and bucket.
 * @param experiment The experiment's name.
 * @param artifactRoot The server's artifact root, e.g. `s3://bucket/mlflow`.
 * @returns The run, for checks of the bucket's own.
 * @example Log and check one backtest
 * ```ts
 * import { logBacktestAndReadBack } from "./bucket_runs.ts";
 * const runs = {
 *   connection: { trackingUri: "http://127.0.0.1:9", env: {}, retry: { maxRetries: 0 } },
 *   getRun: () => Promise.reject(new Error("no server")),
 *   read: () => Promise.reject(new Error("no bucket")),
 * };
 * console.log(await logBacktestAndReadBack(runs, "s3-backtest", "s3://bucket/mlflow").catch((err) => err));
 * ```
 */
export async function logBacktestAndReadBack(runs: BucketRuns, experiment: string, artifactRoot: string): Promise<RestRun> {
  const runId = await logBacktest({
    ...runs.connection,
    experiment,
    runName: "sma",
    stats: FLOX_STATS,
    equityCurve: EQUITY_ROWS,
    trades: TRADES,
    params: { fast: 10, slow: 30 },
  });
  const run = await runs.getRun(runId);
  assert.equal(run.info.status, "FINISHED");
  assert.equal(run.info.artifact_uri, `${artifactRoot}/${run.info.experiment_id}/${runId}/artifacts`);
  const metrics = new Map((run.data.metrics ?? []).map((m) => [m.key, m.value]));
  assert.equal(metrics.get("final_capital"), 10250.5);
  assert.equal(text(await runs.read(run, "equity_curve.csv")), EQUITY_CSV);
  assert.equal(text(await runs.read(run, "trades.csv")), TRADES_CSV);
  const png = await runs.read(run, "equity_curve.png");
  assert.deepEqual([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return run;
}

/**
 * Logs a 2×2 grid (fast 5, 10 × slow 20, 50) into `experiment` and checks
 * that every cell finished as a child of the grid's parent run.
 *
 * @param runs The server and bucket.
 * @param experiment The experiment's name.
 * @returns The cells' runs.
 * @example Log and check a grid
 * ```ts
 * import { logGridAndReadBack } from "./bucket_runs.ts";
 * const runs = {
 *   connection: { trackingUri: "http://127.0.0.1:9", env: {}, retry: { maxRetries: 0 } },
 *   getRun: () => Promise.reject(new Error("no server")),
 *   read: () => Promise.reject(new Error("no bucket")),
 * };
 * console.log(await logGridAndReadBack(runs, "s3-grid").catch((err) => err));
 * ```
 */
export async function logGridAndReadBack(runs: BucketRuns, experiment: string): Promise<RestRun[]> {
  const grid = await logGrid({
    ...runs.connection,
    experiment,
    runName: "grid",
    axes: ["fast", "slow"],
    results: [5, 10].flatMap((fast, i) =>
      [20, 50].map((slow, j) => ({ index: i * 2 + j, params: [fast, slow], stats: { sharpeRatio: fast / slow, netPnl: fast * slow } }))
    ),
  });
  assert.deepEqual(grid.failed, []);
  assert.equal(grid.childRunIds.length, 4);
  const cells: RestRun[] = [];
  for (const id of grid.childRunIds) {
    const child = await runs.getRun(id as string);
    assert.equal(child.info.status, "FINISHED");
    assert.equal(child.data.tags?.find((t) => t.key === "mlflow.parentRunId")?.value, grid.parentRunId);
    cells.push(child);
  }
  return cells;
}
