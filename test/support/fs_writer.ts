/**
 * A second process for the file-store concurrency test. It opens the store,
 * prints `ready`, waits for a line on stdin so both processes start together,
 * then logs runs in parallel into the same experiment name (each run resolving
 * the experiment itself) and prints `done`.
 *
 * Usage: `<runtime> test/support/fs_writer.ts <root> <experiment> <runs> <prefix> [--die]`.
 * With `--die` it then starts one more run, logs to it and exits with code 7
 * without finishing it, as a crashed process would.
 *
 * @module
 */
import { resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createFileStore } from "../../src/file_store.ts";
import type { TrackingStore } from "../../src/store.ts";

/** Metric points each writer run logs per key. */
export const POINTS_PER_RUN = 20;

/**
 * Logs one complete run the way the concurrency test expects it.
 *
 * @param store The store to log into.
 * @param experimentName The shared experiment name.
 * @param runName The run's name; also logged as the `cell` param.
 * @param writer The writer's label, logged as the `writer` param.
 * @returns The run id.
 * @example One cell
 * ```ts
 * import { createFileStore } from "../../src/file_store.ts";
 * import { logCell } from "./fs_writer.ts";
 * await logCell(createFileStore("/tmp/mlruns"), "grid", "cell-0", "parent");
 * ```
 */
export async function logCell(
  store: TrackingStore,
  experimentName: string,
  runName: string,
  writer: string,
): Promise<string> {
  const experimentId = await store.resolveExperiment({ name: experimentName });
  const run = await store.createRun({ experimentId, runName, startTime: 1700000000000, userId: "tester", tags: [] });
  const metrics = Array.from({ length: POINTS_PER_RUN }, (_, step) => [
    { key: "equity", value: 10000 + step * 1.5, timestamp: 1700000000000 + step * 1000, step },
    { key: "nested/drawdown", value: -step / 100, timestamp: 1700000000000 + step * 1000, step },
  ]).flat();
  await store.logBatch(run.runId, {
    metrics,
    params: [{ key: "cell", value: runName }, { key: "writer", value: writer }],
    tags: [{ key: "mode", value: "grid" }],
  });
  await store.uploadArtifact(run, { path: "equity.csv", body: `step,equity\n0,${runName}\n`, contentType: "text/csv" });
  await store.finishRun(run.runId, "FINISHED", 1700000100000);
  return run.runId;
}

async function main(): Promise<void> {
  const [root, experimentName, count, prefix, flag] = process.argv.slice(2);
  if (root === undefined || experimentName === undefined || count === undefined || prefix === undefined) {
    throw new Error("usage: fs_writer.ts <root> <experiment> <runs> <prefix> [--die]");
  }
  const store = createFileStore(root);
  process.stdout.write("ready\n");
  await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
  process.stdin.pause();
  await Promise.all(
    Array.from({ length: Number(count) }, (_, i) => logCell(store, experimentName, `${prefix}-${i}`, prefix)),
  );
  if (flag === "--die") {
    const experimentId = await store.resolveExperiment({ name: experimentName });
    const run = await store.createRun({
      experimentId,
      runName: `${prefix}-dying`,
      startTime: 1700000000000,
      userId: "tester",
      tags: [],
    });
    await store.logBatch(run.runId, {
      metrics: [{ key: "equity", value: 1, timestamp: 1700000000000, step: 0 }],
      params: [],
      tags: [],
    });
    process.stdout.write("dying\n");
    process.exit(7);
  }
  process.stdout.write("done\n");
}

// Run only as a script: the test imports logCell from this module too.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
